"""The batch inspection lapse releases exactly the orders that qualify, like release_funds would."""

from datetime import timedelta

from tests.support.factories import make_user
from trustdesk.core import audit
from trustdesk.core.actors import Actor, Role
from trustdesk.core.clock import now, set_clock
from trustdesk.core.tables import OutboxEvent
from trustdesk.escrow import services
from trustdesk.escrow.tables import LedgerEntry, Order, Payment


async def _delivered(seller, buyer, n: int) -> list[int]:
    ids = []
    for i in range(n):
        order = await services.create_order(
            seller.id, services.NewOrder(title=f"Item {i}", amount_minor=10000 + i, shipping_minor=500),
            actor=Actor(Role.SELLER, seller.id))
        await services.claim_for_buyer(order.id, buyer.id, actor=Actor(Role.BUYER, buyer.id))
        await Payment(order=order.id, buyer=buyer.id, reference=f"batch-{order.id}",
                      amount_minor=10500 + i, currency="PKR", created_at=now()).save()
        await services.fund_order(order.id, payment_reference=f"batch-{order.id}", actor=Actor.system())
        await services.ship_order(order.id, carrier="TCS", tracking_number="T1", actor=Actor(Role.SELLER, seller.id))
        await services.confirm_delivery(order.id, actor=Actor(Role.BUYER, buyer.id))
        ids.append(order.id)
    return ids


async def test_releases_lapsed_orders_and_skips_the_rest() -> None:
    seller, buyer = await make_user("seller"), await make_user("buyer")
    ids = await _delivered(seller, buyer, 6)
    # one was disputed meanwhile, one is already released by the buyer
    disputed = await services.load_order_for_update(ids[0])
    await services.hold_for_dispute(disputed, actor=Actor(Role.BUYER, buyer.id))
    await services.release_funds(ids[1], actor=Actor(Role.BUYER, buyer.id))
    try:
        later = now() + timedelta(days=4)  # past every inspection window
        set_clock(lambda: later)
        released = await services.release_after_inspection_many(ids, actor=Actor.system("job"))
        again = await services.release_after_inspection_many(ids, actor=Actor.system("job"))
    finally:
        set_clock(None)
    assert released == ids[2:] and again == []
    states = {r["id"]: r["state"] for r in await Order.select(Order.id, Order.state)}
    assert states[ids[0]] == "disputed" and all(states[i] == "released" for i in ids[1:])
    for order_id in ids[1:]:
        assert await services.escrow_balance(order_id) == 0
    assert await services.escrow_balance(ids[0]) == 10500
    total = sum(r["amount_minor"] for r in await LedgerEntry.select(LedgerEntry.amount_minor))
    assert total == 0
    assert await OutboxEvent.count().where(OutboxEvent.event_type == "order.released") == 5
    assert (await audit.verify_chain()).ok


async def test_nothing_is_released_before_the_window_ends() -> None:
    seller, buyer = await make_user("seller"), await make_user("buyer")
    ids = await _delivered(seller, buyer, 2)
    assert await services.release_after_inspection_many(ids, actor=Actor.system("job")) == []


async def test_platform_inspection_window_is_kept_exact(monkeypatch) -> None:
    from trustdesk.settings import reset_settings_cache

    monkeypatch.setenv("TRUSTDESK_INSPECTION_WINDOW", "30s")
    reset_settings_cache()
    try:
        seller, buyer = await make_user("seller"), await make_user("buyer")
        [order_id] = await _delivered(seller, buyer, 1)
    finally:
        monkeypatch.undo()
        reset_settings_cache()
    order = await services.get_order(order_id)
    from trustdesk.core.clock import aware

    assert (aware(order.inspect_until) - aware(order.delivered_at)).total_seconds() == 30
