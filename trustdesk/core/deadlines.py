"""Deadline scheduling hook: services call schedule() inside their transaction; after commit the
jobs layer (registered by trustdesk.worker's tasks) enqueues a delayed message for that moment.
The periodic sweep is the safety net, so a missing hook loses nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from trustdesk.db import after_commit

# hook(kind: str, subject_id: int, version: int, at: datetime) -> None
_hook: Callable[[str, int, int, datetime], Any] | None = None


def set_schedule_hook(hook: Callable[[str, int, int, datetime], Any] | None) -> None:
    global _hook
    _hook = hook


def schedule(kind: str, subject_id: int, version: int, at: datetime | None) -> None:
    """After commit, enqueue the `kind` deadline for subject at `at` (if jobs are wired)."""
    if at is None or _hook is None:
        return
    hook = _hook
    after_commit(lambda: hook(kind, subject_id, version, at))
