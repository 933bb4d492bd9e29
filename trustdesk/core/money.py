"""Money as integer minor units plus an ISO 4217 currency; never floats."""

from __future__ import annotations

import re
from dataclasses import dataclass

# minor-unit exponent and display symbol per supported currency
CURRENCIES: dict[str, tuple[int, str]] = {
    "PKR": (2, "Rs"),
    "USD": (2, "$"),
    "EUR": (2, "€"),
    "GBP": (2, "£"),
    "AED": (2, "AED"),
    "SAR": (2, "SAR"),
    "INR": (2, "₹"),
    "BDT": (2, "Tk"),
}
DEFAULT_CURRENCY = "PKR"

_AMOUNT = re.compile(r"^(?P<int>\d{1,3}(,\d{3})+|\d+)(\.(?P<frac>\d+))?$")


class MoneyError(ValueError):
    """An amount or currency that cannot be used."""


def check_currency(code: str) -> str:
    code = (code or "").strip().upper()
    if code not in CURRENCIES:
        raise MoneyError(f"Unsupported currency {code or '(empty)'}; use one of {', '.join(CURRENCIES)}")
    return code


@dataclass(frozen=True, slots=True, order=True)
class Money:
    """An amount in minor units (paisa for PKR) and its currency."""

    minor: int
    currency: str = DEFAULT_CURRENCY

    def __post_init__(self) -> None:
        if not isinstance(self.minor, int) or isinstance(self.minor, bool):
            raise MoneyError("Money amounts are integers in minor units")
        object.__setattr__(self, "currency", check_currency(self.currency))

    @classmethod
    def parse(cls, text: str, currency: str = DEFAULT_CURRENCY) -> Money:
        """'1,500.50' -> Money(150050, 'PKR'); raises MoneyError with a readable reason."""
        return cls(parse_minor(text, currency), currency)

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError("can only combine Money with Money")
        if other.currency != self.currency:
            raise MoneyError(f"Cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def fraction_bps(self, bps: int) -> Money:
        """This amount times bps/10000, rounded half up toward the platform (integer maths)."""
        return Money((self.minor * bps + 5000) // 10000, self.currency)

    def format(self) -> str:
        return format_money(self.minor, self.currency)

    def __str__(self) -> str:
        return self.format()


def exponent(currency: str) -> int:
    return CURRENCIES[check_currency(currency)][0]


def parse_minor(text: str, currency: str = DEFAULT_CURRENCY) -> int:
    """Parse a form amount ('1,500', '1500.5', 'Rs 1,500.50') into minor units."""
    exp = exponent(currency)
    symbol = CURRENCIES[check_currency(currency)][1]
    cleaned = (text or "").strip()
    for prefix in sorted({symbol, currency.upper(), "Rs.", "Rs", "PKR"}, key=len, reverse=True):
        if cleaned.upper().startswith(prefix.upper()):
            cleaned = cleaned[len(prefix):].strip()
            break
    cleaned = cleaned.replace(" ", "")
    if not cleaned:
        raise MoneyError("Enter an amount")
    if cleaned.startswith("-"):
        raise MoneyError("Amounts cannot be negative")
    match = _AMOUNT.match(cleaned)
    if not match:
        raise MoneyError(f"'{text}' is not an amount; write it like 1,500 or 1500.50")
    whole = int(match.group("int").replace(",", ""))
    frac = match.group("frac") or ""
    if len(frac) > exp:
        raise MoneyError(f"{currency} amounts have at most {exp} decimal places")
    frac = frac.ljust(exp, "0")
    minor = whole * 10**exp + (int(frac) if frac else 0)
    if minor > 10**15:
        raise MoneyError("That amount is too large")
    return minor


def format_money(minor: int, currency: str = DEFAULT_CURRENCY) -> str:
    """150050, 'PKR' -> 'Rs 1,500.50'; whole amounts drop the decimals: 'Rs 1,500'."""
    exp, symbol = CURRENCIES[check_currency(currency)]
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**exp)
    text = f"{whole:,}"
    if frac:
        text += f".{frac:0{exp}d}"
    return f"{sign}{symbol} {text}"


def format_plain(minor: int, currency: str = DEFAULT_CURRENCY) -> str:
    """150050 -> '1500.50' (for form fields)."""
    exp = exponent(currency)
    whole, frac = divmod(abs(minor), 10**exp)
    sign = "-" if minor < 0 else ""
    return f"{sign}{whole}.{frac:0{exp}d}" if frac else f"{sign}{whole}"
