"""Partner commands and reads: API keys, webhook endpoints, resends; scoped reads for the API.

Every command is one write_transaction() with its audit entry. Order and dispute state changes
made through the API go through the escrow and disputes services, never through here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

from trustdesk.accounts.tables import User
from trustdesk.core import audit
from trustdesk.core.actors import Actor, Role
from trustdesk.core.clock import aware, now
from trustdesk.core.errors import NotFound, ValidationFailed
from trustdesk.core.outbox import EVENT_TYPES
from trustdesk.core.tables import OutboxEvent
from trustdesk.db import after_commit, write_transaction
from trustdesk.escrow.states import OrderState
from trustdesk.escrow.tables import Order
from trustdesk.partners.tables import ApiKey, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from trustdesk.settings import get_settings

KEY_PREFIX = "td_key_"
SECRET_PREFIX = "whsec_"
MAX_KEYS_PER_SELLER = 20
MAX_ENDPOINTS_PER_SELLER = 10
MAX_PAGE = 100
LAST_USED_GRANULARITY_S = 60  # write last_used_at at most once a minute per key


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _actor_for(seller_id: int, via: str) -> Actor:
    return Actor(Role.SELLER, seller_id, via)


async def _seller(seller_id: int) -> User:
    seller = await User.objects().where(User.id == seller_id).first()
    if seller is None or seller.role != Role.SELLER.value:
        raise ValidationFailed("Only sellers have API keys and webhooks.")
    return seller


# -- API keys --------------------------------------------------------------------------------

async def create_api_key(seller_id: int, *, name: str = "", actor: Actor) -> tuple[ApiKey, str]:
    """A new bearer key for the seller: returns (row, the key itself — shown once, never stored)."""
    name = (name or "").strip()
    if len(name) > 80:
        raise ValidationFailed("Key names are at most 80 characters.", field="name")
    seller = await _seller(seller_id)
    if seller.suspended:
        raise ValidationFailed("This seller account is suspended.")
    active = await ApiKey.count().where((ApiKey.seller == seller_id) & ApiKey.revoked_at.is_null())
    if active >= MAX_KEYS_PER_SELLER:
        raise ValidationFailed(f"A store can have {MAX_KEYS_PER_SELLER} active keys; "
                               "revoke one you no longer use.", field="name")
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    async with write_transaction():
        row = ApiKey(seller=seller_id, name=name or "API key", prefix=raw[:14],
                     key_hash=hash_key(raw), created_at=now(), last_used_at=None, revoked_at=None)
        await row.save()
        await audit.record("partners:api-key:created", subject_type="api_key", subject_id=row.id,
                           actor=actor, data={"name": row.name, "prefix": row.prefix})
    return row, raw


async def revoke_api_key(key_id: int, *, seller_id: int, actor: Actor) -> ApiKey:
    """Revoke one of the seller's keys (requests with it get 401 from now on)."""
    async with write_transaction():
        row = await ApiKey.objects().where((ApiKey.id == key_id) & (ApiKey.seller == seller_id)).first()
        if row is None:
            raise NotFound("API key not found.")
        if row.revoked_at is None:
            row.revoked_at = now()
            await ApiKey.update({ApiKey.revoked_at: row.revoked_at}).where(ApiKey.id == row.id)
            await audit.record("partners:api-key:revoked", subject_type="api_key",
                               subject_id=row.id, actor=actor, data={"prefix": row.prefix})
    return row


async def list_api_keys(seller_id: int) -> list[dict[str, Any]]:
    rows = await ApiKey.select(ApiKey.id, ApiKey.name, ApiKey.prefix, ApiKey.created_at,
                               ApiKey.last_used_at, ApiKey.revoked_at).where(
        ApiKey.seller == seller_id).order_by(ApiKey.id, ascending=False)
    for r in rows:
        for k in ("created_at", "last_used_at", "revoked_at"):
            r[k] = aware(r[k])
    return rows


