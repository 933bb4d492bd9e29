"""Outbox: events written in the same transaction as the change, relayed after commit."""

from __future__ import annotations

import json
from typing import Any

from trustdesk.core.clock import now
from trustdesk.core.tables import OutboxEvent
from trustdesk.db import after_commit

EVENT_TYPES = (
    "order.created", "order.funded", "order.shipped", "order.delivered", "order.released",
    "order.cancelled", "order.refunded", "dispute.opened", "dispute.updated",
    "dispute.escalated", "dispute.resolved", "rating.created",
)

# Set by trustdesk.worker once jobs are wired: callable(event_id) that enqueues the relay.
_relay_hook: Any = None


def set_relay_hook(hook: Any) -> None:
    global _relay_hook
    _relay_hook = hook


async def emit(event_type: str, *, subject_type: str, subject_id: int, data: dict[str, Any],
               seller_id: int | None = None, buyer_id: int | None = None) -> OutboxEvent:
    """Write one event row (inside the caller's transaction); relay is enqueued after commit."""
    event = OutboxEvent(
        created_at=now(),
        event_type=event_type,
        subject_type=subject_type,
        subject_id=subject_id,
        seller_id=seller_id,
        buyer_id=buyer_id,
        data=json.dumps(data, default=str, sort_keys=True),
    )
    await event.save()
    event_id = event.id
    if _relay_hook is not None:
        after_commit(lambda: _relay_hook(event_id))
    return event


def event_data(row: dict[str, Any]) -> dict[str, Any]:
    data = row.get("data")
    return json.loads(data) if isinstance(data, str) else (data or {})


async def emit_many(events: list[dict[str, Any]]) -> list[int]:
    """Write many events in one insert (same rows as emit()); relays are enqueued after commit.

    Each item: event_type, subject_type, subject_id, data, seller_id, buyer_id.
    """
    if not events:
        return []
    stamp = now()
    rows = [OutboxEvent(created_at=stamp, event_type=e["event_type"], subject_type=e["subject_type"],
                        subject_id=e["subject_id"], seller_id=e.get("seller_id"),
                        buyer_id=e.get("buyer_id"),
                        data=json.dumps(e["data"], default=str, sort_keys=True)) for e in events]
    inserted = await OutboxEvent.insert(*rows).returning(OutboxEvent.id)
    ids = [r["id"] for r in inserted]
    if _relay_hook is not None:
        hook = _relay_hook
        for event_id in ids:
            after_commit(lambda event_id=event_id: hook(event_id))
    return ids
