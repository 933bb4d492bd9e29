"""Escrow commands. Each is one transaction: state + ledger posting + audit + outbox together.

Callers: web controllers, the partner API, dispute services and deadline jobs all use these.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from trustdesk.accounts.tables import User
from trustdesk.core import audit, deadlines, outbox
from trustdesk.core.actors import Actor, Role
from trustdesk.core.clock import aware, now
from trustdesk.core.errors import (
    Conflict,
    DomainError,
    InvalidTransition,
    NotFound,
    ValidationFailed,
)
from trustdesk.core.money import Money, MoneyError, check_currency
from trustdesk.db import is_postgres, load_for_update, update_versioned, write_transaction
from trustdesk.escrow import ledger
from trustdesk.escrow.states import (
    COMPLETED,
    DISPUTABLE,
    LABELS,
    RESUME_ACTION,
    Action,
    OrderState,
    next_state,
)
from trustdesk.escrow.tables import LedgerEntry, Order, Payment
from trustdesk.settings import get_settings

CARRIERS = ["TCS", "Leopards", "M&P", "Trax", "Pakistan Post", "BlueEX", "Call Courier", "Other"]
MAX_PRICE_MINOR = 10_000_000_000  # Rs 100,000,000.00: anything above is a typo or fraud


# -- reads -----------------------------------------------------------------------------------

async def get_order(order_id: int) -> Order:
    order = await Order.objects().where(Order.id == order_id).first()
    if order is None:
        raise NotFound("Order not found.")
    return order


async def get_order_for(order_id: int, user: dict[str, Any] | None) -> Order:
    """The order if `user` is its buyer, its seller, or a mediator; NotFound otherwise."""
    order = await Order.objects().where(Order.id == order_id).first()
    if order is None or user is None or not is_party_or_mediator(order, user):
        raise NotFound("Order not found.")
    return order


def is_party_or_mediator(order: Order, user: dict[str, Any]) -> bool:
    return user["role"] == Role.MEDIATOR.value or user["id"] in (order.seller, order.buyer)


def viewer_role(order: Order, user: dict[str, Any]) -> Role:
    if user["id"] == order.seller:
        return Role.SELLER
    if user["id"] == order.buyer:
        return Role.BUYER
    if user["role"] == Role.MEDIATOR.value:
        return Role.MEDIATOR
    raise NotFound("Order not found.")


async def get_order_by_token(token: str) -> Order:
    order = await Order.objects().where(Order.token == token).first() if token else None
    if order is None:
        raise NotFound("This payment link does not exist. Check that you copied all of it.")
    return order


def total(order: Order) -> Money:
    return Money(int(order.amount_minor) + int(order.shipping_minor), order.currency)


async def escrow_balance(order_id: int) -> int:
    return await account_balance(ledger.escrow_account(order_id))


async def account_balance(account: str) -> int:
    rows = await LedgerEntry.select(LedgerEntry.amount_minor).where(LedgerEntry.account == account)
    return sum(int(r["amount_minor"]) for r in rows)


async def list_ledger(order_id: int) -> list[dict[str, Any]]:
    rows = await LedgerEntry.select().where(LedgerEntry.order == order_id).order_by(LedgerEntry.id)
    for row in rows:
        row["created_at"] = aware(row["created_at"])
    return rows


# -- helpers -----------------------------------------------------------------------------------

def _actor_role_for(order: Order, actor: Actor) -> Role:
    """A user acting on an order acts as its buyer or seller; others are not parties."""
    if actor.role in (Role.SYSTEM, Role.MEDIATOR):
        return actor.role
    if actor.user_id is not None and actor.user_id == order.seller:
        return Role.SELLER
    if actor.user_id is not None and actor.user_id == order.buyer:
        return Role.BUYER
    raise NotFound("Order not found.")


async def _post(order: Order, kind: ledger.PostingKind, entries: list[ledger.Entry]) -> str:
    posting_id = str(uuid.uuid4())
    stamp = now()
    rows = [LedgerEntry(posting_id=posting_id, kind=kind.value, account=e.account,
                        amount_minor=e.amount_minor, currency=e.currency, order=order.id,
                        created_at=stamp) for e in ledger.check_balanced(entries)]
    if rows:
        await LedgerEntry.insert(*rows)
    return posting_id


def order_event_data(order: Order) -> dict[str, Any]:
    return {
        "id": order.id, "state": order.state, "amount_minor": int(order.amount_minor),
        "shipping_minor": int(order.shipping_minor), "currency": order.currency,
        "title": order.title, "external_ref": order.external_ref,
        "carrier": order.carrier or None, "tracking_number": order.tracking_number or None,
    }


async def _record(order: Order, action: str, actor: Actor, event: str | None,
                  data: dict[str, Any] | None = None) -> None:
    await audit.record(f"escrow:order:{action}", subject_type="order", subject_id=order.id,
                       actor=actor, data={"state": order.state, **(data or {})})
    if event:
        await outbox.emit(event, subject_type="order", subject_id=order.id,
                          data={**order_event_data(order), **(data or {})},
                          seller_id=order.seller, buyer_id=order.buyer)


async def _load(order_id: int) -> Order:
    order = await load_for_update(Order, order_id)
    if order is None:
        raise NotFound("Order not found.")
    return order  # type: ignore[return-value]


async def _transition(order: Order, action: Action, actor: Actor, values: dict[Any, Any]) -> OrderState:
    role = _actor_role_for(order, actor)
    target = next_state(order.state, action, role)
    stamp = now()
    values = {Order.state: target.value, Order.updated_at: stamp, **values}
    await update_versioned(Order, order, values)
    return target


# -- commands ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class NewOrder:
    title: str
    amount_minor: int
    shipping_minor: int = 0
    currency: str = "PKR"
    description: str = ""
    inspection_days: int | None = None
    inspection_s: int | None = None
    buyer_email: str | None = None
    external_ref: str | None = None
    source: str = "link"


def validate_new_order(data: NewOrder) -> NewOrder:
    """Raise ValidationFailed naming the first bad field."""
    title = (data.title or "").strip()
    if not title or len(title) > 200:
        raise ValidationFailed("Give the item a title (up to 200 characters).", field="title")
    if len(data.description or "") > 5000:
        raise ValidationFailed("Keep the description under 5,000 characters.", field="description")
    try:
        currency = check_currency(data.currency or get_settings().default_currency)
    except MoneyError as exc:
        raise ValidationFailed(str(exc), field="currency") from exc
    for name, value in (("amount_minor", data.amount_minor), ("shipping_minor", data.shipping_minor)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValidationFailed("Amounts are whole numbers of minor units (paisa).", field=name)
    if data.amount_minor <= 0:
        raise ValidationFailed("The price must be more than zero.", field="amount_minor")
    if data.shipping_minor < 0:
        raise ValidationFailed("Shipping cannot be negative.", field="shipping_minor")
    if data.amount_minor + data.shipping_minor > MAX_PRICE_MINOR:
        raise ValidationFailed("That amount is too large for one order.", field="amount_minor")
    days = data.inspection_days
    if days is None:
        # the platform default (TRUSTDESK_INSPECTION_WINDOW), kept exact even when not whole days
        window = get_settings().inspection_window
        days = max(1, round(window / timedelta(days=1)))
        seconds = max(1, int(window.total_seconds()))
    else:
        seconds = days * 86400 if isinstance(days, int) else 0
    if not isinstance(days, int) or not 1 <= days <= 30:
        raise ValidationFailed("The inspection window is 1 to 30 days.", field="inspection_days")
    ref = (data.external_ref or "").strip() or None
    if ref and len(ref) > 255:
        raise ValidationFailed("external_ref is at most 255 characters.", field="external_ref")
    return NewOrder(title=title, amount_minor=data.amount_minor, shipping_minor=data.shipping_minor,
                    currency=currency, description=(data.description or "").strip(),
                    inspection_days=days, inspection_s=seconds, buyer_email=data.buyer_email,
                    external_ref=ref,
                    source=data.source)


async def create_order(seller_id: int, data: NewOrder, *, actor: Actor) -> Order:
    """A seller's escrow link (or an API order): a new order awaiting payment."""
    data = validate_new_order(data)
    seller = await User.objects().where(User.id == seller_id).first()
    if seller is None or seller.role != Role.SELLER.value:
        raise ValidationFailed("Only sellers can create escrow links.")
    if seller.suspended:
        raise ValidationFailed("This seller account is suspended.")
    buyer_id = None
    if data.buyer_email:
        buyer = await User.objects().where(User.email == data.buyer_email.strip().lower()).first()
        if buyer is not None:
            if buyer.id == seller_id:
                raise ValidationFailed("The buyer cannot be the seller.", field="buyer_email")
            buyer_id = buyer.id
    stamp = now()
    async with write_transaction():
        order = Order(
            token=secrets.token_urlsafe(24), seller=seller_id, buyer=buyer_id,
            buyer_email=(data.buyer_email or "").strip().lower() or None,
            title=data.title, description=data.description, amount_minor=data.amount_minor,
            shipping_minor=data.shipping_minor, currency=data.currency,
            inspection_days=data.inspection_days, inspection_s=data.inspection_s,
            state=OrderState.AWAITING_PAYMENT.value,
            source=data.source, external_ref=data.external_ref, version=1, created_at=stamp,
            updated_at=stamp, pay_by=stamp + get_settings().pay_window,
        )
        await order.save()
        await _record(order, "created", actor, "order.created",
                      {"total_minor": total(order).minor})
        deadlines.schedule("order.pay_by", order.id, order.version, order.pay_by)
    return order


