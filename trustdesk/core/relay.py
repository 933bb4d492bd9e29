"""Outbox relay: each OutboxEvent becomes in-app notifications and emails, exactly once.

relay_event() locks the event row, returns early if it was relayed already, writes the
notifications/emails (dedupe keys ``event:<id>:user:<uid>``), hands the event to partner
webhooks when that module exists, and stamps ``relayed_at`` — all in one transaction.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

from trustdesk.core.clock import aware, now
from trustdesk.core.money import format_money
from trustdesk.core.notify import Note, deliver
from trustdesk.core.outbox import event_data
from trustdesk.core.tables import OutboxEvent
from trustdesk.db import load_for_update, write_transaction

log = logging.getLogger("trustdesk.relay")

CANCEL_REASONS = {
    "not_paid_in_time": "it was not paid before the payment link expired",
    "not_shipped_in_time": "the seller did not ship it in time",
}


def _money(data: dict[str, Any], key: str) -> str:
    return format_money(int(data.get(key) or 0), data.get("currency") or "PKR")


def _total(data: dict[str, Any]) -> str:
    minor = int(data.get("amount_minor") or 0) + int(data.get("shipping_minor") or 0)
    return format_money(minor, data.get("currency") or "PKR")


def _order_notes(event: dict[str, Any], data: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(recipient, title, body) for an order event; recipient is 'buyer' or 'seller'."""
    oid = event["subject_id"]
    title = data.get("title") or f"order #{oid}"
    kind = event["event_type"]
    if kind == "order.created":
        return [("buyer", f"Order #{oid} is waiting for your payment",
                 f"“{title}” ({_total(data)}) is ready to pay. Your money is held in escrow "
                 "until you confirm delivery.")]
    if kind == "order.funded":
        return [("seller", f"Order #{oid} is paid: ship it",
                 f"The buyer paid {_total(data)} for “{title}”. It is held in escrow. Ship it "
                 "and enter the tracking number before the shipping deadline."),
                ("buyer", f"Payment for order #{oid} is held in escrow",
                 f"We hold your {_total(data)} for “{title}” until you confirm delivery.")]
    if kind == "order.shipped":
        carrier = data.get("carrier") or "the courier"
        tracking = data.get("tracking_number") or ""
        return [("buyer", f"Order #{oid} has shipped",
                 f"“{title}” was handed to {carrier}" + (f" (tracking {tracking})." if tracking
                                                          else ".") +
                 " Confirm delivery when it arrives.")]
    if kind == "order.delivered":
        if data.get("automatic"):
            return [("buyer", f"Order #{oid} is treated as delivered",
                     f"You did not confirm delivery of “{title}” in time, so it counts as "
                     "delivered. Your inspection window has started: complain now if something "
                     "is wrong, or the seller is paid when it ends."),
                    ("seller", f"Order #{oid} is treated as delivered",
                     f"“{title}” counts as delivered; the buyer's inspection window has started.")]
        return [("seller", f"Order #{oid} was delivered",
                 f"The buyer confirmed delivery of “{title}”. You are paid when the inspection "
                 "window ends without a complaint.")]
    if kind == "order.released":
        return [("seller", f"Paid: order #{oid}",
                 f"{_money(data, 'released_minor')} for “{title}” was released to you."),
                ("buyer", f"Order #{oid} is complete",
                 f"The payment for “{title}” was released to the seller. You can rate the "
                 "seller from the order page.")]
    if kind == "order.cancelled":
        reason = CANCEL_REASONS.get(data.get("reason") or "", "")
        why = f" because {reason}" if reason else ""
        refund = (f" The buyer's {_money(data, 'refunded_minor')} is refunded in full."
                  if int(data.get("refunded_minor") or 0) else "")
        body = f"“{title}” was cancelled{why}.{refund}"
        return [("buyer", f"Order #{oid} was cancelled", body),
                ("seller", f"Order #{oid} was cancelled", body)]
    if kind == "order.refunded":
        return [("buyer", f"Refund for order #{oid}",
                 f"{_money(data, 'refunded_minor')} for “{title}” is refunded to you."),
                ("seller", f"Order #{oid} was refunded",
                 f"{_money(data, 'refunded_minor')} for “{title}” went back to the buyer.")]
    return [("buyer", f"Update on order #{oid}", f"“{title}” changed: {data.get('state', '')}."),
            ("seller", f"Update on order #{oid}", f"“{title}” changed: {data.get('state', '')}.")]


