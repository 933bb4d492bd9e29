"""Idempotency-Key as Stripe does it: replay exactly, never execute twice, even concurrently."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from tests.integration.test_api_orders import ORDER, auth, fund, loop_client, make_key
from tests.support.factories import make_user
from trustdesk.core.clock import now, set_clock
from trustdesk.core.tables import OutboxEvent
from trustdesk.escrow.tables import Order
from trustdesk.partners.auth import LIMITER
from trustdesk.partners.tables import IdempotencyRecord

client = pytest.fixture(loop_client, name="client")


@pytest.fixture
async def key() -> str:
    LIMITER.reset()
    return await make_key(await make_user("seller"))


def idem(key: str, value: str) -> dict[str, str]:
    return {**auth(key), "Idempotency-Key": value}


async def test_twenty_concurrent_identical_posts_make_one_order(client: Any, key: str) -> None:
    # when
    responses = await asyncio.gather(*[
        client.post("/api/v1/orders", json=ORDER, headers=idem(key, "checkout-7781"))
        for _ in range(20)])
    # then
    assert await Order.count() == 1
    assert await OutboxEvent.count().where(OutboxEvent.event_type == "order.created") == 1
    assert {r.status_code for r in responses} == {201}
    assert len({r.content for r in responses}) == 1
    replayed = [r for r in responses if r.headers.get("idempotent-replayed") == "true"]
    assert len(replayed) == 19


async def test_copies_arriving_while_the_first_still_runs_wait_and_replay(
        client: Any, key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # given: a slow order service, so every copy arrives while the first is still running
    from trustdesk.escrow import services as escrow

    real = escrow.create_order
    calls = 0

    async def slow_create_order(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.3)
        return await real(*args, **kwargs)

    monkeypatch.setattr(escrow, "create_order", slow_create_order)
    # when
    responses = await asyncio.gather(*[
        client.post("/api/v1/orders", json=ORDER, headers=idem(key, "slow-1")) for _ in range(20)])
    # then
    assert calls == 1 and await Order.count() == 1
    assert {r.status_code for r in responses} == {201} and len({r.content for r in responses}) == 1


async def test_sequential_retry_replays_exactly_and_executes_nothing(client: Any, key: str) -> None:
    first = await client.post("/api/v1/orders", json=ORDER, headers=idem(key, "k1"))
    events = await OutboxEvent.count()
    again = await client.post("/api/v1/orders", json=dict(reversed(list(ORDER.items()))),
                              headers=idem(key, "k1"))
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert await Order.count() == 1 and await OutboxEvent.count() == events


async def test_same_key_different_body_is_422_reused(client: Any, key: str) -> None:
    await client.post("/api/v1/orders", json=ORDER, headers=idem(key, "k2"))
    r = await client.post("/api/v1/orders", json={**ORDER, "amount_minor": 1},
                          headers=idem(key, "k2"))
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "idempotency_key_reused"
    other_path = await client.post("/api/v1/webhook-endpoints",
                                   json={"url": "https://x.example", "events": ["*"]},
                                   headers=idem(key, "k2"))
    assert other_path.json()["error"]["code"] == "idempotency_key_reused"
    assert await Order.count() == 1


async def test_failed_validation_stores_nothing(client: Any, key: str) -> None:
    bad = await client.post("/api/v1/orders", json={**ORDER, "amount_minor": 0},
                            headers=idem(key, "k3"))
    assert bad.status_code == 422
    assert await IdempotencyRecord.count() == 0
    good = await client.post("/api/v1/orders", json=ORDER, headers=idem(key, "k3"))
    assert good.status_code == 201 and await Order.count() == 1


async def test_keys_are_scoped_per_api_key(client: Any, key: str) -> None:
    other = await make_key(await make_user("seller"))
    a = await client.post("/api/v1/orders", json=ORDER, headers=idem(key, "shared"))
    b = await client.post("/api/v1/orders", json=ORDER, headers=idem(other, "shared"))
    assert a.status_code == b.status_code == 201 and a.json()["id"] != b.json()["id"]


async def test_a_conflict_answer_is_replayed_too(client: Any, key: str) -> None:
    order = (await client.post("/api/v1/orders", json=ORDER, headers=auth(key))).json()
    path = f"/api/v1/orders/{order['id']}/ship"
    body = {"carrier": "TCS", "tracking_number": "T-1"}
    first = await client.post(path, json=body, headers=idem(key, "ship-1"))
    assert first.status_code == 409
    await fund(order["id"])
    again = await client.post(path, json=body, headers=idem(key, "ship-1"))
    assert (again.status_code, again.content) == (409, first.content)
    fresh = await client.post(path, json=body, headers=idem(key, "ship-2"))
    assert fresh.status_code == 200 and fresh.json()["state"] == "shipped"


async def test_records_expire_after_24_hours(client: Any, key: str) -> None:
    await client.post("/api/v1/orders", json=ORDER, headers=idem(key, "k4"))
    later = now() + timedelta(hours=25)
    set_clock(lambda: later)
    try:
        r = await client.post("/api/v1/orders", json=ORDER, headers=idem(key, "k4"))
    finally:
        set_clock(None)
    assert r.status_code == 201 and r.headers.get("idempotent-replayed") is None
    assert await Order.count() == 2


@pytest.mark.parametrize("value", ["", "x" * 256])
async def test_bad_idempotency_key_is_422(client: Any, key: str, value: str) -> None:
    r = await client.post("/api/v1/orders", json=ORDER, headers=idem(key, value))
    assert r.status_code == 422 and r.json()["error"]["field"] == "Idempotency-Key"
    assert await Order.count() == 0


async def test_without_a_valid_api_key_nothing_is_stored(client: Any) -> None:
    r = await client.post("/api/v1/orders", json=ORDER, headers=idem("td_key_bogus", "k5"))
    assert r.status_code == 401 and await IdempotencyRecord.count() == 0


async def test_an_oversized_body_is_413_and_stores_nothing(client: Any, key: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from trustdesk.partners import idempotency

    monkeypatch.setattr(idempotency, "MAX_BODY_BYTES", 100)
    r = await client.post("/api/v1/orders", json={**ORDER, "description": "x" * 200},
                          headers=idem(key, "big"))
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"
    assert await IdempotencyRecord.count() == 0 and await Order.count() == 0