async def claim_for_buyer(order_id: int, buyer_id: int, *, actor: Actor) -> Order:
    """Attach the paying buyer to an open link (first come); refuses sellers paying themselves."""
    async with write_transaction():
        order = await _load(order_id)
        if order.state != OrderState.AWAITING_PAYMENT.value:
            raise InvalidTransition(_closed_link_message(order), current_state=order.state)
        if buyer_id == order.seller:
            raise ValidationFailed("You cannot pay for your own escrow link.")
        if order.buyer_email and order.buyer is None:
            buyer = await User.select(User.email).where(User.id == buyer_id).first()
            if buyer and buyer["email"] != order.buyer_email:
                raise NotFound("This payment link was made for another buyer.")
        if order.buyer is not None and order.buyer != buyer_id:
            raise NotFound("This payment link is being paid by someone else.")
        if order.buyer is None:
            await update_versioned(Order, order, {Order.buyer: buyer_id, Order.updated_at: now()})
            await audit.record("escrow:order:buyer-claimed", subject_type="order",
                               subject_id=order.id, actor=actor, data={"buyer_id": buyer_id})
    return order


def _closed_link_message(order: Order) -> str:
    state = OrderState(order.state)
    if state == OrderState.CANCELLED:
        return "This payment link was cancelled, so it cannot be paid."
    if state in (OrderState.FUNDED, OrderState.SHIPPED, OrderState.DELIVERED, OrderState.DISPUTED) \
            or state in COMPLETED:
        return "This payment link has already been paid. Nothing more is due."
    return f"This order is {LABELS[state].lower()}; it cannot be paid."


