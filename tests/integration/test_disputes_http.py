# ruff: noqa: F811  (the `client` fixture is imported from test_disputes_support)
"""Dispute pages over HTTP: the authorisation matrix (every dispute and evidence route x
anonymous, another order's buyer and seller, the buyer, the seller, a mediator), and the pages
themselves (complaint form, dispute page, evidence headers, case file, signing key, order panel)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.test_disputes_support import (  # noqa: F401 - client is a fixture
    assert_ledger_settled,
    client,
    file,
    jpeg,
    make_cast,
    make_order,
    pdf,
    upload,
)
from tests.support.factories import login
from trustdesk.core.clock import set_clock
from trustdesk.disputes import services
from trustdesk.disputes.tables import Dispute, DisputeEvent, Evidence

VIEWERS = ["anonymous", "other_buyer", "other_seller", "buyer", "seller", "mediator"]
MATRIX: dict[tuple[str, str], tuple[int, str]] = {}  # (route, viewer) -> (status, verdict)


@pytest.fixture
def later() -> Iterator[None]:
    real = datetime.now
    set_clock(lambda: real(UTC) + timedelta(hours=49))
    yield
    set_clock(None)


async def as_viewer(client: Any, cast: Any, viewer: str) -> None:
    client.cookies.clear()
    if viewer != "anonymous":
        await login(client, getattr(cast, viewer))
    await client.get("/login" if viewer == "anonymous" else "/account")


async def fingerprint(dispute_id: int | None, order_id: int) -> tuple:
    if dispute_id is None:
        return (await Dispute.count().where(Dispute.order == order_id),)
    d = await services.get_dispute(dispute_id)
    return (d.version, d.state, await DisputeEvent.count().where(DisputeEvent.dispute == dispute_id),
            await Evidence.count().where(Evidence.dispute == dispute_id))


async def post(client: Any, path: str, data: dict[str, str], files: list | None = None) -> Any:
    body = {"_csrf_token": client.cookies.get("td_csrf") or "", **data}
    if files is not None:
        return await client.post(path, data=body, files=files or [("evidence", ("", b"", "application/octet-stream"))],
                                 follow_redirects=False)
    return await client.post(path, data=body, follow_redirects=False)


# route -> (dispute setup, path template, form data, files?, roles allowed to act)
POSTS: dict[str, tuple[str, str, dict[str, str], bool, set[str]]] = {
    "POST /orders/{o}/dispute": ("none", "/orders/{o}/dispute",
                                 {"reason": "damaged", "wanted": "full_refund",
                                  "statement": "Broken glass inside the box."}, True, {"buyer"}),
    "POST /disputes/{d}/respond": ("awaiting_seller", "/disputes/{d}/respond",
                                   {"action": "offer_partial", "amount": "100", "keep_item": "1",
                                    "statement": ""}, True, {"seller"}),
    "POST /disputes/{d}/accept": ("awaiting_buyer", "/disputes/{d}/accept", {}, False, {"buyer"}),
    "POST /disputes/{d}/reject": ("awaiting_buyer", "/disputes/{d}/reject", {}, False, {"buyer"}),
    "POST /disputes/{d}/withdraw": ("awaiting_seller", "/disputes/{d}/withdraw", {}, False, {"buyer"}),
    "POST /disputes/{d}/mediator": ("awaiting_seller_48h", "/disputes/{d}/mediator", {}, False,
                                    {"buyer", "seller"}),
    "POST /disputes/{d}/messages": ("awaiting_seller", "/disputes/{d}/messages",
                                    {"body": "Any update?"}, False, {"buyer", "seller", "mediator"}),
    "POST /disputes/{d}/evidence": ("awaiting_seller", "/disputes/{d}/evidence", {}, True,
                                    {"buyer", "seller", "mediator"}),
    "POST /disputes/{d}/return-shipped": ("awaiting_return", "/disputes/{d}/return-shipped",
                                          {"carrier": "TCS", "tracking": "R-77"}, False, {"buyer"}),
    "POST /disputes/{d}/return-received": ("return_shipped", "/disputes/{d}/return-received", {},
                                           False, {"seller", "mediator"}),
}

GETS = {
    "GET /orders/{o}/dispute/new": ("none", "/orders/{o}/dispute/new", {"buyer"}),
    "GET /disputes/{d}": ("awaiting_seller", "/disputes/{d}", {"buyer", "seller", "mediator"}),
    "GET /disputes/{d}/evidence/{e}": ("awaiting_seller", "/disputes/{d}/evidence/{e}",
                                       {"buyer", "seller", "mediator"}),
    "GET /disputes/{d}/case-file.zip": ("awaiting_seller", "/disputes/{d}/case-file.zip",
                                        {"buyer", "seller", "mediator"}),
}


async def setup(cast: Any, kind: str) -> tuple[Any, Any, Any]:
    order = await make_order(cast)
    if kind == "none":
        return order, None, None
    d = await file(cast, order, uploads=[upload("shoe.jpg", jpeg())])
    ev = (await Evidence.objects().where(Evidence.dispute == d.id))[0]
    if kind in ("awaiting_buyer",):
        await services.offer_partial(d.id, amount_minor=1_000, actor=cast.s)
    if kind in ("awaiting_return", "return_shipped"):
        await services.contest(d.id, statement="It was fine when shipped.", actor=cast.s)
        await services.assign_mediator(d.id, actor=cast.m)
        await services.rule(d.id, outcome="refund_after_return", reasons="Send it back first, then refund.",
                            return_address="Shop 9, Saddar, Karachi", actor=cast.m)
    if kind == "return_shipped":
        await services.mark_return_shipped(d.id, carrier="TCS", tracking="T-1", actor=cast.b)
    return order, d, ev


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("route", list(GETS))
async def test_get_matrix(client: Any, route: str, viewer: str) -> None:
    kind, template, allowed = GETS[route]
    cast = await make_cast()
    order, d, ev = await setup(cast, kind)
    path = template.format(o=order.id, d=d.id if d else 0, e=ev.id if ev else 0)
    await as_viewer(client, cast, viewer)
    response = await client.get(path, follow_redirects=False)
    if viewer == "anonymous":
        assert response.status_code == 303 and "/login" in response.headers["location"]
        verdict = "refused"
    elif viewer.startswith("other_"):
        assert response.status_code == 404
        verdict = "refused"
    elif viewer in allowed:
        assert response.status_code == 200, response.text[:300]
        verdict = "allowed"
    else:
        assert response.status_code in (403, 404), response.status_code
        verdict = "refused"
    MATRIX[(route, viewer)] = (response.status_code, verdict)


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("route", list(POSTS))
async def test_post_matrix(client: Any, route: str, viewer: str, later: None) -> None:
    kind, template, data, multipart, allowed = POSTS[route]
    cast = await make_cast()
    set_clock(None)  # the dispute is opened now; the request happens 49 h later
    order, d, _ = await setup(cast, kind.replace("_48h", ""))
    real = datetime.now
    set_clock(lambda: real(UTC) + timedelta(hours=49))
    path = template.format(o=order.id, d=d.id if d else 0)
    before = await fingerprint(d.id if d else None, order.id)
    await as_viewer(client, cast, viewer)
    files = [("evidence", ("proof.png", jpeg(), "image/jpeg"))] if multipart else None
    response = await post(client, path, data, files)
    after = await fingerprint(d.id if d else None, order.id)
    if viewer == "anonymous":
        assert response.status_code in (303, 403), response.status_code
        if response.status_code == 303:
            assert "/login" in response.headers["location"]
        assert after == before
        verdict = "refused"
    elif viewer.startswith("other_"):
        assert response.status_code == 404, (response.status_code, response.text[:300])
        assert after == before
        verdict = "refused"
    elif viewer in allowed:
        assert response.status_code == 303, (response.status_code, response.text[:500])
        assert after != before, "the allowed party's action changed nothing"
        verdict = "allowed"
    else:
        assert response.status_code in (303, 403, 404, 409), response.status_code
        assert after == before, f"{viewer} changed the dispute through {route}"
        verdict = "refused"
    MATRIX[(route, viewer)] = (response.status_code, verdict)


def test_matrix_summary() -> None:
    """Runs last in this module: prints the numbers for the report."""
    if not MATRIX:
        pytest.skip("matrix tests did not run in this session")
    allowed = sum(1 for _, v in MATRIX.values() if v == "allowed")
    refused = len(MATRIX) - allowed
    print(f"\nAUTHORISATION MATRIX: {len(MATRIX)} cases ({len(GETS) + len(POSTS)} routes x "
          f"{len(VIEWERS)} viewers): {allowed} allowed as expected, {refused} refused as expected; "
          f"strangers got 404 in {sum(1 for (r, v), (s, _) in MATRIX.items() if v.startswith('other_') and s == 404)} "
          f"of {sum(1 for (r, v) in MATRIX if v.startswith('other_'))}")
    assert len(MATRIX) == (len(GETS) + len(POSTS)) * len(VIEWERS)


class TestPages:
    async def test_complaint_form_files_a_dispute_with_a_photo(self, client: Any) -> None:
        cast = await make_cast()
        order = await make_order(cast)
        await as_viewer(client, cast, "buyer")
        page = await client.get(f"/orders/{order.id}/dispute/new")
        assert page.status_code == 200 and "Substandard quality" in page.text
        assert "at least the item price" in page.text
        response = await post(client, f"/orders/{order.id}/dispute",
                              {"reason": "substandard_quality", "wanted": "partial_refund",
                               "wanted_amount": "300", "statement": "Seams split on first wear."},
                              [("evidence", ("my photo.jpg", jpeg(gps=True), "image/jpeg")),
                               ("evidence", ("receipt.pdf", pdf(), "application/pdf"))])
        assert response.status_code == 303
        d = (await Dispute.objects())[0]
        assert response.headers["location"] == f"/disputes/{d.id}"
        assert d.wanted_amount_minor == 30_000
        show = await client.get(f"/disputes/{d.id}")
        assert show.status_code == 200
        rows = await Evidence.objects().where(Evidence.dispute == d.id).order_by(Evidence.id)
        assert [r.display_name for r in rows] == ["my photo.jpg", "receipt.pdf"]
        for row in rows:
            assert row.sha256 in show.text
        assert "data-countdown" in show.text and "The seller must answer" in show.text
        assert "at least the item price" in show.text  # the rule is quoted for quality reasons

    async def test_form_errors_are_shown_and_nothing_is_written(self, client: Any) -> None:
        cast = await make_cast()
        order = await make_order(cast)
        await as_viewer(client, cast, "buyer")
        response = await post(client, f"/orders/{order.id}/dispute",
                              {"reason": "damaged", "wanted": "partial_refund", "wanted_amount": "abc",
                               "statement": "Broken on arrival, glass everywhere."}, [])
        assert response.status_code == 422 and "is not an amount" in response.text
        assert await Dispute.count() == 0

    async def test_outside_the_window_the_form_says_why(self, client: Any) -> None:
        cast = await make_cast()
        order = await make_order(cast, "released")
        await as_viewer(client, cast, "buyer")
        page = await client.get(f"/orders/{order.id}/dispute/new")
        assert page.status_code == 409 and "complaints can be filed while" in page.text

    async def test_evidence_is_served_with_safe_headers_and_without_exif(self, client: Any) -> None:
        cast = await make_cast()
        d = await file(cast, uploads=[upload("gps.jpg", jpeg(gps=True)), upload("doc.pdf", pdf())])
        rows = await Evidence.objects().where(Evidence.dispute == d.id).order_by(Evidence.id)
        await as_viewer(client, cast, "seller")
        img = await client.get(f"/disputes/{d.id}/evidence/{rows[0].id}")
        assert img.headers["content-type"] == "image/jpeg"
        assert img.headers["content-disposition"].startswith("inline;")
        assert img.headers["x-content-type-options"] == "nosniff"
        import io

        from PIL import Image

        assert not Image.open(io.BytesIO(img.content)).getexif()
        doc = await client.get(f"/disputes/{d.id}/evidence/{rows[1].id}")
        assert doc.headers["content-type"] == "application/pdf"
        assert doc.headers["content-disposition"].startswith("attachment;")
        other = await file(await make_cast(), uploads=[upload("x.jpg", jpeg())])
        other_ev = (await Evidence.objects().where(Evidence.dispute == other.id))[0]
        crossed = await client.get(f"/disputes/{d.id}/evidence/{other_ev.id}")
        assert crossed.status_code == 404

    async def test_both_parties_see_the_ruling_and_the_refund(self, client: Any) -> None:
        cast = await make_cast()
        d = await file(cast)
        await services.contest(d.id, statement="It was fine.", actor=cast.s)
        await services.assign_mediator(d.id, actor=cast.m)
        await services.rule(d.id, outcome="full_refund", include_shipping=True,
                            reasons="Photos show split seams; the complaint is upheld.", actor=cast.m)
        for viewer in ("buyer", "seller"):
            await as_viewer(client, cast, viewer)
            text = (await client.get(f"/disputes/{d.id}")).text
            assert "Photos show split seams" in text and "Refund" in text
        await assert_ledger_settled(d.order, "refunded", 120_000)

    async def test_order_page_panel_and_orders_todo(self, client: Any) -> None:
        cast = await make_cast()
        order = await make_order(cast)
        await as_viewer(client, cast, "buyer")
        text = (await client.get(f"/orders/{order.id}")).text
        assert f"/orders/{order.id}/dispute/new" in text
        d = await file(cast, order)
        text = (await client.get(f"/orders/{order.id}")).text
        assert f"/disputes/{d.id}" in text and "Waiting for the seller" in text
        await as_viewer(client, cast, "seller")
        orders = (await client.get("/orders")).text
        assert "Answer the buyer" in orders

    async def test_signing_key_and_case_file(self, client: Any) -> None:
        cast = await make_cast()
        d = await file(cast, uploads=[upload("a.jpg", jpeg())])
        key = await client.get("/.well-known/trustdesk-signing-key")
        assert key.status_code == 200 and key.text.startswith("-----BEGIN PUBLIC KEY-----")
        await as_viewer(client, cast, "mediator")
        zipped = await client.get(f"/disputes/{d.id}/case-file.zip")
        assert zipped.headers["content-type"] == "application/zip"
        from trustdesk.disputes import casefile

        result = casefile.verify_zip(zipped.content, casefile.load_public_key(key.content))
        assert result.ok, result.problems

    async def test_upload_route_refuses_a_missing_form_token(self, client: Any) -> None:
        cast = await make_cast()
        d = await file(cast)
        await as_viewer(client, cast, "buyer")
        response = await client.post(f"/disputes/{d.id}/evidence",
                                     files=[("evidence", ("a.jpg", jpeg(), "image/jpeg"))])
        assert response.status_code == 403 and "expired" in response.text
        assert await Evidence.count() == 0
        assert re.search("Nothing was changed", response.text)
