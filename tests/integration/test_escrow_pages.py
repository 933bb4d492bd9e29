"""Escrow pages over HTTP: pay a link through the sandbox, act on the order, and the refusals
(strangers get 404, closed links refuse payment, forged callbacks are refused, CSRF required)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.integration.conftest import csrf_token
from tests.integration.conftest import post_form as _post_form
from tests.support.factories import login, make_user
from trustdesk.core import audit
from trustdesk.core.actors import Actor, Role
from trustdesk.escrow import services
from trustdesk.escrow.payments import SandboxProvider, sign
from trustdesk.escrow.tables import LedgerEntry, Order, Payment


@pytest.fixture(name="client")
async def loop_client(app: Any) -> AsyncIterator[Any]:
    """The app on the test's own event loop: Litestar's AsyncTestClient runs it on a portal loop
    in another thread, where this loop's PostgreSQL pool cannot be used."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local",
                                 follow_redirects=True) as c:
        yield c


async def post_form(client, path, data, token_from=None):
    return await _post_form(client, path, data, token_from=token_from, follow_redirects=False)


async def _link(seller, title: str = "Lawn suit", price: int = 450000, shipping: int = 25000) -> Order:
    return await services.create_order(
        seller.id, services.NewOrder(title=title, amount_minor=price, shipping_minor=shipping),
        actor=Actor(Role.SELLER, seller.id))


async def _pay(client, order: Order, method: str = "raast"):
    """Buyer (already signed in on `client`) pays `order` through the sandbox; returns the final response."""
    start = await post_form(client, f"/pay/{order.token}", {}, token_from=f"/pay/{order.token}")
    assert start.status_code == 303, start.text
    hosted = start.headers["location"]
    assert hosted.startswith("/sandbox-pay/")
    page = await client.get(hosted)
    assert "Pay (Raast)" in page.text and "Pay (JazzCash wallet)" in page.text
    assert "Pay (card)" in page.text and "Fail" in page.text
    choice = await post_form(client, hosted, {"method": method}, token_from=hosted)
    assert choice.status_code == 303
    callback = choice.headers["location"]
    assert callback.startswith("/sandbox-pay/callback?")
    return callback, await client.get(callback, follow_redirects=False)


