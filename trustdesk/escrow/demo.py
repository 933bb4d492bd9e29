"""Demo orders between the demo buyer and Demo Store, one per escrow state, made through the
services so the audit log and ledger tell the truth. Idempotent: each carries external_ref
"demo:<name>" and is made only if missing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from trustdesk.accounts.tables import User
from trustdesk.core.actors import Actor, Role
from trustdesk.escrow import services
from trustdesk.escrow.tables import Order

BUYER_EMAIL = "buyer@demo.trustdesk"
SELLER_EMAIL = "seller@demo.trustdesk"

# marker -> (title, description, price minor, shipping minor, inspection days, steps to take)
DEMO_ORDERS: list[tuple[str, str, str, int, int, int, tuple[str, ...]]] = [
    ("demo:awaiting_payment", "Handmade Multani khussa, size 38", "Gold thread, leather sole.",
     350000, 20000, 3, ()),
    ("demo:funded", "Embroidered lawn suit (3 piece), size M", "Unstitched; shirt, dupatta, trouser.",
     450000, 25000, 3, ("pay",)),
    ("demo:shipped", "Peshawari chappal, size 42", "Brown, hand-stitched.",
     600000, 30000, 5, ("pay", "ship")),
    ("demo:delivered", "Blue pottery vase from Multan", "Hand-painted, 30 cm tall.",
     280000, 35000, 3, ("pay", "ship", "deliver")),
    ("demo:released", "Ajrak shawl", "Block-printed cotton, 2.5 m.",
     220000, 15000, 3, ("pay", "ship", "deliver", "release")),
    ("demo:cancelled-unpaid", "Kashmiri pashmina stole", "Link cancelled before anyone paid.",
     900000, 0, 3, ("cancel",)),
    ("demo:cancelled-refunded", "Onyx chess set", "Seller ran out of stock after payment.",
     750000, 40000, 3, ("pay", "cancel")),
]


async def load() -> bool:
    buyer = await User.objects().where(User.email == BUYER_EMAIL).first()
    seller = await User.objects().where(User.email == SELLER_EMAIL).first()
    if buyer is None or seller is None:
        return False
    created = False
    for marker, title, description, price, shipping, days, steps in DEMO_ORDERS:
        exists = await Order.exists().where((Order.external_ref == marker) & (Order.seller == seller.id))
        if exists:
            continue
        await _make(buyer.id, seller.id, marker, title, description, price, shipping, days, steps)
        created = True
    return created


async def _make(buyer_id: int, seller_id: int, marker: str, title: str, description: str,
                price: int, shipping: int, days: int, steps: tuple[str, ...]) -> Order:
    as_seller = Actor(Role.SELLER, seller_id, "cli")
    as_buyer = Actor(Role.BUYER, buyer_id, "cli")
    order = await services.create_order(seller_id, services.NewOrder(
        title=title, description=description, amount_minor=price, shipping_minor=shipping,
        inspection_days=days, external_ref=marker), actor=as_seller)

    async def pay() -> None:
        payment = await services.start_payment(order.id, buyer_id, as_buyer)
        await services.complete_payment(payment.reference, succeeded=True, method="raast",
                                        provider_ref="sbx_demo")

    actions: dict[str, Callable[[], Awaitable[object]]] = {
        "pay": pay,
        "ship": lambda: services.ship_order(order.id, carrier="TCS", tracking_number="TCS-DEMO-"
                                            + str(order.id).zfill(6), actor=as_seller),
        "deliver": lambda: services.confirm_delivery(order.id, actor=as_buyer),
        "release": lambda: services.release_funds(order.id, actor=as_buyer),
        "cancel": lambda: services.cancel_order(
            order.id, actor=as_seller,
            reason="Out of stock, sorry!" if "pay" in steps else "Sold in the shop"),
    }
    for step in steps:
        await actions[step]()
    return order
