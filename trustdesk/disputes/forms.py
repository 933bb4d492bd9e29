"""Posted dispute forms as msgspec structs, plus the parsing that turns text into them."""

from __future__ import annotations

from typing import Any

import msgspec

from trustdesk.core.errors import ValidationFailed
from trustdesk.core.money import MoneyError, parse_minor


class ComplaintForm(msgspec.Struct, frozen=True):
    reason: str = ""
    wanted: str = ""
    statement: str = ""
    wanted_amount: str = ""


class RespondForm(msgspec.Struct, frozen=True):
    action: str = ""
    amount: str = ""
    keep_item: bool = True
    statement: str = ""
    return_address: str = ""


class MessageForm(msgspec.Struct, frozen=True):
    body: str = ""


class ReturnShippedForm(msgspec.Struct, frozen=True):
    carrier: str = ""
    tracking: str = ""


def from_fields(struct: type[Any], fields: dict[str, Any]) -> Any:
    """Build a form struct from posted text fields (unknown fields ignored; checkboxes)."""
    known = struct.__struct_fields__
    values: dict[str, Any] = {}
    for name in known:
        if name not in fields:
            continue
        value = fields[name]
        values[name] = value if not isinstance(value, list) else value[0]
    if "keep_item" in known:
        values["keep_item"] = str(fields.get("keep_item", "")).lower() in {"1", "on", "yes", "true"}
    return struct(**{k: (str(v) if k != "keep_item" else v) for k, v in values.items()})


def amount_minor(text: str, currency: str, field: str, *, required: bool = True) -> int | None:
    """'1,500' -> 150000 (minor units); ValidationFailed with a readable reason."""
    if not (text or "").strip():
        if required:
            raise ValidationFailed("Enter an amount, like 1,500.", field=field)
        return None
    try:
        return parse_minor(text, currency)
    except MoneyError as exc:
        raise ValidationFailed(str(exc), field=field) from exc
