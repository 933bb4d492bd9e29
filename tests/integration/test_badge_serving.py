"""The badge over HTTP: valid SVG, ETag/304, verified vs unverified origins, neutral for strangers."""

import gc
import secrets
import tracemalloc
from xml.etree import ElementTree

import pytest

from tests.integration.test_ratings_rules import completed_order, loop_client  # noqa: F401
from tests.support.factories import make_user
from trustdesk.accounts.tables import User
from trustdesk.core.actors import Actor, Role
from trustdesk.ratings import services
from trustdesk.ratings.badge_serving import SERVER


@pytest.fixture(autouse=True)
def fresh_cache():
    SERVER.clear()
    yield
    SERVER.clear()


async def seller_with_domain(domain: str = "shop.example.com"):
    seller, buyer, order = await completed_order()
    await services.rate_order(order.id, stars=5, actor=Actor(Role.BUYER, buyer.id))
    row = await services.add_domain(seller.id, domain, actor=Actor(Role.SELLER, seller.id))

    async def fetch(url: str) -> str:
        return f"trustdesk-verification={row.token}"

    await services.verify_domain(row.id, actor=Actor(Role.SELLER, seller.id), fetch=fetch)
    return seller


async def test_svg_is_valid_xml_with_the_right_headers(client) -> None:
    seller = await seller_with_domain()
    for style in ("full", "compact"):
        for lang in ("en", "ur"):
            response = await client.get(f"/badge/{seller.slug}.svg?style={style}&lang={lang}",
                                        headers={"Referer": "https://shop.example.com/cart"})
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("image/svg+xml")
            root = ElementTree.fromstring(response.content)
            assert root.tag == "{http://www.w3.org/2000/svg}svg"
            assert response.headers["cache-control"] == "public, max-age=300, stale-while-revalidate=600"
            assert response.headers["etag"].startswith('"')
            assert "frame-ancestors *" in response.headers["content-security-policy"]
            assert "x-frame-options" not in response.headers
    full = await client.get(f"/badge/{seller.slug}.svg", headers={"Referer": "https://shop.example.com/"})
    assert "3.7" in full.text and "Not verified" not in full.text  # (3.5*7+5)/8 = 3.69
    assert seller.email not in full.text


async def test_other_pages_still_refuse_framing(client) -> None:
    response = await client.get("/how-trust-works")
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


