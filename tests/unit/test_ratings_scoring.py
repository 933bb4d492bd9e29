"""The trust score: table tests for levels and edge cases, hypothesis for its promises."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trustdesk.ratings import scoring
from trustdesk.ratings.scoring import DisputeFact, Facts, Level, OrderFact, RatingFact

AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def orders(n: int, *, days_ago: int = 10, **flags) -> tuple[OrderFact, ...]:
    return tuple(OrderFact(order_id=i, closed_at=AT - timedelta(days=days_ago), completed=True,
                           ship_by=AT - timedelta(days=days_ago + 5),
                           shipped_at=AT - timedelta(days=days_ago + 6), **flags)
                 for i in range(n))


def rated(stars: list[int], *, days_ago: int = 5) -> tuple[RatingFact, ...]:
    return tuple(RatingFact(stars=s, at=AT - timedelta(days=days_ago), order_id=i)
                 for i, s in enumerate(stars))


class TestTable:
    def test_no_ratings_is_the_prior_and_new(self) -> None:
        score = scoring.compute(Facts(), AT)
        assert score.score == 3.5 and score.bayesian == 3.5
        assert score.level == Level.NEW and score.rating_count == 0
        assert score.defect_rate == 0 and score.on_time_rate is None

    def test_all_five_stars_approach_five_but_stay_honest(self) -> None:
        few = scoring.compute(Facts(ratings=rated([5] * 3), orders=orders(3)), AT)
        many = scoring.compute(Facts(ratings=rated([5] * 100), orders=orders(100)), AT)
        assert few.score == pytest.approx((3.5 * 7 + 15) / 10, abs=0.01)
        assert few.level == Level.NEW
        assert many.score == pytest.approx((3.5 * 7 + 500) / 107, abs=0.01)
        assert many.level == Level.TOP_RATED

    def test_one_one_star_among_many(self) -> None:
        # 1 defect in 100 orders = 1 %: above top rated's 0.5 %, below at risk's 2 %
        score = scoring.compute(Facts(ratings=rated([5] * 99 + [1]), orders=orders(100)), AT)
        assert score.defect_orders == 1 and score.defect_rate == pytest.approx(0.01)
        assert score.level == Level.TRUSTED
        assert score.penalties["defects"] == pytest.approx(0.2)

    @pytest.mark.parametrize(("completed", "defects", "stars", "level"), [
        (4, 0, 5, Level.NEW),
        (5, 0, 3, Level.TRUSTED),
        (200, 1, 5, Level.TOP_RATED),     # 0.5 % exactly is still top rated
        (200, 2, 5, Level.TRUSTED),       # 1 %
        (100, 2, 5, Level.TRUSTED),       # 2 % exactly is not yet at risk
        (100, 3, 5, Level.AT_RISK),       # 3 %
        (100, 5, 5, Level.AT_RISK),       # 5 % exactly
        (100, 6, 5, Level.RESTRICTED),    # 6 %
        (10, 10, 1, Level.RESTRICTED),
    ])
    def test_levels(self, completed, defects, stars, level) -> None:
        base = orders(completed)
        flagged = tuple(OrderFact(**{**{f: getattr(o, f) for f in o.__slots__}, "dispute_lost": i < defects})
                        for i, o in enumerate(base))
        facts = Facts(ratings=rated([stars] * completed), orders=flagged)
        assert scoring.compute(facts, AT).level == level

    def test_each_order_counts_once_however_many_defects(self) -> None:
        o = OrderFact(order_id=1, closed_at=AT - timedelta(days=3), completed=True,
                      dispute_lost=True, mandated_refund=True)
        facts = Facts(ratings=(RatingFact(1, AT, order_id=1),), orders=(o, *orders(10)[2:]))
        score = scoring.compute(facts, AT)
        assert score.defect_orders == 1 and score.window_orders == 9
        assert (score.defects_low_rating, score.defects_dispute_lost, score.defects_mandated_refund) == (1, 1, 1)

    def test_defects_older_than_90_days_are_forgotten(self) -> None:
        old = orders(10, days_ago=120, dispute_lost=True)
        assert scoring.compute(Facts(orders=old), AT).defect_rate == 0

    def test_cancellation_for_not_shipping_is_a_defect_and_late(self) -> None:
        cancelled = OrderFact(order_id=99, closed_at=AT - timedelta(days=1), completed=False,
                              cancelled_not_shipped=True)
        score = scoring.compute(Facts(orders=(*orders(9), cancelled)), AT)
        assert score.defects_not_shipped == 1 and score.defect_rate == pytest.approx(0.1)
        assert score.on_time_rate == pytest.approx(0.9)

    def test_old_ratings_weigh_half(self) -> None:
        old = (RatingFact(1, AT - timedelta(days=400)),)
        bayes, weight = scoring.bayesian_average(old, AT)
        assert weight == 0.5 and bayes == pytest.approx((24.5 + 0.5) / 7.5)

    def test_hidden_for_fraud_does_not_count(self) -> None:
        facts = Facts(ratings=(RatingFact(1, AT, fraud=True),))
        assert scoring.compute(facts, AT).rating_count == 0

    def test_slow_answers_cost_up_to_the_maximum(self) -> None:
        def with_answer(hours: float) -> float:
            d = DisputeFact(opened_at=AT - timedelta(days=10), responded_at=AT - timedelta(days=10) + timedelta(hours=hours))
            return scoring.compute(Facts(disputes=(d,)), AT).penalties["slow_answers"]
        assert with_answer(5) == 0
        assert with_answer(48) == pytest.approx(scoring.RESPONSE_PENALTY_MAX / 2)
        assert with_answer(200) == scoring.RESPONSE_PENALTY_MAX

    def test_history_has_twelve_points_ending_now(self) -> None:
        points = scoring.history(Facts(ratings=rated([5] * 5)), AT)
        assert len(points) == 12 and points[-1][0] == AT
        assert [p for p, _ in points] == sorted(p for p, _ in points)

    def test_star_distribution(self) -> None:
        assert scoring.star_distribution([5, 5, 1, 3]) == {5: 2, 4: 0, 3: 1, 2: 0, 1: 1}


# -- properties -------------------------------------------------------------------------------

when = st.integers(min_value=0, max_value=800).map(lambda d: AT - timedelta(days=d))
rating_st = st.builds(RatingFact, stars=st.integers(1, 5), at=when,
                      order_id=st.one_of(st.none(), st.integers(0, 40)), fraud=st.booleans())
order_st = st.builds(
    OrderFact, order_id=st.integers(0, 40), closed_at=st.one_of(st.none(), when),
    completed=st.booleans(), cancelled_not_shipped=st.booleans(), dispute_lost=st.booleans(),
    mandated_refund=st.booleans(), ship_by=st.one_of(st.none(), when),
    shipped_at=st.one_of(st.none(), when))
dispute_st = st.builds(DisputeFact, opened_at=when,
                       responded_at=st.one_of(st.none(), when))
facts_st = st.builds(Facts, ratings=st.lists(rating_st, max_size=30).map(tuple),
                     orders=st.lists(order_st, max_size=30, unique_by=lambda o: o.order_id).map(tuple),
                     disputes=st.lists(dispute_st, max_size=5).map(tuple))


@settings(max_examples=300, deadline=None)
@given(facts_st)
def test_score_stays_within_one_and_five(facts: Facts) -> None:
    score = scoring.compute(facts, AT)
    assert 1.0 <= score.score <= 5.0
    assert 0.0 <= score.defect_rate <= 1.0


@settings(max_examples=300, deadline=None)
@given(facts_st, when)
def test_adding_a_five_star_rating_never_lowers_the_score(facts: Facts, at: datetime) -> None:
    before = scoring.compute(facts, AT).score
    more = Facts(ratings=(*facts.ratings, RatingFact(5, at, order_id=None)), orders=facts.orders,
                 disputes=facts.disputes)
    assert scoring.compute(more, AT).score >= before


@settings(max_examples=300, deadline=None)
@given(facts_st, st.data())
def test_a_defect_never_raises_the_score(facts: Facts, data: st.DataObject) -> None:
    before = scoring.compute(facts, AT).score
    kind = data.draw(st.sampled_from(["low_rating", "dispute_lost", "mandated_refund", "new_not_shipped"]))
    if kind == "low_rating":
        stars = data.draw(st.integers(1, 2))
        order_id = data.draw(st.one_of(st.none(), st.integers(0, 40)))
        worse = Facts(ratings=(*facts.ratings, RatingFact(stars, AT - timedelta(days=1), order_id=order_id)),
                      orders=facts.orders, disputes=facts.disputes)
    elif kind == "new_not_shipped":
        cancelled = OrderFact(order_id=1000, closed_at=AT - timedelta(days=1), completed=False,
                              cancelled_not_shipped=True)
        worse = Facts(ratings=facts.ratings, orders=(*facts.orders, cancelled), disputes=facts.disputes)
    else:
        if not facts.orders:
            return
        i = data.draw(st.integers(0, len(facts.orders) - 1))
        o = facts.orders[i]
        changed = OrderFact(**{**{f: getattr(o, f) for f in o.__slots__}, kind: True})
        worse = Facts(ratings=facts.ratings, orders=(*facts.orders[:i], changed, *facts.orders[i + 1:]),
                      disputes=facts.disputes)
    assert scoring.compute(worse, AT).score <= before
