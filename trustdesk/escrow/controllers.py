"""Escrow pages: make a link, pay a link, the sandbox provider, list and act on orders.

Thin: parse, one service call, respond. What an order looks like on a page (steps, deadlines,
timelines, to-dos) is computed by the small presenters at the bottom.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import segno
from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Response, Template

from trustdesk.accounts.tables import User
from trustdesk.core import audit, extensions
from trustdesk.core.actors import Actor, Role
from trustdesk.core.clock import aware, now
from trustdesk.core.errors import DomainError, NotFound, ValidationFailed
from trustdesk.core.web import current_user, flash, page
from trustdesk.db import retry_on_conflict
from trustdesk.escrow import forms, services
from trustdesk.escrow.guards import can_pay, requires_login, requires_seller
from trustdesk.escrow.payments import SANDBOX_METHODS, BadCallback, PaymentRequest, get_provider
from trustdesk.escrow.states import LABELS, TERMINAL, Action, OrderState, available_actions
from trustdesk.escrow.tables import Order
from trustdesk.settings import get_settings

PAGE_SIZE = 10
_CLOSED = [st.value for st in TERMINAL]
LIST_FILTERS: dict[str, Any] = {
    "all": None,
    "open": Order.state.not_in(_CLOSED),
    "closed": Order.state.is_in(_CLOSED),
}


def _and(where: Any, extra: Any) -> Any:
    return where if extra is None else where & extra


def _user(request: Request) -> dict[str, Any]:
    return current_user(request)  # type: ignore[return-value]


def _actor(request: Request, role: Role | None = None) -> Actor:
    user = _user(request)
    return Actor(role or Role(user["role"]), user["id"], "web")


def public_base(request: Request) -> str:
    return (get_settings().base_url or str(request.base_url)).rstrip("/")


def pay_url(request: Request, token: str) -> str:
    return f"{public_base(request)}/pay/{token}"


def qr_data_uri(text: str) -> str:
    """A server-rendered QR code as an SVG data: URI (no JS; CSP allows img-src data:)."""
    return segno.make(text, error="m").svg_data_uri(scale=4, border=2, dark="#1d2521")


# -- sellers: make a link ------------------------------------------------------------------------

class SellController(Controller):
    path = "/sell"
    guards = [requires_seller]

    @get("/new", sync_to_thread=False)
    def new_link_form(self) -> Template:
        return page("escrow/sell_new.html", form={"currency": "PKR", "inspection_days": "3"},
                    errors={})

    @post("/new")
    async def create_link(self, request: Request) -> Response:
        parsed = forms.parse_new_link(await request.form())
        if parsed.order is not None:
            try:
                order = await services.create_order(_user(request)["id"], parsed.order,
                                                    actor=_actor(request, Role.SELLER))
            except ValidationFailed as exc:
                parsed.errors[forms.SERVICE_FIELDS.get(exc.field or "", exc.field or "_")] = exc.message
            else:
                flash(request, "Your escrow link is ready. Share it with your buyer.")
                return Redirect(f"/orders/{order.id}/link", status_code=303)
        return page("escrow/sell_new.html", status=422, form=parsed.values, errors=parsed.errors)


# -- buyers: pay a link --------------------------------------------------------------------------

def link_problem(order: Order) -> str:
    """Why this link cannot be paid now ('' if it can)."""
    if order.state != OrderState.AWAITING_PAYMENT.value:
        return services._closed_link_message(order)
    if order.pay_by and aware(order.pay_by) <= now():
        return "This payment link has expired, so it cannot be paid. Ask the seller for a new one."
    return ""


class PayController(Controller):
    path = "/pay"

    @get("/{token:str}")
    async def pay_page(self, request: Request, token: FromPath[str]) -> Template:
        order = await services.get_order_by_token(token)
        seller = await User.objects().where(User.id == order.seller).first()
        user = current_user(request)
        return page("escrow/pay.html", order=order, seller=seller, total=services.total(order),
                    problem=link_problem(order), user=user, can_pay=can_pay(user),
                    is_party=bool(user and user["id"] in (order.buyer, order.seller)),
                    settings=get_settings(), here=f"/pay/{order.token}")

    @post("/{token:str}", guards=[requires_login])
    async def pay(self, request: Request, token: FromPath[str]) -> Response:
        order = await services.get_order_by_token(token)
        user = _user(request)
        if not can_pay(user):
            flash(request, "Mediators cannot pay escrow links.", "error")
            return Redirect(f"/pay/{token}", status_code=303)
        try:
            payment = await retry_on_conflict(lambda: services.start_payment(
                order.id, user["id"], Actor(Role.BUYER, user["id"], "web")))
        except NotFound as exc:
            flash(request, exc.message, "error")
            return Redirect(f"/pay/{token}", status_code=303)
        except DomainError as exc:
            flash(request, exc.message, "error")
            target = f"/orders/{order.id}" if user["id"] in (order.buyer, order.seller) else f"/pay/{token}"
            return Redirect(target, status_code=303)
        provider = get_provider(payment.provider)
        url = provider.start(PaymentRequest(
            reference=payment.reference, amount_minor=int(payment.amount_minor),
            currency=payment.currency, description=order.title, buyer_email=user["email"]))
        return Redirect(url, status_code=303)


class SandboxController(Controller):
    """The sandbox provider's hosted page and its signed callback into the app."""

    path = "/sandbox-pay"

    @get("/callback")
    async def callback_return(self, request: Request) -> Response:
        return await self._callback(request, dict(request.query_params), browser=True)

    @post("/callback")
    async def callback_notify(self, request: Request) -> Response:
        content_type = request.headers.get("content-type", "")
        params = await request.json() if "json" in content_type else dict(await request.form())
        return await self._callback(request, {k: str(v) for k, v in (params or {}).items()},
                                    browser=False)

    async def _callback(self, request: Request, params: dict[str, str], *, browser: bool) -> Response:
        provider = get_provider("sandbox")
        try:
            result = provider.verify_callback(params)
            outcome = await retry_on_conflict(lambda: services.complete_payment(
                result.reference, succeeded=result.succeeded, method=result.method,
                provider_ref=result.provider_ref, amount_minor=result.amount_minor,
                currency=result.currency))
        except (BadCallback, NotFound, ValidationFailed) as exc:
            message = exc.message if isinstance(exc, DomainError) else str(exc)
            if not browser:
                return Response({"ok": False, "error": message}, status_code=400)
            return page("escrow/callback_refused.html", status=400, message=message)
        if not browser:
            return Response({"ok": True, "status": outcome.status}, status_code=200)
        order = outcome.order
        level = {"funded": "success", "failed": "error", "refunded": "warning"}.get(outcome.status, "info")
        flash(request, outcome.message, level)
        user = current_user(request)
        if outcome.status == "failed":
            return Redirect(f"/pay/{order.token}", status_code=303)
        if user and user["id"] in (order.buyer, order.seller):
            return Redirect(f"/orders/{order.id}", status_code=303)
        return Redirect(f"/pay/{order.token}", status_code=303)

    @get("/{reference:str}")
    async def hosted_page(self, reference: FromPath[str]) -> Template:
        payment, order = await services.get_payment(reference)
        return page("escrow/sandbox_pay.html", payment=payment, order=order,
                    methods=SANDBOX_METHODS)

    @post("/{reference:str}")
    async def hosted_choice(self, request: Request, reference: FromPath[str]) -> Response:
        payment, order = await services.get_payment(reference)
        choice = str((await request.form()).get("method", ""))
        if choice not in SANDBOX_METHODS and choice != "fail":
            return page("escrow/sandbox_pay.html", status=422, payment=payment, order=order,
                        methods=SANDBOX_METHODS, error="Choose how to pay.")
        provider = get_provider("sandbox")
        params = provider.callback_params(payment.reference, method=choice,  # type: ignore[attr-defined]
                                          amount_minor=int(payment.amount_minor),
                                          currency=payment.currency)
        return Redirect(provider.callback_url(params), status_code=303)  # type: ignore[attr-defined]