# -- payments ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class PaymentOutcome:
    """What a provider callback did: funded | failed | refunded (arrived too late) | unchanged."""

    status: str
    order: Order
    message: str


async def start_payment(order_id: int, buyer_id: int, actor: Actor | None = None, *,
                        provider: str = "sandbox") -> Payment:
    """A pending Payment for the buyer of an open link (claims the link for them first).

    Raises InvalidTransition for links already paid, cancelled or expired; NotFound when the
    link belongs to another buyer; ValidationFailed when sellers try to pay their own link.
    """
    actor = actor or Actor(Role.BUYER, buyer_id, "web")
    async with write_transaction():
        order = await _load(order_id)
        if order.state != OrderState.AWAITING_PAYMENT.value:
            raise InvalidTransition(_closed_link_message(order), current_state=order.state)
        if await Payment.exists().where((Payment.order == order.id) & (Payment.status == "succeeded")):
            raise InvalidTransition("This payment link has already been paid. Nothing more is due.",
                                    current_state=order.state)
        if order.pay_by and aware(order.pay_by) <= now():
            raise InvalidTransition(
                "This payment link has expired, so it cannot be paid. Ask the seller for a new one.",
                current_state=order.state)
        await claim_for_buyer(order.id, buyer_id, actor=actor)
        amount = total(order)
        stamp = now()
        payment = Payment(order=order.id, buyer=buyer_id, provider=provider,
                          reference=secrets.token_urlsafe(24), amount_minor=amount.minor,
                          currency=amount.currency, status="pending", created_at=stamp)
        await payment.save()
        await audit.record("escrow:payment:started", subject_type="order", subject_id=order.id,
                           actor=actor, data={"payment": payment.reference, "provider": provider,
                                              "amount_minor": amount.minor})
    return payment


