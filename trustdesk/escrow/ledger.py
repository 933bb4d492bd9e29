"""Double-entry postings for escrow, as pure functions. Every posting sums to zero.

Sign convention: a positive amount increases what an account holds.
Accounts: external:buyer:<id>, escrow:order:<id>, payable:seller:<id>, refunds:buyer:<id>,
platform:fees.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from trustdesk.core.money import Money


class PostingKind(StrEnum):
    FUND = "fund"
    RELEASE = "release"
    REFUND = "refund"
    PARTIAL_REFUND = "partial_refund"
    CANCEL_REFUND = "cancel_refund"


@dataclass(frozen=True, slots=True)
class Entry:
    account: str
    amount_minor: int
    currency: str


class UnbalancedPosting(AssertionError):
    pass


def buyer_external(buyer_id: int) -> str:
    return f"external:buyer:{buyer_id}"


def escrow_account(order_id: int) -> str:
    return f"escrow:order:{order_id}"


def seller_payable(seller_id: int) -> str:
    return f"payable:seller:{seller_id}"


def buyer_refunds(buyer_id: int) -> str:
    return f"refunds:buyer:{buyer_id}"


PLATFORM_FEES = "platform:fees"


def check_balanced(entries: list[Entry]) -> list[Entry]:
    totals: dict[str, int] = {}
    for e in entries:
        if not isinstance(e.amount_minor, int):
            raise UnbalancedPosting("ledger amounts are integers")
        totals[e.currency] = totals.get(e.currency, 0) + e.amount_minor
    if any(totals.values()):
        raise UnbalancedPosting(f"posting does not balance: {totals}")
    return [e for e in entries if e.amount_minor != 0]


def fee_for(amount: Money, fee_bps: int) -> Money:
    return amount.fraction_bps(fee_bps)


def fund(order_id: int, buyer_id: int, total: Money) -> list[Entry]:
    """Buyer's payment arrives in the order's escrow account."""
    c = total.currency
    return check_balanced([
        Entry(buyer_external(buyer_id), -total.minor, c),
        Entry(escrow_account(order_id), total.minor, c),
    ])


def release(order_id: int, seller_id: int, held: Money, fee_bps: int = 0) -> list[Entry]:
    """Everything held goes to the seller, minus the platform fee."""
    fee = fee_for(held, fee_bps)
    c = held.currency
    return check_balanced([
        Entry(escrow_account(order_id), -held.minor, c),
        Entry(seller_payable(seller_id), held.minor - fee.minor, c),
        Entry(PLATFORM_FEES, fee.minor, c),
    ])


def refund(order_id: int, buyer_id: int, held: Money) -> list[Entry]:
    """Everything held goes back to the buyer (no fee is taken on a refund)."""
    c = held.currency
    return check_balanced([
        Entry(escrow_account(order_id), -held.minor, c),
        Entry(buyer_refunds(buyer_id), held.minor, c),
    ])


def partial_refund(order_id: int, buyer_id: int, seller_id: int, held: Money, refund_amount: Money,
                   fee_bps: int = 0) -> list[Entry]:
    """`refund_amount` back to the buyer, the rest released to the seller (fee on that rest)."""
    if not 0 <= refund_amount.minor <= held.minor:
        raise UnbalancedPosting("a partial refund must be between 0 and what escrow holds")
    rest = held - refund_amount
    fee = fee_for(rest, fee_bps)
    c = held.currency
    return check_balanced([
        Entry(escrow_account(order_id), -held.minor, c),
        Entry(buyer_refunds(buyer_id), refund_amount.minor, c),
        Entry(seller_payable(seller_id), rest.minor - fee.minor, c),
        Entry(PLATFORM_FEES, fee.minor, c),
    ])
