"""Posted data for ratings: parsed from the form, validated by the services."""

from __future__ import annotations

from typing import Any

import msgspec


class RatingForm(msgspec.Struct, frozen=True):
    stars: str = ""
    text: str = ""
    tags: tuple[str, ...] = ()


def rating_form(form: Any) -> RatingForm:
    """A multi-dict form -> RatingForm (tags may repeat)."""
    getall = getattr(form, "getall", None)
    tags = tuple(str(t) for t in (getall("tags", []) if getall else [form.get("tags")] if form.get("tags") else []))
    return RatingForm(stars=str(form.get("stars", "")), text=str(form.get("text", ""))[:20000],
                      tags=tags)
