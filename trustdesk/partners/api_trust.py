"""GET /api/v1/sellers/{slug}/trust: public, no key (filled in once the ratings services exist)."""

from typing import Any

HANDLERS: list[Any] = []
