"""Which deadlines exist, which state each binds in, and whether one has lapsed. Pure.

A deadline applies only while its row is still in the state the deadline belongs to and the
deadline column (re-read from the database) has passed; anything else means a user (or an
earlier job) already moved on, and the job does nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final


@dataclass(frozen=True, slots=True)
class Rule:
    kind: str            # "order.pay_by"
    column: str          # the deadline column on the row
    states: frozenset[str]  # the states in which the deadline binds
    effect: str          # what the job does when it lapses (service name)
    reason: str = ""     # recorded reason (cancellations)


ORDER_RULES: Final[Mapping[str, Rule]] = {
    "order.pay_by": Rule("order.pay_by", "pay_by", frozenset({"awaiting_payment"}),
                         "cancel_order", "not_paid_in_time"),
    "order.ship_by": Rule("order.ship_by", "ship_by", frozenset({"funded"}),
                          "cancel_order", "not_shipped_in_time"),
    "order.confirm_by": Rule("order.confirm_by", "confirm_by", frozenset({"shipped"}),
                             "confirm_delivery"),
    "order.inspect_until": Rule("order.inspect_until", "inspect_until", frozenset({"delivered"}),
                                "release_funds"),
}


@dataclass(frozen=True, slots=True)
class Reminder:
    kind: str            # "reminder.order.ship_by"
    deadline: str        # the deadline kind it warns about
    recipient: str       # "buyer" | "seller" (column holding the user id, on the order)
    title: str
    body: str


# Reminders sent once, `reminder_lead` before the deadline.
ORDER_REMINDERS: Final[Mapping[str, Reminder]] = {
    "order.ship_by": Reminder(
        "reminder.order.ship_by", "order.ship_by", "seller",
        "Ship order #{id} by {at}",
        "“{title}” is paid and waiting. Ship it and enter the tracking number by {at}, "
        "or the order is cancelled and the buyer refunded in full."),
    "order.inspect_until": Reminder(
        "reminder.order.inspect_until", "order.inspect_until", "buyer",
        "Complain now or the seller is paid: order #{id}",
        "The inspection window for “{title}” closes at {at}. If something is wrong with it, "
        "open a complaint before then; otherwise the money held in escrow is released to the "
        "seller."),
}

DISPUTE_REMINDERS: Final[Mapping[str, tuple[str, str, str]]] = {
    # kind: (recipient, title, body)
    "dispute.respond_by": (
        "seller", "Answer the complaint on order #{order_id} by {at}",
        "A buyer complained about an order. Answer by {at}: refund, offer a partial refund, "
        "or contest with evidence. If you stay silent, the rules decide for you (a quality "
        "complaint is refunded)."),
    "dispute.offer_answer_by": (
        "buyer", "Answer the seller's offer on order #{order_id} by {at}",
        "The seller made an offer on your complaint. Accept or reject it by {at}; "
        "otherwise the dispute goes to a mediator."),
}


def aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _get(row: Any, name: str) -> Any:
    return row[name] if isinstance(row, Mapping) else getattr(row, name)


def lapsed(column: str, states: Iterable[str], row: Any, at: datetime) -> bool:
    """True if `row` is in one of `states` and its `column` deadline is at or before `at`."""
    state = _get(row, "state")
    state = getattr(state, "value", state)
    if state not in set(states):
        return False
    deadline = aware(_get(row, column))
    return deadline is not None and deadline <= at


def applies(rule: Rule, row: Any, at: datetime) -> bool:
    """Whether the job for `rule` should act on `row` now."""
    return lapsed(rule.column, rule.states, row, at)


def reminder_due(column: str, states: Iterable[str], row: Any, at: datetime,
                 lead: timedelta) -> bool:
    """Inside the lead time before a still-binding deadline (and not past it)."""
    state = _get(row, "state")
    state = getattr(state, "value", state)
    if state not in set(states):
        return False
    deadline = aware(_get(row, column))
    return deadline is not None and deadline - lead <= at < deadline


def delay_ms(at: datetime, current: datetime) -> int:
    """Milliseconds from `current` until `at` (0 if already passed)."""
    return max(0, int((aware(at) - current).total_seconds() * 1000))  # type: ignore[operator]