# -- orders: lists, the order page, actions ------------------------------------------------------

class OrdersController(Controller):
    path = "/orders"
    guards = [requires_login]

    @get("/")
    async def list_orders(self, request: Request, bp: FromQuery[int] = 1, sp: FromQuery[int] = 1,
                          show: FromQuery[str] = "all") -> Template:
        user = _user(request)
        show = show if show in LIST_FILTERS else "all"
        extra = LIST_FILTERS[show]
        purchases = await _order_list(_and(Order.buyer == user["id"], extra), max(1, bp), Role.BUYER, user)
        sales = await _order_list(_and(Order.seller == user["id"], extra), max(1, sp), Role.SELLER, user)
        return page("escrow/orders.html", purchases=purchases, sales=sales, bp=purchases.page,
                    sp=sales.page, is_seller=user["role"] == "seller", show=show)

    @get("/{order_id:int}")
    async def order_page(self, request: Request, order_id: FromPath[int]) -> Template:
        user = _user(request)
        order = await services.get_order_for(order_id, user)
        role = services.viewer_role(order, user)
        people = {u["id"]: u for u in await User.select(
            User.id, User.display_name, User.store_name, User.slug, User.email).where(
            User.id.is_in([i for i in (order.seller, order.buyer) if i]))}
        ledger_rows = await services.list_ledger(order.id)
        events = await audit.list_for("order", order.id)
        ext = await extensions.gather_context(extensions.ORDER_PAGE, order, user)
        context: dict[str, Any] = {
            "order": order, "role": role.value, "state_label": LABELS[OrderState(order.state)],
            "total": services.total(order), "seller": people.get(order.seller),
            "buyer": people.get(order.buyer) if order.buyer else None,
            "steps": steps(order), "deadlines": binding_deadlines(order),
            "events": [describe_event(e) for e in events], "money": money_timeline(order, ledger_rows),
            "actions": page_actions(order, role), "carriers": services.CARRIERS,
            "next_step": next_step(order, role)[0] if role in (Role.BUYER, Role.SELLER) else "",
            "partials": list(extensions.ORDER_PAGE_PARTIALS),
        }
        context.update(ext)
        return page("escrow/order.html", **context)

    @get("/{order_id:int}/confirm/{action:str}")
    async def confirm_page(self, request: Request, order_id: FromPath[int], action: FromPath[str]) -> Template:
        order = await services.get_order_for(order_id, _user(request))
        if action not in ("release", "cancel"):
            raise NotFound("Order not found.")
        role = services.viewer_role(order, _user(request))
        allowed = page_actions(order, role)
        return page("escrow/confirm.html", order=order, action=action, total=services.total(order),
                    held=await services.escrow_balance(order.id),
                    allowed=(action in allowed), state_label=LABELS[OrderState(order.state)])

    @post("/{order_id:int}/ship")
    async def ship(self, request: Request, order_id: FromPath[int]) -> Response:
        await services.get_order_for(order_id, _user(request))
        data = forms.parse_ship(await request.form())

        async def run() -> Order:
            return await services.ship_order(order_id, carrier=data.carrier,
                                             tracking_number=data.tracking_number,
                                             actor=_actor(request))

        return await _act(request, order_id, run,
                          f"Marked as shipped with {data.carrier} (tracking {data.tracking_number}). "
                          "The buyer has been told.")

    @post("/{order_id:int}/confirm-delivery")
    async def confirm_delivery(self, request: Request, order_id: FromPath[int]) -> Response:
        order = await services.get_order_for(order_id, _user(request))
        return await _act(request, order_id,
                          lambda: services.confirm_delivery(order_id, actor=_actor(request)),
                          f"Delivery confirmed. You have {order.inspection_days} days to inspect "
                          "the item; accept it when you are happy, or file a complaint.")

    @post("/{order_id:int}/release")
    async def release(self, request: Request, order_id: FromPath[int]) -> Response:
        await services.get_order_for(order_id, _user(request))
        if not forms.confirmed(await request.form()):
            return Redirect(f"/orders/{order_id}/confirm/release", status_code=303)
        return await _act(request, order_id,
                          lambda: services.release_funds(order_id, actor=_actor(request)),
                          "Item accepted. The payment has been released to the seller.")

    @post("/{order_id:int}/cancel")
    async def cancel(self, request: Request, order_id: FromPath[int]) -> Response:
        order = await services.get_order_for(order_id, _user(request))
        form = await request.form()
        if not forms.confirmed(form):
            return Redirect(f"/orders/{order_id}/confirm/cancel", status_code=303)
        funded = order.state == OrderState.FUNDED.value
        reason = str(form.get("reason", "")).strip()[:200]
        message = ("Order cancelled. The buyer's payment was refunded in full."
                   if funded else "Order cancelled. The payment link no longer works.")
        return await _act(request, order_id,
                          lambda: services.cancel_order(order_id, actor=_actor(request), reason=reason),
                          message)


