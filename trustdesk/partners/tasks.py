"""Partner jobs: webhook delivery (one attempt per message, re-enqueued with backoff) and the
sweep's safety net for deliveries whose message was lost."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import dramatiq

import trustdesk.worker  # noqa: F401  (sets the broker before any actor is declared)
from trustdesk.partners import webhooks

SWEEP_GRACE = timedelta(minutes=2)  # a delayed message normally gets there first


@dramatiq.actor(actor_name="partners.deliver_webhook", max_retries=0, time_limit=60_000)
async def deliver_webhook(delivery_id: int, manual: bool = False) -> None:
    """POST one delivery once; on failure enqueue the next try after the backoff delay."""
    delay = await webhooks.attempt_delivery(delivery_id, manual=manual)
    if delay is not None:
        webhooks.enqueue(delivery_id, delay_s=delay)


@dramatiq.actor(actor_name="partners.retry_webhooks", max_retries=0, time_limit=60_000)
async def retry_webhooks(kind: str, delivery_ids: list[int]) -> None:
    """The sweep found these deliveries overdue: give each its attempt now."""
    for delivery_id in delivery_ids:
        webhooks.enqueue(int(delivery_id))


async def find_due_webhooks(at: datetime) -> AsyncIterator[tuple[str, list[int]]]:
    from trustdesk.partners.tables import WebhookDelivery

    rows = await WebhookDelivery.select(WebhookDelivery.id).where(
        (WebhookDelivery.state == "pending")
        & (WebhookDelivery.next_attempt_at <= at - SWEEP_GRACE)).limit(2000)
    if rows:
        yield "webhook.retry", [r["id"] for r in rows]


@dramatiq.actor(actor_name="partners.purge_idempotency", max_retries=0, time_limit=60_000)
async def purge_idempotency(kind: str, _ids: list[int]) -> None:
    """Forget Idempotency-Key records older than 24 hours."""
    from trustdesk.partners.idempotency import purge_expired

    await purge_expired()


async def find_expired_idempotency(at: datetime) -> AsyncIterator[tuple[str, list[int]]]:
    from trustdesk.partners.idempotency import TTL
    from trustdesk.partners.tables import IdempotencyRecord

    row = await IdempotencyRecord.select(IdempotencyRecord.id).where(
        IdempotencyRecord.created_at < at - TTL).first()
    if row:
        yield "idempotency.purge", [row["id"]]


def _register_with_sweep() -> None:
    try:
        from trustdesk.core import tasks as core_tasks
    except ImportError:
        return
    finders = getattr(core_tasks, "FINDERS", None)
    actors = getattr(core_tasks, "BATCH_ACTORS", None)
    if isinstance(finders, dict) and isinstance(actors, dict):
        finders["webhook"] = find_due_webhooks
        actors["webhook"] = "partners.retry_webhooks"
        finders["idempotency"] = find_expired_idempotency
        actors["idempotency"] = "partners.purge_idempotency"


_register_with_sweep()
