"""GET /api/v1/sellers/{slug}/trust: public, no key — the score, level and components behind the
seller's badge, computed by the ratings domain's scoring service."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import get
from litestar.params import PathParameter

from trustdesk.partners.api import _errors
from trustdesk.settings import get_settings

Slug = Annotated[str, PathParameter(max_length=80, description="The seller's slug (/sellers/<slug>).")]


class TrustComponents(msgspec.Struct):
    bayesian_stars: float
    star_average: float | None
    rating_count: int
    defect_rate: float
    defect_orders: int
    window_orders: int
    defects_low_rating: int
    defects_dispute_lost: int
    defects_mandated_refund: int
    defects_not_shipped: int
    on_time_shipping_rate: float | None
    shipped_count: int
    response_median_hours: float | None
    completed_orders: int
    penalties: dict[str, float]


class TrustOut(msgspec.Struct):
    slug: str
    store_name: str
    score: float
    level: str
    level_label: str
    components: TrustComponents
    seller_url: str
    badge_svg_url: str
    badge_js_url: str


@get("/sellers/{slug:str}/trust", responses=_errors(404, 422), tags=["Trust"], security=[],
     summary="A seller's trust score (public, no key)",
     description="The data behind the badge: score (1-5), level and each component.",
     cache_control=None)
async def seller_trust(slug: Slug) -> TrustOut:
    from trustdesk.ratings import services as ratings

    seller = await ratings.get_seller_by_slug(slug)
    score = await ratings.seller_score(seller.id)
    base = get_settings().public_url
    return TrustOut(
        slug=seller.slug, store_name=seller.store_name or "", score=round(float(score.score), 2),
        level=str(score.level.value), level_label=score.level_label,
        components=TrustComponents(
            bayesian_stars=round(float(score.bayesian), 3), star_average=score.star_average,
            rating_count=score.rating_count, defect_rate=float(score.defect_rate),
            defect_orders=score.defect_orders, window_orders=score.window_orders,
            defects_low_rating=score.defects_low_rating,
            defects_dispute_lost=score.defects_dispute_lost,
            defects_mandated_refund=score.defects_mandated_refund,
            defects_not_shipped=score.defects_not_shipped,
            on_time_shipping_rate=score.on_time_rate, shipped_count=score.shipped_count,
            response_median_hours=score.response_median_hours,
            completed_orders=score.completed_orders,
            penalties={str(k): float(v) for k, v in (score.penalties or {}).items()}),
        seller_url=f"{base}/sellers/{seller.slug}", badge_svg_url=f"{base}/badge/{seller.slug}.svg",
        badge_js_url=f"{base}/badge/{seller.slug}.js",
    )


HANDLERS: list[Any] = [seller_trust]
