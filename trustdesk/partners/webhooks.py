"""Signed webhooks: fan_out(event_id) from the outbox relay, one HTTP attempt per job run.

fan_out() writes one WebhookDelivery per (event, subscribed endpoint) — unique, so a relay that
runs twice writes nothing twice — and enqueues the delivery job after commit. attempt_delivery()
POSTs once (10 s timeout), logs the attempt, and says when to try again: exponential backoff for
up to 3 days; an endpoint failing for 3 days in a row is disabled and its seller notified.
"""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import timedelta
from typing import Any

import httpx

from trustdesk.core.clock import aware, now
from trustdesk.core.outbox import event_data
from trustdesk.core.tables import OutboxEvent
from trustdesk.db import after_commit, load_for_update, write_transaction
from trustdesk.partners.signing import HEADER, sign, verify_signature
from trustdesk.partners.tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = ["fan_out", "attempt_delivery", "verify_signature", "sign", "retry_delay",
           "payload_for", "sweep_due_deliveries"]

log = logging.getLogger("trustdesk.webhooks")


def _seconds_env(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    from trustdesk.core.durations import parse_duration

    try:
        return parse_duration(raw).total_seconds()
    except ValueError:
        return float(raw)


# Tunables (module attributes so tests can shrink them; env vars for a whole process).
TIMEOUT_S = 10.0
RETRY_BASE_S = _seconds_env("TRUSTDESK_WEBHOOK_RETRY_BASE", 60.0)  # 1 min, 2, 4, 8 …
RETRY_CAP_S = _seconds_env("TRUSTDESK_WEBHOOK_RETRY_CAP", 6 * 3600.0)  # never wait more than 6 h
GIVE_UP_AFTER = timedelta(seconds=_seconds_env("TRUSTDESK_WEBHOOK_GIVE_UP", 3 * 86400.0))
DISABLE_AFTER = timedelta(seconds=_seconds_env("TRUSTDESK_WEBHOOK_DISABLE_AFTER", 3 * 86400.0))
SNIPPET_CHARS = 500
USER_AGENT = "TrustDesk-Webhooks/1.0"


def retry_delay(attempts: int) -> float:
    """Seconds to wait after the `attempts`-th failed attempt: base * 2^(n-1), capped."""
    return min(RETRY_BASE_S * (2 ** max(0, attempts - 1)), RETRY_CAP_S)


def subscribed(endpoint: dict[str, Any], event_type: str) -> bool:
    events = json.loads(endpoint.get("events") or "[]")
    return "*" in events or event_type in events


def payload_for(event: dict[str, Any]) -> str:
    """The JSON body every endpoint receives for an event: {id, type, created_at, data}."""
    stamp = aware(event["created_at"])
    return json.dumps({
        "id": event["id"], "type": event["event_type"],
        "created_at": stamp.isoformat().replace("+00:00", "Z") if stamp else None,
        "data": event_data(event),
    }, separators=(",", ":"), sort_keys=True, default=str)


async def fan_out(event_id: int) -> list[int]:
    """One delivery per subscribed, enabled endpoint of the event's seller; returns new ids.

    Joins the caller's transaction (the relay's); jobs are enqueued after it commits.
    """
    event = await OutboxEvent.select().where(OutboxEvent.id == event_id).first()
    if event is None or not event["seller_id"]:
        return []
    endpoints = await WebhookEndpoint.select().where(
        (WebhookEndpoint.seller == event["seller_id"]) & (WebhookEndpoint.enabled == True)  # noqa: E712
        & WebhookEndpoint.deleted_at.is_null())
    happened = aware(event["created_at"])
    # an endpoint hears about what happens after it was registered (as Stripe does)
    matching = [e for e in endpoints if subscribed(e, event["event_type"])
                and (happened is None or aware(e["created_at"]) <= happened)]
    if not matching:
        return []
    body = payload_for(event)
    stamp = now()
    created: list[int] = []
    async with write_transaction():
        for endpoint in matching:
            rows = await WebhookDelivery.insert(WebhookDelivery(
                event_id=event_id, endpoint=endpoint["id"], dedupe=f"{event_id}:{endpoint['id']}",
                event_type=event["event_type"], payload=body, state="pending", attempts=0,
                next_attempt_at=stamp, created_at=stamp, version=1,
            )).on_conflict(action="DO NOTHING").returning(WebhookDelivery.id)
            created.extend(r["id"] for r in rows)
        for delivery_id in created:
            after_commit(lambda d=delivery_id: enqueue(d))
    return created


def enqueue(delivery_id: int, *, delay_s: float = 0, manual: bool = False) -> None:
    from trustdesk.partners.tasks import deliver_webhook

    if delay_s > 0:
        deliver_webhook.send_with_options(args=(delivery_id, manual), delay=int(delay_s * 1000))
    else:
        deliver_webhook.send(delivery_id, manual)


async def _post(url: str, body: str, secret: str, delivery_id: int, event_type: str
                ) -> tuple[int | None, str, str, int]:
    """One POST: (status or None, response snippet, error, duration in ms)."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        HEADER: sign(secret, body.encode()),
        "TrustDesk-Event": event_type,
        "TrustDesk-Delivery": str(delivery_id),
    }
    started = time.perf_counter()
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_S, follow_redirects=False) as client:
            response = await client.post(url, content=body.encode(), headers=headers)
            snippet = response.text[:SNIPPET_CHARS]
            return response.status_code, snippet, "", _ms(started)
    except httpx.TimeoutException:
        return None, "", f"Timed out after {TIMEOUT_S:g} s", _ms(started)
    except httpx.HTTPError as exc:
        return None, "", f"{type(exc).__name__}: {exc}"[:300], _ms(started)


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


async def attempt_delivery(delivery_id: int, *, manual: bool = False) -> float | None:
    """Try one delivery once; returns seconds until the next try, or None when done.

    Returns early (None) when the delivery already succeeded or gave up, so a duplicated job
    message sends nothing twice. A manual attempt (the "Resend" button) never schedules retries.
    """
    delivery = await WebhookDelivery.objects().where(WebhookDelivery.id == delivery_id).first()
    if delivery is None:
        return None
    if delivery.state != "pending" and not manual:
        return None
    endpoint = await WebhookEndpoint.objects().where(WebhookEndpoint.id == delivery.endpoint).first()
    if endpoint is None or endpoint.deleted_at is not None or (not endpoint.enabled and not manual):
        if delivery.state == "pending":
            await WebhookDelivery.update({WebhookDelivery.state: "failed",
                                          WebhookDelivery.next_attempt_at: None}).where(
                WebhookDelivery.id == delivery_id)
        return None
    if not manual and delivery.next_attempt_at and aware(delivery.next_attempt_at) > now() \
            + timedelta(seconds=1):
        return (aware(delivery.next_attempt_at) - now()).total_seconds()  # early message: wait

    status, snippet, error, duration = await _post(endpoint.url, delivery.payload, endpoint.secret,
                                                   delivery.id, delivery.event_type)
    ok = status is not None and 200 <= status < 300
    stamp = now()
    retry_in: float | None = None
    async with write_transaction():
        fresh = await load_for_update(WebhookDelivery, delivery_id)
        ep = await load_for_update(WebhookEndpoint, endpoint.id)
        if fresh is None or ep is None:
            return None
        await WebhookAttempt.insert(WebhookAttempt(
            delivery=delivery_id, attempted_at=stamp, status_code=status, duration_ms=duration,
            response_snippet=snippet, error=error, manual=manual))
        attempts = int(fresh.attempts) + 1
        values: dict[Any, Any] = {WebhookDelivery.attempts: attempts,
                                  WebhookDelivery.last_status_code: status,
                                  WebhookDelivery.version: int(fresh.version) + 1}
        if ok:
            values.update({WebhookDelivery.state: "succeeded", WebhookDelivery.delivered_at: stamp,
                           WebhookDelivery.next_attempt_at: None})
            if ep.failing_since is not None:
                await WebhookEndpoint.update({WebhookEndpoint.failing_since: None}).where(
                    WebhookEndpoint.id == ep.id)
        else:
            failing_since = aware(ep.failing_since) or stamp
            if ep.failing_since is None:
                await WebhookEndpoint.update({WebhookEndpoint.failing_since: stamp}).where(
                    WebhookEndpoint.id == ep.id)
            if ep.enabled and stamp - failing_since >= DISABLE_AFTER:
                await _disable(ep, failing_since)
                values.update({WebhookDelivery.state: "failed", WebhookDelivery.next_attempt_at: None})
            elif manual:
                pass  # the scheduled retries (if any) carry on as before
            elif fresh.state != "pending":
                pass
            elif stamp - aware(fresh.created_at) >= GIVE_UP_AFTER:  # type: ignore[operator]
                values.update({WebhookDelivery.state: "failed", WebhookDelivery.next_attempt_at: None})
            else:
                retry_in = retry_delay(attempts)
                values[WebhookDelivery.next_attempt_at] = stamp + timedelta(seconds=retry_in)
        await WebhookDelivery.update(values).where(WebhookDelivery.id == delivery_id)
    return retry_in


async def _disable(endpoint: WebhookEndpoint, failing_since: Any) -> None:
    """Turn a failing endpoint off and tell its seller (bell + email), inside the transaction."""
    reason = "Every delivery failed for 3 days in a row."
    await WebhookEndpoint.update({WebhookEndpoint.enabled: False, WebhookEndpoint.disabled_at: now(),
                                  WebhookEndpoint.disabled_reason: reason}).where(
        WebhookEndpoint.id == endpoint.id)
    from trustdesk.core import audit
    from trustdesk.core.actors import Actor

    await audit.record("partners:webhook-endpoint:disabled", subject_type="webhook_endpoint",
                       subject_id=endpoint.id, actor=Actor.system(),
                       data={"url": endpoint.url, "failing_since": str(failing_since)})
    try:
        from trustdesk.core.notify import Note, deliver
    except ImportError:  # notifications not wired: the integrations page still shows it
        return
    email_ids = await deliver([Note(
        user_id=int(endpoint.seller), key=f"webhook-disabled:{endpoint.id}:{int(time.time())}",
        title="A webhook endpoint was turned off",
        body=(f"We could not deliver events to {endpoint.url} for 3 days, so we stopped sending "
              "to it. Fix the receiver, then turn it back on from your integrations page; "
              "you can resend missed events from the delivery log."),
        link="/account/integrations")])
    for email_id in email_ids:
        after_commit(lambda e=email_id: _send_email(e))


def _send_email(email_id: int) -> None:
    import dramatiq

    try:
        dramatiq.get_broker().get_actor("core.send_email").send(email_id)
    except Exception:  # noqa: BLE001 - no email job: the core sweep sends unsent emails
        log.info("email %s left for the sweep", email_id)


async def sweep_due_deliveries(grace: timedelta = timedelta(minutes=2)) -> int:
    """Re-enqueue pending deliveries whose job message was lost (the safety net)."""
    due = await WebhookDelivery.select(WebhookDelivery.id).where(
        (WebhookDelivery.state == "pending") & (WebhookDelivery.next_attempt_at <= now() - grace))
    for row in due:
        enqueue(row["id"])
    return len(due)
