"""Demo escrow data: every state, made through the services (audit + ledger true), idempotent."""

from trustdesk.core.audit import verify_chain
from trustdesk.demo import load_demo
from trustdesk.escrow import services
from trustdesk.escrow.tables import LedgerEntry, Order


async def test_demo_has_orders_in_every_state_and_loading_twice_adds_nothing() -> None:
    await load_demo()
    orders = await Order.select(Order.id, Order.state, Order.external_ref).where(
        Order.external_ref.like("demo:%"))
    states = {o["state"] for o in orders}
    assert {"awaiting_payment", "funded", "shipped", "delivered", "released", "cancelled"} <= states
    by_ref = {o["external_ref"]: o for o in orders}
    refunded = by_ref["demo:cancelled-refunded"]
    assert refunded["state"] == "cancelled"
    assert await services.escrow_balance(refunded["id"]) == 0
    kinds = {r["kind"] for r in await LedgerEntry.select(LedgerEntry.kind).where(
        LedgerEntry.order == refunded["id"])}
    assert kinds == {"fund", "cancel_refund"}
    assert await services.escrow_balance(by_ref["demo:funded"]["id"]) == 475000
    count, entries = await Order.count(), await LedgerEntry.count()
    await load_demo()
    assert await Order.count() == count and await LedgerEntry.count() == entries
    assert (await verify_chain()).ok
    rows = await LedgerEntry.select(LedgerEntry.amount_minor)
    assert sum(r["amount_minor"] for r in rows) == 0
