"""Mediators see orders, payments and ledger entries in Piccolo Admin; nobody can create, edit
or delete them there (state and money change only through escrow services)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.support.factories import PASSWORD, make_user
from trustdesk.core.actors import Actor, Role
from trustdesk.escrow import services
from trustdesk.escrow.tables import LedgerEntry, Order, Payment


@pytest.fixture(name="client")
async def loop_client(app: Any) -> AsyncIterator[Any]:
    """The app on the test's own event loop: Litestar's AsyncTestClient runs it on a portal loop
    in another thread, where this loop's PostgreSQL pool cannot be used."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local",
                                 follow_redirects=True) as c:
        yield c


async def _mediator_client(client) -> dict[str, str]:
    mediator = await make_user("mediator")
    await client.get("/admin/")
    csrf = client.cookies.get("csrftoken") or ""
    r = await client.post("/admin/public/login/", json={"username": mediator.email, "password": PASSWORD},
                          headers={"X-CSRFToken": csrf}, follow_redirects=False)
    assert r.status_code in (200, 303)
    return {"X-CSRFToken": client.cookies.get("csrftoken") or csrf}


async def test_mediators_read_escrow_tables_but_cannot_change_them(client) -> None:
    seller, buyer = await make_user("seller"), await make_user("buyer")
    order = await services.create_order(seller.id, services.NewOrder(title="Kettle", amount_minor=5000),
                                        actor=Actor(Role.SELLER, seller.id))
    payment = await services.start_payment(order.id, buyer.id)
    await services.complete_payment(payment.reference, succeeded=True, method="raast")
    headers = await _mediator_client(client)
    tables = (await client.get("/admin/api/tables/")).text
    for name in ("td_order", "td_payment", "td_ledger_entry"):
        assert name in tables
    rows = await client.get("/admin/api/tables/td_order/", params={"state": "funded"})
    assert rows.status_code == 200 and "Kettle" in rows.text
    entries = await client.get("/admin/api/tables/td_ledger_entry/", params={"order": order.id})
    assert entries.status_code == 200 and f"escrow:order:{order.id}" in entries.text
    entry_id = (await LedgerEntry.select(LedgerEntry.id).first())["id"]
    attempts = [
        client.patch(f"/admin/api/tables/td_order/{order.id}/", json={"state": "released"}, headers=headers),
        client.put(f"/admin/api/tables/td_order/{order.id}/", json={"state": "released"}, headers=headers),
        client.delete(f"/admin/api/tables/td_order/{order.id}/", headers=headers),
        client.post("/admin/api/tables/td_ledger_entry/", headers=headers, json={
            "posting_id": "x", "kind": "fund", "account": "escrow:order:1", "amount_minor": 5,
            "currency": "PKR", "order": order.id, "created_at": "2026-01-01T00:00:00Z"}),
        client.patch(f"/admin/api/tables/td_ledger_entry/{entry_id}/", json={"amount_minor": 1}, headers=headers),
        client.delete(f"/admin/api/tables/td_ledger_entry/{entry_id}/", headers=headers),
        client.delete("/admin/api/tables/td_payment/", headers=headers),
    ]
    for attempt in attempts:
        response = await attempt
        assert response.status_code == 405, (response.request.method, response.request.url, response.status_code, response.text[:200])
        if not str(response.request.url).endswith("/td_payment/"):  # bulk delete is not even routed
            assert "Read-only" in response.text
    stored = await Order.objects().get(Order.id == order.id)
    assert stored.state == "funded"
    assert await LedgerEntry.count() == 2 and await Payment.count() == 1
    assert await services.escrow_balance(order.id) == 5000
