"""Dispute endpoints of the partner API (filled in once the disputes services exist)."""

from typing import Any

HANDLERS: list[Any] = []
