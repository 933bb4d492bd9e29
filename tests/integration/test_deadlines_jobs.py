"""Deadline jobs, the sweep, reminders and the outbox relay against the real database, with an
injected clock (no sleeping). Messages go to the in-process stub broker and are drained here by
calling each actor's function; the Redis + worker-process tests live in test_jobs_redis.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import dramatiq
import pytest

from tests.support.factories import make_user
from trustdesk import worker
from trustdesk.core import clock
from trustdesk.core.actors import Actor, Role
from trustdesk.core.tables import EmailMessage, Notification, OutboxEvent, SchedulerState
from trustdesk.escrow import services
from trustdesk.escrow.tables import LedgerEntry, Order
from trustdesk.settings import get_settings

worker.import_tasks()
from trustdesk.core import tasks  # noqa: E402
from trustdesk.escrow import tasks as escrow_tasks  # noqa: E402

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self, start: datetime) -> None:
        self.at = start

    def __call__(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> datetime:
        self.at = self.at + delta
        return self.at


@pytest.fixture
def frozen() -> Iterator[Clock]:
    c = Clock(T0)
    clock.set_clock(c)
    drain_queue()  # messages from other tests must not leak in
    yield c
    clock.set_clock(None)


def stub_messages() -> list[dramatiq.Message]:
    """Pop every message (delayed ones too) from the in-process stub broker's queues."""
    broker = dramatiq.get_broker()
    out = []
    for name in list(broker.queues):
        q = broker.queues[name]
        while not q.empty():
            out.append(dramatiq.Message.decode(q.get_nowait()))
    return out


def drain_queue() -> None:
    stub_messages()


async def run_queued(limit: int = 10_000) -> list[str]:
    """Process queued messages by calling each actor's function, until none are left."""
    broker = dramatiq.get_broker()
    done: list[str] = []
    for _ in range(limit):
        messages = stub_messages()
        if not messages:
            return done
        for message in messages:
            actor = broker.get_actor(message.actor_name)
            fn = getattr(actor.fn, "__wrapped__", actor.fn)
            await fn(*message.args, **message.kwargs)
            done.append(message.actor_name)
    raise AssertionError("queue never drained")


async def make_order(state: str = "awaiting_payment", *, amount: int = 250_000,
                     shipping: int = 15_000) -> tuple[Order, Any, Any]:
    """An order driven through the real services to `state` (clock = the injected one)."""
    seller = await make_user("seller")
    buyer = await make_user("buyer")
    order = await services.create_order(
        seller.id, services.NewOrder(title="Embroidered shawl", amount_minor=amount,
                                     shipping_minor=shipping, inspection_days=3),
        actor=Actor(Role.SELLER, seller.id))
    if state != "awaiting_payment":
        payment = await services.start_payment(order.id, buyer.id)
        await services.complete_payment(payment.reference, succeeded=True, method="card")
    if state in ("shipped", "delivered", "disputed"):
        await services.ship_order(order.id, carrier="TCS", tracking_number="TCS-1",
                                  actor=Actor(Role.SELLER, seller.id))
    if state == "delivered":
        await services.confirm_delivery(order.id, actor=Actor(Role.BUYER, buyer.id))
    return await services.get_order(order.id), seller, buyer


async def postings(order_id: int, kind: str | None = None) -> int:
    rows = await LedgerEntry.select(LedgerEntry.posting_id, LedgerEntry.kind).where(
        LedgerEntry.order == order_id)
    return len({r["posting_id"] for r in rows if kind is None or r["kind"] == kind})


async def ledger_sum() -> int:
    rows = await LedgerEntry.select(LedgerEntry.amount_minor)
    return sum(int(r["amount_minor"]) for r in rows)


# -- each deadline rule ------------------------------------------------------------------------

class TestPayBy:
    async def test_unpaid_order_is_cancelled_once_pay_by_passes(self, frozen: Clock) -> None:
        order, _, _ = await make_order()
        # before the deadline: nothing happens
        frozen.advance(get_settings().pay_window - timedelta(seconds=1))
        assert await escrow_tasks.apply_deadline("order.pay_by", order.id) is False
        assert (await services.get_order(order.id)).state == "awaiting_payment"
        # at the deadline: cancelled with the exact reason the ratings count
        frozen.advance(timedelta(seconds=1))
        assert await escrow_tasks.apply_deadline("order.pay_by", order.id) is True
        done = await services.get_order(order.id)
        assert done.state == "cancelled"
        assert done.cancel_reason == "not_paid_in_time"
        # again (a duplicate message): nothing more
        assert await escrow_tasks.apply_deadline("order.pay_by", order.id) is False
        assert await OutboxEvent.count().where(OutboxEvent.event_type == "order.cancelled") == 1

    async def test_paid_order_ignores_its_old_pay_by(self, frozen: Clock) -> None:
        order, _, _ = await make_order("funded")
        frozen.advance(get_settings().pay_window + timedelta(hours=1))
        assert await escrow_tasks.apply_deadline("order.pay_by", order.id) is False
        assert (await services.get_order(order.id)).state == "funded"


