"""Partner API: disputes (list, detail with messages and evidence, responses, evidence upload)
and the public trust endpoint."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from tests.integration.test_api_orders import ORDER, auth, fund, loop_client, make_key
from tests.support.factories import make_user
from trustdesk.core.actors import Actor, Role
from trustdesk.disputes import services as disputes
from trustdesk.escrow import services as escrow
from trustdesk.partners.auth import LIMITER

client = pytest.fixture(loop_client, name="client")


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
async def seller() -> Any:
    LIMITER.reset()
    return await make_user("seller")


@pytest.fixture
async def key(seller: Any) -> str:
    return await make_key(seller)


async def open_complaint(client: Any, key: str) -> tuple[dict[str, Any], Any]:
    order = (await client.post("/api/v1/orders", json=ORDER, headers=auth(key))).json()
    buyer = await fund(order["id"])
    dispute = await disputes.open_dispute(
        order["id"], reason="not_as_described", wanted="full_refund",
        statement="The colour is completely different from the photos.",
        actor=Actor(Role.BUYER, buyer.id))
    return {"order": order, "dispute_id": dispute.id}, buyer


class TestRead:
    async def test_list_and_detail_with_messages(self, client: Any, key: str) -> None:
        case, _ = await open_complaint(client, key)
        listed = await client.get("/api/v1/disputes", headers=auth(key))
        assert listed.status_code == 200, listed.text
        assert [d["id"] for d in listed.json()["data"]] == [case["dispute_id"]]
        filtered = await client.get("/api/v1/disputes", params={"state": "resolved"}, headers=auth(key))
        assert filtered.json()["data"] == []
        detail = (await client.get(f"/api/v1/disputes/{case['dispute_id']}", headers=auth(key))).json()
        assert detail["state"] == "awaiting_seller" and detail["next_actor"] == "seller"
        assert detail["order_id"] == case["order"]["id"]
        assert detail["deadlines"]["respond_by"]
        assert any("colour" in m["body"] for m in detail["messages"])
        assert detail["evidence"] == []

    async def test_another_sellers_dispute_is_404(self, client: Any, key: str) -> None:
        other_key = await make_key(await make_user("seller"))
        case, _ = await open_complaint(client, other_key)
        path = f"/api/v1/disputes/{case['dispute_id']}"
        assert (await client.get(path, headers=auth(key))).status_code == 404
        r = await client.post(path + "/responses", json={"type": "full_refund"}, headers=auth(key))
        assert r.status_code == 404
        r = await client.post(path + "/evidence", files={"files": ("a.png", png(), "image/png")},
                              headers=auth(key))
        assert r.status_code == 404
        assert (await client.get("/api/v1/disputes", headers=auth(key))).json()["data"] == []

    async def test_bad_state_filter_is_422(self, client: Any, key: str) -> None:
        r = await client.get("/api/v1/disputes", params={"state": "nope"}, headers=auth(key))
        assert r.status_code == 422 and r.json()["error"]["field"] == "state"


class TestRespond:
    async def test_full_refund_settles_and_refunds(self, client: Any, key: str) -> None:
        case, _ = await open_complaint(client, key)
        r = await client.post(f"/api/v1/disputes/{case['dispute_id']}/responses",
                              json={"type": "full_refund", "message": "Sorry about that."},
                              headers=auth(key))
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "resolved" and r.json()["outcome"] == "full_refund"
        assert (await escrow.get_order(case["order"]["id"])).state == "refunded"
        again = await client.post(f"/api/v1/disputes/{case['dispute_id']}/responses",
                                  json={"type": "contest", "message": "Changed my mind, sorry."},
                                  headers=auth(key))
        assert again.status_code == 409 and again.json()["error"]["current_state"] == "resolved"

    async def test_partial_offer_needs_an_amount_below_escrow(self, client: Any, key: str) -> None:
        case, _ = await open_complaint(client, key)
        path = f"/api/v1/disputes/{case['dispute_id']}/responses"
        r = await client.post(path, json={"type": "partial_refund"}, headers=auth(key))
        assert r.status_code == 422 and r.json()["error"]["field"] == "amount_minor"
        r = await client.post(path, json={"type": "partial_refund", "amount_minor": 10**9},
                              headers=auth(key))
        assert r.status_code == 422 and r.json()["error"]["field"] == "amount_minor"
        r = await client.post(path, json={"type": "partial_refund", "amount_minor": 100000,
                                          "message": "Keep it, take 1,000 back."}, headers=auth(key))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["state"] == "awaiting_buyer"
        assert body["offer"] == {"kind": "partial_refund", "amount_minor": 100000,
                                 "keep_item": True, "note": "Keep it, take 1,000 back."}

    async def test_contest_needs_a_statement_and_escalates(self, client: Any, key: str) -> None:
        case, _ = await open_complaint(client, key)
        path = f"/api/v1/disputes/{case['dispute_id']}/responses"
        r = await client.post(path, json={"type": "contest", "message": "no"}, headers=auth(key))
        assert r.status_code == 422 and r.json()["error"]["field"] == "message"
        r = await client.post(path, json={"type": "bogus"}, headers=auth(key))
        assert r.status_code == 422
        r = await client.post(path, json={"type": "contest",
                                          "message": "The photos show the same colour we sent."},
                              headers=auth(key))
        assert r.status_code == 200 and r.json()["state"] == "escalated"


class TestEvidence:
    async def test_upload_files_evidence_with_metadata(self, client: Any, key: str) -> None:
        case, _ = await open_complaint(client, key)
        r = await client.post(f"/api/v1/disputes/{case['dispute_id']}/evidence",
                              files=[("files", ("parcel.png", png(), "image/png"))],
                              data={"note": "The parcel as we packed it."}, headers=auth(key))
        assert r.status_code == 201, r.text
        filed = r.json()["data"]
        assert len(filed) == 1 and filed[0]["party"] == "seller" and len(filed[0]["sha256"]) == 64
        detail = (await client.get(f"/api/v1/disputes/{case['dispute_id']}", headers=auth(key))).json()
        assert [e["id"] for e in detail["evidence"]] == [filed[0]["id"]]

    async def test_a_file_that_is_not_an_image_or_pdf_is_422(self, client: Any, key: str) -> None:
        case, _ = await open_complaint(client, key)
        r = await client.post(f"/api/v1/disputes/{case['dispute_id']}/evidence",
                              files=[("files", ("evil.png", b"MZ\x90\x00 not an image", "image/png"))],
                              headers=auth(key))
        assert r.status_code == 422, r.text
        assert r.json()["error"]["field"] == "files"


class TestTrust:
    async def test_public_trust_needs_no_key(self, client: Any, seller: Any) -> None:
        r = await client.get(f"/api/v1/sellers/{seller.slug}/trust")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["slug"] == seller.slug and 1.0 <= body["score"] <= 5.0
        assert body["level"] and "components" in body and body["badge_svg_url"].endswith(".svg")

    async def test_unknown_seller_is_404(self, client: Any) -> None:
        r = await client.get("/api/v1/sellers/no-such-store/trust")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
