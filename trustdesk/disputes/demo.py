"""Demo disputes between the demo buyer and Demo Store, one per dispute state (and each way a
dispute can close), made through the escrow and dispute services. Idempotent: each order
carries external_ref "demo:dispute:<name>"."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from trustdesk.accounts.tables import User
from trustdesk.core.actors import Actor, Role
from trustdesk.core.clock import now, set_clock
from trustdesk.disputes import services
from trustdesk.disputes.evidence import BytesUpload
from trustdesk.escrow import services as escrow
from trustdesk.escrow.tables import Order

BUYER_EMAIL = "buyer@demo.trustdesk"
SELLER_EMAIL = "seller@demo.trustdesk"
MEDIATOR_EMAIL = "mediator@demo.trustdesk"

# name -> (title, price, shipping, reason, wanted, statement, what happens after filing)
DEMO: list[tuple[str, str, int, int, str, str, str, str]] = [
    ("awaiting-seller", "Hand-knotted wool rug, 4x6 ft", 1850000, 60000, "substandard_quality",
     "full_refund", "The rug sheds badly and the knots are coming loose after one day.", ""),
    ("awaiting-buyer", "Brass table lamp", 420000, 30000, "damaged", "full_refund",
     "The lamp's shade arrived dented and the switch does not work.", "offer"),
    ("escalated", "Camel-leather handbag", 780000, 25000, "counterfeit", "full_refund",
     "The logo stitching is wrong; this is not the brand shown in the listing.", "contest"),
    ("awaiting-return", "Wooden jewellery box", 320000, 20000, "not_as_described", "full_refund",
     "The listing said walnut; it is painted plywood.", "return"),
    ("resolved-agreement", "Cotton bedsheet set", 260000, 15000, "wrong_item", "partial_refund",
     "I ordered king size and got a queen set.", "partial-accepted"),
    ("resolved-ruling", "Sindhi topi, embroidered", 150000, 10000, "not_received", "full_refund",
     "Tracking says delivered but nothing came.", "ruled-release"),
    ("resolved-mandated", "Copper karahi, 3 litre", 390000, 25000, "substandard_quality",
     "full_refund", "The copper lining is peeling off inside after the first wash.", "mandated"),
    ("withdrawn", "Silver jhumka earrings", 540000, 15000, "not_received", "full_refund",
     "It has not arrived yet after ten days.", "withdraw"),
]


def demo_photo(text: str = "damaged") -> bytes:
    """A small JPEG to stand in for a buyer's photo (with EXIF that intake will strip)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (640, 420), (214, 196, 170))
    draw = ImageDraw.Draw(img)
    for x in range(0, 640, 40):
        draw.line([(x, 0), (x + 120, 420)], fill=(150, 110, 80), width=6)
    draw.rectangle([180, 140, 460, 280], outline=(160, 30, 30), width=8)
    draw.text((200, 300), text, fill=(40, 40, 40))
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "DemoCam"
    img.save(out, format="JPEG", quality=85, exif=exif.tobytes())
    return out.getvalue()


async def _order(buyer_id: int, seller_id: int, marker: str, title: str, price: int,
                 shipping: int) -> Order:
    as_seller = Actor(Role.SELLER, seller_id, "cli")
    as_buyer = Actor(Role.BUYER, buyer_id, "cli")
    order = await escrow.create_order(seller_id, escrow.NewOrder(
        title=title, amount_minor=price, shipping_minor=shipping, external_ref=marker,
        description="Demo order with a dispute."), actor=as_seller)
    payment = await escrow.start_payment(order.id, buyer_id, as_buyer)
    await escrow.complete_payment(payment.reference, succeeded=True, method="raast",
                                  provider_ref="sbx_demo")
    await escrow.ship_order(order.id, carrier="Leopards", tracking_number=f"LP-DEMO-{order.id:06d}",
                            actor=as_seller)
    await escrow.confirm_delivery(order.id, actor=as_buyer)
    return order


async def load() -> bool:
    buyer = await User.objects().where(User.email == BUYER_EMAIL).first()
    seller = await User.objects().where(User.email == SELLER_EMAIL).first()
    mediator = await User.objects().where(User.email == MEDIATOR_EMAIL).first()
    if buyer is None or seller is None or mediator is None:
        return False
    created = False
    for name, title, price, shipping, reason, wanted, statement, then in DEMO:
        marker = f"demo:dispute:{name}"
        if await Order.exists().where((Order.external_ref == marker) & (Order.seller == seller.id)):
            continue
        await _make(buyer.id, seller.id, mediator.id, marker, title, price, shipping, reason,
                    wanted, statement, then)
        created = True
    return created


async def _make(buyer_id: int, seller_id: int, mediator_id: int, marker: str, title: str,
                price: int, shipping: int, reason: str, wanted: str, statement: str,
                then: str) -> None:
    b = Actor(Role.BUYER, buyer_id, "cli")
    s = Actor(Role.SELLER, seller_id, "cli")
    m = Actor(Role.MEDIATOR, mediator_id, "cli")
    real_now = now()
    # Time-shift where a step needs time to have passed (48 h before a mediator, a lapsed window).
    back = {"mandated": timedelta(days=4), "ruled-release": timedelta(days=3)}.get(then)
    if back:
        set_clock(lambda: datetime.now(real_now.tzinfo) - back)
    try:
        order = await _order(buyer_id, seller_id, marker, title, price, shipping)
        dispute = await services.open_dispute(
            order.id, reason=reason, wanted=wanted, statement=statement,
            wanted_amount_minor=price // 3 if wanted == "partial_refund" else None,
            uploads=[BytesUpload("photo-of-problem.jpg", demo_photo(reason.replace("_", " ")))],
            actor=b)
    finally:
        set_clock(None)
    steps: dict[str, Callable[[], Awaitable[object]]] = {
        "offer": lambda: services.offer_partial(
            dispute.id, amount_minor=price // 4, keep_item=True, actor=s,
            statement="Sorry about that. I can refund a quarter and you keep the lamp."),
        "contest": lambda: services.contest(
            dispute.id, actor=s, statement="This is genuine stock from the brand's distributor; "
                                           "invoice attached on request."),
        "partial-accepted": _chain(
            lambda: services.offer_partial(dispute.id, amount_minor=price // 3, actor=s,
                                           statement="My mistake. A third back, keep the set."),
            lambda: services.accept_offer(dispute.id, actor=b)),
        "return": _chain(
            lambda: services.contest(dispute.id, actor=s, statement="It is walnut veneer as listed."),
            lambda: services.assign_mediator(dispute.id, actor=m),
            lambda: services.rule(dispute.id, outcome="refund_after_return", actor=m,
                                  reasons="The photos show painted plywood, not walnut as listed. "
                                          "Return the box, then the price is refunded.",
                                  return_address="Demo Store, 12 Mall Road, Lahore 54000")),
        "ruled-release": _chain(
            lambda: services.request_mediator(dispute.id, actor=b),
            lambda: services.assign_mediator(dispute.id, actor=m),
            lambda: services.post_message(dispute.id, actor=s, body="Courier confirms delivery to "
                                          "the buyer's door with a signature photo."),
            lambda: services.rule(dispute.id, outcome="release_to_seller", actor=m,
                                  reasons="The courier's signed proof of delivery matches the "
                                          "buyer's address; the complaint is not upheld.")),
        "mandated": lambda: services.lapse_seller_response(dispute.id),
        "withdraw": lambda: services.withdraw(dispute.id, actor=b,
                                              statement="It arrived today, thank you."),
    }
    if then:
        await steps[then]()


def _chain(*fns: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        for fn in fns:
            await fn()
    return run
