"""The mandated-refund rule: one pure function, quoted to users on the dispute page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from trustdesk.core.errors import ValidationFailed

QUALITY_REASONS: Final[frozenset[str]] = frozenset(
    {"not_as_described", "substandard_quality", "damaged", "counterfeit", "wrong_item"})

MANDATED_REFUND_RULE: Final[str] = (
    "When a quality complaint (not as described, substandard quality, damaged, counterfeit or "
    "wrong item) is upheld by a mediator, or the seller lets the response window lapse, the buyer "
    "gets at least the item price (the principal) back. No seller action can block it. Shipping "
    "fees are refunded at the mediator's discretion."
)


class RuleViolation(ValidationFailed):
    """A ruling that gives the buyer less than the mandated-refund rule requires."""

    code = "mandated_refund"


def is_quality(reason: str) -> bool:
    return reason in QUALITY_REASONS


def minimum_refund(reason: str, *, principal_minor: int, upheld: bool, seller_lapsed: bool) -> int:
    """The least the buyer must get back: the principal for an upheld or unanswered quality
    complaint, else nothing is mandated."""
    if is_quality(reason) and (upheld or seller_lapsed):
        return principal_minor
    return 0


@dataclass(frozen=True, slots=True)
class Order:
    """The money facts the rule needs (kept pure: no table objects here)."""

    principal_minor: int   # the item price
    shipping_minor: int    # the shipping fee
    held_minor: int        # what escrow holds now (principal + shipping while disputed)


def lapse_refund(reason: str, wanted: str, wanted_amount_minor: int | None, money: Order) -> int:
    """Refund when the seller lets the response window lapse on a quality complaint: what the
    buyer asked for (a full refund includes shipping), never less than the principal."""
    floor = minimum_refund(reason, principal_minor=money.principal_minor, upheld=False,
                           seller_lapsed=True)
    if wanted == "partial_refund" and wanted_amount_minor is not None:
        asked = wanted_amount_minor
    else:
        asked = money.held_minor
    return min(money.held_minor, max(floor, asked))


def ruling_refund(reason: str, outcome: str, money: Order, *, amount_minor: int | None = None,
                  include_shipping: bool = False) -> int:
    """The refund a mediator's ruling pays; raises RuleViolation quoting the rule when an
    upheld quality complaint would get less than the principal."""
    shipping = money.shipping_minor if include_shipping else 0
    if outcome == "release_to_seller":
        return 0
    if outcome in ("full_refund", "refund_after_return"):
        refund = money.principal_minor + shipping
        if amount_minor is not None and outcome == "refund_after_return":
            refund = amount_minor
    elif outcome == "partial_refund":
        if amount_minor is None:
            raise ValidationFailed("Enter the amount to refund.", field="amount")
        refund = amount_minor
    else:
        raise ValidationFailed(f"Unknown ruling {outcome!r}.", field="outcome")
    if refund <= 0:
        raise ValidationFailed("A refund must be more than zero; to refund nothing, release "
                               "the payment to the seller.", field="amount")
    if refund > money.held_minor:
        raise ValidationFailed("The refund cannot be more than escrow holds.", field="amount")
    floor = minimum_refund(reason, principal_minor=money.principal_minor, upheld=True,
                           seller_lapsed=False)
    if refund < floor:
        raise RuleViolation(
            f"Refused: this is an upheld quality complaint, so the refund must be at least the "
            f"item price. The rule: {MANDATED_REFUND_RULE}", field="amount",
            minimum_minor=floor)
    return refund