async def _act(request: Request, order_id: int, run: Any, success: str) -> Response:
    """Run one service command; its refusal (409, 403, 422) becomes a flash message."""
    try:
        await retry_on_conflict(run)
    except NotFound:
        raise
    except DomainError as exc:
        flash(request, exc.message, "error")
    else:
        flash(request, success)
    return Redirect(f"/orders/{order_id}", status_code=303)


class LinkController(Controller):
    path = "/orders/{order_id:int}/link"
    guards = [requires_login]  # not requires_seller: anyone but the order's seller gets a 404

    @get("/")
    async def link_page(self, request: Request, order_id: FromPath[int]) -> Response:
        order = await services.get_order_for(order_id, _user(request))
        if order.seller != _user(request)["id"]:
            raise NotFound("Order not found.")
        url = pay_url(request, order.token)
        return page("escrow/link.html", order=order, url=url, qr=qr_data_uri(url),
                    total=services.total(order), problem=link_problem(order))


# -- presenters -----------------------------------------------------------------------------------

@dataclass
class OrderRow:
    order: Order
    label: str
    total_minor: int
    deadline: datetime | None
    deadline_label: str
    todo: str
    link: str
    counterpart: str


@dataclass
class OrderList:
    rows: list[OrderRow]
    page: int
    pages: int
    count: int


