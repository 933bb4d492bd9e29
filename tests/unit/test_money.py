"""Money: integer minor units, parsing form input, formatting as people write rupees."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trustdesk.core.money import Money, MoneyError, format_money, format_plain, parse_minor


@pytest.mark.parametrize(
    ("text", "minor"),
    [("1500", 150000), ("1,500", 150000), ("1,500.50", 150050), ("1500.5", 150050),
     ("Rs 1,500", 150000), ("Rs. 99", 9900), ("PKR 1,000,000", 100000000), ("0.01", 1),
     (" 42 ", 4200), ("0", 0)],
)
def test_parses_what_people_type(text: str, minor: int) -> None:
    assert parse_minor(text) == minor


@pytest.mark.parametrize("text", ["", "abc", "1.234", "-5", "1,50", "1..5", "1e5", "12,34,567", "nan"])
def test_refuses_what_is_not_an_amount(text: str) -> None:
    with pytest.raises(MoneyError):
        parse_minor(text)


@pytest.mark.parametrize(
    ("minor", "text"),
    [(150000, "Rs 1,500"), (150050, "Rs 1,500.50"), (5, "Rs 0.05"), (-150000, "-Rs 1,500"),
     (123456789, "Rs 1,234,567.89")],
)
def test_formats_rupees(minor: int, text: str) -> None:
    assert format_money(minor, "PKR") == text


def test_money_refuses_floats_and_mixed_currencies() -> None:
    with pytest.raises(MoneyError):
        Money(10.5)  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        Money(100, "PKR") + Money(100, "USD")
    with pytest.raises(MoneyError):
        Money(100, "XXX")


def test_fee_rounds_half_up_in_integers() -> None:
    assert Money(10000).fraction_bps(250) == Money(250)
    assert Money(3).fraction_bps(5000) == Money(2)  # 1.5 -> 2
    assert Money(1).fraction_bps(0) == Money(0)


@given(st.integers(min_value=0, max_value=10**13))
def test_format_then_parse_round_trips(minor: int) -> None:
    assert parse_minor(format_money(minor)) == minor
    assert parse_minor(format_plain(minor)) == minor


@given(st.integers(min_value=-10**12, max_value=10**12), st.integers(min_value=-10**12, max_value=10**12))
def test_addition_is_exact(a: int, b: int) -> None:
    assert (Money(a) + Money(b)).minor == a + b
    assert (Money(a) - Money(b) + Money(b)).minor == a
