"""Helpers for the disputes integration tests (no tests here): parties, orders in a state,
filed disputes, sample files, and the ledger checks every outcome must pass."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.factories import make_user
from trustdesk.core.actors import Actor, Role
from trustdesk.disputes import services
from trustdesk.disputes.evidence import BytesUpload
from trustdesk.escrow import services as escrow
from trustdesk.escrow.tables import LedgerEntry, Order

PRICE, SHIPPING = 100_000, 20_000


@dataclass
class Cast:
    seller: Any
    buyer: Any
    mediator: Any
    other_buyer: Any
    other_seller: Any

    @property
    def b(self) -> Actor:
        return Actor(Role.BUYER, self.buyer.id)

    @property
    def s(self) -> Actor:
        return Actor(Role.SELLER, self.seller.id)

    @property
    def m(self) -> Actor:
        return Actor(Role.MEDIATOR, self.mediator.id)


async def make_cast() -> Cast:
    return Cast(await make_user("seller"), await make_user("buyer"), await make_user("mediator"),
                await make_user("buyer"), await make_user("seller"))


async def make_order(cast: Cast, state: str = "delivered", price: int = PRICE,
                     shipping: int = SHIPPING) -> Order:
    s, b = cast.s, cast.b
    order = await escrow.create_order(cast.seller.id, escrow.NewOrder(
        title="Lawn suit", amount_minor=price, shipping_minor=shipping), actor=s)
    payment = await escrow.start_payment(order.id, cast.buyer.id, b)
    if state == "awaiting_payment":
        return await escrow.get_order(order.id)
    await escrow.complete_payment(payment.reference, succeeded=True, method="raast",
                                  provider_ref="t")
    if state in ("shipped", "delivered", "released"):
        await escrow.ship_order(order.id, carrier="TCS", tracking_number="T1", actor=s)
    if state in ("delivered", "released"):
        await escrow.confirm_delivery(order.id, actor=b)
    if state == "released":
        await escrow.release_funds(order.id, actor=b)
    return await escrow.get_order(order.id)


async def file(cast: Cast, order: Order | None = None, *, reason: str = "substandard_quality",
               wanted: str = "full_refund", amount: int | None = None,
               uploads: list[Any] | None = None) -> Any:
    order = order or await make_order(cast)
    return await services.open_dispute(order.id, reason=reason, wanted=wanted,
                                       statement="The stitching came apart on the first day.",
                                       wanted_amount_minor=amount, uploads=uploads, actor=cast.b)


def jpeg(width: int = 64, height: int = 48, *, gps: bool = False) -> bytes:
    from PIL import Image

    img = Image.new("RGB", (width, height), (200, 30, 30))
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "PhoneCam"
    if gps:
        exif[0x8825] = {1: "N", 2: (31.0, 30.0, 0.0), 3: "E", 4: (74.0, 20.0, 0.0)}
    img.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


def png(width: int = 32, height: int = 32) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGBA", (width, height), (0, 128, 0, 255)).save(out, format="PNG")
    return out.getvalue()


def webp() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (40, 30), (0, 0, 200)).save(out, format="WEBP")
    return out.getvalue()


def pdf(body: bytes = b"BT /F1 12 Tf 72 712 Td (Invoice 42) Tj ET") -> bytes:
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
            b"<< /Length %d >>\nstream\n" % len(body) + body + b"\nendstream"]
    out = bytearray(b"%PDF-1.4\n")
    for i, obj in enumerate(objs, 1):
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    out += b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"
    return bytes(out)


def upload(name: str, data: bytes) -> BytesUpload:
    return BytesUpload(name, data)


async def assert_ledger_settled(order_id: int, expected_state: str, refund: int) -> None:
    """Every posting balances, escrow is empty, the order is terminal, the buyer got `refund`."""
    order = await escrow.get_order(order_id)
    assert order.state == expected_state
    rows = await LedgerEntry.select().where(LedgerEntry.order == order_id)
    postings: dict[str, int] = {}
    for row in rows:
        postings[row["posting_id"]] = postings.get(row["posting_id"], 0) + int(row["amount_minor"])
    assert postings and all(total == 0 for total in postings.values())
    assert await escrow.escrow_balance(order_id) == 0
    refunds = sum(int(r["amount_minor"]) for r in rows if r["account"].startswith("refunds:buyer:"))
    seller = sum(int(r["amount_minor"]) for r in rows if r["account"].startswith("payable:seller:"))
    fees = sum(int(r["amount_minor"]) for r in rows if r["account"] == "platform:fees")
    assert refunds == refund
    assert refunds + seller + fees == int(order.amount_minor) + int(order.shipping_minor)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[Any]:
    """An HTTP client that runs the app on the test's own event loop (httpx's ASGI transport),
    so one asyncpg pool serves both the test and the app on PostgreSQL, and request bodies
    are streamed to the app chunk by chunk as a real server would."""
    import httpx

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://testserver.local") as c:
        yield c