async def _order_list(where: Any, page_no: int, role: Role, user: dict[str, Any]) -> OrderList:
    count = await Order.count().where(where)
    pages = max(1, -(-count // PAGE_SIZE))
    page_no = min(page_no, pages)
    orders = await Order.objects().where(where).order_by(Order.id, ascending=False) \
        .limit(PAGE_SIZE).offset((page_no - 1) * PAGE_SIZE)
    other_ids = {o.seller if role == Role.BUYER else o.buyer for o in orders} - {None}
    names = {u["id"]: (u["store_name"] or u["display_name"]) if role == Role.BUYER else u["display_name"]
             for u in await User.select(User.id, User.display_name, User.store_name).where(
                 User.id.is_in(list(other_ids)))} if other_ids else {}
    extra: dict[int, dict[str, str]] = {}
    for fn in extensions.ORDER_LIST_TODOS:
        extra.update(await fn([o.id for o in orders], user))
    rows = []
    for o in orders:
        todo, link = next_step(o, role)
        override = extra.get(o.id)
        if override:
            todo, link = override.get("todo", todo), override.get("link", link)
        deadline, deadline_label = running_deadline(o)
        other = o.seller if role == Role.BUYER else o.buyer
        rows.append(OrderRow(order=o, label=override.get("label", LABELS[OrderState(o.state)])
                             if override else LABELS[OrderState(o.state)],
                             total_minor=services.total(o).minor, deadline=deadline,
                             deadline_label=deadline_label, todo=todo, link=link,
                             counterpart=names.get(other, "") if other else ""))
    return OrderList(rows=rows, page=page_no, pages=pages, count=count)


def running_deadline(order: Order) -> tuple[datetime | None, str]:
    """The deadline that binds in the order's current state, and who it binds."""
    state = OrderState(order.state)
    field, label = {
        OrderState.AWAITING_PAYMENT: ("pay_by", "Payment due"),
        OrderState.FUNDED: ("ship_by", "Ship by"),
        OrderState.SHIPPED: ("confirm_by", "Confirm delivery by"),
        OrderState.DELIVERED: ("inspect_until", "Inspection ends"),
    }.get(state, ("", ""))
    value = getattr(order, field) if field else None
    return (aware(value) if value else None), label


def next_step(order: Order, role: Role) -> tuple[str, str]:
    """What this viewer should do now, in one sentence, and where to do it."""
    state = OrderState(order.state)
    page_link = f"/orders/{order.id}"
    if role == Role.BUYER:
        return {
            OrderState.AWAITING_PAYMENT: ("Pay into escrow", f"/pay/{order.token}"),
            OrderState.FUNDED: ("Nothing yet: the seller is preparing your parcel", page_link),
            OrderState.SHIPPED: ("Confirm delivery when the parcel arrives", page_link),
            OrderState.DELIVERED: ("Inspect the item, then accept it or complain", page_link),
            OrderState.DISPUTED: ("Follow your complaint", page_link),
        }.get(state, ("Nothing to do", page_link))
    return {
        OrderState.AWAITING_PAYMENT: ("Share the link with your buyer", f"/orders/{order.id}/link"),
        OrderState.FUNDED: ("Ship the item and add the tracking number", page_link),
        OrderState.SHIPPED: ("Nothing: waiting for the buyer to confirm delivery", page_link),
        OrderState.DELIVERED: ("Nothing: the buyer is inspecting the item", page_link),
        OrderState.DISPUTED: ("Answer the buyer's complaint", page_link),
    }.get(state, ("Nothing to do", page_link))


@dataclass
class Deadline:
    at: datetime
    headline: str
    consequence: str


def binding_deadlines(order: Order) -> list[Deadline]:
    state = OrderState(order.state)
    out: list[Deadline] = []
    if state == OrderState.AWAITING_PAYMENT and order.pay_by:
        out.append(Deadline(aware(order.pay_by), "Buyer must pay by",
                            "If nobody pays by then, the link is cancelled."))
    elif state == OrderState.FUNDED and order.ship_by:
        out.append(Deadline(aware(order.ship_by), "Seller must ship by",
                            "If the item is not shipped by then, the order is cancelled and the "
                            "buyer is refunded in full."))
    elif state == OrderState.SHIPPED and order.confirm_by:
        out.append(Deadline(aware(order.confirm_by), "Buyer must confirm delivery by",
                            f"If the buyer has not confirmed by then, the parcel is treated as "
                            f"delivered and the {order.inspection_days}-day inspection window starts."))
    elif state == OrderState.DELIVERED and order.inspect_until:
        out.append(Deadline(aware(order.inspect_until), "Inspection window ends",
                            "Then the payment is released to the seller, unless the buyer has "
                            "filed a complaint."))
    return out


def steps(order: Order) -> list[tuple[str, str]]:
    """(label, status) for the step indicator; status is done | current | todo."""
    state = OrderState(order.state)
    path = [("created", "Link created", True), ("funded", "Paid into escrow", bool(order.funded_at)),
            ("shipped", "Shipped", bool(order.shipped_at)),
            ("delivered", "Delivered", bool(order.delivered_at)),
            ("released", "Released", state == OrderState.RELEASED)]
    if state in (OrderState.CANCELLED, OrderState.DISPUTED, OrderState.REFUNDED,
                 OrderState.PARTIALLY_REFUNDED):
        items = [(label, "done") for _, label, reached in path[:-1] if reached]
        items.append((LABELS[state], "current" if state == OrderState.DISPUTED else "done"))
        return items
    out: list[tuple[str, str]] = []
    current_given = False
    for _, label, reached in path:
        if reached:
            out.append((label, "done"))
        elif not current_given:
            out.append((label, "current"))
            current_given = True
        else:
            out.append((label, "todo"))
    return out


ACTOR_NAMES = {"buyer": "the buyer", "seller": "the seller", "mediator": "a mediator",
               "system": "TrustDesk (automatic)"}


def describe_event(entry: dict[str, Any]) -> dict[str, Any]:
    action = entry["action"]
    data = entry.get("data") or {}
    who = ACTOR_NAMES.get(entry.get("actor_role") or "", "someone")
    if entry.get("via") == "api" and entry.get("actor_role") == "seller":
        who = "the seller's store (API)"
    method = data.get("method") or ""
    text = {
        "escrow:order:created": "Escrow link created",
        "escrow:order:buyer-claimed": "Buyer opened the link and signed in",
        "escrow:payment:started": "Buyer started paying",
        "escrow:payment:failed": "A payment attempt failed; nothing was charged",
        "escrow:payment:returned": "A payment arrived too late and was returned to the buyer",
        "escrow:order:funded": "Payment received" + (f" by {SANDBOX_METHODS.get(method, method)}" if method else "")
                               + "; TrustDesk holds it in escrow",
        "escrow:order:shipped": f"Shipped with {data.get('carrier', '')}, tracking number "
                                f"{data.get('tracking_number', '')}",
        "escrow:order:delivered": ("Delivery assumed: the confirmation window ended"
                                   if data.get("automatic") else "Buyer confirmed delivery"),
        "escrow:order:released": "Payment released to the seller",
        "escrow:order:cancelled": "Order cancelled" + (f": {data['reason']}" if data.get("reason") else ""),
        "escrow:order:disputed": "Buyer filed a complaint; the money is frozen",
        "escrow:order:resumed": "Complaint withdrawn; the order continues",
        "escrow:order:refunded": "Refunded to the buyer in full",
        "escrow:order:partially-refunded": "Part refunded to the buyer, the rest released to the seller",
    }.get(action, action.split(":")[-1].replace("-", " ").capitalize())
    if action == "escrow:order:cancelled" and data.get("refunded_minor"):
        text += " — the buyer was refunded in full"
    return {"at": entry["created_at"], "text": text, "who": who}


@dataclass
class MoneyLine:
    at: datetime
    text: str
    amount_minor: int
    kind: str


@dataclass
class MoneyView:
    lines: list[MoneyLine]
    held_now: int
    funded: int
    released: int
    refunded: int
    fees: int
    currency: str


def money_timeline(order: Order, rows: list[dict[str, Any]]) -> MoneyView:
    """Held / released / refunded, read straight from the ledger (never from counters)."""
    escrow = f"escrow:order:{order.id}"
    lines: list[MoneyLine] = []
    funded = released = refunded = fees = held = 0
    for row in rows:
        account, amount = row["account"], int(row["amount_minor"])
        if account == escrow:
            held += amount
            if amount > 0:
                funded += amount
                lines.append(MoneyLine(row["created_at"], "Held in escrow", amount, "held"))
        elif account.startswith("payable:seller:"):
            released += amount
            lines.append(MoneyLine(row["created_at"], "Released to the seller", amount, "released"))
        elif account.startswith("refunds:buyer:"):
            refunded += amount
            lines.append(MoneyLine(row["created_at"], "Refunded to the buyer", amount, "refunded"))
        elif account == "platform:fees":
            fees += amount
            lines.append(MoneyLine(row["created_at"], "TrustDesk fee", amount, "fee"))
    return MoneyView(lines=lines, held_now=held, funded=funded, released=released,
                     refunded=refunded, fees=fees, currency=order.currency)


PAGE_ACTIONS = (Action.FUND, Action.SHIP, Action.CONFIRM_DELIVERY, Action.RELEASE, Action.CANCEL)


def page_actions(order: Order, role: Role) -> list[str]:
    """The buttons this viewer gets now (mediators act on disputes, in the admin)."""
    if role in (Role.MEDIATOR, Role.SYSTEM) or OrderState(order.state) in TERMINAL:
        return []
    allowed = set(available_actions(order.state, role))
    out = [a.value for a in PAGE_ACTIONS if a in allowed]
    if Action.FUND.value in out and link_problem(order):
        out.remove(Action.FUND.value)
    return out


ROUTES: list[Any] = [SellController, PayController, SandboxController, OrdersController,
                     LinkController]