def _dispute_notes(event: dict[str, Any], data: dict[str, Any]) -> list[tuple[str, str, str]]:
    oid = data.get("order_id") or ""
    kind = event["event_type"]
    label = f"order #{oid}" if oid else f"dispute #{event['subject_id']}"
    summary = str(data.get("summary") or data.get("message") or "").strip()
    if kind == "dispute.opened":
        return [("seller", f"Complaint on {label}: answer it",
                 (summary or "The buyer filed a complaint.") +
                 " Answer before the response deadline: refund, offer a partial refund, or "
                 "contest with evidence."),
                ("buyer", f"Your complaint on {label} was filed",
                 "The seller has been asked to answer. We keep the money in escrow meanwhile.")]
    if kind == "dispute.escalated":
        body = summary or "The dispute went to a mediator, who will decide."
        return [("buyer", f"Dispute on {label} went to a mediator", body),
                ("seller", f"Dispute on {label} went to a mediator", body),
                ("mediators", f"Dispute on {label} needs a mediator", body)]
    if kind == "dispute.resolved":
        body = summary or "The dispute was resolved. The order page shows the outcome."
        return [("buyer", f"Dispute on {label} resolved", body),
                ("seller", f"Dispute on {label} resolved", body)]
    if kind.endswith("overdue") or data.get("notify") == "mediators":
        body = summary or "A dispute deadline passed without the expected answer."
        return [("mediators", f"Overdue: dispute on {label}", body)]
    body = summary or "There is news on the dispute."
    return [("buyer", f"Dispute on {label} updated", body),
            ("seller", f"Dispute on {label} updated", body)]


def _generic_notes(event: dict[str, Any], data: dict[str, Any]) -> list[tuple[str, str, str]]:
    if event["event_type"] == "rating.created":
        stars = data.get("stars")
        return [("seller", "You have a new rating",
                 f"A buyer rated order #{data.get('order_id', '')}" +
                 (f" {stars} out of 5." if stars else "."))]
    return []


def _link(event: dict[str, Any], data: dict[str, Any]) -> str:
    if event["subject_type"] == "order":
        return f"/orders/{event['subject_id']}"
    if event["subject_type"] == "dispute":
        return str(data.get("link") or f"/disputes/{event['subject_id']}")
    if data.get("order_id"):
        return f"/orders/{data['order_id']}"
    return ""


BUILDERS: dict[str, Callable[[dict[str, Any], dict[str, Any]], list[tuple[str, str, str]]]] = {
    "order": _order_notes, "dispute": _dispute_notes,
}


async def _mediator_ids() -> list[int]:
    from trustdesk.accounts.tables import User

    rows = await User.select(User.id).where(
        (User.role == "mediator") & (User.active == True) & (User.suspended == False))  # noqa: E712
    return [r["id"] for r in rows]


async def notes_for(event: dict[str, Any]) -> list[Note]:
    data = event_data(event)
    builder = BUILDERS.get(event["subject_type"], _generic_notes)
    link = _link(event, data)
    notes: list[Note] = []
    for recipient, title, body in builder(event, data):
        if recipient == "mediators":
            user_ids = await _mediator_ids()
        else:
            uid = event.get(f"{recipient}_id") or data.get(f"{recipient}_id")
            user_ids = [int(uid)] if uid else []
        for uid in user_ids:
            notes.append(Note(user_id=uid, key=f"event:{event['id']}:user:{uid}",
                              title=title, body=body, link=link,
                              at=aware(event.get("created_at"))))
    return notes


async def _fan_out(event_id: int) -> None:
    """Partner webhooks: trustdesk.partners.webhooks.fan_out(event_id), when it exists."""
    try:
        module = importlib.import_module("trustdesk.partners.webhooks")
    except ModuleNotFoundError as exc:
        if exc.name in ("trustdesk.partners.webhooks", "trustdesk.partners"):
            return
        raise
    fan_out = getattr(module, "fan_out", None)
    if fan_out is None:
        return
    result = fan_out(event_id)
    if hasattr(result, "__await__"):
        await result


async def relay_event(event_id: int) -> list[int] | None:
    """Deliver one outbox event once; returns the new email ids (None if already relayed)."""
    async with write_transaction():
        event = await load_for_update(OutboxEvent, event_id)
        if event is None or event.relayed_at is not None:
            return None
        row = event.to_dict()
        email_ids = await deliver(await notes_for(row))
        await _fan_out(event_id)
        await OutboxEvent.update({OutboxEvent.relayed_at: now(),
                                  OutboxEvent.attempts: OutboxEvent.attempts + 1}).where(
            OutboxEvent.id == event_id)
    return email_ids