async def get_payment(reference: str) -> tuple[Payment, Order]:
    payment = await Payment.objects().where(Payment.reference == reference).first() if reference else None
    if payment is None:
        raise NotFound("This payment does not exist.")
    return payment, await get_order(payment.order)


async def complete_payment(reference: str, *, succeeded: bool, method: str = "",
                           provider_ref: str = "", amount_minor: int | None = None,
                           currency: str | None = None, actor: Actor | None = None) -> PaymentOutcome:
    """Apply a verified provider callback once: fund the order, or record the failure.

    A repeated callback changes nothing. Money that arrives for a link that can no longer take
    it (paid by another payment, cancelled, expired) is refunded through the provider.
    """
    actor = actor or Actor.system("payment")
    refund_needed: Payment | None = None
    async with write_transaction():
        payment = await Payment.objects().where(Payment.reference == reference).first() if reference else None
        if payment is None:
            raise NotFound("This payment does not exist.")
        order = await _load(payment.order)
        if payment.status != "pending":
            return PaymentOutcome("unchanged", order, _repeat_message(payment.status))
        if (amount_minor is not None and amount_minor != payment.amount_minor) or \
                (currency is not None and currency != payment.currency):
            raise ValidationFailed("The provider confirmed a different amount than was asked for.")
        stamp = now()
        if not succeeded:
            await Payment.update({Payment.status: "failed", Payment.completed_at: stamp,
                                  Payment.provider_ref: provider_ref[:100]}).where(Payment.id == payment.id)
            await audit.record("escrow:payment:failed", subject_type="order", subject_id=order.id,
                               actor=actor, data={"payment": payment.reference})
            return PaymentOutcome("failed", order,
                                  "The payment did not go through. Nothing was charged; you can try again.")
        await Payment.update({Payment.method: method[:30], Payment.provider_ref: provider_ref[:100]}).where(
            Payment.id == payment.id)
        try:
            order = await fund_order(order.id, payment_reference=payment.reference, actor=actor)
        except InvalidTransition as exc:
            await Payment.update({Payment.status: "refunded", Payment.completed_at: stamp}).where(
                Payment.id == payment.id)
            await audit.record("escrow:payment:returned", subject_type="order", subject_id=order.id,
                               actor=actor, data={"payment": payment.reference, "why": exc.message})
            refund_needed = payment
            outcome = PaymentOutcome("refunded", order,
                                     f"{exc.message} Your payment was returned to you in full.")
        else:
            outcome = PaymentOutcome("funded", order,
                                     "Payment received. TrustDesk now holds it until you confirm delivery.")
    if refund_needed is not None:
        from trustdesk.escrow.payments import get_provider

        get_provider(refund_needed.provider).refund(
            refund_needed.reference, int(refund_needed.amount_minor), refund_needed.currency)
    return outcome


def _repeat_message(status: str) -> str:
    return {
        "succeeded": "This payment was already received. Nothing more is due.",
        "failed": "This payment attempt had failed; nothing was charged.",
        "refunded": "This payment was returned to you in full.",
    }.get(status, "This payment was already handled.")