class TestPayingALink:
    async def test_anonymous_visitor_sees_the_promise_and_sign_up_returning_to_the_link(self, client) -> None:
        seller = await make_user("seller", store_name="Nadia Crafts")
        order = await _link(seller)
        page = await client.get(f"/pay/{order.token}")
        assert page.status_code == 200
        text = page.text
        assert "Your money is held by TrustDesk. The seller is paid only after you confirm delivery" in text
        assert "Rs 4,750" in text and "Nadia Crafts" in text and "/sellers/nadia-crafts" in text
        assert f"/register?role=buyer&amp;next=/pay/{order.token}" in text
        assert f"/login?next=/pay/{order.token}" in text

    async def test_buyer_pays_with_raast_and_the_order_is_funded_once(self, client) -> None:
        seller = await make_user("seller")
        buyer = await make_user("buyer")
        order = await _link(seller)
        await login(client, buyer)
        callback, response = await _pay(client, order)
        assert response.status_code == 303 and response.headers["location"] == f"/orders/{order.id}"
        page = await client.get(f"/orders/{order.id}")
        assert "Payment received" in page.text and "Seller must ship by" in page.text
        assert await services.escrow_balance(order.id) == 475000
        # a repeated callback changes nothing
        again = await client.get(callback, follow_redirects=False)
        assert again.status_code == 303
        assert await services.escrow_balance(order.id) == 475000
        assert await LedgerEntry.count() == 2
        assert (await Order.objects().get(Order.id == order.id)).state == "funded"

    async def test_failed_payment_charges_nothing_and_can_be_retried(self, client) -> None:
        seller = await make_user("seller")
        buyer = await make_user("buyer")
        order = await _link(seller)
        await login(client, buyer)
        _, response = await _pay(client, order, method="fail")
        assert response.headers["location"] == f"/pay/{order.token}"
        assert await LedgerEntry.count() == 0
        _, response = await _pay(client, order, method="card")
        assert (await Order.objects().get(Order.id == order.id)).state == "funded"

    async def test_paying_twice_is_refused(self, client) -> None:
        seller = await make_user("seller")
        buyer = await make_user("buyer")
        order = await _link(seller)
        await login(client, buyer)
        await _pay(client, order)
        again = await post_form(client, f"/pay/{order.token}", {}, token_from=f"/pay/{order.token}")
        assert again.status_code == 303
        page = await client.get(again.headers["location"])
        assert "already been paid" in page.text
        assert await Payment.count() == 1

    async def test_a_second_pending_payment_that_completes_late_is_returned(self, client) -> None:
        seller = await make_user("seller")
        buyer = await make_user("buyer")
        order = await _link(seller)
        first = await services.start_payment(order.id, buyer.id)
        second = await services.start_payment(order.id, buyer.id)
        ok = await services.complete_payment(first.reference, succeeded=True, method="raast")
        late = await services.complete_payment(second.reference, succeeded=True, method="card")
        assert ok.status == "funded" and late.status == "refunded"
        assert "returned to you in full" in late.message
        assert await services.escrow_balance(order.id) == 475000

    async def test_cancelled_link_refuses_payment(self, client) -> None:
        seller = await make_user("seller")
        buyer = await make_user("buyer")
        order = await _link(seller)
        await services.cancel_order(order.id, actor=Actor(Role.SELLER, seller.id))
        await login(client, buyer)
        page = await client.get(f"/pay/{order.token}")
        assert "was cancelled, so it cannot be paid" in page.text
        assert f'action="/pay/{order.token}"' not in page.text
        response = await post_form(client, f"/pay/{order.token}", {}, token_from=f"/pay/{order.token}")
        follow = await client.get(response.headers["location"])
        assert "cancelled, so it cannot be paid" in follow.text
        assert await Payment.count() == 0

    async def test_used_link_refuses_another_buyer(self, client) -> None:
        seller = await make_user("seller")
        first, second = await make_user("buyer"), await make_user("buyer")
        order = await _link(seller)
        payment = await services.start_payment(order.id, first.id)
        await services.complete_payment(payment.reference, succeeded=True, method="raast")
        await login(client, second)
        page = await client.get(f"/pay/{order.token}")
        assert "already been paid" in page.text
        response = await post_form(client, f"/pay/{order.token}", {}, token_from=f"/pay/{order.token}")
        follow = await client.get(response.headers["location"])
        assert "already been paid" in follow.text
        assert await Payment.count() == 1

    async def test_expired_link_refuses_payment(self, client) -> None:
        seller = await make_user("seller")
        buyer = await make_user("buyer")
        order = await _link(seller)
        from datetime import timedelta

        from trustdesk.core.clock import now
        await Order.update({Order.pay_by: now() - timedelta(minutes=1)}).where(Order.id == order.id)
        await login(client, buyer)
        page = await client.get(f"/pay/{order.token}")
        assert "has expired" in page.text
        response = await post_form(client, f"/pay/{order.token}", {}, token_from=f"/pay/{order.token}")
        follow = await client.get(response.headers["location"])
        assert "has expired" in follow.text
        assert await Payment.count() == 0

    async def test_seller_cannot_pay_own_link(self, client) -> None:
        seller = await make_user("seller")
        order = await _link(seller)
        await login(client, seller)
        page = await client.get(f"/pay/{order.token}")
        assert "this is what your buyer sees" in page.text
        response = await post_form(client, f"/pay/{order.token}", {}, token_from=f"/pay/{order.token}")
        assert response.status_code == 303
        assert await Payment.count() == 0

    async def test_unknown_link_is_a_404(self, client) -> None:
        assert (await client.get("/pay/not-a-real-token")).status_code == 404


class TestSandboxCallback:
    async def test_forged_callback_is_refused_and_changes_nothing(self, client) -> None:
        seller = await make_user("seller")
        buyer = await make_user("buyer")
        order = await _link(seller)
        payment = await services.start_payment(order.id, buyer.id)
        params = SandboxProvider().callback_params(payment.reference, method="raast",
                                                   amount_minor=475000, currency="PKR")
        forged = {**params, "signature": "0" * 64}
        response = await client.get("/sandbox-pay/callback", params=forged)
        assert response.status_code == 400
        assert "signature is not valid" in response.text and "Nothing was changed" in response.text
        # tampering with a signed field (a smaller amount) breaks the signature too
        cheaper = {**params, "amount_minor": "100"}
        assert (await client.get("/sandbox-pay/callback", params=cheaper)).status_code == 400
        unsigned = {k: v for k, v in params.items() if k != "signature"}
        assert (await client.post("/sandbox-pay/callback", data=unsigned)).status_code == 400
        assert (await Order.objects().get(Order.id == order.id)).state == "awaiting_payment"
        assert await LedgerEntry.count() == 0

    async def test_signed_server_to_server_callback_funds_once(self, client) -> None:
        seller = await make_user("seller")
        buyer = await make_user("buyer")
        order = await _link(seller)
        payment = await services.start_payment(order.id, buyer.id)
        params = SandboxProvider().callback_params(payment.reference, method="jazzcash",
                                                   amount_minor=475000, currency="PKR")
        assert params["signature"] == sign(params)
        first = await client.post("/sandbox-pay/callback", json=params)
        second = await client.post("/sandbox-pay/callback", json=params)
        assert first.json() == {"ok": True, "status": "funded"}
        assert second.json() == {"ok": True, "status": "unchanged"}
        assert await services.escrow_balance(order.id) == 475000


