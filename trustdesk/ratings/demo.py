"""Demo ratings: a year of good orders for Demo Store and a second seller with a poor record.

Orders go through the escrow services with the clock moved back, so the ledger, audit log and
the 12-month chart all tell a consistent story. Idempotent: each order carries external_ref
"demo-ratings:<seller>:<n>" and is made only if missing.
"""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta

from trustdesk.accounts.tables import User
from trustdesk.core.actors import Actor, Role
from trustdesk.core.clock import now, set_clock
from trustdesk.escrow import services as escrow
from trustdesk.escrow.tables import Order
from trustdesk.ratings import services

DEMO_STORE = "seller@demo.trustdesk"
POOR_SELLER = ("deals@demo.trustdesk", "seller", "Kamran Aziz (demo seller, poor record)",
               "Quick Deals PK")
EXTRA_BUYERS = [
    ("buyer2@demo.trustdesk", "buyer", "Hina Tariq (demo buyer)", None),
    ("buyer3@demo.trustdesk", "buyer", "Usman Ali (demo buyer)", None),
]

GOOD_ITEMS = ["Ajrak bedsheet", "Hand-embroidered cushion covers", "Sindhi topi", "Brass lamp",
              "Khaddar kurta", "Camel-skin lamp", "Chunri dupatta", "Truck-art kettle"]
GOOD_TEXTS = {
    5: ["Exactly as in the photos, packed well. Will buy again.",
        "Fast delivery to Lahore, fabric is lovely.", "Seller answered every question on WhatsApp.",
        ""],
    4: ["Good quality, courier took a few extra days.", "Nice item; colour slightly lighter."],
    3: ["Okay, but the stitching on one edge was loose."],
}
REPLIES = ["Shukriya! Glad you liked it.", "Thank you, sorry about the courier delay.",
           "Thanks for the honest feedback; we have spoken to our tailor."]
# (days ago the order was placed, stars or None, text index, ship late?, cancel not shipped?)
# a steady year, busier lately: enough recent orders that one lost dispute is ~2 %, not 10 %
GOOD_PLAN = (
    [(340 - i * 10, 5 if i % 5 else 4, i, False, False) for i in range(24)]
    + [(85 - int(i * 1.65), None if i % 9 == 8 else (4 if i % 7 == 3 else 5), i, False, False)
       for i in range(50)]
)
GOOD_PLAN[5] = (290, 3, 0, False, False)
POOR_PLAN = [
    (300, 4, "Fine, arrived eventually.", False, False),
    (240, 3, "Slow shipping.", True, False),
    (200, 5, "Good this time.", False, False),
    (85, 1, "Sent a cheap copy, not the branded item shown.", True, False),
    (75, 2, "Arrived two weeks late and damaged.", True, False),
    (70, None, "", False, True),
    (62, 5, "Okay.", False, False),
    (55, 1, "Never answered my messages.", True, False),
    (45, None, "", False, True),
    (40, 3, "", True, False),
    (30, 2, "Wrong size sent.", False, False),
    (20, 4, "", False, False),
]


async def _ensure(email: str, role: str, name: str, store: str | None) -> User:
    from trustdesk.demo import ensure_user

    return await ensure_user(email, role, name, store)


def _at(moment: datetime) -> None:
    set_clock(lambda: moment)


async def _order(seller: User, buyer: User, marker: str, title: str, placed: datetime, *,
                 stars: int | None, text: str, late: bool, not_shipped: bool,
                 reply: str = "") -> None:
    as_seller = Actor(Role.SELLER, seller.id, "cli")
    as_buyer = Actor(Role.BUYER, buyer.id, "cli")
    _at(placed)
    order = await escrow.create_order(seller.id, escrow.NewOrder(
        title=title, amount_minor=250000 + (zlib.crc32(marker.encode()) % 20) * 10000, shipping_minor=20000,
        external_ref=marker), actor=as_seller)
    _at(placed + timedelta(hours=2))
    payment = await escrow.start_payment(order.id, buyer.id, as_buyer)
    await escrow.complete_payment(payment.reference, succeeded=True, method="raast",
                                  provider_ref="sbx_demo")
    if not_shipped:
        _at(placed + timedelta(days=5, hours=3))
        await escrow.cancel_order(order.id, actor=Actor.system("job"),
                                  reason=services.NOT_SHIPPED_REASON)
        return
    _at(placed + timedelta(days=6 if late else 1))
    await escrow.ship_order(order.id, carrier="TCS", tracking_number=f"TCS-DR-{order.id:06d}",
                            actor=as_seller)
    _at(placed + timedelta(days=8 if late else 3))
    await escrow.confirm_delivery(order.id, actor=as_buyer)
    await escrow.release_funds(order.id, actor=as_buyer)
    if stars is None:
        return
    _at(placed + timedelta(days=9 if late else 4))
    rating = await services.rate_order(order.id, stars=stars, text=text,
                                       tags=["as_described", "fast_shipping"] if stars == 5 and not late else [],
                                       actor=as_buyer)
    if reply:
        _at(placed + timedelta(days=10 if late else 5))
        await services.reply_to_rating(rating.id, text=reply, actor=as_seller)


async def load() -> bool:
    store = await User.objects().where(User.email == DEMO_STORE).first()
    if store is None:
        return False
    # the extra buyers place these orders, so the main demo buyer's pages stay readable
    buyers = [await _ensure(*spec) for spec in EXTRA_BUYERS]
    poor = await _ensure(*POOR_SELLER)
    real_now = now()
    created = False
    try:
        for n, (days, stars, i, late, cancelled) in enumerate(GOOD_PLAN):
            marker = f"demo-ratings:store:{n}"
            if await Order.exists().where(Order.external_ref == marker):
                continue
            texts = GOOD_TEXTS.get(stars, [""])
            await _order(store, buyers[n % len(buyers)], marker, GOOD_ITEMS[n % len(GOOD_ITEMS)],
                         real_now - timedelta(days=days), stars=stars, text=texts[i % len(texts)],
                         late=late, not_shipped=cancelled,
                         reply=REPLIES[n % len(REPLIES)] if n % 4 == 1 or stars == 3 else "")
            created = True
        for n, (days, stars, text, late, cancelled) in enumerate(POOR_PLAN):
            marker = f"demo-ratings:poor:{n}"
            if await Order.exists().where(Order.external_ref == marker):
                continue
            await _order(poor, buyers[n % len(buyers)], marker, "Branded wireless earbuds",
                         real_now - timedelta(days=days), stars=stars, text=text, late=late,
                         not_shipped=cancelled,
                         reply="Courier's fault, not ours." if stars == 1 and n == 3 else "")
            created = True
    finally:
        set_clock(None)
    return created