async def fund_order(order_id: int, *, payment_reference: str, actor: Actor) -> Order:
    """Payment confirmed: awaiting_payment -> funded; money into escrow; ship_by starts."""
    async with write_transaction():
        order = await _load(order_id)
        payment = await Payment.objects().where(Payment.reference == payment_reference).first()
        if payment is None or payment.order != order.id:
            raise NotFound("Payment not found.")
        if payment.status == "succeeded":
            return order  # a repeated callback changes nothing
        if order.state != OrderState.AWAITING_PAYMENT.value:
            raise InvalidTransition(_closed_link_message(order), current_state=order.state)
        if order.pay_by and aware(order.pay_by) <= now():
            raise InvalidTransition("This payment link expired before the payment arrived.",
                                    current_state=order.state)
        if payment.amount_minor != total(order).minor or payment.currency != order.currency:
            raise ValidationFailed("The payment amount does not match the order.")
        stamp = now()
        await Payment.update({Payment.status: "succeeded", Payment.completed_at: stamp}).where(
            Payment.id == payment.id)
        funder = Actor(Role.BUYER, order.buyer or payment.buyer, actor.via) \
            if actor.role != Role.SYSTEM else actor
        if order.buyer is None:
            order.buyer = payment.buyer
        await _transition(order, Action.FUND, funder, {
            Order.buyer: payment.buyer, Order.funded_at: stamp,
            Order.ship_by: stamp + get_settings().ship_window,
        })
        await _post(order, ledger.PostingKind.FUND, ledger.fund(order.id, payment.buyer, total(order)))
        await _record(order, "funded", actor, "order.funded",
                      {"payment": payment.reference, "method": payment.method})
        deadlines.schedule("order.ship_by", order.id, order.version, order.ship_by)
    return order


async def ship_order(order_id: int, *, carrier: str, tracking_number: str, actor: Actor) -> Order:
    """Seller ships: funded -> shipped; confirm_by starts."""
    carrier = (carrier or "").strip()
    tracking_number = (tracking_number or "").strip()
    if carrier not in CARRIERS:
        raise ValidationFailed(f"Choose a courier: {', '.join(CARRIERS)}.", field="carrier")
    if not tracking_number or len(tracking_number) > 80:
        raise ValidationFailed("Enter the courier's tracking number.", field="tracking_number")
    async with write_transaction():
        order = await _load(order_id)
        stamp = now()
        await _transition(order, Action.SHIP, actor, {
            Order.carrier: carrier, Order.tracking_number: tracking_number,
            Order.shipped_at: stamp, Order.confirm_by: stamp + get_settings().confirm_window,
        })
        await _record(order, "shipped", actor, "order.shipped",
                      {"carrier": carrier, "tracking_number": tracking_number})
        deadlines.schedule("order.confirm_by", order.id, order.version, order.confirm_by)
    return order


async def confirm_delivery(order_id: int, *, actor: Actor) -> Order:
    """Buyer (or the confirm_by lapse) says it arrived: shipped -> delivered; inspection starts."""
    async with write_transaction():
        order = await _load(order_id)
        stamp = now()
        await _transition(order, Action.CONFIRM_DELIVERY, actor, {
            Order.delivered_at: stamp,
            Order.inspect_until: stamp + inspection_window(order),
        })
        await _record(order, "delivered", actor, "order.delivered",
                      {"automatic": actor.role == Role.SYSTEM})
        deadlines.schedule("order.inspect_until", order.id, order.version, order.inspect_until)
    return order


def inspection_window(order: Order) -> timedelta:
    if order.inspection_s:
        return timedelta(seconds=int(order.inspection_s))
    return timedelta(days=int(order.inspection_days))


async def release_funds(order_id: int, *, actor: Actor) -> Order:
    """Pay the seller: shipped/delivered (buyer accepts, inspection lapses) -> released."""
    async with write_transaction():
        order = await _load(order_id)
        if order.state == OrderState.DISPUTED.value and actor.role not in (Role.MEDIATOR, Role.SYSTEM):
            raise InvalidTransition("This order is in dispute; the dispute decides where the money goes.",
                                    current_state=order.state)
        await _release(order, actor)
    return order


async def _release(order: Order, actor: Actor, reason: str = "") -> None:
    held = Money(await escrow_balance(order.id), order.currency)
    await _transition(order, Action.RELEASE, actor, {Order.closed_at: now()})
    await _post(order, ledger.PostingKind.RELEASE,
                ledger.release(order.id, order.seller, held, get_settings().platform_fee_bps))
    await _record(order, "released", actor, "order.released",
                  {"released_minor": held.minor, "reason": reason or None})