class TestOrderActions:
    async def _funded(self, client):
        seller = await make_user("seller")
        buyer = await make_user("buyer")
        order = await _link(seller)
        payment = await services.start_payment(order.id, buyer.id)
        await services.complete_payment(payment.reference, succeeded=True, method="raast")
        return seller, buyer, order

    async def test_ship_confirm_accept_moves_the_money_to_the_seller(self, client) -> None:
        seller, buyer, order = await self._funded(client)
        await login(client, seller)
        page = await client.get(f"/orders/{order.id}")
        assert "Mark as shipped" in page.text and "Accept the item" not in page.text
        r = await post_form(client, f"/orders/{order.id}/ship",
                            {"carrier": "TCS", "tracking_number": "TCS-7788"}, token_from=f"/orders/{order.id}")
        assert r.status_code == 303
        page = await client.get(f"/orders/{order.id}")
        assert "Marked as shipped with TCS" in page.text and "Buyer must confirm delivery by" in page.text
        await login(client, buyer)
        page = await client.get(f"/orders/{order.id}")
        assert "I received the parcel" in page.text and "Mark as shipped" not in page.text
        await post_form(client, f"/orders/{order.id}/confirm-delivery", {}, token_from=f"/orders/{order.id}")
        page = await client.get(f"/orders/{order.id}")
        assert "Delivery confirmed" in page.text and "Inspection window ends" in page.text
        # release without the confirmation step goes to the confirmation page, moves nothing
        r = await post_form(client, f"/orders/{order.id}/release", {}, token_from=f"/orders/{order.id}")
        assert r.headers["location"] == f"/orders/{order.id}/confirm/release"
        confirm = await client.get(r.headers["location"])
        assert "Yes, release the payment" in confirm.text
        assert await services.escrow_balance(order.id) == 475000
        await post_form(client, f"/orders/{order.id}/release", {"confirmed": "yes"}, token_from=f"/orders/{order.id}")
        page = await client.get(f"/orders/{order.id}")
        assert "payment has been released to the seller" in page.text
        assert ">Released<" in page.text and "Released to the seller" in page.text
        assert await services.escrow_balance(order.id) == 0
        assert await services.account_balance(f"payable:seller:{seller.id}") == 475000

    async def test_seller_cancels_a_funded_order_and_the_buyer_is_refunded(self, client) -> None:
        seller, buyer, order = await self._funded(client)
        await login(client, seller)
        await post_form(client, f"/orders/{order.id}/cancel", {"confirmed": "yes", "reason": "Out of stock"},
                        token_from=f"/orders/{order.id}")
        page = await client.get(f"/orders/{order.id}")
        assert "refunded in full" in page.text and "Refunded to the buyer" in page.text
        assert await services.account_balance(f"refunds:buyer:{buyer.id}") == 475000

    async def test_illegal_action_becomes_a_flash_message(self, client) -> None:
        seller, buyer, order = await self._funded(client)
        await login(client, buyer)
        # buyers cannot cancel a funded order (only the seller, with a full refund)
        r = await post_form(client, f"/orders/{order.id}/cancel", {"confirmed": "yes"}, token_from=f"/orders/{order.id}")
        assert r.status_code == 303
        page = await client.get(r.headers["location"])
        assert "flash-error" in page.text and "cannot cancel" in page.text
        r = await post_form(client, f"/orders/{order.id}/release", {"confirmed": "yes"}, token_from=f"/orders/{order.id}")
        page = await client.get(r.headers["location"])
        assert "cannot be released now" in page.text
        assert await services.escrow_balance(order.id) == 475000

    async def test_bad_ship_form_is_explained(self, client) -> None:
        seller, buyer, order = await self._funded(client)
        await login(client, seller)
        r = await post_form(client, f"/orders/{order.id}/ship", {"carrier": "DHL-ish", "tracking_number": ""},
                            token_from=f"/orders/{order.id}")
        page = await client.get(r.headers["location"])
        assert "Choose a courier" in page.text
        assert (await Order.objects().get(Order.id == order.id)).state == "funded"

    async def test_stranger_gets_404_for_the_order_and_every_action(self, client) -> None:
        seller, buyer, order = await self._funded(client)
        stranger = await make_user("buyer")
        other_seller = await make_user("seller")
        for who in (stranger, other_seller):
            await login(client, who)
            assert (await client.get(f"/orders/{order.id}")).status_code == 404
            assert (await client.get(f"/orders/{order.id}/confirm/release")).status_code == 404
            for path, data in (("ship", {"carrier": "TCS", "tracking_number": "1"}),
                               ("confirm-delivery", {}), ("release", {"confirmed": "yes"}),
                               ("cancel", {"confirmed": "yes"})):
                r = await post_form(client, f"/orders/{order.id}/{path}", data, token_from="/orders")
                assert r.status_code == 404, (path, r.status_code)
            assert (await client.get(f"/orders/{order.id}/link", follow_redirects=False)).status_code == 404
        await login(client, buyer)  # the order's own buyer has no business on the seller's link page
        assert (await client.get(f"/orders/{order.id}/link", follow_redirects=False)).status_code == 404
        assert (await Order.objects().get(Order.id == order.id)).state == "funded"
        assert (await client.get("/orders/999999")).status_code == 404

    async def test_actions_require_the_csrf_token(self, client) -> None:
        seller, buyer, order = await self._funded(client)
        await login(client, seller)
        r = await client.post(f"/orders/{order.id}/cancel", data={"confirmed": "yes"})
        assert r.status_code == 403 and "This form has expired" in r.text
        r = await client.post("/sell/new", data={"title": "x", "price": "10"})
        assert r.status_code == 403
        assert (await Order.objects().get(Order.id == order.id)).state == "funded"

    async def test_mediator_can_read_any_order_but_gets_no_buttons(self, client) -> None:
        seller, buyer, order = await self._funded(client)
        mediator = await make_user("mediator")
        await login(client, mediator)
        page = await client.get(f"/orders/{order.id}")
        assert page.status_code == 200 and "What you can do now" not in page.text