async def authenticate_key(raw: str) -> dict[str, Any] | None:
    """The active key's {id, seller_id, name} for a bearer token; None if unknown or revoked."""
    if not raw or not raw.startswith(KEY_PREFIX) or len(raw) > 200:
        return None
    row = await ApiKey.select(ApiKey.id, ApiKey.seller, ApiKey.name, ApiKey.last_used_at,
                              ApiKey.revoked_at, ApiKey.seller.suspended, ApiKey.seller.role).where(
        ApiKey.key_hash == hash_key(raw)).first()
    if row is None or row["revoked_at"] is not None or row["seller.suspended"] \
            or row["seller.role"] != Role.SELLER.value:
        return None
    stamp = now()
    last = aware(row["last_used_at"])
    if last is None or (stamp - last).total_seconds() >= LAST_USED_GRANULARITY_S:
        await ApiKey.update({ApiKey.last_used_at: stamp}).where(ApiKey.id == row["id"])
    return {"id": row["id"], "seller_id": row["seller"], "name": row["name"]}


# -- webhook endpoints ------------------------------------------------------------------------

def validate_events(events: list[str] | None) -> list[str]:
    events = [str(e).strip() for e in (events or []) if str(e).strip()]
    if not events:
        raise ValidationFailed("Choose at least one event (or \"*\" for all).", field="events")
    for e in events:
        if e != "*" and e not in EVENT_TYPES:
            raise ValidationFailed(f"Unknown event {e[:60]!r}; use one of: {', '.join(EVENT_TYPES)}, "
                                   "or \"*\".", field="events")
    return ["*"] if "*" in events else sorted(set(events))


def validate_url(url: str) -> str:
    url = (url or "").strip()
    parsed = urlparse(url)
    if len(url) > 500 or parsed.scheme not in ("http", "https") or not parsed.hostname \
            or any(c in url for c in " \n\r\t\x00"):
        raise ValidationFailed("Enter the full http(s) address that receives the webhooks.",
                               field="url")
    if get_settings().is_production and parsed.scheme != "https":
        raise ValidationFailed("Webhook addresses must use https.", field="url")
    return url