async def release_after_inspection_many(order_ids: list[int], *, actor: Actor) -> list[int]:
    """Batch form of the inspection lapse: delivered orders whose inspect_until has passed -> released.

    The same rule check (next_state per order, re-read under lock), ledger postings, audit
    entries and events as release_funds, written set-based in one transaction: a few statements
    per batch instead of a dozen per order. Orders that no longer qualify (disputed, released
    meanwhile, window moved) are skipped. Returns the released ids.
    """
    ids = sorted({int(i) for i in order_ids})
    if not ids:
        return []
    fee_bps = get_settings().platform_fee_bps
    async with write_transaction():
        query = Order.objects().where(Order.id.is_in(ids)).order_by(Order.id)
        if is_postgres():
            query = query.lock_rows()
        orders = await query
        eligible: list[Order] = []
        at = now()
        for order in orders:
            if order.state != OrderState.DELIVERED.value or order.inspect_until is None \
                    or aware(order.inspect_until) > at:
                continue
            try:
                next_state(order.state, Action.RELEASE, _actor_role_for(order, actor))
            except DomainError:
                continue
            eligible.append(order)
        if not eligible:
            return []
        accounts = {ledger.escrow_account(o.id): o for o in eligible}
        held: dict[int, int] = {o.id: 0 for o in eligible}
        for row in await LedgerEntry.select(LedgerEntry.order, LedgerEntry.amount_minor).where(
                LedgerEntry.account.is_in(list(accounts))):
            held[row["order"]] += int(row["amount_minor"])
        stamp = now()
        released_ids = [o.id for o in eligible]
        updated = await Order.update({
            Order.state: OrderState.RELEASED.value, Order.updated_at: stamp, Order.closed_at: stamp,
            Order.version: Order.version + 1,
        }).where(Order.id.is_in(released_ids) & Order.state.is_in(
            [o.state for o in eligible])).returning(Order.id)
        if len(updated) != len(eligible):
            raise Conflict("Some orders changed while being released; the batch will be retried.")
        entries: list[LedgerEntry] = []
        audits: list[tuple[str, str, object, dict[str, Any]]] = []
        events: list[dict[str, Any]] = []
        for order in eligible:
            order.state = OrderState.RELEASED.value
            order.version += 1
            amount = Money(held[order.id], order.currency)
            posting_id = str(uuid.uuid4())
            for e in ledger.release(order.id, order.seller, amount, fee_bps):
                entries.append(LedgerEntry(posting_id=posting_id, kind=ledger.PostingKind.RELEASE.value,
                                           account=e.account, amount_minor=e.amount_minor,
                                           currency=e.currency, order=order.id, created_at=stamp))
            data = {"released_minor": amount.minor, "reason": None}
            audits.append(("escrow:order:released", "order", order.id, {"state": order.state, **data}))
            events.append({"event_type": "order.released", "subject_type": "order",
                           "subject_id": order.id, "seller_id": order.seller, "buyer_id": order.buyer,
                           "data": {**order_event_data(order), **data}})
        if entries:
            await LedgerEntry.insert(*entries)
        await audit.record_many(audits, actor=actor)
        await outbox.emit_many(events)
    return released_ids


async def cancel_order(order_id: int, *, actor: Actor, reason: str = "") -> Order:
    """Unpaid: buyer/seller/system cancel. Funded, unshipped: seller or ship_by lapse, full refund."""
    async with write_transaction():
        order = await _load(order_id)
        was_funded = order.state == OrderState.FUNDED.value
        held = Money(await escrow_balance(order.id), order.currency)
        await _transition(order, Action.CANCEL, actor, {
            Order.closed_at: now(), Order.cancel_reason: (reason or "")[:200]})
        data: dict[str, Any] = {"reason": reason or None, "refunded_minor": 0}
        if was_funded and held.minor:
            await _post(order, ledger.PostingKind.CANCEL_REFUND,
                        ledger.refund(order.id, order.buyer, held))
            data["refunded_minor"] = held.minor
        await _record(order, "cancelled", actor, "order.cancelled", data)
        if was_funded and held.minor:
            await outbox.emit("order.refunded", subject_type="order", subject_id=order.id,
                              data={**order_event_data(order), "refunded_minor": held.minor},
                              seller_id=order.seller, buyer_id=order.buyer)
    return order


# -- used by the disputes domain (inside its own transaction) ---------------------------------