class TestOrderList:
    async def test_lists_show_state_amount_deadline_and_todo_newest_first(self, client) -> None:
        seller = await make_user("seller")
        buyer = await make_user("buyer")
        orders = [await _link(seller, title=f"Item {i}", price=100000 + i) for i in range(12)]
        payment = await services.start_payment(orders[0].id, buyer.id)
        await services.complete_payment(payment.reference, succeeded=True, method="raast")
        await login(client, seller)
        page = await client.get("/orders")
        text = page.text
        assert "My sales" in text and "My purchases" in text
        assert text.index("Item 11") < text.index("Item 10")
        assert "Share the link with your buyer" in text and "Payment due" in text
        assert "Item 0" not in text  # page 2
        page2 = await client.get("/orders?sp=2&bp=1")
        assert "Item 0" in page2.text and "Ship the item" in page2.text and "Ship by" in page2.text
        await login(client, buyer)
        page = await client.get("/orders")
        assert "Item 0" in page.text and "Paid, held in escrow" in page.text
        assert re.search(r"Rs 1,000\.\d\d|Rs 1,250", page.text)


class TestConcurrentClicks:
    async def test_twelve_simultaneous_ship_and_cancel_posts_apply_once_and_never_500(self, client) -> None:
        seller = await make_user("seller")
        buyer = await make_user("buyer")
        order = await _link(seller)
        payment = await services.start_payment(order.id, buyer.id)
        await services.complete_payment(payment.reference, succeeded=True, method="raast")
        await login(client, seller)
        token = await csrf_token(client, f"/orders/{order.id}")
        posts = []
        for i in range(12):
            path, data = ((f"/orders/{order.id}/ship", {"carrier": "TCS", "tracking_number": f"T{i}"})
                          if i % 2 else (f"/orders/{order.id}/cancel", {"confirmed": "yes"}))
            posts.append(client.post(path, data={**data, "_csrf_token": token}, follow_redirects=False))
        responses = await asyncio.gather(*posts)
        assert [r.status_code for r in responses] == [303] * 12
        stored = await Order.objects().get(Order.id == order.id)
        assert stored.state in ("shipped", "cancelled")
        held = await services.escrow_balance(order.id)
        assert held == (475000 if stored.state == "shipped" else 0)
        events = await audit.list_for("order", order.id)
        assert sum(e["action"] in ("escrow:order:shipped", "escrow:order:cancelled") for e in events) == 1