async def create_webhook_endpoint(seller_id: int, *, url: str, events: list[str] | None,
                                  description: str = "", actor: Actor) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; returns (row, signing secret — shown once)."""
    url = validate_url(url)
    events = validate_events(events)
    description = (description or "").strip()
    if len(description) > 120 or "\x00" in description:
        raise ValidationFailed("Descriptions are at most 120 characters.", field="description")
    await _seller(seller_id)
    count = await WebhookEndpoint.count().where(
        (WebhookEndpoint.seller == seller_id) & WebhookEndpoint.deleted_at.is_null())
    if count >= MAX_ENDPOINTS_PER_SELLER:
        raise ValidationFailed(f"A store can have {MAX_ENDPOINTS_PER_SELLER} webhook endpoints.",
                               field="url")
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    async with write_transaction():
        row = WebhookEndpoint(seller=seller_id, url=url, events=json.dumps(events), secret=secret,
                              description=description, enabled=True, created_at=now())
        await row.save()
        await audit.record("partners:webhook-endpoint:created", subject_type="webhook_endpoint",
                           subject_id=row.id, actor=actor, data={"url": url, "events": events})
    return row, secret


async def delete_webhook_endpoint(endpoint_id: int, *, seller_id: int, actor: Actor) -> None:
    """Stop sending to an endpoint (kept, disabled, for the delivery log)."""
    async with write_transaction():
        row = await _endpoint_of(endpoint_id, seller_id)
        await WebhookEndpoint.update({WebhookEndpoint.deleted_at: now(),
                                      WebhookEndpoint.enabled: False}).where(
            WebhookEndpoint.id == row["id"])
        await audit.record("partners:webhook-endpoint:deleted", subject_type="webhook_endpoint",
                           subject_id=row["id"], actor=actor, data={"url": row["url"]})


async def enable_webhook_endpoint(endpoint_id: int, *, seller_id: int, actor: Actor) -> None:
    """Turn a disabled (failing) endpoint back on; its failure streak starts again."""
    async with write_transaction():
        row = await _endpoint_of(endpoint_id, seller_id)
        await WebhookEndpoint.update({WebhookEndpoint.enabled: True,
                                      WebhookEndpoint.failing_since: None,
                                      WebhookEndpoint.disabled_at: None,
                                      WebhookEndpoint.disabled_reason: ""}).where(
            WebhookEndpoint.id == row["id"])
        await audit.record("partners:webhook-endpoint:enabled", subject_type="webhook_endpoint",
                           subject_id=row["id"], actor=actor, data={})


async def _endpoint_of(endpoint_id: int, seller_id: int) -> dict[str, Any]:
    row = await WebhookEndpoint.select().where(
        (WebhookEndpoint.id == endpoint_id) & (WebhookEndpoint.seller == seller_id)
        & WebhookEndpoint.deleted_at.is_null()).first()
    if row is None:
        raise NotFound("Webhook endpoint not found.")
    return row


def endpoint_dict(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"], "url": row["url"], "events": json.loads(row["events"] or "[]"),
        "description": row["description"], "enabled": bool(row["enabled"]),
        "created_at": aware(row["created_at"]), "failing_since": aware(row["failing_since"]),
        "disabled_reason": row["disabled_reason"] or None,
    }


async def get_webhook_endpoint(endpoint_id: int, seller_id: int) -> dict[str, Any]:
    return endpoint_dict(await _endpoint_of(endpoint_id, seller_id))


async def list_webhook_endpoints(seller_id: int) -> list[dict[str, Any]]:
    rows = await WebhookEndpoint.select().where(
        (WebhookEndpoint.seller == seller_id) & WebhookEndpoint.deleted_at.is_null()).order_by(
        WebhookEndpoint.id, ascending=False)
    return [endpoint_dict(r) for r in rows]


async def list_deliveries(seller_id: int, limit: int = 30) -> list[dict[str, Any]]:
    """The seller's latest deliveries, each with its attempts (newest first): the delivery log."""
    rows = await WebhookDelivery.select(
        WebhookDelivery.id, WebhookDelivery.event_id, WebhookDelivery.event_type,
        WebhookDelivery.state, WebhookDelivery.attempts, WebhookDelivery.next_attempt_at,
        WebhookDelivery.last_status_code, WebhookDelivery.created_at, WebhookDelivery.delivered_at,
        WebhookDelivery.endpoint.url, WebhookDelivery.endpoint.id,
    ).where(WebhookDelivery.endpoint.seller == seller_id).order_by(
        WebhookDelivery.id, ascending=False).limit(limit)
    ids = [r["id"] for r in rows]
    attempts: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        for a in await WebhookAttempt.select().where(WebhookAttempt.delivery.is_in(ids)).order_by(
                WebhookAttempt.id, ascending=False):
            a["attempted_at"] = aware(a["attempted_at"])
            attempts[a["delivery"]].append(a)
    for r in rows:
        r["attempt_log"] = attempts[r["id"]]
        r["url"] = r.pop("endpoint.url")
        r["endpoint_id"] = r.pop("endpoint.id")
        for k in ("next_attempt_at", "created_at", "delivered_at"):
            r[k] = aware(r[k])
    return rows


async def resend_delivery(delivery_id: int, *, seller_id: int, actor: Actor) -> None:
    """Send a delivery again now (one manual attempt, logged like the others)."""
    row = await WebhookDelivery.select(WebhookDelivery.id).where(
        (WebhookDelivery.id == delivery_id) & (WebhookDelivery.endpoint.seller == seller_id)
        & WebhookDelivery.endpoint.deleted_at.is_null()).first()
    if row is None:
        raise NotFound("Delivery not found.")
    async with write_transaction():
        await audit.record("partners:webhook-delivery:resent", subject_type="webhook_delivery",
                           subject_id=delivery_id, actor=actor, data={})
        after_commit(lambda: _enqueue(delivery_id, manual=True))


def _enqueue(delivery_id: int, *, manual: bool = False) -> None:
    from trustdesk.partners.tasks import deliver_webhook

    deliver_webhook.send(delivery_id, manual)