def _running_deadline(order: Order) -> datetime | None:
    return {
        OrderState.FUNDED.value: order.ship_by,
        OrderState.SHIPPED.value: order.confirm_by,
        OrderState.DELIVERED.value: order.inspect_until,
    }.get(order.state)


def can_open_dispute(order: Order, at: datetime | None = None) -> tuple[bool, str]:
    """Whether the buyer may complain now, and why not."""
    at = at or now()
    if order.state not in {s.value for s in DISPUTABLE}:
        return False, (f"This order is {LABELS[OrderState(order.state)].lower()}; complaints can be "
                       "filed while it is paid, shipped, or delivered and inside its inspection window.")
    if order.state == OrderState.DELIVERED.value and order.inspect_until and aware(order.inspect_until) <= at:
        return False, "The inspection window has closed; the seller is being paid."
    return True, ""


async def hold_for_dispute(order: Order, *, actor: Actor) -> None:
    """funded/shipped/delivered -> disputed; freezes the running window (call in a transaction)."""
    ok, why = can_open_dispute(order)
    if not ok:
        raise InvalidTransition(why, current_state=order.state)
    deadline = _running_deadline(order)
    remaining = max(0, int((aware(deadline) - now()).total_seconds())) if deadline else None
    prior = order.state
    await _transition(order, Action.OPEN_DISPUTE, actor, {
        Order.prior_state: prior, Order.paused_remaining_s: remaining})
    await _record(order, "disputed", actor, None, {"prior_state": prior})


async def resume_after_dispute(order: Order, *, actor: Actor) -> None:
    """Complaint withdrawn: disputed -> where it was, with the window that was left."""
    prior = OrderState(order.prior_state or OrderState.FUNDED.value)
    remaining = timedelta(seconds=order.paused_remaining_s or 0)
    resumed_at = now() + remaining
    field = {OrderState.FUNDED: Order.ship_by, OrderState.SHIPPED: Order.confirm_by,
             OrderState.DELIVERED: Order.inspect_until}[prior]
    await _transition(order, RESUME_ACTION[prior], actor, {
        field: resumed_at, Order.prior_state: None, Order.paused_remaining_s: None})
    await _record(order, "resumed", actor, None, {"state": prior.value})
    kind = {OrderState.FUNDED: "order.ship_by", OrderState.SHIPPED: "order.confirm_by",
            OrderState.DELIVERED: "order.inspect_until"}[prior]
    deadlines.schedule(kind, order.id, order.version, resumed_at)


async def settle_dispute(order: Order, *, refund_minor: int, actor: Actor, reason: str = "") -> OrderState:
    """Close a disputed order: refund `refund_minor` to the buyer and release the rest.

    Full amount -> refunded; zero -> released; in between -> partially_refunded.
    Call inside the dispute's transaction with the order loaded for update.
    """
    held = Money(await escrow_balance(order.id), order.currency)
    if not isinstance(refund_minor, int) or not 0 <= refund_minor <= held.minor:
        raise ValidationFailed(
            f"A refund must be between 0 and what escrow holds ({held.format()}).",
            field="amount_minor")
    fee_bps = get_settings().platform_fee_bps
    stamp = now()
    if refund_minor == 0:
        await _release(order, actor, reason)
        return OrderState.RELEASED
    if refund_minor == held.minor:
        await _transition(order, Action.REFUND, actor, {Order.closed_at: stamp})
        await _post(order, ledger.PostingKind.REFUND, ledger.refund(order.id, order.buyer, held))
        await _record(order, "refunded", actor, "order.refunded",
                      {"refunded_minor": held.minor, "reason": reason or None})
        return OrderState.REFUNDED
    await _transition(order, Action.PARTIAL_REFUND, actor, {Order.closed_at: stamp})
    await _post(order, ledger.PostingKind.PARTIAL_REFUND, ledger.partial_refund(
        order.id, order.buyer, order.seller, held, Money(refund_minor, order.currency), fee_bps))
    await _record(order, "partially-refunded", actor, "order.refunded",
                  {"refunded_minor": refund_minor, "released_minor": held.minor - refund_minor,
                   "reason": reason or None})
    return OrderState.PARTIALLY_REFUNDED


load_order_for_update = _load
