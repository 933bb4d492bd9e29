"""Every deadline rule, pure: when it applies, with the clock injected (no sleeping, no DB)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from trustdesk.core import clock
from trustdesk.core.deadline_rules import (
    DISPUTE_REMINDERS,
    ORDER_REMINDERS,
    ORDER_RULES,
    applies,
    delay_ms,
    lapsed,
    reminder_due,
)
from trustdesk.disputes.deadlines import DEADLINES

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
ALL_ORDER_STATES = ["awaiting_payment", "funded", "shipped", "delivered", "released",
                    "cancelled", "disputed", "refunded", "partially_refunded"]
ALL_DISPUTE_STATES = ["awaiting_seller", "awaiting_buyer", "escalated", "awaiting_return",
                      "resolved", "withdrawn"]


@pytest.fixture
def at() -> Iterator[list[datetime]]:
    """The injected clock: at[0] is "now" for trustdesk.core.clock."""
    current = [T0]
    clock.set_clock(lambda: current[0])
    yield current
    clock.set_clock(None)


EXPECTED = {
    "order.pay_by": ("pay_by", "awaiting_payment", "cancel_order", "not_paid_in_time"),
    "order.ship_by": ("ship_by", "funded", "cancel_order", "not_shipped_in_time"),
    "order.confirm_by": ("confirm_by", "shipped", "confirm_delivery", ""),
    "order.inspect_until": ("inspect_until", "delivered", "release_funds", ""),
}


def test_every_order_deadline_has_a_rule_with_the_agreed_effect_and_reason() -> None:
    assert {k: (r.column, *r.states, r.effect, r.reason) for k, r in ORDER_RULES.items()} == EXPECTED


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_order_rule_applies_from_the_deadline_on_and_only_in_its_state(
        kind: str, at: list[datetime]) -> None:
    rule = ORDER_RULES[kind]
    state = next(iter(rule.states))
    row = {"state": state, rule.column: T0 + timedelta(hours=1)}
    assert not applies(rule, row, clock.now())                       # an hour early
    at[0] = T0 + timedelta(minutes=59, seconds=59)
    assert not applies(rule, row, clock.now())                       # a second early
    at[0] = T0 + timedelta(hours=1)
    assert applies(rule, row, clock.now())                           # exactly on time
    at[0] = T0 + timedelta(days=30)
    assert applies(rule, row, clock.now())                           # long overdue still applies
    for other in ALL_ORDER_STATES:
        if other != state:                                            # someone already moved on
            assert not applies(rule, {**row, "state": other}, clock.now()), other
    assert not applies(rule, {**row, rule.column: None}, clock.now())  # no deadline set


def test_naive_timestamps_from_sqlite_are_utc(at: list[datetime]) -> None:
    rule = ORDER_RULES["order.pay_by"]
    naive = (T0 + timedelta(seconds=1)).replace(tzinfo=None)
    assert not applies(rule, {"state": "awaiting_payment", "pay_by": naive}, clock.now())
    at[0] = T0 + timedelta(seconds=1)
    assert applies(rule, {"state": "awaiting_payment", "pay_by": naive}, clock.now())


@pytest.mark.parametrize("kind", sorted(DEADLINES))
def test_dispute_deadline_applies_only_in_its_states_after_it_passed(
        kind: str, at: list[datetime]) -> None:
    column, states, service = DEADLINES[kind]
    assert service.startswith("lapse_")
    for state in ALL_DISPUTE_STATES:
        row = {"state": state, column: T0}
        assert lapsed(column, states, row, clock.now()) is (state in states), (kind, state)
        assert not lapsed(column, states, {**row, column: T0 + timedelta(seconds=1)}, clock.now())


@pytest.mark.parametrize("kind", sorted(ORDER_REMINDERS))
def test_order_reminder_is_due_inside_the_lead_and_not_after_the_deadline(
        kind: str, at: list[datetime]) -> None:
    rule = ORDER_RULES[kind]
    lead = timedelta(hours=24)
    state = next(iter(rule.states))
    row = {"state": state, rule.column: T0 + timedelta(hours=30)}
    assert not reminder_due(rule.column, rule.states, row, clock.now(), lead)   # 30 h before
    at[0] = T0 + timedelta(hours=6)
    assert reminder_due(rule.column, rule.states, row, clock.now(), lead)       # 24 h before
    at[0] = T0 + timedelta(hours=29, minutes=59)
    assert reminder_due(rule.column, rule.states, row, clock.now(), lead)
    at[0] = T0 + timedelta(hours=30)
    assert not reminder_due(rule.column, rule.states, row, clock.now(), lead)   # lapsed instead
    at[0] = T0 + timedelta(hours=12)
    assert not reminder_due(rule.column, rule.states, {**row, "state": "released"}, clock.now(),
                            lead)


def test_reminders_go_to_the_party_who_must_act() -> None:
    assert {k: r.recipient for k, r in ORDER_REMINDERS.items()} == {
        "order.ship_by": "seller", "order.inspect_until": "buyer"}
    assert "Complain now or the seller is paid" in ORDER_REMINDERS["order.inspect_until"].title
    assert {k: v[0] for k, v in DISPUTE_REMINDERS.items()} == {
        "dispute.respond_by": "seller", "dispute.offer_answer_by": "buyer"}
    assert set(DISPUTE_REMINDERS) <= set(DEADLINES)


def test_delay_is_the_time_left_in_milliseconds_never_negative(at: list[datetime]) -> None:
    assert delay_ms(T0 + timedelta(seconds=90), clock.now()) == 90_000
    assert delay_ms(T0 - timedelta(seconds=5), clock.now()) == 0
    assert delay_ms((T0 + timedelta(milliseconds=1500)).replace(tzinfo=None), clock.now()) == 1500
