"""Dispute services end to end: every transition with the right and wrong roles, money after
every outcome, deadlines and lapses, audit and outbox rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from tests.integration.test_disputes_support import (
    PRICE,
    SHIPPING,
    assert_ledger_settled,
    file,
    jpeg,
    make_cast,
    make_order,
    upload,
)
from trustdesk.core.actors import Actor, Role
from trustdesk.core.clock import now, set_clock
from trustdesk.core.errors import (
    Conflict,
    InvalidTransition,
    NotAllowed,
    NotFound,
    ValidationFailed,
)
from trustdesk.core.tables import AuditEntry, OutboxEvent
from trustdesk.disputes import policy, services
from trustdesk.disputes.tables import Dispute, DisputeEvent, Evidence
from trustdesk.escrow import services as escrow

TOTAL = PRICE + SHIPPING


@pytest.fixture
def clock() -> Iterator[list[timedelta]]:
    """Move time forward: clock[0] += timedelta(...)."""
    offset = [timedelta(0)]
    real = datetime.now
    from datetime import UTC

    set_clock(lambda: real(UTC) + offset[0])
    yield offset
    set_clock(None)


async def events(dispute_id: int) -> list[dict]:
    rows = await OutboxEvent.select().where(
        (OutboxEvent.subject_type == "dispute") & (OutboxEvent.subject_id == dispute_id)).order_by(OutboxEvent.id)
    for r in rows:
        r["data"] = json.loads(r["data"]) if isinstance(r["data"], str) else r["data"]
    return rows


class TestOpenDispute:
    @pytest.mark.parametrize("state", ["funded", "shipped", "delivered"])
    async def test_buyer_files_and_the_order_freezes(self, state: str) -> None:
        cast = await make_cast()
        order = await make_order(cast, state)
        d = await file(cast, order, uploads=[upload("photo.jpg", jpeg(gps=True))])
        assert d.state == "awaiting_seller" and d.respond_by is not None
        assert (await escrow.get_order(order.id)).state == "disputed"
        assert await escrow.escrow_balance(order.id) == TOTAL
        ev = await Evidence.objects().where(Evidence.dispute == d.id)
        assert len(ev) == 1 and ev[0].content_type == "image/jpeg"
        audit = await AuditEntry.select().where(AuditEntry.action == "disputes:evidence:filed")
        assert ev[0].sha256 in audit[0]["data"]
        (opened,) = await events(d.id)
        assert opened["event_type"] == "dispute.opened" and opened["data"]["next_actor"] == "seller"
        assert opened["seller_id"] == cast.seller.id and opened["buyer_id"] == cast.buyer.id

    @pytest.mark.parametrize("state", ["awaiting_payment", "released"])
    async def test_refused_outside_the_window(self, state: str) -> None:
        cast = await make_cast()
        order = await make_order(cast, state)
        with pytest.raises(InvalidTransition):
            await file(cast, order)
        assert await Dispute.count() == 0

    async def test_refused_after_the_inspection_window(self, clock: list[timedelta]) -> None:
        cast = await make_cast()
        order = await make_order(cast, "delivered")
        clock[0] = timedelta(days=4)
        with pytest.raises(InvalidTransition, match="inspection window"):
            await file(cast, order)

    async def test_seller_is_refused_and_strangers_get_not_found(self) -> None:
        cast = await make_cast()
        order = await make_order(cast)
        for actor, error in ((cast.s, NotAllowed), (Actor(Role.BUYER, cast.other_buyer.id), NotFound),
                             (Actor(Role.SELLER, cast.other_seller.id), NotFound)):
            with pytest.raises(error):
                await services.open_dispute(order.id, reason="damaged", wanted="full_refund",
                                            statement="long enough statement", actor=actor)
        assert await Dispute.count() == 0

    @pytest.mark.parametrize(("field", "kwargs"), [
        ("reason", {"reason": "bored"}), ("wanted", {"wanted": "money"}),
        ("statement", {"statement": "short"}),
        ("wanted_amount", {"wanted": "partial_refund", "wanted_amount_minor": None}),
        ("wanted_amount", {"wanted": "partial_refund", "wanted_amount_minor": TOTAL}),
    ])
    async def test_bad_input_names_the_field_and_writes_nothing(self, field: str, kwargs: dict) -> None:
        cast = await make_cast()
        order = await make_order(cast)
        args = {"reason": "damaged", "wanted": "full_refund", "statement": "broken on arrival",
                **kwargs}
        with pytest.raises(ValidationFailed) as info:
            await services.open_dispute(order.id, actor=cast.b, **args)
        assert info.value.field == field
        assert (await escrow.get_order(order.id)).state == "delivered"
        assert await Dispute.count() == 0


class TestSellerAnswers:
    async def test_accept_full_refund_refunds_everything(self) -> None:
        cast = await make_cast()
        d = await file(cast)
        d = await services.respond(d.id, action="accept_full_refund", actor=cast.s)
        assert (d.state, d.outcome, d.resolution, d.refund_minor) == ("resolved", "full_refund", "agreement", TOTAL)
        assert d.seller_responded_at is not None
        await assert_ledger_settled(d.order, "refunded", TOTAL)

    async def test_partial_offer_then_accept_splits_the_money(self) -> None:
        cast = await make_cast()
        d = await file(cast)
        d = await services.offer_partial(d.id, amount_minor=30_000, actor=cast.s)
        assert d.state == "awaiting_buyer" and d.offer_answer_by is not None and d.respond_by is None
        with pytest.raises(NotAllowed):
            await services.accept_offer(d.id, actor=cast.s)
        d = await services.accept_offer(d.id, actor=cast.b)
        assert (d.outcome, d.refund_minor) == ("partial_refund", 30_000)
        await assert_ledger_settled(d.order, "partially_refunded", 30_000)

    async def test_partial_offer_with_return_goes_through_the_return(self) -> None:
        cast = await make_cast()
        d = await file(cast)
        with pytest.raises(ValidationFailed):
            await services.offer_partial(d.id, amount_minor=50_000, keep_item=False, actor=cast.s)
        d = await services.offer_partial(d.id, amount_minor=50_000, keep_item=False,
                                         return_address="12 Mall Road, Lahore", actor=cast.s)
        d = await services.accept_offer(d.id, actor=cast.b)
        assert d.state == "awaiting_return" and d.return_ship_by is not None
        d = await services.mark_return_shipped(d.id, carrier="TCS", tracking="R-1", actor=cast.b)
        assert d.return_receive_by is not None and d.return_ship_by is None
        d = await services.confirm_return_received(d.id, actor=cast.s)
        assert (d.outcome, d.resolution, d.refund_minor) == ("refund_after_return", "agreement", 50_000)
        await assert_ledger_settled(d.order, "partially_refunded", 50_000)

    async def test_replacement_accepted_resumes_the_order(self) -> None:
        cast = await make_cast()
        d = await file(cast)
        await services.offer_replacement(d.id, actor=cast.s, statement="New one ships today")
        d = await services.accept_offer(d.id, actor=cast.b)
        assert (d.state, d.outcome) == ("resolved", "replacement")
        assert (await escrow.get_order(d.order)).state == "delivered"
        assert await escrow.escrow_balance(d.order) == TOTAL

    async def test_contest_escalates_with_a_decision_deadline(self) -> None:
        cast = await make_cast()
        d = await file(cast)
        with pytest.raises(ValidationFailed):
            await services.contest(d.id, statement="no", actor=cast.s)
        d = await services.contest(d.id, statement="It left my shop perfect.", actor=cast.s)
        assert d.state == "escalated" and d.decide_by is not None and d.escalated_at is not None
        assert (await events(d.id))[-1]["event_type"] == "dispute.escalated"
        assert (await events(d.id))[-1]["data"]["next_actor"] == "mediator"

    @pytest.mark.parametrize("who", ["buyer", "mediator", "stranger"])
    async def test_only_the_seller_answers(self, who: str) -> None:
        cast = await make_cast()
        d = await file(cast)
        actor = {"buyer": cast.b, "mediator": cast.m,
                 "stranger": Actor(Role.SELLER, cast.other_seller.id)}[who]
        with pytest.raises((NotAllowed, NotFound)):
            await services.respond(d.id, action="accept_full_refund", actor=actor)
        assert (await services.get_dispute(d.id)).state == "awaiting_seller"

    async def test_offer_of_everything_is_refused(self) -> None:
        cast = await make_cast()
        d = await file(cast)
        with pytest.raises(ValidationFailed):
            await services.offer_partial(d.id, amount_minor=TOTAL, actor=cast.s)


class TestBuyerAnswers:
    async def test_reject_escalates(self) -> None:
        cast = await make_cast()
        d = await file(cast)
        await services.offer_partial(d.id, amount_minor=10_000, actor=cast.s)
        d = await services.reject_offer(d.id, actor=cast.b)
        assert d.state == "escalated" and d.offer_answer_by is None

    @pytest.mark.parametrize("state", ["funded", "shipped", "delivered"])
    async def test_withdraw_resumes_with_the_window_left(self, state: str, clock: list[timedelta]) -> None:
        cast = await make_cast()
        order = await make_order(cast, state)
        column = {"funded": "ship_by", "shipped": "confirm_by", "delivered": "inspect_until"}[state]
        left_before = getattr(order, column) - now()
        d = await file(cast, order)
        clock[0] = timedelta(days=1)
        d = await services.withdraw(d.id, actor=cast.b)
        assert (d.state, d.outcome, d.resolution) == ("withdrawn", "withdrawn", "withdrawn")
        order = await escrow.get_order(order.id)
        assert order.state == state
        from trustdesk.core.clock import aware

        left_after = aware(getattr(order, column)) - now()
        assert abs((left_after - left_before).total_seconds()) < 5
        assert await escrow.escrow_balance(order.id) == TOTAL

    async def test_mediator_can_be_asked_only_after_48_hours(self, clock: list[timedelta]) -> None:
        cast = await make_cast()
        d = await file(cast)
        with pytest.raises(InvalidTransition, match="mediator from"):
            await services.request_mediator(d.id, actor=cast.b)
        clock[0] = timedelta(hours=48, minutes=1)
        d = await services.request_mediator(d.id, actor=cast.s)
        assert d.state == "escalated"


async def escalated(cast, **kw):
    d = await file(cast, **kw)
    return await services.contest(d.id, statement="Nothing wrong with it.", actor=cast.s)


class TestMediators:
    async def test_rule_requires_assignment(self) -> None:
        cast = await make_cast()
        d = await escalated(cast)
        with pytest.raises(NotAllowed, match="Assign"):
            await services.rule(d.id, outcome="full_refund", reasons="x" * 25, actor=cast.m)
        await services.assign_mediator(d.id, actor=cast.m)
        other = Actor(Role.MEDIATOR, (await make_cast()).mediator.id)
        with pytest.raises(InvalidTransition):
            await services.assign_mediator(d.id, actor=other)
        with pytest.raises(NotAllowed):
            await services.assign_mediator(d.id, actor=cast.b)

    async def test_upheld_quality_complaint_below_principal_is_refused(self) -> None:
        cast = await make_cast()
        d = await escalated(cast)
        await services.assign_mediator(d.id, actor=cast.m)
        with pytest.raises(policy.RuleViolation) as info:
            await services.rule(d.id, outcome="partial_refund", amount_minor=PRICE - 1,
                                reasons="Partly upheld: minor flaws.", actor=cast.m)
        assert policy.MANDATED_REFUND_RULE in info.value.message
        assert (await services.get_dispute(d.id)).state == "escalated"
        assert (await escrow.get_order(d.order)).state == "disputed"

    @pytest.mark.parametrize(("outcome", "amount", "shipping", "order_state", "refund"), [
        ("full_refund", None, False, "partially_refunded", PRICE),
        ("full_refund", None, True, "refunded", TOTAL),
        ("partial_refund", PRICE + 5_000, False, "partially_refunded", PRICE + 5_000),
        ("release_to_seller", None, False, "released", 0),
    ])
    async def test_rulings_move_the_money(self, outcome, amount, shipping, order_state, refund) -> None:
        cast = await make_cast()
        d = await escalated(cast)
        await services.assign_mediator(d.id, actor=cast.m)
        d = await services.rule(d.id, outcome=outcome, amount_minor=amount, include_shipping=shipping,
                                reasons="Photos show the seams split at first wear.", actor=cast.m)
        assert d.state == "resolved" and d.resolution == "ruling" and d.refund_minor == refund
        assert d.ruled_for == ("seller" if outcome == "release_to_seller" else "buyer")
        assert d.mandated_refund == (refund > 0)
        await assert_ledger_settled(d.order, order_state, refund)

    async def test_refund_after_return_then_seller_confirms(self) -> None:
        cast = await make_cast()
        d = await escalated(cast)
        await services.assign_mediator(d.id, actor=cast.m)
        d = await services.rule(d.id, outcome="refund_after_return", include_shipping=True,
                                reasons="Return it unused, then full refund.",
                                return_address="Shop 4, Liberty Market, Lahore", actor=cast.m)
        assert d.state == "awaiting_return" and d.ruled_refund_minor == TOTAL
        with pytest.raises(NotAllowed):
            await services.mark_return_shipped(d.id, carrier="TCS", tracking="X", actor=cast.s)
        await services.mark_return_shipped(d.id, carrier="TCS", tracking="X1", actor=cast.b)
        d = await services.confirm_return_received(d.id, actor=cast.s)
        assert (d.outcome, d.resolution) == ("refund_after_return", "ruling")
        await assert_ledger_settled(d.order, "refunded", TOTAL)

    async def test_request_information_and_the_party_answers(self) -> None:
        cast = await make_cast()
        d = await escalated(cast)
        await services.assign_mediator(d.id, actor=cast.m)
        d = await services.request_information(d.id, party="seller", question="Send the courier receipt.",
                                               due_at=now() + timedelta(hours=24), actor=cast.m)
        assert d.info_from == "seller" and d.info_due_by is not None
        assert services.whose_turn(d) == "seller"
        await services.post_message(d.id, body="Receipt attached soon.", actor=cast.s)
        d = await services.get_dispute(d.id)
        assert d.info_from is None and d.info_due_by is None


class TestLapses:
    async def test_quality_complaint_lapse_is_a_mandated_refund(self, clock) -> None:
        cast = await make_cast()
        d = await file(cast)
        assert await services.lapse_seller_response(d.id) is None  # not yet
        clock[0] = timedelta(days=3, seconds=1)
        d = await services.lapse_seller_response(d.id)
        assert (d.state, d.resolution, d.mandated_refund, d.refund_minor) == ("resolved", "mandated", True, TOTAL)
        assert await services.lapse_seller_response(d.id) is None  # idempotent
        await assert_ledger_settled(d.order, "refunded", TOTAL)

    async def test_mandated_refund_is_at_least_the_principal(self, clock) -> None:
        cast = await make_cast()
        d = await file(cast, wanted="partial_refund", amount=1_000)
        clock[0] = timedelta(days=3, seconds=1)
        d = await services.lapse_seller_response(d.id)
        assert d.refund_minor == PRICE
        await assert_ledger_settled(d.order, "partially_refunded", PRICE)

    async def test_not_received_lapse_escalates(self, clock) -> None:
        cast = await make_cast()
        d = await file(cast, reason="not_received")
        clock[0] = timedelta(days=3, seconds=1)
        d = await services.lapse_seller_response(d.id)
        assert d.state == "escalated" and d.decide_by is not None

    async def test_offer_lapse_escalates(self, clock) -> None:
        cast = await make_cast()
        d = await file(cast)
        await services.offer_partial(d.id, amount_minor=5_000, actor=cast.s)
        clock[0] = timedelta(days=3, seconds=1)
        assert (await services.lapse_offer_answer(d.id)).state == "escalated"
        assert await services.lapse_offer_answer(d.id) is None

    async def _return_ruling(self, cast):
        d = await escalated(cast)
        await services.assign_mediator(d.id, actor=cast.m)
        return await services.rule(d.id, outcome="refund_after_return",
                                   reasons="Return it first, then the refund is paid.",
                                   return_address="Shop 4, Liberty Market, Lahore", actor=cast.m)

    async def test_return_never_shipped_releases_to_the_seller(self, clock) -> None:
        cast = await make_cast()
        d = await self._return_ruling(cast)
        clock[0] = timedelta(days=7, seconds=1)
        d = await services.lapse_return_shipment(d.id)
        assert (d.outcome, d.ruled_for, d.resolution) == ("release_to_seller", "seller", "lapse")
        await assert_ledger_settled(d.order, "released", 0)

    async def test_return_shipped_but_never_confirmed_pays_the_refund(self, clock) -> None:
        cast = await make_cast()
        d = await self._return_ruling(cast)
        await services.mark_return_shipped(d.id, carrier="TCS", tracking="Z9", actor=cast.b)
        assert await services.lapse_return_shipment(d.id) is None
        clock[0] = timedelta(days=7, seconds=1)
        d = await services.lapse_return_receipt(d.id)
        assert (d.outcome, d.refund_minor) == ("refund_after_return", PRICE)
        await assert_ledger_settled(d.order, "partially_refunded", PRICE)

    async def test_info_and_mediation_lapses_flag_overdue_and_notify(self, clock) -> None:
        cast = await make_cast()
        d = await escalated(cast)
        await services.assign_mediator(d.id, actor=cast.m)
        await services.request_information(d.id, party="buyer", question="Send a photo of the label.",
                                           due_at=now() + timedelta(hours=2), actor=cast.m)
        clock[0] = timedelta(hours=3)
        d = await services.lapse_info_request(d.id)
        assert d.overdue and d.info_from is None
        assert (await events(d.id))[-1]["data"]["next_actor"] == "mediator"
        clock[0] = timedelta(days=6)
        d = await services.lapse_mediation(d.id)
        assert d.overdue and d.decide_by is None
        other = (await make_cast()).mediator
        d = await services.assign_mediator(d.id, actor=Actor(Role.MEDIATOR, other.id))
        assert d.assigned_mediator == other.id and not d.overdue and d.decide_by is not None


class TestConversation:
    async def test_messages_from_parties_and_mediator_not_strangers(self) -> None:
        cast = await make_cast()
        d = await file(cast)
        for actor in (cast.b, cast.s, cast.m):
            await services.post_message(d.id, body="hello", actor=actor)
        with pytest.raises(NotFound):
            await services.post_message(d.id, body="hi", actor=Actor(Role.BUYER, cast.other_buyer.id))
        kinds = [e.kind for e in await DisputeEvent.objects().where(DisputeEvent.dispute == d.id)]
        assert kinds.count("message") == 3

    async def test_closed_disputes_take_no_messages_or_evidence(self) -> None:
        cast = await make_cast()
        d = await file(cast)
        await services.withdraw(d.id, actor=cast.b)
        with pytest.raises(InvalidTransition):
            await services.post_message(d.id, body="hello", actor=cast.s)
        with pytest.raises(InvalidTransition):
            await services.add_evidence(d.id, uploads=[upload("a.jpg", jpeg())], actor=cast.b)


@pytest.mark.parametrize("outcome", ["full", "partial", "after_return", "release", "withdrawn",
                                     "mandated", "agreement_partial"])
async def test_ledger_after_every_outcome(outcome: str, clock) -> None:
    cast = await make_cast()
    d = await file(cast)
    if outcome == "withdrawn":
        await services.withdraw(d.id, actor=cast.b)
        await escrow.release_funds(d.order, actor=cast.b)  # the order then completes normally
        await assert_ledger_settled(d.order, "released", 0)
        return
    if outcome == "mandated":
        clock[0] = timedelta(days=3, seconds=5)
        await services.lapse_seller_response(d.id)
        await assert_ledger_settled(d.order, "refunded", TOTAL)
        return
    if outcome == "agreement_partial":
        await services.offer_partial(d.id, amount_minor=40_000, actor=cast.s)
        await services.accept_offer(d.id, actor=cast.b)
        await assert_ledger_settled(d.order, "partially_refunded", 40_000)
        return
    await services.contest(d.id, statement="Nothing wrong with it.", actor=cast.s)
    await services.assign_mediator(d.id, actor=cast.m)
    if outcome == "full":
        await services.rule(d.id, outcome="full_refund", include_shipping=True, reasons="r" * 25, actor=cast.m)
        await assert_ledger_settled(d.order, "refunded", TOTAL)
    elif outcome == "partial":
        await services.rule(d.id, outcome="partial_refund", amount_minor=PRICE, reasons="r" * 25, actor=cast.m)
        await assert_ledger_settled(d.order, "partially_refunded", PRICE)
    elif outcome == "after_return":
        await services.rule(d.id, outcome="refund_after_return", reasons="r" * 25,
                            return_address="Some street 1, Karachi", actor=cast.m)
        await services.mark_return_shipped(d.id, carrier="TCS", tracking="1", actor=cast.b)
        await services.confirm_return_received(d.id, actor=cast.m)
        await assert_ledger_settled(d.order, "partially_refunded", PRICE)
    else:
        await services.rule(d.id, outcome="release_to_seller", reasons="r" * 25, actor=cast.m)
        await assert_ledger_settled(d.order, "released", 0)


async def test_racing_answers_apply_once() -> None:
    import asyncio

    cast = await make_cast()
    d = await file(cast)
    await services.offer_partial(d.id, amount_minor=10_000, actor=cast.s)
    # accepting and rejecting both need an open offer: whichever commits first wins
    results = await asyncio.gather(services.accept_offer(d.id, actor=cast.b),
                                   services.reject_offer(d.id, actor=cast.b),
                                   services.accept_offer(d.id, actor=cast.b), return_exceptions=True)
    ok = [r for r in results if not isinstance(r, Exception)]
    assert len(ok) == 1, results
    assert all(isinstance(r, (InvalidTransition, Conflict)) or not isinstance(r, Exception)
               for r in results)
    d = await services.get_dispute(d.id)
    if d.state == "resolved":
        await assert_ledger_settled(d.order, "partially_refunded", 10_000)
    else:
        assert d.state == "escalated" and await escrow.escrow_balance(d.order) == TOTAL