async def test_matching_etag_gets_304(client) -> None:
    seller = await seller_with_domain()
    first = await client.get(f"/badge/{seller.slug}.svg", headers={"Referer": "https://shop.example.com/"})
    etag = first.headers["etag"]
    again = await client.get(f"/badge/{seller.slug}.svg",
                             headers={"Referer": "https://shop.example.com/", "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    stale = await client.get(f"/badge/{seller.slug}.svg",
                             headers={"Referer": "https://shop.example.com/", "If-None-Match": '"nope"'})
    assert stale.status_code == 200


@pytest.mark.parametrize("headers", [
    {"Referer": "https://fake-shop.example/checkout"},
    {"Origin": "https://shop.example.com.evil.example"},
    {},  # no referrer at all: cannot prove where it is shown
])
async def test_unregistered_origin_says_not_verified(client, headers) -> None:
    seller = await seller_with_domain()
    response = await client.get(f"/badge/{seller.slug}.svg", headers=headers)
    assert response.status_code == 200
    assert "Not verified for this site" in response.text
    assert "3.7" not in response.text
    ElementTree.fromstring(response.content)


async def test_www_twin_and_own_site_are_verified(client) -> None:
    seller = await seller_with_domain()
    www = await client.get(f"/badge/{seller.slug}.svg", headers={"Referer": "https://www.shop.example.com/"})
    assert "Not verified" not in www.text
    own = await client.get(f"/badge/{seller.slug}.svg", headers={"Referer": "http://testserver.local/sellers/x"})
    assert "Not verified" not in own.text


async def test_unknown_and_suspended_sellers_get_the_neutral_badge(client) -> None:
    for slug in ("no-such-store", "UPPER", "a" * 200, "%00", "..", "x.y"):
        response = await client.get(f"/badge/{slug}.svg")
        assert response.status_code == 200, slug
        assert "Not a TrustDesk seller" in response.text
    seller = await seller_with_domain()
    await User.update({User.suspended: True}).where(User.id == seller.id)
    SERVER.clear()
    response = await client.get(f"/badge/{seller.slug}.svg", headers={"Referer": "https://shop.example.com/"})
    assert "Not a TrustDesk seller" in response.text
    buyer = await make_user("buyer")
    assert (await client.get(f"/badge/{buyer.id}.svg")).status_code == 200
    assert (await client.get(f"/badge/{seller.slug}.png")).status_code == 404


async def test_js_widget_has_cors_shadow_root_and_link(client) -> None:
    seller = await seller_with_domain()
    response = await client.get(f"/badge/{seller.slug}.js", headers={"Referer": "https://shop.example.com/"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/javascript")
    assert response.headers["access-control-allow-origin"] == "*"
    assert "attachShadow" in response.text
    assert f"/sellers/{seller.slug}" in response.text
    assert "<" not in response.text.split("var d=", 1)[1].split(";\n", 1)[0]  # markup is escaped
    fake = await client.get(f"/badge/{seller.slug}.js", headers={"Referer": "https://fake.example/"})
    assert "Not verified for this site" in fake.text


async def test_a_new_rating_changes_the_badge_in_every_process(client) -> None:
    seller, buyer, order = await completed_order()
    headers = {"Referer": "http://testserver.local/"}
    first = await client.get(f"/badge/{seller.slug}.svg", headers=headers)
    await services.rate_order(order.id, stars=1, actor=Actor(Role.BUYER, buyer.id))
    second = await client.get(f"/badge/{seller.slug}.svg", headers=headers)
    assert first.headers["etag"] != second.headers["etag"]  # this process forgot at commit


async def test_another_process_change_is_seen_within_the_sync_interval(client) -> None:
    seller, buyer, order = await completed_order()
    headers = {"Referer": "http://testserver.local/"}
    first = await client.get(f"/badge/{seller.slug}.svg", headers=headers)
    # another web process rates: the row changes in the database, this process is not told
    invalidate = SERVER.invalidate
    SERVER.invalidate = lambda seller_id: None  # type: ignore[method-assign]
    try:
        await services.rate_order(order.id, stars=1, actor=Actor(Role.BUYER, buyer.id))
    finally:
        SERVER.invalidate = invalidate  # type: ignore[method-assign]
    cached = await client.get(f"/badge/{seller.slug}.svg", headers=headers)
    assert cached.headers["etag"] == first.headers["etag"]  # still inside the interval
    SERVER.interval, saved = 0.0, SERVER.interval
    try:
        fresh = await client.get(f"/badge/{seller.slug}.svg", headers=headers)
    finally:
        SERVER.interval = saved
    assert fresh.headers["etag"] != first.headers["etag"]
    assert SERVER.db_syncs >= 1


async def test_warm_badge_costs_no_query(client) -> None:
    seller = await seller_with_domain()
    headers = {"Referer": "https://shop.example.com/"}
    await client.get(f"/badge/{seller.slug}.svg", headers=headers)
    lookups, renders, syncs = SERVER.db_lookups, SERVER.renders, SERVER.db_syncs
    for _ in range(50):
        assert (await client.get(f"/badge/{seller.slug}.svg", headers=headers)).status_code == 200
    assert SERVER.renders == renders  # served from memory
    assert SERVER.db_lookups == lookups  # no per-request query
    assert SERVER.db_syncs - syncs <= 2  # one "what changed?" poll per second per process


async def test_random_slugs_do_not_grow_memory_without_bound(client) -> None:
    async def burst(n: int) -> None:
        for _ in range(n):
            slug = secrets.token_hex(8)
            style = secrets.choice(["full", "compact", "weird", ""])
            response = await client.get(f"/badge/{slug}.svg?style={style}&lang={secrets.token_hex(2)}")
            assert response.status_code == 200

    await burst(2000)  # caches fill up to their bounds
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        await burst(8000)
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    growth = sum(s.size_diff for s in after.compare_to(before, "filename")
                 if "trustdesk" in str(s.traceback) and "test" not in str(s.traceback))
    assert len(SERVER.unknown) <= SERVER.unknown.maxsize
    assert len(SERVER.lookups) == 0
    assert len(SERVER.rendered) <= 2 * 2 * 2  # (style, lang) x format, shared by all unknown slugs
    assert growth < 256 * 1024, growth


async def test_other_domains_events_refresh_the_badge_without_calling_us(client) -> None:
    """An order cancelled for not shipping (escrow's event, no ratings call) changes the score."""
    from trustdesk.core.clock import now
    from trustdesk.escrow import services as escrow
    from trustdesk.escrow.tables import Payment

    seller, buyer, order = await completed_order()
    headers = {"Referer": "http://testserver.local/"}
    SERVER.interval, saved = 0.0, SERVER.interval
    try:
        first = await client.get(f"/badge/{seller.slug}.svg", headers=headers)
        second = await escrow.create_order(
            seller.id, escrow.NewOrder(title="Never shipped", amount_minor=1000),
            actor=Actor(Role.SELLER, seller.id))
        await escrow.claim_for_buyer(second.id, buyer.id, actor=Actor(Role.BUYER, buyer.id))
        await Payment(order=second.id, buyer=buyer.id, reference="late-1", amount_minor=1000,
                      currency="PKR", created_at=now()).save()
        await escrow.fund_order(second.id, payment_reference="late-1", actor=Actor.system("web"))
        await escrow.cancel_order(second.id, actor=Actor.system("job"), reason="not_shipped_in_time")
        fresh = await client.get(f"/badge/{seller.slug}.svg", headers=headers)
    finally:
        SERVER.interval = saved
    assert first.headers["etag"] != fresh.headers["etag"]
    assert (await services.seller_score(seller.id)).defects_not_shipped == 1