class TestShipBy:
    async def test_unshipped_order_is_cancelled_and_refunded(self, frozen: Clock) -> None:
        order, _, buyer = await make_order("funded")
        frozen.advance(get_settings().ship_window - timedelta(minutes=1))
        assert await escrow_tasks.apply_deadline("order.ship_by", order.id) is False
        frozen.advance(timedelta(minutes=1))
        assert await escrow_tasks.apply_deadline("order.ship_by", order.id) is True
        done = await services.get_order(order.id)
        assert (done.state, done.cancel_reason) == ("cancelled", "not_shipped_in_time")
        assert await services.escrow_balance(order.id) == 0
        assert await services.account_balance(f"refunds:buyer:{buyer.id}") == 265_000
        assert await postings(order.id, "cancel_refund") == 1
        assert await ledger_sum() == 0

    async def test_shipped_order_ignores_ship_by(self, frozen: Clock) -> None:
        order, _, _ = await make_order("shipped")
        frozen.advance(get_settings().ship_window + timedelta(days=1))
        assert await escrow_tasks.apply_deadline("order.ship_by", order.id) is False
        assert (await services.get_order(order.id)).state == "shipped"


class TestConfirmBy:
    async def test_unconfirmed_delivery_is_treated_as_delivered(self, frozen: Clock) -> None:
        order, _, _ = await make_order("shipped")
        frozen.advance(get_settings().confirm_window - timedelta(seconds=1))
        assert await escrow_tasks.apply_deadline("order.confirm_by", order.id) is False
        frozen.advance(timedelta(seconds=1))
        assert await escrow_tasks.apply_deadline("order.confirm_by", order.id) is True
        done = await services.get_order(order.id)
        assert done.state == "delivered"
        assert clock.aware(done.inspect_until) == frozen.at + timedelta(days=3)
        assert await services.escrow_balance(order.id) == 265_000  # still held

    async def test_delivered_order_ignores_confirm_by(self, frozen: Clock) -> None:
        order, _, _ = await make_order("delivered")
        frozen.advance(get_settings().confirm_window + timedelta(days=1))
        assert await escrow_tasks.apply_deadline("order.confirm_by", order.id) is False


class TestInspectUntil:
    async def test_inspected_order_is_released_exactly_once(self, frozen: Clock) -> None:
        order, seller, _ = await make_order("delivered")
        frozen.advance(timedelta(days=3) - timedelta(seconds=1))
        assert await escrow_tasks.apply_deadline("order.inspect_until", order.id) is False
        frozen.advance(timedelta(seconds=1))
        assert await escrow_tasks.apply_deadline("order.inspect_until", order.id) is True
        assert await escrow_tasks.apply_deadline("order.inspect_until", order.id) is False
        assert (await services.get_order(order.id)).state == "released"
        assert await postings(order.id, "release") == 1
        assert await services.account_balance(f"payable:seller:{seller.id}") == 265_000
        assert await ledger_sum() == 0

    async def test_buyer_release_first_leaves_nothing_to_do(self, frozen: Clock) -> None:
        order, _, buyer = await make_order("delivered")
        await services.release_funds(order.id, actor=Actor(Role.BUYER, buyer.id))
        frozen.advance(timedelta(days=4))
        assert await escrow_tasks.apply_deadline("order.inspect_until", order.id) is False
        assert await postings(order.id, "release") == 1

    async def test_unknown_kind_does_nothing(self, frozen: Clock) -> None:
        order, _, _ = await make_order("delivered")
        assert await escrow_tasks.apply_deadline("order.nonsense", order.id) is False


# -- the delayed message, the sweep, reminders ---------------------------------------------------