# -- scoped reads for the API ---------------------------------------------------------------

def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        number = int(value)
        if kind != "id" or not 0 < number < 2**31:
            raise ValueError
        return number
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("This cursor is not one we gave out; start from the first page.",
                               field="cursor") from None


def _page(rows: list[Any], limit: int, id_of: Any) -> tuple[list[Any], str | None]:
    has_more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(id_of(rows[-1])) if has_more and rows else None)


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(f"limit is 1 to {MAX_PAGE}.", field="limit")
    return limit


async def get_seller_order(order_id: int, seller_id: int) -> Order:
    """The seller's own order; NotFound for anyone else's (no hint that it exists)."""
    order = None
    if 0 < order_id < 2**31:
        order = await Order.objects().where((Order.id == order_id) & (Order.seller == seller_id)).first()
    if order is None:
        raise NotFound("Order not found.")
    return order


async def list_seller_orders(seller_id: int, *, state: str | None = None,
                             external_ref: str | None = None, limit: int = 20,
                             cursor: str | None = None) -> tuple[list[Order], str | None]:
    """Newest first; (orders, next_cursor)."""
    check_limit(limit)
    query = Order.objects().where(Order.seller == seller_id)
    if state:
        if state not in {s.value for s in OrderState}:
            raise ValidationFailed("Unknown state.", field="state")
        query = query.where(Order.state == state)
    if external_ref:
        query = query.where(Order.external_ref == external_ref[:255])
    after = decode_cursor(cursor)
    if after is not None:
        query = query.where(Order.id < after)
    rows = await query.order_by(Order.id, ascending=False).limit(limit + 1)
    return _page(rows, limit, lambda o: o.id)


def event_dict(row: dict[str, Any]) -> dict[str, Any]:
    data = row.get("data")
    stamp: datetime | None = aware(row["created_at"])
    return {"id": row["id"], "type": row["event_type"],
            "created_at": stamp.isoformat().replace("+00:00", "Z") if stamp else None,
            "data": json.loads(data) if isinstance(data, str) else (data or {})}


async def list_seller_events(seller_id: int, *, limit: int = 20,
                             cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """Every event about the seller's orders, disputes and ratings, newest first."""
    check_limit(limit)
    query = OutboxEvent.select().where(OutboxEvent.seller_id == seller_id)
    after = decode_cursor(cursor)
    if after is not None:
        query = query.where(OutboxEvent.id < after)
    rows = await query.order_by(OutboxEvent.id, ascending=False).limit(limit + 1)
    page, next_cursor = _page(rows, limit, lambda r: r["id"])
    return [event_dict(r) for r in page], next_cursor


async def get_seller_dispute(dispute_id: int, seller_id: int) -> Any:
    """A complaint about one of the seller's orders; NotFound for anyone else's."""
    from trustdesk.disputes.tables import Dispute

    dispute = None
    if 0 < dispute_id < 2**31:
        dispute = await Dispute.objects().where(
            (Dispute.id == dispute_id) & (Dispute.seller == seller_id)).first()
    if dispute is None:
        raise NotFound("Dispute not found.")
    return dispute


async def list_seller_disputes(seller_id: int, *, state: str | None = None, limit: int = 20,
                               cursor: str | None = None) -> tuple[list[Any], str | None]:
    """The seller's disputes, newest first; (disputes, next_cursor)."""
    from trustdesk.disputes.states import DisputeState
    from trustdesk.disputes.tables import Dispute

    check_limit(limit)
    query = Dispute.objects().where(Dispute.seller == seller_id)
    if state:
        if state not in {s.value for s in DisputeState}:
            raise ValidationFailed("Unknown state.", field="state")
        query = query.where(Dispute.state == state)
    after = decode_cursor(cursor)
    if after is not None:
        query = query.where(Dispute.id < after)
    rows = await query.order_by(Dispute.id, ascending=False).limit(limit + 1)
    return _page(rows, limit, lambda d: d.id)
