"""The partner REST API under /api/v1: thin handlers over the escrow, disputes, ratings and
partner services. Parse -> one service call -> JSON. Errors are {"error": {code, message, field?}}."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import msgspec
from litestar import Request, Router, delete, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import HeaderParameter, JSONBody, PathParameter, QueryParameter

from trustdesk.core.actors import Actor, Role
from trustdesk.core.clock import aware
from trustdesk.core.errors import NotFound, ValidationFailed
from trustdesk.escrow import services as escrow
from trustdesk.escrow.states import OrderState
from trustdesk.escrow.tables import Order
from trustdesk.partners import services
from trustdesk.partners.auth import api_key_middleware, partner_of, requires_api_key
from trustdesk.partners.idempotency import idempotency_middleware
from trustdesk.settings import get_settings

SECURITY = [{"BearerAuth": []}]
MAX_ID = 2**31 - 1
OrderId = Annotated[int, PathParameter(ge=1, le=MAX_ID, description="The order's id.")]
EndpointId = Annotated[int, PathParameter(ge=1, le=MAX_ID, description="The endpoint's id.")]
IdempotencyKey = Annotated[str | None, HeaderParameter(
    name="Idempotency-Key", required=False, max_length=255,
    description="Any unique string (a UUID): retrying with the same key and body replays the "
                "first response instead of acting twice. Kept 24 hours, per API key.")]
Limit = Annotated[int, QueryParameter(ge=1, le=100, description="Page size (1-100).")]
Cursor = Annotated[str | None, QueryParameter(
    required=False, max_length=200, description="`next_cursor` from the previous page.")]


# -- schemas -----------------------------------------------------------------------------------

class ErrorDetail(msgspec.Struct, omit_defaults=True):
    code: str
    message: str
    field: str | None = None
    current_state: str | None = None
    retry_after: int | None = None


class ErrorBody(msgspec.Struct):
    error: ErrorDetail


def _errors(*statuses: int) -> dict[int, ResponseSpec]:
    text = {
        400: "Malformed request.",
        401: "No API key, or an unknown or revoked one.",
        403: "This key's seller may not take this action.",
        404: "Unknown id, or an object of another seller.",
        409: "Not possible in the current state (`current_state` says which), or a concurrent "
             "request with the same Idempotency-Key is still running.",
        413: "The request body is too large.",
        422: "Validation failed (`field` names the input), or `idempotency_key_reused`.",
        429: "Too many requests for this key; see the `Retry-After` header.",
    }
    return {s: ResponseSpec(data_container=ErrorBody, description=text[s], generate_examples=False)
            for s in statuses}


READ_ERRORS = _errors(400, 401, 404, 422, 429)
WRITE_ERRORS = _errors(400, 401, 403, 404, 409, 413, 422, 429)


class Deadlines(msgspec.Struct):
    pay_by: datetime | None
    ship_by: datetime | None
    confirm_by: datetime | None
    inspect_until: datetime | None


class OrderOut(msgspec.Struct):
    id: int
    state: OrderState
    title: str
    description: str
    amount_minor: int
    shipping_minor: int
    total_minor: int
    currency: str
    inspection_days: int
    buyer_email: str | None
    checkout_url: str
    deadlines: Deadlines
    carrier: str | None
    tracking_number: str | None
    external_ref: str | None
    created_at: datetime
    updated_at: datetime


class OrderList(msgspec.Struct):
    data: list[OrderOut]
    has_more: bool
    next_cursor: str | None


def _m(description: str, **constraints: Any) -> msgspec.Meta:
    return msgspec.Meta(description=description, **constraints)


class CreateOrder(msgspec.Struct, forbid_unknown_fields=True):
    """A new escrow order. Unknown fields are refused (422), so a typo never goes unnoticed."""

    buyer_email: Annotated[str, _m("The buyer's email: they pay at checkout_url with an account "
                                   "created or linked by this address.", min_length=3,
                                   max_length=255)]
    title: Annotated[str, _m("What is sold (shown to the buyer).", min_length=1, max_length=200)]
    amount_minor: Annotated[int, _m("Item price in minor units (paisa for PKR).", ge=1,
                                    le=escrow.MAX_PRICE_MINOR)]
    description: Annotated[str, _m("Details for the buyer.", max_length=5000)] | None = None
    shipping_minor: Annotated[int, _m("Shipping in minor units.", ge=0,
                                      le=escrow.MAX_PRICE_MINOR)] = 0
    currency: Annotated[str, _m("ISO 4217 code; the platform default (PKR) if omitted.",
                                       min_length=3, max_length=3)] | None = None
    inspection_days: Annotated[int, _m("Days the buyer has to inspect after delivery.",
                                              ge=1, le=30)] | None = None
    external_ref: Annotated[str, _m("Your own order id, to find it again "
                                           "(GET /orders?external_ref=).", max_length=255)] | None = None


Carrier = StrEnum("Carrier", [(c, c) for c in escrow.CARRIERS])  # type: ignore[misc]


class ShipOrder(msgspec.Struct, forbid_unknown_fields=True):
    carrier: Annotated[Carrier, _m("The courier.")]  # type: ignore[valid-type]
    tracking_number: Annotated[str, _m("The courier's tracking number.", min_length=1,
                                       max_length=80)]


class CancelOrder(msgspec.Struct, forbid_unknown_fields=True):
    reason: str | None = None


class WebhookEndpointIn(msgspec.Struct, forbid_unknown_fields=True):
    url: str
    events: list[str]
    description: str | None = None


class WebhookEndpointOut(msgspec.Struct):
    id: int
    url: str
    events: list[str]
    description: str
    enabled: bool
    created_at: datetime
    failing_since: datetime | None
    disabled_reason: str | None


class WebhookEndpointCreated(msgspec.Struct):
    id: int
    url: str
    events: list[str]
    description: str
    enabled: bool
    created_at: datetime
    secret: Annotated[str, msgspec.Meta(
        description="Signing secret for `TrustDesk-Signature`. Shown only in this response.")]


class WebhookEndpointList(msgspec.Struct):
    data: list[WebhookEndpointOut]


class EventOut(msgspec.Struct):
    id: int
    type: str
    created_at: str
    data: dict[str, Any]


class EventList(msgspec.Struct):
    data: list[EventOut]
    has_more: bool
    next_cursor: str | None


# -- helpers ----------------------------------------------------------------------------------

def _actor(partner: dict[str, Any]) -> Actor:
    return Actor(Role.SELLER, int(partner["seller_id"]), "api")


def _clean(value: str | None, field: str) -> str | None:
    """Text fields may not carry NUL bytes (PostgreSQL refuses them): say so, never 500."""
    if value is not None and "\x00" in value:
        raise ValidationFailed("Text may not contain NUL characters.", field=field)
    return value


def order_out(order: Order) -> OrderOut:
    base = get_settings().public_url
    return OrderOut(
        id=order.id, state=OrderState(order.state), title=order.title,
        description=order.description or "", amount_minor=int(order.amount_minor),
        shipping_minor=int(order.shipping_minor),
        total_minor=int(order.amount_minor) + int(order.shipping_minor), currency=order.currency,
        inspection_days=int(order.inspection_days), buyer_email=order.buyer_email,
        checkout_url=f"{base}/pay/{order.token}",
        deadlines=Deadlines(pay_by=aware(order.pay_by), ship_by=aware(order.ship_by),
                            confirm_by=aware(order.confirm_by),
                            inspect_until=aware(order.inspect_until)),
        carrier=order.carrier or None, tracking_number=order.tracking_number or None,
        external_ref=order.external_ref, created_at=aware(order.created_at),  # type: ignore[arg-type]
        updated_at=aware(order.updated_at),  # type: ignore[arg-type]
    )


# -- orders -----------------------------------------------------------------------------------

@post("/orders", status_code=201, responses=WRITE_ERRORS, tags=["Orders"],
      summary="Open an escrow order for a buyer",
      description="The buyer pays at `checkout_url`; until then the order is `awaiting_payment`. "
                  "A `order.created` webhook follows.")
async def create_order(request: Request, data: JSONBody[CreateOrder],
                       idempotency_key: IdempotencyKey = None) -> OrderOut:
    from trustdesk.accounts.services import normalise_email

    partner = partner_of(request)
    for name in ("title", "description", "currency", "external_ref", "buyer_email"):
        _clean(getattr(data, name), name)
    try:
        email = normalise_email(data.buyer_email)
    except ValidationFailed as exc:
        raise ValidationFailed(exc.message, field="buyer_email") from None
    order = await escrow.create_order(int(partner["seller_id"]), escrow.NewOrder(
        title=data.title, amount_minor=data.amount_minor, shipping_minor=data.shipping_minor,
        currency=data.currency or get_settings().default_currency,
        description=data.description or "", inspection_days=data.inspection_days,
        buyer_email=email, external_ref=data.external_ref, source="api",
    ), actor=_actor(partner))
    return order_out(order)


@get("/orders/{order_id:int}", responses=READ_ERRORS, tags=["Orders"], summary="One order")
async def get_order(request: Request, order_id: OrderId) -> OrderOut:
    partner = partner_of(request)
    return order_out(await services.get_seller_order(order_id, int(partner["seller_id"])))


@get("/orders", responses=READ_ERRORS, tags=["Orders"], summary="Your orders, newest first")
async def list_orders(request: Request,
                      order_state: Annotated[str | None, QueryParameter(
                          name="state", enum=[s.value for s in OrderState], max_length=24,
                          description="Only orders in this state.")] = None,
                      external_ref: Annotated[str | None, QueryParameter(max_length=255)] = None,
                      limit: Limit = 20, cursor: Cursor = None) -> OrderList:
    partner = partner_of(request)
    _clean(external_ref, "external_ref")
    rows, next_cursor = await services.list_seller_orders(
        int(partner["seller_id"]), state=order_state,
        external_ref=external_ref, limit=limit, cursor=cursor)
    return OrderList(data=[order_out(o) for o in rows], has_more=next_cursor is not None,
                     next_cursor=next_cursor)


@post("/orders/{order_id:int}/ship", status_code=200, responses=WRITE_ERRORS, tags=["Orders"],
      summary="Mark a paid order shipped",
      description="`funded` -> `shipped`. 409 with `current_state` in any other state.")
async def ship_order(request: Request, order_id: OrderId, data: JSONBody[ShipOrder],
                     idempotency_key: IdempotencyKey = None) -> OrderOut:
    partner = partner_of(request)
    _clean(data.tracking_number, "tracking_number")
    await services.get_seller_order(order_id, int(partner["seller_id"]))
    order = await escrow.ship_order(order_id, carrier=str(data.carrier.value),
                                    tracking_number=data.tracking_number, actor=_actor(partner))
    return order_out(order)


@post("/orders/{order_id:int}/cancel", status_code=200, responses=WRITE_ERRORS, tags=["Orders"],
      summary="Cancel an unpaid order, or a paid one you cannot ship (full refund)",
      description="`awaiting_payment` or `funded` -> `cancelled`. 409 once shipped.")
async def cancel_order(request: Request, order_id: OrderId, data: JSONBody[CancelOrder | None] = None,
                       idempotency_key: IdempotencyKey = None) -> OrderOut:
    partner = partner_of(request)
    reason = _clean((data.reason if data else None), "reason") or "cancelled by the seller (API)"
    await services.get_seller_order(order_id, int(partner["seller_id"]))
    order = await escrow.cancel_order(order_id, actor=_actor(partner), reason=reason[:200])
    return order_out(order)


# -- webhook endpoints ------------------------------------------------------------------------

@post("/webhook-endpoints", status_code=201, responses=WRITE_ERRORS, tags=["Webhooks"],
      summary="Register a webhook endpoint",
      description="Events are POSTed as `{id, type, created_at, data}` with the header "
                  "`TrustDesk-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, \"<t>.<body>\")>`. "
                  "`events` lists event types, or `[\"*\"]` for all. The `secret` is returned "
                  "only here.")
async def create_webhook_endpoint(request: Request, data: JSONBody[WebhookEndpointIn],
                                  idempotency_key: IdempotencyKey = None) -> WebhookEndpointCreated:
    partner = partner_of(request)
    _clean(data.url, "url")
    for e in data.events:
        _clean(e, "events")
    row, secret = await services.create_webhook_endpoint(
        int(partner["seller_id"]), url=data.url, events=data.events,
        description=_clean(data.description, "description") or "", actor=_actor(partner))
    out = await services.get_webhook_endpoint(row.id, int(partner["seller_id"]))
    return WebhookEndpointCreated(id=out["id"], url=out["url"], events=out["events"],
                                  description=out["description"], enabled=out["enabled"],
                                  created_at=out["created_at"], secret=secret)


@get("/webhook-endpoints", responses=READ_ERRORS, tags=["Webhooks"], summary="Your endpoints")
async def list_webhook_endpoints(request: Request) -> WebhookEndpointList:
    partner = partner_of(request)
    rows = await services.list_webhook_endpoints(int(partner["seller_id"]))
    return WebhookEndpointList(data=[WebhookEndpointOut(**r) for r in rows])


@get("/webhook-endpoints/{endpoint_id:int}", responses=READ_ERRORS, tags=["Webhooks"],
     summary="One endpoint")
async def get_webhook_endpoint(request: Request, endpoint_id: EndpointId) -> WebhookEndpointOut:
    partner = partner_of(request)
    return WebhookEndpointOut(**await services.get_webhook_endpoint(endpoint_id,
                                                                   int(partner["seller_id"])))


@delete("/webhook-endpoints/{endpoint_id:int}", responses=READ_ERRORS, tags=["Webhooks"],
        summary="Stop sending to an endpoint")
async def delete_webhook_endpoint(request: Request, endpoint_id: EndpointId) -> None:
    partner = partner_of(request)
    await services.delete_webhook_endpoint(endpoint_id, seller_id=int(partner["seller_id"]),
                                           actor=_actor(partner))


# -- events -----------------------------------------------------------------------------------

@get("/events", responses=READ_ERRORS, tags=["Events"], summary="Every event about your store",
     description="The same events the webhooks deliver, newest first.")
async def list_events(request: Request, limit: Limit = 20, cursor: Cursor = None) -> EventList:
    partner = partner_of(request)
    rows, next_cursor = await services.list_seller_events(int(partner["seller_id"]),
                                                          limit=limit, cursor=cursor)
    return EventList(data=[EventOut(**r) for r in rows], has_more=next_cursor is not None,
                     next_cursor=next_cursor)


KEYED_HANDLERS: list[Any] = [
    create_order, get_order, list_orders, ship_order, cancel_order,
    create_webhook_endpoint, list_webhook_endpoints, get_webhook_endpoint,
    delete_webhook_endpoint, list_events,
]
PUBLIC_HANDLERS: list[Any] = []


def _optional_handlers() -> None:
    """Dispute and trust endpoints exist once those domains' services do."""
    from trustdesk.partners import api_disputes, api_trust

    KEYED_HANDLERS.extend(api_disputes.HANDLERS)
    PUBLIC_HANDLERS.extend(api_trust.HANDLERS)


def build_routers() -> list[Router]:
    """The keyed API (auth + rate limit + idempotency middleware) and its public part."""
    _optional_handlers()
    keyed = Router(path="/api/v1", route_handlers=KEYED_HANDLERS, guards=[requires_api_key],
                   middleware=[api_key_middleware, idempotency_middleware], security=SECURITY)
    routers = [keyed]
    if PUBLIC_HANDLERS:
        routers.append(Router(path="/api/v1", route_handlers=PUBLIC_HANDLERS))
    return routers


def not_found() -> NotFound:
    return NotFound("Not found.")