class TestScheduling:
    async def test_service_enqueues_a_delayed_message_for_the_exact_deadline(
            self, frozen: Clock) -> None:
        order, _, _ = await make_order()
        messages = [m for m in stub_messages() if m.actor_name == "escrow.apply_deadline"]
        assert [m.args[:2] for m in messages] == [("order.pay_by", order.id)]
        eta = messages[0].options["eta"]
        # the stub broker stamps eta from the wall clock: the delay equals the pay window
        assert messages[0].options.get("eta") is not None and eta > 0

    async def test_deadlines_beyond_the_brokers_delay_limit_hop_in_six_day_steps(
            self, frozen: Clock) -> None:
        order, seller, _ = await make_order("funded")
        drain_queue()
        await services.ship_order(order.id, carrier="TCS", tracking_number="T-9",
                                  actor=Actor(Role.SELLER, seller.id))  # confirm_by: 14 days
        hops = [m for m in stub_messages() if m.actor_name == "core.reschedule"]
        assert [m.args[:2] for m in hops] == [("order.confirm_by", order.id)]
        # six days later the hop schedules the next one; at 12 days the real delayed message
        frozen.advance(timedelta(days=6))
        await tasks.reschedule_job.fn.__wrapped__(*hops[0].args)
        again = [m for m in stub_messages() if m.actor_name == "core.reschedule"]
        assert len(again) == 1
        frozen.advance(timedelta(days=6))
        await tasks.reschedule_job.fn.__wrapped__(*again[0].args)
        final = stub_messages()
        assert [m.actor_name for m in final] == ["escrow.apply_deadline"]
        assert final[0].args[:2] == ("order.confirm_by", order.id)

    async def test_sweep_enqueues_every_lapsed_deadline_and_the_jobs_apply_them(
            self, frozen: Clock) -> None:
        unpaid = [(await make_order())[0] for _ in range(3)]
        delivered, _, _ = await make_order("delivered")
        drain_queue()  # the fast-path messages were "lost"
        frozen.advance(timedelta(days=3, seconds=1))
        report = await tasks.sweep_once()
        assert report.deadlines == {"order.pay_by": 3, "order.inspect_until": 1}
        await run_queued()
        for order in unpaid:
            assert (await services.get_order(order.id)).state == "cancelled"
        assert (await services.get_order(delivered.id)).state == "released"
        # a second sweep finds nothing left
        report = await tasks.sweep_once()
        assert report.total == 0
        row = await SchedulerState.select().where(SchedulerState.name == "last_sweep_at").first()
        assert row is not None and row["value"].startswith(frozen.at.date().isoformat())

    async def test_two_sweeps_enqueue_twice_but_apply_once(self, frozen: Clock) -> None:
        order, _, _ = await make_order("delivered")
        drain_queue()
        frozen.advance(timedelta(days=4))
        await tasks.sweep_once()
        await tasks.sweep_once()
        await run_queued()
        assert await postings(order.id, "release") == 1


class TestReminders:
    async def test_seller_is_reminded_once_before_ship_by(self, frozen: Clock) -> None:
        order, seller, _ = await make_order("funded")
        await run_queued()
        frozen.advance(get_settings().ship_window - get_settings().reminder_lead
                       - timedelta(minutes=1))
        await tasks.sweep_once()
        assert await Notification.count().where(
            Notification.dedupe_key.like("reminder.%")) == 0
        frozen.advance(timedelta(minutes=2))
        await tasks.sweep_once()
        await tasks.sweep_once()
        await run_queued()
        rows = await Notification.select().where(Notification.dedupe_key.like("reminder.%"))
        assert [(r["user_id"], r["link"]) for r in rows] == [(seller.id, f"/orders/{order.id}")]
        assert "Ship order" in rows[0]["title"]
        mails = await EmailMessage.select().where(EmailMessage.dedupe_key.like("reminder.%"))
        assert len(mails) == 1 and mails[0]["to_address"] == seller.email
        assert mails[0]["sent_at"] is not None

    async def test_buyer_is_told_to_complain_before_the_seller_is_paid(
            self, frozen: Clock) -> None:
        order, _, buyer = await make_order("delivered")
        frozen.advance(timedelta(days=3) - get_settings().reminder_lead + timedelta(minutes=1))
        await tasks.sweep_once()
        await tasks.sweep_once()
        rows = await Notification.select().where(
            Notification.dedupe_key.like("reminder.order.inspect_until:%"))
        assert len(rows) == 1 and rows[0]["user_id"] == buyer.id
        assert "Complain now or the seller is paid" in rows[0]["title"]


# -- the outbox relay ------------------------------------------------------------------------

