"""Mediators' admin: ratings and domains are read-only tables; hiding a rating is a form."""

from __future__ import annotations

from typing import Any

from piccolo_admin.endpoints import FormConfig, TableConfig
from pydantic import BaseModel, Field

from trustdesk.admin import read_only
from trustdesk.core.actors import Actor, Role
from trustdesk.core.errors import DomainError
from trustdesk.ratings import services
from trustdesk.ratings.tables import Rating, SellerDomain, SellerRecord


class HideRating(BaseModel):
    rating_id: int = Field(description="The rating's id (first column of the Ratings table).")
    reason: str = Field(description="Why it is hidden; logged and kept with the rating.",
                        min_length=5, max_length=500)
    fraud: bool = Field(default=False, description="Hidden for fraud: also removed from the "
                        "seller's score. Otherwise the rating keeps counting.")


async def hide_rating_endpoint(request: Any, data: HideRating) -> str:
    user = request.user.user
    actor = Actor(Role(user.role) if getattr(user, "role", "") else Role.MEDIATOR, user.id, "admin")
    try:
        await services.hide_rating(data.rating_id, reason=data.reason, fraud=data.fraud, actor=actor)
    except DomainError as exc:
        raise ValueError(exc.message) from exc
    extra = " It no longer counts in the score." if data.fraud else " It still counts in the score."
    return f"Rating {data.rating_id} hidden and logged.{extra}"


TABLES = [
    TableConfig(Rating, menu_group="Ratings", validators=read_only(),
                visible_columns=[Rating.id, Rating.order, Rating.seller, Rating.buyer, Rating.stars,
                                 Rating.text, Rating.created_at, Rating.hidden,
                                 Rating.hidden_for_fraud, Rating.hidden_reason],
                visible_filters=[Rating.seller, Rating.buyer, Rating.stars, Rating.hidden]),
    TableConfig(SellerDomain, menu_group="Ratings", validators=read_only(),
                visible_filters=[SellerDomain.seller, SellerDomain.domain]),
    TableConfig(SellerRecord, menu_group="Ratings", validators=read_only()),
]

FORMS = [
    FormConfig(name="Hide a rating", pydantic_model=HideRating, endpoint=hide_rating_endpoint,
               description="Hide an abusive rating from the public page. The reason is logged "
                           "in the audit trail. Tick 'fraud' only for fake ratings.",
               form_group="Ratings"),
]
