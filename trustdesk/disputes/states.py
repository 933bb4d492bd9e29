"""The dispute state machine as data: (state, action) -> next state, and who may act. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from trustdesk.core.actors import Role
from trustdesk.core.errors import InvalidTransition, NotAllowed


class DisputeState(StrEnum):
    AWAITING_SELLER = "awaiting_seller"    # complaint filed; the seller must answer
    AWAITING_BUYER = "awaiting_buyer"      # the seller made an offer; the buyer must answer
    ESCALATED = "escalated"                # a mediator decides
    AWAITING_RETURN = "awaiting_return"    # ruled: refund after the item comes back
    RESOLVED = "resolved"
    WITHDRAWN = "withdrawn"


class Reason(StrEnum):
    NOT_RECEIVED = "not_received"
    NOT_AS_DESCRIBED = "not_as_described"
    SUBSTANDARD_QUALITY = "substandard_quality"
    DAMAGED = "damaged"
    COUNTERFEIT = "counterfeit"
    WRONG_ITEM = "wrong_item"


class Wanted(StrEnum):
    FULL_REFUND = "full_refund"
    PARTIAL_REFUND = "partial_refund"
    REPLACEMENT = "replacement"


class Outcome(StrEnum):
    FULL_REFUND = "full_refund"
    PARTIAL_REFUND = "partial_refund"
    REFUND_AFTER_RETURN = "refund_after_return"
    RELEASE_TO_SELLER = "release_to_seller"
    WITHDRAWN = "withdrawn"
    REPLACEMENT = "replacement"


class Resolution(StrEnum):
    AGREEMENT = "agreement"
    RULING = "ruling"
    MANDATED = "mandated"
    WITHDRAWN = "withdrawn"
    LAPSE = "lapse"


class Action(StrEnum):
    ACCEPT_FULL_REFUND = "accept_full_refund"      # seller agrees to refund everything
    OFFER = "offer"                                # seller offers a partial refund or replacement
    CONTEST = "contest"                            # seller disputes the complaint
    ACCEPT_OFFER = "accept_offer"                  # buyer takes the seller's offer
    ACCEPT_RETURN_OFFER = "accept_return_offer"    # ... one that needs the item sent back
    REJECT_OFFER = "reject_offer"                  # buyer refuses it: a mediator decides
    WITHDRAW = "withdraw"                          # buyer drops the complaint
    REQUEST_MEDIATOR = "request_mediator"          # either party, after 48 h of negotiation
    ASSIGN = "assign"                              # a mediator takes the case
    REQUEST_INFO = "request_info"                  # a mediator asks a party for something
    RULE_REFUND = "rule_refund"                    # full or partial refund, paid now
    RULE_RELEASE = "rule_release"                  # release to seller
    RULE_RETURN = "rule_return"                    # refund after the item is returned
    MARK_RETURN_SHIPPED = "mark_return_shipped"    # buyer sends the item back
    CONFIRM_RETURN = "confirm_return"              # seller or mediator: it arrived; refund paid
    LAPSE_RESPONSE_MANDATED = "lapse_response_mandated"  # seller silent on a quality complaint
    LAPSE_RESPONSE_ESCALATE = "lapse_response_escalate"  # seller silent on another complaint
    LAPSE_OFFER = "lapse_offer"                    # buyer silent on an offer
    LAPSE_RETURN_SHIPMENT = "lapse_return_shipment"  # buyer never shipped the return
    LAPSE_RETURN_RECEIPT = "lapse_return_receipt"  # seller never confirmed receipt
    FLAG_OVERDUE = "flag_overdue"                  # info or decision deadline passed


S, A = DisputeState, Action
B, SE, M, SY = Role.BUYER, Role.SELLER, Role.MEDIATOR, Role.SYSTEM

TRANSITIONS: Final[Mapping[tuple[DisputeState, Action], DisputeState]] = {
    (S.AWAITING_SELLER, A.ACCEPT_FULL_REFUND): S.RESOLVED,
    (S.AWAITING_SELLER, A.OFFER): S.AWAITING_BUYER,
    (S.AWAITING_SELLER, A.CONTEST): S.ESCALATED,
    (S.AWAITING_SELLER, A.WITHDRAW): S.WITHDRAWN,
    (S.AWAITING_SELLER, A.REQUEST_MEDIATOR): S.ESCALATED,
    (S.AWAITING_SELLER, A.LAPSE_RESPONSE_MANDATED): S.RESOLVED,
    (S.AWAITING_SELLER, A.LAPSE_RESPONSE_ESCALATE): S.ESCALATED,
    (S.AWAITING_BUYER, A.ACCEPT_OFFER): S.RESOLVED,
    (S.AWAITING_BUYER, A.ACCEPT_RETURN_OFFER): S.AWAITING_RETURN,
    (S.AWAITING_BUYER, A.REJECT_OFFER): S.ESCALATED,
    (S.AWAITING_BUYER, A.WITHDRAW): S.WITHDRAWN,
    (S.AWAITING_BUYER, A.REQUEST_MEDIATOR): S.ESCALATED,
    (S.AWAITING_BUYER, A.LAPSE_OFFER): S.ESCALATED,
    (S.ESCALATED, A.ASSIGN): S.ESCALATED,
    (S.ESCALATED, A.REQUEST_INFO): S.ESCALATED,
    (S.ESCALATED, A.WITHDRAW): S.WITHDRAWN,
    (S.ESCALATED, A.RULE_REFUND): S.RESOLVED,
    (S.ESCALATED, A.RULE_RELEASE): S.RESOLVED,
    (S.ESCALATED, A.RULE_RETURN): S.AWAITING_RETURN,
    (S.ESCALATED, A.FLAG_OVERDUE): S.ESCALATED,
    (S.AWAITING_RETURN, A.MARK_RETURN_SHIPPED): S.AWAITING_RETURN,
    (S.AWAITING_RETURN, A.CONFIRM_RETURN): S.RESOLVED,
    (S.AWAITING_RETURN, A.LAPSE_RETURN_SHIPMENT): S.RESOLVED,
    (S.AWAITING_RETURN, A.LAPSE_RETURN_RECEIPT): S.RESOLVED,
}

ALLOWED: Final[Mapping[Action, frozenset[Role]]] = {
    A.ACCEPT_FULL_REFUND: frozenset({SE}),
    A.OFFER: frozenset({SE}),
    A.CONTEST: frozenset({SE}),
    A.ACCEPT_OFFER: frozenset({B}),
    A.ACCEPT_RETURN_OFFER: frozenset({B}),
    A.REJECT_OFFER: frozenset({B}),
    A.WITHDRAW: frozenset({B}),
    A.REQUEST_MEDIATOR: frozenset({B, SE}),
    A.ASSIGN: frozenset({M}),
    A.REQUEST_INFO: frozenset({M}),
    A.RULE_REFUND: frozenset({M}),
    A.RULE_RELEASE: frozenset({M}),
    A.RULE_RETURN: frozenset({M}),
    A.MARK_RETURN_SHIPPED: frozenset({B}),
    A.CONFIRM_RETURN: frozenset({SE, M}),
    A.LAPSE_RESPONSE_MANDATED: frozenset({SY}),
    A.LAPSE_RESPONSE_ESCALATE: frozenset({SY}),
    A.LAPSE_OFFER: frozenset({SY}),
    A.LAPSE_RETURN_SHIPMENT: frozenset({SY}),
    A.LAPSE_RETURN_RECEIPT: frozenset({SY}),
    A.FLAG_OVERDUE: frozenset({SY}),
}

OPEN: Final[frozenset[DisputeState]] = frozenset(
    {S.AWAITING_SELLER, S.AWAITING_BUYER, S.ESCALATED, S.AWAITING_RETURN})
CLOSED: Final[frozenset[DisputeState]] = frozenset({S.RESOLVED, S.WITHDRAWN})
NEGOTIATING: Final[frozenset[DisputeState]] = frozenset({S.AWAITING_SELLER, S.AWAITING_BUYER})

LABELS: Final[Mapping[DisputeState, str]] = {
    S.AWAITING_SELLER: "Waiting for the seller's answer",
    S.AWAITING_BUYER: "Waiting for the buyer to answer an offer",
    S.ESCALATED: "With a mediator",
    S.AWAITING_RETURN: "Waiting for the item to be returned",
    S.RESOLVED: "Resolved",
    S.WITHDRAWN: "Withdrawn",
}

REASON_LABELS: Final[Mapping[Reason, str]] = {
    Reason.NOT_RECEIVED: "Item not received",
    Reason.NOT_AS_DESCRIBED: "Not as described",
    Reason.SUBSTANDARD_QUALITY: "Substandard quality",
    Reason.DAMAGED: "Arrived damaged",
    Reason.COUNTERFEIT: "Counterfeit",
    Reason.WRONG_ITEM: "Wrong item sent",
}

WANTED_LABELS: Final[Mapping[Wanted, str]] = {
    Wanted.FULL_REFUND: "A full refund",
    Wanted.PARTIAL_REFUND: "A partial refund",
    Wanted.REPLACEMENT: "A replacement",
}

OUTCOME_LABELS: Final[Mapping[Outcome, str]] = {
    Outcome.FULL_REFUND: "Full refund",
    Outcome.PARTIAL_REFUND: "Partial refund",
    Outcome.REFUND_AFTER_RETURN: "Refund after the item is returned",
    Outcome.RELEASE_TO_SELLER: "Payment released to the seller",
    Outcome.WITHDRAWN: "Complaint withdrawn",
    Outcome.REPLACEMENT: "Replacement agreed",
}

_VERBS: Final[Mapping[Action, str]] = {
    A.ACCEPT_FULL_REFUND: "accept a full refund", A.OFFER: "make an offer", A.CONTEST: "contest",
    A.ACCEPT_OFFER: "accept the offer", A.ACCEPT_RETURN_OFFER: "accept the offer",
    A.REJECT_OFFER: "reject the offer",
    A.WITHDRAW: "withdraw the complaint", A.REQUEST_MEDIATOR: "ask for a mediator",
    A.ASSIGN: "take the case", A.REQUEST_INFO: "ask for information", A.RULE_REFUND: "rule",
    A.RULE_RELEASE: "rule", A.RULE_RETURN: "rule", A.MARK_RETURN_SHIPPED: "report the return",
    A.CONFIRM_RETURN: "confirm the return", A.LAPSE_RESPONSE_MANDATED: "close",
    A.LAPSE_RESPONSE_ESCALATE: "escalate", A.LAPSE_OFFER: "escalate",
    A.LAPSE_RETURN_SHIPMENT: "close", A.LAPSE_RETURN_RECEIPT: "close",
    A.FLAG_OVERDUE: "flag",
}


def can(current: DisputeState | str, action: Action, role: Role) -> bool:
    current = DisputeState(current)
    return (current, action) in TRANSITIONS and role in ALLOWED.get(action, frozenset())


def next_state(current: DisputeState | str, action: Action, role: Role) -> DisputeState:
    """The state after `action`; raises InvalidTransition or NotAllowed."""
    current = DisputeState(current)
    target = TRANSITIONS.get((current, action))
    if target is None:
        raise InvalidTransition(
            f"This dispute is {LABELS[current].lower()}; you cannot {_VERBS[action]} now.",
            current_state=current.value)
    if role not in ALLOWED.get(action, frozenset()):
        raise NotAllowed(f"A {role} cannot {_VERBS[action]} in a dispute.",
                         current_state=current.value)
    return target


def available_actions(current: DisputeState | str, role: Role) -> list[Action]:
    """Actions `role` may take now (pages show only these)."""
    current = DisputeState(current)
    return [a for (s, a) in TRANSITIONS if s == current and role in ALLOWED.get(a, frozenset())]


def next_actor(current: DisputeState | str, *, return_shipped: bool = False,
               info_from: str | None = None) -> str | None:
    """Whose move it is: buyer, seller, mediator, or None when closed."""
    current = DisputeState(current)
    if current == S.AWAITING_SELLER:
        return "seller"
    if current == S.AWAITING_BUYER:
        return "buyer"
    if current == S.ESCALATED:
        return info_from or "mediator"
    if current == S.AWAITING_RETURN:
        return "seller" if return_shipped else "buyer"
    return None
