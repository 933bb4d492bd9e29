"""The escrow core end to end on services: fund, ship, deliver, release; ledger balances."""

from tests.support.factories import make_user
from trustdesk.core.actors import Actor, Role
from trustdesk.core.clock import now
from trustdesk.escrow import services
from trustdesk.escrow.tables import LedgerEntry, Payment


async def test_order_lifecycle_moves_money_through_escrow() -> None:
    # given
    seller = await make_user("seller")
    buyer = await make_user("buyer")
    order = await services.create_order(
        seller.id, services.NewOrder(title="Lawn suit", amount_minor=450000, shipping_minor=25000),
        actor=Actor(Role.SELLER, seller.id))
    await services.claim_for_buyer(order.id, buyer.id, actor=Actor(Role.BUYER, buyer.id))
    payment = Payment(order=order.id, buyer=buyer.id, reference="ref-1", amount_minor=475000,
                      currency="PKR", created_at=now())
    await payment.save()
    # when
    await services.fund_order(order.id, payment_reference="ref-1", actor=Actor.system("web"))
    await services.fund_order(order.id, payment_reference="ref-1", actor=Actor.system("web"))
    assert await services.escrow_balance(order.id) == 475000
    await services.ship_order(order.id, carrier="TCS", tracking_number="123",
                              actor=Actor(Role.SELLER, seller.id))
    await services.confirm_delivery(order.id, actor=Actor(Role.BUYER, buyer.id))
    done = await services.release_funds(order.id, actor=Actor(Role.BUYER, buyer.id))
    # then
    assert done.state == "released"
    assert await services.escrow_balance(order.id) == 0
    assert await services.account_balance(f"payable:seller:{seller.id}") == 475000
    rows = await LedgerEntry.select(LedgerEntry.amount_minor)
    assert sum(r["amount_minor"] for r in rows) == 0
