"""Posted escrow forms: raw form fields -> typed values, or field -> message errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trustdesk.core.money import CURRENCIES, MoneyError, parse_minor
from trustdesk.escrow.services import NewOrder


@dataclass
class ParsedForm:
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    order: NewOrder | None = None


def _text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def parse_new_link(form: Mapping[str, Any]) -> ParsedForm:
    """Read the /sell/new form. Every problem is reported against its field."""
    values = {name: _text(form, name) for name in
              ("title", "description", "price", "shipping", "currency", "inspection_days")}
    errors: dict[str, str] = {}
    currency = (values["currency"] or "PKR").upper()
    if currency not in CURRENCIES:
        errors["currency"] = f"Choose one of: {', '.join(CURRENCIES)}."
        currency = "PKR"
    if not values["title"]:
        errors["title"] = "Give the item a title, e.g. “Embroidered lawn suit, size M”."
    elif len(values["title"]) > 200:
        errors["title"] = "Keep the title under 200 characters."
    if len(values["description"]) > 5000:
        errors["description"] = "Keep the description under 5,000 characters."
    price = shipping = 0
    try:
        price = parse_minor(values["price"], currency)
        if price <= 0:
            errors["price"] = "The price must be more than zero."
    except MoneyError as exc:
        errors["price"] = str(exc) if values["price"] else "Enter the item's price, e.g. 4,500."
    if values["shipping"]:
        try:
            shipping = parse_minor(values["shipping"], currency)
        except MoneyError as exc:
            errors["shipping"] = str(exc)
    days_text = values["inspection_days"] or "3"
    days = 0
    if not days_text.isdigit() or not 1 <= int(days_text) <= 30:
        errors["inspection_days"] = "The inspection window is a whole number of days from 1 to 30."
    else:
        days = int(days_text)
    if errors:
        return ParsedForm(values, errors)
    return ParsedForm(values, {}, NewOrder(
        title=values["title"], description=values["description"], amount_minor=price,
        shipping_minor=shipping, currency=currency, inspection_days=days))


# service field names -> form field names (ValidationFailed from the service names the former)
SERVICE_FIELDS = {"amount_minor": "price", "shipping_minor": "shipping"}


@dataclass(frozen=True)
class ShipForm:
    carrier: str
    tracking_number: str


def parse_ship(form: Mapping[str, Any]) -> ShipForm:
    return ShipForm(carrier=_text(form, "carrier"), tracking_number=_text(form, "tracking_number"))


def confirmed(form: Mapping[str, Any]) -> bool:
    """Money moves carry confirmed=yes from the confirmation box's submit button."""
    return _text(form, "confirmed") == "yes"