class TestRelay:
    async def test_each_event_is_relayed_once_to_the_right_people(self, frozen: Clock) -> None:
        order, seller, buyer = await make_order("funded")
        await run_queued()
        await run_queued()  # nothing left: running again changes nothing
        funded = await OutboxEvent.select().where(OutboxEvent.event_type == "order.funded").first()
        assert funded["relayed_at"] is not None
        notes = await Notification.select().where(
            Notification.dedupe_key.like(f"event:{funded['id']}:%"))
        assert sorted(n["user_id"] for n in notes) == sorted([seller.id, buyer.id])
        assert all(n["link"] == f"/orders/{order.id}" for n in notes)
        # relaying the same event again (a duplicate message) sends nothing more
        from trustdesk.core.relay import relay_event

        assert await relay_event(funded["id"]) is None
        assert await Notification.count().where(
            Notification.dedupe_key.like(f"event:{funded['id']}:%")) == 2
        assert await EmailMessage.count().where(
            EmailMessage.dedupe_key.like(f"event:{funded['id']}:%")) == 2

    async def test_sweep_relays_events_whose_message_was_lost(self, frozen: Clock) -> None:
        await make_order("funded")
        drain_queue()
        assert await OutboxEvent.count().where(OutboxEvent.relayed_at.is_null()) >= 2
        frozen.advance(timedelta(minutes=1))
        report = await tasks.sweep_once()
        assert report.events >= 2
        await run_queued()
        assert await OutboxEvent.count().where(OutboxEvent.relayed_at.is_null()) == 0
        assert await EmailMessage.count().where(EmailMessage.sent_at.is_null()) == 0


class TestLease:
    async def test_only_one_scheduler_holds_the_lease(self, frozen: Clock) -> None:
        ttl = timedelta(seconds=30)
        assert await tasks.acquire_lease("a", ttl) is True
        assert await tasks.acquire_lease("b", ttl) is False
        assert await tasks.acquire_lease("a", ttl) is True  # renewal
        frozen.advance(timedelta(seconds=31))
        assert await tasks.acquire_lease("b", ttl) is True  # a died: b takes over
        assert await tasks.acquire_lease("a", ttl) is False


# -- dispute deadlines (through trustdesk.disputes.deadlines + services) -------------------------

async def open_complaint(reason: str = "damaged", wanted: str = "partial_refund",
                         amount: int = 100_000) -> tuple[Any, Order, Any, Any]:
    from trustdesk.disputes import services as dispute_services

    order, seller, buyer = await make_order("delivered")
    dispute = await dispute_services.open_dispute(
        order.id, reason=reason, wanted=wanted, wanted_amount_minor=amount,
        statement="The glass arrived shattered; photos attached later.",
        actor=Actor(Role.BUYER, buyer.id))
    return dispute, order, seller, buyer


class TestDisputeDeadlines:
    async def test_silent_seller_on_damaged_complaint_pays_the_mandated_refund(
            self, frozen: Clock) -> None:
        from trustdesk.disputes import tasks as dispute_tasks
        from trustdesk.disputes.tables import Dispute

        dispute, order, _, buyer = await open_complaint(amount=100_000)  # asks less than principal
        frozen.advance(get_settings().response_window - timedelta(seconds=1))
        assert await dispute_tasks.apply_deadline("dispute.respond_by", dispute.id) is False
        frozen.advance(timedelta(seconds=1))
        assert await dispute_tasks.apply_deadline("dispute.respond_by", dispute.id) is True
        assert await dispute_tasks.apply_deadline("dispute.respond_by", dispute.id) is False
        row = await Dispute.select().where(Dispute.id == dispute.id).first()
        assert row["mandated_refund"] is True
        # the rule: at least the principal (250,000), whatever the buyer asked for
        assert await services.account_balance(f"refunds:buyer:{buyer.id}") >= 250_000
        assert await services.escrow_balance(order.id) == 0
        assert await ledger_sum() == 0

    async def test_silent_seller_on_other_complaint_is_escalated(self, frozen: Clock) -> None:
        from trustdesk.disputes.tables import Dispute

        dispute, order, _, _ = await open_complaint(reason="not_received", wanted="full_refund")
        drain_queue()
        frozen.advance(get_settings().response_window + timedelta(minutes=1))
        report = await tasks.sweep_once()
        assert report.deadlines.get("dispute.respond_by") == 1
        await run_queued()
        row = await Dispute.select().where(Dispute.id == dispute.id).first()
        assert row["state"] == "escalated"
        assert (await services.get_order(order.id)).state == "disputed"

    async def test_seller_is_reminded_before_respond_by(self, frozen: Clock) -> None:
        dispute, _, seller, _ = await open_complaint()
        frozen.advance(get_settings().response_window - get_settings().reminder_lead
                       + timedelta(minutes=5))
        await tasks.sweep_once()
        await tasks.sweep_once()
        rows = await Notification.select().where(
            Notification.dedupe_key.like("reminder.dispute.respond_by:%"))
        assert [(r["user_id"], r["link"]) for r in rows] == [(seller.id, f"/disputes/{dispute.id}")]
