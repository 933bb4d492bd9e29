"""Every (state, action, role) of the escrow state machine, against an expectation written
independently from the issue's rules (not derived from states.TRANSITIONS)."""

from __future__ import annotations

import itertools

import pytest

from trustdesk.core.actors import Role
from trustdesk.core.errors import InvalidTransition, NotAllowed
from trustdesk.escrow.states import (
    COMPLETED,
    HOLDS_MONEY,
    LABELS,
    TERMINAL,
    Action,
    OrderState,
    available_actions,
    can,
    next_state,
)

B, SE, M, SY = "buyer", "seller", "mediator", "system"
EVERYONE = {B, SE, M, SY}

# (state, action): (target, roles allowed) — read off the issue and DESIGN.md:
# unpaid: either party cancels (and the pay_by lapse); funded-not-shipped: seller cancels with a
# full refund (and the ship_by lapse); buyer confirms delivery (or the confirm_by lapse);
# buyer accepts = release (inspection lapse releases too, only after delivery); buyer complains
# while funded/shipped/delivered; disputes end in refund / partial refund / release (mediator or
# system) or the buyer withdraws back to where it was.
EXPECTED: dict[tuple[str, str], tuple[str, set[str]]] = {
    ("awaiting_payment", "fund"): ("funded", {B, SY}),
    ("awaiting_payment", "cancel"): ("cancelled", {B, SE, SY}),
    ("funded", "ship"): ("shipped", {SE}),
    ("funded", "cancel"): ("cancelled", {SE, SY}),
    ("funded", "open_dispute"): ("disputed", {B}),
    ("shipped", "confirm_delivery"): ("delivered", {B, SY}),
    ("shipped", "release"): ("released", {B}),
    ("shipped", "open_dispute"): ("disputed", {B}),
    ("delivered", "release"): ("released", {B, SY}),
    ("delivered", "open_dispute"): ("disputed", {B}),
    ("disputed", "resume_funded"): ("funded", {B}),
    ("disputed", "resume_shipped"): ("shipped", {B}),
    ("disputed", "resume_delivered"): ("delivered", {B}),
    ("disputed", "refund"): ("refunded", EVERYONE),
    ("disputed", "partial_refund"): ("partially_refunded", EVERYONE),
    ("disputed", "release"): ("released", {M, SY}),
}

ALL = list(itertools.product(OrderState, Action, Role))


def test_the_expectation_covers_the_issue_state_list() -> None:
    assert {s.value for s in OrderState} == {
        "awaiting_payment", "funded", "shipped", "delivered", "released", "cancelled",
        "disputed", "refunded", "partially_refunded"}
    assert len(ALL) == 9 * 11 * 4


@pytest.mark.parametrize(("state", "action", "role"), ALL, ids=lambda v: str(v))
def test_every_state_action_role(state: OrderState, action: Action, role: Role) -> None:
    expected = EXPECTED.get((state.value, action.value))
    if expected is None:
        assert not can(state, action, role)
        with pytest.raises(InvalidTransition) as info:
            next_state(state, action, role)
        assert info.value.status_code == 409
        assert LABELS[state].lower() in info.value.message
        return
    target, roles = expected
    if role.value in roles:
        assert can(state, action, role)
        assert next_state(state, action, role) == OrderState(target)
        assert next_state(state.value, action, role) == OrderState(target)  # plain strings too
    else:
        assert not can(state, action, role)
        with pytest.raises(NotAllowed):
            next_state(state, action, role)


@pytest.mark.parametrize(("state", "role"), list(itertools.product(OrderState, Role)), ids=str)
def test_available_actions_are_exactly_the_allowed_ones(state: OrderState, role: Role) -> None:
    expected = {a for (s, a), (_, roles) in EXPECTED.items() if s == state.value and role.value in roles}
    assert {a.value for a in available_actions(state, role)} == expected


def test_terminal_states_allow_nothing_and_hold_nothing() -> None:
    for state in TERMINAL:
        assert all(not can(state, a, r) for a in Action for r in Role)
        assert state not in HOLDS_MONEY
    assert COMPLETED <= TERMINAL and OrderState.CANCELLED in TERMINAL - COMPLETED


def test_money_holding_states_are_the_funded_ones() -> None:
    assert HOLDS_MONEY == {OrderState.FUNDED, OrderState.SHIPPED, OrderState.DELIVERED,
                           OrderState.DISPUTED}
