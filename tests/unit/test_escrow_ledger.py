"""Ledger postings (pure): every posting balances, nothing is created or lost, fees are bounded."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trustdesk.core.money import CURRENCIES, Money
from trustdesk.escrow import ledger

amounts = st.integers(min_value=1, max_value=10_000_000_000)
bps = st.integers(min_value=0, max_value=10_000)
ids = st.integers(min_value=1, max_value=10**9)
currencies = st.sampled_from(sorted(CURRENCIES))


def _sum(entries: list[ledger.Entry]) -> int:
    return sum(e.amount_minor for e in entries)


def _by_account(entries: list[ledger.Entry]) -> dict[str, int]:
    out: dict[str, int] = {}
    for e in entries:
        out[e.account] = out.get(e.account, 0) + e.amount_minor
    return out


@given(order=ids, buyer=ids, amount=amounts, currency=currencies)
def test_fund_moves_the_total_from_the_buyer_into_escrow(order, buyer, amount, currency) -> None:
    entries = ledger.fund(order, buyer, Money(amount, currency))
    assert _sum(entries) == 0
    assert _by_account(entries) == {f"external:buyer:{buyer}": -amount, f"escrow:order:{order}": amount}
    assert {e.currency for e in entries} == {currency}


@given(order=ids, seller=ids, amount=amounts, fee=bps)
def test_release_empties_escrow_to_seller_and_fee(order, seller, amount, fee) -> None:
    entries = ledger.release(order, seller, Money(amount), fee)
    accounts = _by_account(entries)
    assert _sum(entries) == 0
    assert accounts[f"escrow:order:{order}"] == -amount
    fee_taken = accounts.get(ledger.PLATFORM_FEES, 0)
    assert 0 <= fee_taken <= amount
    assert fee_taken == (amount * fee + 5000) // 10000
    assert accounts.get(f"payable:seller:{seller}", 0) == amount - fee_taken
    assert all(e.amount_minor != 0 for e in entries)


@given(order=ids, buyer=ids, amount=amounts)
def test_refund_returns_everything_and_takes_no_fee(order, buyer, amount) -> None:
    entries = ledger.refund(order, buyer, Money(amount))
    assert _by_account(entries) == {f"escrow:order:{order}": -amount, f"refunds:buyer:{buyer}": amount}


@given(order=ids, buyer=ids, seller=ids, data=st.data(), fee=bps)
def test_partial_refund_splits_what_escrow_holds(order, buyer, seller, data, fee) -> None:
    held = data.draw(amounts)
    back = data.draw(st.integers(min_value=0, max_value=held))
    entries = ledger.partial_refund(order, buyer, seller, Money(held), Money(back), fee)
    accounts = _by_account(entries)
    assert _sum(entries) == 0
    assert accounts[f"escrow:order:{order}"] == -held
    assert accounts.get(f"refunds:buyer:{buyer}", 0) == back
    rest = held - back
    assert accounts.get(f"payable:seller:{seller}", 0) + accounts.get(ledger.PLATFORM_FEES, 0) == rest
    assert all(v >= 0 for k, v in accounts.items() if not k.startswith("escrow:"))


@given(held=amounts, extra=st.integers(min_value=1, max_value=10**6))
def test_partial_refund_cannot_exceed_what_is_held(held, extra) -> None:
    with pytest.raises(ledger.UnbalancedPosting):
        ledger.partial_refund(1, 2, 3, Money(held), Money(held + extra))


@given(entries=st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(-10**6, 10**6)),
                        min_size=1, max_size=6))
def test_check_balanced_accepts_only_zero_sums(entries) -> None:
    rows = [ledger.Entry(a, n, "PKR") for a, n in entries]
    if sum(n for _, n in entries) == 0:
        assert all(e.amount_minor != 0 for e in ledger.check_balanced(rows))
    else:
        with pytest.raises(ledger.UnbalancedPosting):
            ledger.check_balanced(rows)


def test_floats_are_refused() -> None:
    with pytest.raises(ledger.UnbalancedPosting):
        ledger.check_balanced([ledger.Entry("a", 1.5, "PKR"), ledger.Entry("b", -1.5, "PKR")])  # type: ignore[arg-type]


def test_mixed_currencies_must_balance_per_currency() -> None:
    with pytest.raises(ledger.UnbalancedPosting):
        ledger.check_balanced([ledger.Entry("a", 100, "PKR"), ledger.Entry("b", -100, "USD")])
