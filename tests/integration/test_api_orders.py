"""Partner API contract: orders, auth, scoping, errors, pagination, events, webhook endpoints."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.factories import make_user
from trustdesk.core.actors import Actor, Role
from trustdesk.core.clock import now
from trustdesk.escrow import services as escrow
from trustdesk.escrow.tables import Order, Payment
from trustdesk.partners import services
from trustdesk.partners.auth import LIMITER


async def make_key(seller: Any, name: str = "test") -> str:
    _, raw = await services.create_api_key(seller.id, name=name, actor=Actor.system("cli"))
    return raw


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


ORDER = {"buyer_email": "Buyer@Example.test", "title": "Lawn suit", "amount_minor": 450000,
         "shipping_minor": 25000, "external_ref": "shop-1001"}


async def fund(order_id: int) -> Any:
    """Pay an order the way the sandbox does (claim + payment + fund_order); returns the buyer."""
    order = await escrow.get_order(order_id)
    buyer = await make_user("buyer")
    await Order.update({Order.buyer_email: None}).where(Order.id == order_id)
    await escrow.claim_for_buyer(order_id, buyer.id, actor=Actor(Role.BUYER, buyer.id))
    total = int(order.amount_minor) + int(order.shipping_minor)
    await Payment(order=order_id, buyer=buyer.id, reference=f"ref-{order_id}", amount_minor=total,
                  currency=order.currency, created_at=now()).save()
    await escrow.fund_order(order_id, payment_reference=f"ref-{order_id}", actor=Actor.system("web"))
    return buyer


async def loop_client(app: Any) -> Any:
    """The app on the test's own event loop (Litestar's AsyncTestClient runs it on a portal loop in
    another thread, where the PostgreSQL pool of this loop cannot be used)."""
    import httpx

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as c:
        yield c


client = pytest.fixture(loop_client, name="client")


@pytest.fixture
async def seller() -> Any:
    return await make_user("seller")


@pytest.fixture
async def key(seller: Any) -> str:
    LIMITER.reset()
    return await make_key(seller)


class TestAuth:
    async def test_no_key_is_401_json(self, client: Any) -> None:
        r = await client.get("/api/v1/orders")
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "unauthorized"

    async def test_unknown_key_is_401(self, client: Any) -> None:
        r = await client.get("/api/v1/orders", headers=auth("td_key_nope"))
        assert r.status_code == 401
        assert "not valid" in r.json()["error"]["message"]

    async def test_revoked_key_is_401(self, client: Any, seller: Any, key: str) -> None:
        keys = await services.list_api_keys(seller.id)
        await services.revoke_api_key(keys[0]["id"], seller_id=seller.id,
                                      actor=Actor(Role.SELLER, seller.id))
        r = await client.get("/api/v1/orders", headers=auth(key))
        assert r.status_code == 401

    async def test_key_is_stored_hashed_and_last_use_recorded(self, client: Any, seller: Any,
                                                              key: str) -> None:
        from trustdesk.partners.tables import ApiKey

        rows = await ApiKey.select().where(ApiKey.seller == seller.id)
        assert key not in str(rows)
        assert rows[0]["last_used_at"] is None
        assert (await client.get("/api/v1/orders", headers=auth(key))).status_code == 200
        assert (await ApiKey.select().where(ApiKey.seller == seller.id))[0]["last_used_at"]

    async def test_rate_limit_is_429_with_retry_after(self, client: Any, key: str) -> None:
        LIMITER.per_minute = 3
        try:
            codes = [(await client.get("/api/v1/orders", headers=auth(key))).status_code
                     for _ in range(4)]
            r = await client.get("/api/v1/orders", headers=auth(key))
        finally:
            LIMITER.per_minute = None
            LIMITER.reset()
        assert codes == [200, 200, 200, 429]
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) >= 1
        assert r.json()["error"]["code"] == "rate_limited"


class TestCreateOrder:
    async def test_creates_an_order_awaiting_payment(self, client: Any, seller: Any, key: str) -> None:
        r = await client.post("/api/v1/orders", json=ORDER, headers=auth(key))
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["state"] == "awaiting_payment"
        assert body["amount_minor"] == 450000 and body["shipping_minor"] == 25000
        assert body["total_minor"] == 475000 and body["currency"] == "PKR"
        assert body["buyer_email"] == "buyer@example.test"
        assert body["external_ref"] == "shop-1001"
        assert body["checkout_url"].split("/pay/")[1]
        assert body["deadlines"]["pay_by"]
        order = await Order.objects().where(Order.id == body["id"]).first()
        assert order.seller == seller.id and order.source == "api"

    @pytest.mark.parametrize(("patch", "field"), [
        ({"amount_minor": 0}, "amount_minor"),
        ({"amount_minor": -5}, "amount_minor"),
        ({"title": ""}, "title"),
        ({"buyer_email": "not-an-email"}, "buyer_email"),
        ({"currency": "XXXX"}, "currency"),
        ({"inspection_days": 99}, "inspection_days"),
        ({"title": "a\x00b"}, "title"),
        ({"amount_minor": "twelve"}, "amount_minor"),
        ({"amount_minor": 1.5}, "amount_minor"),
    ])
    async def test_validation_errors_are_422_with_field(self, client: Any, key: str,
                                                        patch: dict[str, Any], field: str) -> None:
        r = await client.post("/api/v1/orders", json={**ORDER, **patch}, headers=auth(key))
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["code"] == "validation_error"
        assert error["field"] == field
        assert await Order.count() == 0

    async def test_missing_field_and_garbage_are_422(self, client: Any, key: str) -> None:
        r = await client.post("/api/v1/orders", json={"title": "x"}, headers=auth(key))
        assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"
        r = await client.post("/api/v1/orders", content=b"{not json",
                              headers={**auth(key), "Content-Type": "application/json"})
        assert r.status_code in (400, 422) and "error" in r.json()


class TestReadOrders:
    async def test_get_one(self, client: Any, key: str) -> None:
        created = (await client.post("/api/v1/orders", json=ORDER, headers=auth(key))).json()
        r = await client.get(f"/api/v1/orders/{created['id']}", headers=auth(key))
        assert r.status_code == 200 and r.json() == created

    async def test_another_sellers_order_is_404(self, client: Any, key: str) -> None:
        other = await make_user("seller")
        other_key = await make_key(other)
        theirs = (await client.post("/api/v1/orders", json=ORDER, headers=auth(other_key))).json()
        for method, path, body in [
            ("GET", f"/api/v1/orders/{theirs['id']}", None),
            ("POST", f"/api/v1/orders/{theirs['id']}/ship", {"carrier": "TCS", "tracking_number": "1"}),
            ("POST", f"/api/v1/orders/{theirs['id']}/cancel", {}),
        ]:
            r = await client.request(method, path, json=body, headers=auth(key))
            assert r.status_code == 404, (path, r.text)
            assert r.json()["error"]["code"] == "not_found"
        assert (await escrow.get_order(theirs["id"])).state == "awaiting_payment"
        listed = (await client.get("/api/v1/orders", headers=auth(key))).json()
        assert listed["data"] == []

    async def test_unknown_id_is_404(self, client: Any, key: str) -> None:
        r = await client.get("/api/v1/orders/999999", headers=auth(key))
        assert r.status_code == 404

    async def test_list_is_newest_first_with_cursor_pagination(self, client: Any, key: str) -> None:
        ids = [(await client.post("/api/v1/orders", json={**ORDER, "external_ref": f"r{i}"},
                                  headers=auth(key))).json()["id"] for i in range(5)]
        seen: list[int] = []
        cursor = None
        pages = 0
        while True:
            params: dict[str, Any] = {"limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = (await client.get("/api/v1/orders", params=params, headers=auth(key))).json()
            pages += 1
            seen += [o["id"] for o in page["data"]]
            if not page["has_more"]:
                assert page["next_cursor"] is None
                break
            cursor = page["next_cursor"]
        assert seen == sorted(ids, reverse=True) and pages == 3

    async def test_filters_by_state_and_external_ref(self, client: Any, key: str) -> None:
        a = (await client.post("/api/v1/orders", json={**ORDER, "external_ref": "A"}, headers=auth(key))).json()
        b = (await client.post("/api/v1/orders", json={**ORDER, "external_ref": "B"}, headers=auth(key))).json()
        await client.post(f"/api/v1/orders/{b['id']}/cancel", headers=auth(key))
        r = await client.get("/api/v1/orders", params={"external_ref": "A"}, headers=auth(key))
        assert [o["id"] for o in r.json()["data"]] == [a["id"]]
        r = await client.get("/api/v1/orders", params={"state": "cancelled"}, headers=auth(key))
        assert [o["id"] for o in r.json()["data"]] == [b["id"]]

    @pytest.mark.parametrize("params", [{"state": "bogus"}, {"limit": 0}, {"limit": 101},
                                        {"cursor": "!!garbage"}])
    async def test_bad_query_is_422(self, client: Any, key: str, params: dict[str, Any]) -> None:
        r = await client.get("/api/v1/orders", params=params, headers=auth(key))
        assert r.status_code == 422, r.text
        assert r.json()["error"]["field"] == next(iter(params))


class TestShipAndCancel:
    async def test_ship_a_funded_order(self, client: Any, key: str) -> None:
        order = (await client.post("/api/v1/orders", json=ORDER, headers=auth(key))).json()
        await fund(order["id"])
        r = await client.post(f"/api/v1/orders/{order['id']}/ship",
                              json={"carrier": "TCS", "tracking_number": "TCS-778"}, headers=auth(key))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["state"] == "shipped" and body["tracking_number"] == "TCS-778"
        assert body["deadlines"]["confirm_by"]

    async def test_shipping_an_unpaid_order_is_409_with_current_state(self, client: Any, key: str) -> None:
        order = (await client.post("/api/v1/orders", json=ORDER, headers=auth(key))).json()
        r = await client.post(f"/api/v1/orders/{order['id']}/ship",
                              json={"carrier": "TCS", "tracking_number": "1"}, headers=auth(key))
        assert r.status_code == 409
        assert r.json()["error"] == {**r.json()["error"], "code": "invalid_transition",
                                     "current_state": "awaiting_payment"}

    async def test_bad_carrier_is_422(self, client: Any, key: str) -> None:
        order = (await client.post("/api/v1/orders", json=ORDER, headers=auth(key))).json()
        r = await client.post(f"/api/v1/orders/{order['id']}/ship",
                              json={"carrier": "Pigeon", "tracking_number": "1"}, headers=auth(key))
        assert r.status_code == 422 and r.json()["error"]["field"] == "carrier"

    async def test_cancel_funded_refunds_and_cancel_shipped_is_409(self, client: Any, key: str) -> None:
        order = (await client.post("/api/v1/orders", json=ORDER, headers=auth(key))).json()
        await fund(order["id"])
        r = await client.post(f"/api/v1/orders/{order['id']}/cancel", json={"reason": "out of stock"},
                              headers=auth(key))
        assert r.status_code == 200 and r.json()["state"] == "cancelled"
        assert await escrow.escrow_balance(order["id"]) == 0
        again = await client.post(f"/api/v1/orders/{order['id']}/cancel", headers=auth(key))
        assert again.status_code == 409
        assert again.json()["error"]["current_state"] == "cancelled"


class TestEvents:
    async def test_lists_only_this_sellers_events_newest_first(self, client: Any, key: str) -> None:
        other_key = await make_key(await make_user("seller"))
        await client.post("/api/v1/orders", json=ORDER, headers=auth(other_key))
        order = (await client.post("/api/v1/orders", json=ORDER, headers=auth(key))).json()
        await client.post(f"/api/v1/orders/{order['id']}/cancel", headers=auth(key))
        r = await client.get("/api/v1/events", params={"limit": 1}, headers=auth(key))
        assert r.status_code == 200
        page = r.json()
        assert [e["type"] for e in page["data"]] == ["order.cancelled"] and page["has_more"]
        rest = (await client.get("/api/v1/events", params={"cursor": page["next_cursor"]},
                                 headers=auth(key))).json()
        assert [e["type"] for e in rest["data"]] == ["order.created"]
        assert rest["data"][0]["data"]["id"] == order["id"]


class TestWebhookEndpoints:
    async def test_create_list_get_delete(self, client: Any, key: str) -> None:
        r = await client.post("/api/v1/webhook-endpoints",
                              json={"url": "https://shop.example/hook", "events": ["order.funded"]},
                              headers=auth(key))
        assert r.status_code == 201, r.text
        created = r.json()
        assert created["secret"].startswith("whsec_")
        listed = (await client.get("/api/v1/webhook-endpoints", headers=auth(key))).json()["data"]
        assert [e["id"] for e in listed] == [created["id"]]
        assert "secret" not in listed[0]
        one = await client.get(f"/api/v1/webhook-endpoints/{created['id']}", headers=auth(key))
        assert one.status_code == 200 and one.json()["events"] == ["order.funded"]
        gone = await client.delete(f"/api/v1/webhook-endpoints/{created['id']}", headers=auth(key))
        assert gone.status_code == 204
        assert (await client.get(f"/api/v1/webhook-endpoints/{created['id']}",
                                 headers=auth(key))).status_code == 404

    @pytest.mark.parametrize(("body", "field"), [
        ({"url": "ftp://x", "events": ["*"]}, "url"),
        ({"url": "https://x.example", "events": []}, "events"),
        ({"url": "https://x.example", "events": ["order.exploded"]}, "events"),
    ])
    async def test_invalid_is_422(self, client: Any, key: str, body: dict[str, Any], field: str) -> None:
        r = await client.post("/api/v1/webhook-endpoints", json=body, headers=auth(key))
        assert r.status_code == 422 and r.json()["error"]["field"] == field

    async def test_another_sellers_endpoint_is_404(self, client: Any, key: str) -> None:
        other_key = await make_key(await make_user("seller"))
        theirs = (await client.post("/api/v1/webhook-endpoints",
                                    json={"url": "https://o.example", "events": ["*"]},
                                    headers=auth(other_key))).json()
        assert (await client.get(f"/api/v1/webhook-endpoints/{theirs['id']}",
                                 headers=auth(key))).status_code == 404
        assert (await client.delete(f"/api/v1/webhook-endpoints/{theirs['id']}",
                                    headers=auth(key))).status_code == 404


async def test_unknown_api_path_and_method_are_json_errors(client: Any, key: str) -> None:
    r = await client.get("/api/v1/nothing-here", headers=auth(key))
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = await client.put("/api/v1/orders", headers=auth(key))
    assert r.status_code == 405 and "error" in r.json()
