"""The escrow state machine as data: (state, action) -> next state, and who may act. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from trustdesk.core.actors import Role
from trustdesk.core.errors import InvalidTransition, NotAllowed


class OrderState(StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"
    FUNDED = "funded"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    RELEASED = "released"
    CANCELLED = "cancelled"
    DISPUTED = "disputed"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"


class Action(StrEnum):
    FUND = "fund"                        # payment confirmed by the provider
    SHIP = "ship"                        # seller hands the parcel to a courier
    CONFIRM_DELIVERY = "confirm_delivery"  # buyer (or the confirm_by lapse) says it arrived
    RELEASE = "release"                  # buyer accepts / inspection lapses / ruling for seller
    CANCEL = "cancel"                    # unpaid, or funded-but-unshipped (full refund)
    OPEN_DISPUTE = "open_dispute"        # buyer complains inside the window
    RESUME_FUNDED = "resume_funded"      # complaint withdrawn: back to where it was
    RESUME_SHIPPED = "resume_shipped"
    RESUME_DELIVERED = "resume_delivered"
    REFUND = "refund"                    # dispute outcome: full refund
    PARTIAL_REFUND = "partial_refund"    # dispute outcome: part back, rest released


S, A = OrderState, Action
B, SE, M, SY = Role.BUYER, Role.SELLER, Role.MEDIATOR, Role.SYSTEM

TRANSITIONS: Final[Mapping[tuple[OrderState, Action], OrderState]] = {
    (S.AWAITING_PAYMENT, A.FUND): S.FUNDED,
    (S.AWAITING_PAYMENT, A.CANCEL): S.CANCELLED,
    (S.FUNDED, A.SHIP): S.SHIPPED,
    (S.FUNDED, A.CANCEL): S.CANCELLED,
    (S.FUNDED, A.OPEN_DISPUTE): S.DISPUTED,
    (S.SHIPPED, A.CONFIRM_DELIVERY): S.DELIVERED,
    (S.SHIPPED, A.RELEASE): S.RELEASED,
    (S.SHIPPED, A.OPEN_DISPUTE): S.DISPUTED,
    (S.DELIVERED, A.RELEASE): S.RELEASED,
    (S.DELIVERED, A.OPEN_DISPUTE): S.DISPUTED,
    (S.DISPUTED, A.RESUME_FUNDED): S.FUNDED,
    (S.DISPUTED, A.RESUME_SHIPPED): S.SHIPPED,
    (S.DISPUTED, A.RESUME_DELIVERED): S.DELIVERED,
    (S.DISPUTED, A.REFUND): S.REFUNDED,
    (S.DISPUTED, A.PARTIAL_REFUND): S.PARTIALLY_REFUNDED,
    (S.DISPUTED, A.RELEASE): S.RELEASED,
}

# Who may take an action, per state where it differs (a key of (state, action) wins over action).
ALLOWED: Final[Mapping[Action | tuple[OrderState, Action], frozenset[Role]]] = {
    A.FUND: frozenset({B, SY}),
    A.SHIP: frozenset({SE}),
    A.CONFIRM_DELIVERY: frozenset({B, SY}),
    (S.SHIPPED, A.RELEASE): frozenset({B}),
    (S.DELIVERED, A.RELEASE): frozenset({B, SY}),
    (S.DISPUTED, A.RELEASE): frozenset({M, SY}),
    (S.AWAITING_PAYMENT, A.CANCEL): frozenset({B, SE, SY}),
    (S.FUNDED, A.CANCEL): frozenset({SE, SY}),
    A.OPEN_DISPUTE: frozenset({B}),
    A.RESUME_FUNDED: frozenset({B}),
    A.RESUME_SHIPPED: frozenset({B}),
    A.RESUME_DELIVERED: frozenset({B}),
    # dispute outcomes: the disputes state machine decides which party's move this is
    A.REFUND: frozenset({B, SE, M, SY}),
    A.PARTIAL_REFUND: frozenset({B, SE, M, SY}),
}

TERMINAL: Final[frozenset[OrderState]] = frozenset(
    {S.RELEASED, S.CANCELLED, S.REFUNDED, S.PARTIALLY_REFUNDED})
HOLDS_MONEY: Final[frozenset[OrderState]] = frozenset(
    {S.FUNDED, S.SHIPPED, S.DELIVERED, S.DISPUTED})
DISPUTABLE: Final[frozenset[OrderState]] = frozenset({S.FUNDED, S.SHIPPED, S.DELIVERED})
COMPLETED: Final[frozenset[OrderState]] = frozenset(
    {S.RELEASED, S.REFUNDED, S.PARTIALLY_REFUNDED})

LABELS: Final[Mapping[OrderState, str]] = {
    S.AWAITING_PAYMENT: "Awaiting payment",
    S.FUNDED: "Paid, held in escrow",
    S.SHIPPED: "Shipped",
    S.DELIVERED: "Delivered, under inspection",
    S.RELEASED: "Released",
    S.CANCELLED: "Cancelled",
    S.DISPUTED: "In dispute",
    S.REFUNDED: "Refunded",
    S.PARTIALLY_REFUNDED: "Partially refunded",
}

RESUME_ACTION: Final[Mapping[OrderState, Action]] = {
    S.FUNDED: A.RESUME_FUNDED, S.SHIPPED: A.RESUME_SHIPPED, S.DELIVERED: A.RESUME_DELIVERED}


def allowed_roles(current: OrderState, action: Action) -> frozenset[Role]:
    return ALLOWED.get((current, action), ALLOWED.get(action, frozenset()))  # type: ignore[arg-type]


def can(current: OrderState | str, action: Action, role: Role) -> bool:
    current = OrderState(current)
    return (current, action) in TRANSITIONS and role in allowed_roles(current, action)


def next_state(current: OrderState | str, action: Action, role: Role) -> OrderState:
    """The state after `action`; raises InvalidTransition or NotAllowed."""
    current = OrderState(current)
    target = TRANSITIONS.get((current, action))
    if target is None:
        raise InvalidTransition(
            f"This order is {LABELS[current].lower()}; it cannot be {_verb(action)} now.",
            current_state=current.value)
    if role not in allowed_roles(current, action):
        raise NotAllowed(f"A {role} cannot {_verb_base(action)} an order that is "
                         f"{LABELS[current].lower()}.", current_state=current.value)
    return target


def available_actions(current: OrderState | str, role: Role) -> list[Action]:
    """Actions `role` may take now (pages show only these)."""
    current = OrderState(current)
    return [a for (s, a) in TRANSITIONS if s == current and role in allowed_roles(s, a)]


_VERBS = {
    A.FUND: ("paid", "pay for"), A.SHIP: ("shipped", "ship"),
    A.CONFIRM_DELIVERY: ("marked delivered", "confirm delivery of"),
    A.RELEASE: ("released", "release"), A.CANCEL: ("cancelled", "cancel"),
    A.OPEN_DISPUTE: ("disputed", "dispute"), A.REFUND: ("refunded", "refund"),
    A.PARTIAL_REFUND: ("partially refunded", "partially refund"),
    A.RESUME_FUNDED: ("resumed", "resume"), A.RESUME_SHIPPED: ("resumed", "resume"),
    A.RESUME_DELIVERED: ("resumed", "resume"),
}


def _verb(action: Action) -> str:
    return _VERBS[action][0]


def _verb_base(action: Action) -> str:
    return _VERBS[action][1]
