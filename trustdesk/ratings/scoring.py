"""The trust score: pure, explainable, and the same formula /how-trust-works describes.

score = Bayesian average of stars (prior 3.5 with weight 7; ratings older than 12 months weigh
half) minus three penalties: the order defect rate over 90 days, late shipping, and slow answers
to complaints. Clamped to [1, 5]. No I/O here: callers pass facts, get numbers back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from statistics import median
from typing import Final

PRIOR_MEAN: Final = 3.5
PRIOR_WEIGHT: Final = 7.0
RECENT: Final = timedelta(days=365)
OLD_WEIGHT: Final = 0.5  # a rating older than RECENT counts half
DEFECT_WINDOW: Final = timedelta(days=90)
DEFECT_POINTS_PER_PERCENT: Final = 0.2  # each 1 % of defective orders costs 0.2 points
DEFECT_PENALTY_MAX: Final = 2.0
LATE_PENALTY_MAX: Final = 0.5  # all shipments late costs 0.5 points
RESPONSE_PENALTY_MAX: Final = 0.3
RESPONSE_FAST_H: Final = 24.0  # answering complaints within a day costs nothing
RESPONSE_SLOW_H: Final = 72.0  # three days or more costs the full penalty
LOW_STARS: Final = 2  # 1-2 star ratings are defects
NEW_BELOW_ORDERS: Final = 5
TOP_MAX_DEFECT: Final = 0.005
TOP_MIN_SCORE: Final = 4.5
AT_RISK_ABOVE: Final = 0.02
RESTRICTED_ABOVE: Final = 0.05
MIN_SCORE: Final = 1.0
MAX_SCORE: Final = 5.0


class Level(StrEnum):
    NEW = "new"
    TOP_RATED = "top_rated"
    TRUSTED = "trusted"
    AT_RISK = "at_risk"
    RESTRICTED = "restricted"


LEVEL_LABELS: Final = {
    Level.NEW: "New", Level.TOP_RATED: "Top rated", Level.TRUSTED: "Trusted",
    Level.AT_RISK: "At risk", Level.RESTRICTED: "Restricted",
}


@dataclass(frozen=True, slots=True)
class RatingFact:
    stars: int
    at: datetime
    order_id: int | None = None
    fraud: bool = False  # hidden by a mediator for fraud: left out entirely


@dataclass(frozen=True, slots=True)
class OrderFact:
    order_id: int
    closed_at: datetime | None
    completed: bool  # released, refunded or partially refunded
    cancelled_not_shipped: bool = False
    dispute_lost: bool = False  # a mediator ruled for the buyer
    mandated_refund: bool = False
    ship_by: datetime | None = None
    shipped_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DisputeFact:
    opened_at: datetime
    responded_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Facts:
    ratings: tuple[RatingFact, ...] = ()
    orders: tuple[OrderFact, ...] = ()
    disputes: tuple[DisputeFact, ...] = ()


@dataclass(frozen=True, slots=True)
class TrustScore:
    score: float
    level: Level
    # stars
    bayesian: float
    rating_count: int
    star_average: float | None
    weighted_count: float
    # defects over DEFECT_WINDOW, counted once per order
    defect_rate: float
    defect_orders: int
    window_orders: int
    defects_low_rating: int
    defects_dispute_lost: int
    defects_mandated_refund: int
    defects_not_shipped: int
    # shipping and responses
    on_time_rate: float | None
    shipped_count: int
    response_median_hours: float | None
    completed_orders: int
    penalties: dict[str, float] = field(default_factory=dict)

    @property
    def level_label(self) -> str:
        return LEVEL_LABELS[self.level]

    @property
    def display(self) -> str:
        return f"{self.score:.1f}"


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def bayesian_average(ratings: Iterable[RatingFact], at: datetime) -> tuple[float, float]:
    """(Bayesian mean, total weight of real ratings); older ratings weigh OLD_WEIGHT."""
    total = PRIOR_MEAN * PRIOR_WEIGHT
    weight = 0.0
    for r in ratings:
        w = 1.0 if at - _utc(r.at) <= RECENT else OLD_WEIGHT
        total += w * r.stars
        weight += w
    return total / (PRIOR_WEIGHT + weight), weight


def defect_penalty(rate: float) -> float:
    return min(DEFECT_PENALTY_MAX, rate * 100 * DEFECT_POINTS_PER_PERCENT)


def late_penalty(on_time_rate: float | None) -> float:
    return 0.0 if on_time_rate is None else LATE_PENALTY_MAX * (1 - on_time_rate)


def response_penalty(median_hours: float | None) -> float:
    if median_hours is None or median_hours <= RESPONSE_FAST_H:
        return 0.0
    share = min(1.0, (median_hours - RESPONSE_FAST_H) / (RESPONSE_SLOW_H - RESPONSE_FAST_H))
    return RESPONSE_PENALTY_MAX * share


def level_for(completed_orders: int, defect_rate: float, score: float) -> Level:
    """new < 5 completed orders; then restricted > 5 %, at risk > 2 %, top rated, trusted."""
    if completed_orders < NEW_BELOW_ORDERS:
        return Level.NEW
    if defect_rate > RESTRICTED_ABOVE:
        return Level.RESTRICTED
    if defect_rate > AT_RISK_ABOVE:
        return Level.AT_RISK
    if defect_rate <= TOP_MAX_DEFECT and score >= TOP_MIN_SCORE:
        return Level.TOP_RATED
    return Level.TRUSTED


def compute(facts: Facts, at: datetime) -> TrustScore:
    """The score as of `at`, using only what had happened by then."""
    at = _utc(at)
    ratings = [r for r in facts.ratings if not r.fraud and _utc(r.at) <= at]
    orders = [o for o in facts.orders if o.closed_at is not None and _utc(o.closed_at) <= at]
    bayes, weight = bayesian_average(ratings, at)

    # defects: every order that closed inside the window is counted once, defective or not
    since = at - DEFECT_WINDOW
    window = {o.order_id: o for o in orders
              if _utc(o.closed_at) > since and (o.completed or o.cancelled_not_shipped)}  # type: ignore[arg-type]
    low_rated = {r.order_id for r in ratings if r.stars <= LOW_STARS and r.order_id in window}
    lost = {i for i, o in window.items() if o.dispute_lost}
    mandated = {i for i, o in window.items() if o.mandated_refund}
    not_shipped = {i for i, o in window.items() if o.cancelled_not_shipped}
    defective = low_rated | lost | mandated | not_shipped
    rate = len(defective) / len(window) if window else 0.0

    # shipping punctuality over the last 12 months
    shipped = [o for o in facts.orders if o.shipped_at is not None and o.ship_by is not None
               and at - RECENT < _utc(o.shipped_at) <= at]
    late_cancels = [o for o in orders if o.cancelled_not_shipped and _utc(o.closed_at) > at - RECENT]  # type: ignore[arg-type]
    on_time = sum(1 for o in shipped if _utc(o.shipped_at) <= _utc(o.ship_by))  # type: ignore[arg-type]
    ship_total = len(shipped) + len(late_cancels)
    on_time_rate = on_time / ship_total if ship_total else None

    answered = [(_utc(d.responded_at) - _utc(d.opened_at)).total_seconds() / 3600
                for d in facts.disputes
                if d.responded_at is not None and _utc(d.responded_at) <= at]
    median_h = float(median(answered)) if answered else None

    penalties = {"defects": round(defect_penalty(rate), 4),
                 "late_shipping": round(late_penalty(on_time_rate), 4),
                 "slow_answers": round(response_penalty(median_h), 4)}
    score = bayes - sum(penalties.values())
    score = min(MAX_SCORE, max(MIN_SCORE, score))
    completed = sum(1 for o in orders if o.completed)
    return TrustScore(
        score=round(score, 2), level=level_for(completed, rate, score), bayesian=round(bayes, 4),
        rating_count=len(ratings),
        star_average=round(sum(r.stars for r in ratings) / len(ratings), 2) if ratings else None,
        weighted_count=weight, defect_rate=rate, defect_orders=len(defective),
        window_orders=len(window), defects_low_rating=len(low_rated),
        defects_dispute_lost=len(lost), defects_mandated_refund=len(mandated),
        defects_not_shipped=len(not_shipped), on_time_rate=on_time_rate,
        shipped_count=ship_total, response_median_hours=median_h, completed_orders=completed,
        penalties=penalties,
    )


def month_ends(at: datetime, months: int = 12) -> list[datetime]:
    """The last `months` month boundaries up to `at` (oldest first), ending with `at` itself."""
    at = _utc(at)
    points = [at]
    year, month = at.year, at.month
    for _ in range(months - 1):
        points.append(datetime(year, month, 1, tzinfo=UTC))
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return sorted(points)


def history(facts: Facts, at: datetime, months: int = 12) -> list[tuple[datetime, float]]:
    """(moment, score) at each month start over the last year, and now."""
    return [(point, compute(facts, point).score) for point in month_ends(at, months)]


def star_distribution(stars: Sequence[int]) -> dict[int, int]:
    counts = {s: 0 for s in range(5, 0, -1)}
    for s in stars:
        if s in counts:
            counts[s] += 1
    return counts
