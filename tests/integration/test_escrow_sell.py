"""/sell/new: sellers make escrow links; bad input re-renders the form with field messages."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.integration.conftest import post_form
from tests.support.factories import login, make_user
from trustdesk.escrow.tables import Order


@pytest.fixture(name="client")
async def loop_client(app: Any) -> AsyncIterator[Any]:
    """The app on the test's own event loop: Litestar's AsyncTestClient runs it on a portal loop
    in another thread, where this loop's PostgreSQL pool cannot be used."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local",
                                 follow_redirects=True) as c:
        yield c


async def test_seller_creates_a_link_and_sees_it_with_a_qr_code(client) -> None:
    seller = await make_user("seller")
    await login(client, seller)
    response = await post_form(client, "/sell/new", {
        "title": "Embroidered lawn suit", "description": "Size M", "price": "4,500",
        "shipping": "250", "currency": "PKR", "inspection_days": "5"}, token_from="/sell/new")
    assert response.status_code == 200, response.text
    order = await Order.objects().first()
    assert order.amount_minor == 450000 and order.shipping_minor == 25000
    assert order.inspection_days == 5 and order.seller == seller.id
    assert f"/pay/{order.token}" in response.text
    assert "data:image/svg+xml" in response.text
    assert "Rs 4,750" in response.text


async def test_bad_input_rerenders_the_form_with_field_messages(client) -> None:
    seller = await make_user("seller")
    await login(client, seller)
    response = await post_form(client, "/sell/new", {
        "title": "", "price": "12abc", "shipping": "-5", "currency": "PKR",
        "inspection_days": "45"}, token_from="/sell/new")
    assert response.status_code == 422
    text = response.text
    assert "Give the item a title" in text
    assert "is not an amount" in text
    assert "cannot be negative" in text
    assert "1 to 30" in text
    assert await Order.count() == 0


async def test_buyers_cannot_make_links(client) -> None:
    buyer = await make_user("buyer")
    await login(client, buyer)
    response = await client.get("/sell/new")
    assert response.status_code == 403
    token_response = await post_form(client, "/sell/new", {"title": "x", "price": "10"})
    assert token_response.status_code == 403
    assert await Order.count() == 0


async def test_anonymous_visitors_are_sent_to_sign_in(client) -> None:
    response = await client.get("/sell/new", follow_redirects=False)
    assert response.status_code in (302, 303)
    assert response.headers["location"].startswith("/login?next=/sell/new")
