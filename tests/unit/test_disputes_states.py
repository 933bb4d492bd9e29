"""Every (dispute state, action, role) against an independent table of what the rules allow."""

import itertools

import pytest

from trustdesk.core.actors import Role
from trustdesk.core.errors import InvalidTransition, NotAllowed
from trustdesk.disputes.states import (
    Action,
    DisputeState,
    available_actions,
    can,
    next_actor,
    next_state,
)

# (state, action) -> (next state, roles) written out by hand from the issue, not from states.py
EXPECTED = {
    ("awaiting_seller", "accept_full_refund"): ("resolved", {"seller"}),
    ("awaiting_seller", "offer"): ("awaiting_buyer", {"seller"}),
    ("awaiting_seller", "contest"): ("escalated", {"seller"}),
    ("awaiting_seller", "withdraw"): ("withdrawn", {"buyer"}),
    ("awaiting_seller", "request_mediator"): ("escalated", {"buyer", "seller"}),
    ("awaiting_seller", "lapse_response_mandated"): ("resolved", {"system"}),
    ("awaiting_seller", "lapse_response_escalate"): ("escalated", {"system"}),
    ("awaiting_buyer", "accept_offer"): ("resolved", {"buyer"}),
    ("awaiting_buyer", "accept_return_offer"): ("awaiting_return", {"buyer"}),
    ("awaiting_buyer", "reject_offer"): ("escalated", {"buyer"}),
    ("awaiting_buyer", "withdraw"): ("withdrawn", {"buyer"}),
    ("awaiting_buyer", "request_mediator"): ("escalated", {"buyer", "seller"}),
    ("awaiting_buyer", "lapse_offer"): ("escalated", {"system"}),
    ("escalated", "assign"): ("escalated", {"mediator"}),
    ("escalated", "request_info"): ("escalated", {"mediator"}),
    ("escalated", "withdraw"): ("withdrawn", {"buyer"}),
    ("escalated", "rule_refund"): ("resolved", {"mediator"}),
    ("escalated", "rule_release"): ("resolved", {"mediator"}),
    ("escalated", "rule_return"): ("awaiting_return", {"mediator"}),
    ("escalated", "flag_overdue"): ("escalated", {"system"}),
    ("awaiting_return", "mark_return_shipped"): ("awaiting_return", {"buyer"}),
    ("awaiting_return", "confirm_return"): ("resolved", {"seller", "mediator"}),
    ("awaiting_return", "lapse_return_shipment"): ("resolved", {"system"}),
    ("awaiting_return", "lapse_return_receipt"): ("resolved", {"system"}),
}

CASES = list(itertools.product(DisputeState, Action, Role))


@pytest.mark.parametrize(("state", "action", "role"), CASES,
                         ids=[f"{s}-{a}-{r}" for s, a, r in CASES])
def test_every_state_action_role(state: DisputeState, action: Action, role: Role) -> None:
    expected = EXPECTED.get((state.value, action.value))
    if expected is None:
        with pytest.raises(InvalidTransition):
            next_state(state, action, role)
        assert not can(state, action, role)
    elif role.value not in expected[1]:
        with pytest.raises(NotAllowed):
            next_state(state, action, role)
        assert not can(state, action, role)
    else:
        assert next_state(state, action, role) == expected[0]
        assert can(state, action, role)
        assert action in available_actions(state, role)


def test_closed_states_allow_nothing() -> None:
    for state in (DisputeState.RESOLVED, DisputeState.WITHDRAWN):
        for role in Role:
            assert available_actions(state, role) == []


def test_case_count_covers_the_whole_product() -> None:
    assert len(CASES) == len(DisputeState) * len(Action) * len(Role) == 6 * 21 * 4


def test_whose_turn() -> None:
    assert next_actor("awaiting_seller") == "seller"
    assert next_actor("awaiting_buyer") == "buyer"
    assert next_actor("escalated") == "mediator"
    assert next_actor("escalated", info_from="seller") == "seller"
    assert next_actor("awaiting_return") == "buyer"
    assert next_actor("awaiting_return", return_shipped=True) == "seller"
    assert next_actor("resolved") is None and next_actor("withdrawn") is None
