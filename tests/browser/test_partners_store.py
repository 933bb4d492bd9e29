"""End to end with examples/partner_store.py: the seller creates an API key on
/account/integrations; the example store (its own process and port) registers its webhook,
shows the badge, opens an escrow order through the API; the buyer pays on TrustDesk; the store
receives the signed webhooks and ships through the API; the delivery log shows it all."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import ROOT, free_port, shot, sign_in


@pytest.fixture
def api_key(browser: Any, server: str) -> str:
    ctx = browser.new_context(viewport={"width": 1200, "height": 900})
    page = ctx.new_page()
    page.set_default_timeout(15000)
    sign_in(page, server, "seller@demo.trustdesk")
    page.goto(server + "/account/integrations")
    page.get_by_label("Name for a new key").fill("Lahore Lawn Co. website")
    page.get_by_role("button", name="Create API key").click()
    page.wait_for_load_state()
    assert "only time we show it" in page.content()
    key = page.locator("#secret-value").input_value()
    assert key.startswith("td_key_")
    shot(page, "partners-01-key-shown-once")
    page.get_by_role("link", name="I have copied it").click()
    page.wait_for_load_state()
    assert key not in page.content() and "Lahore Lawn Co. website" in page.content()
    ctx.close()
    return key


@pytest.fixture
def store(server: str, api_key: str, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "TRUSTDESK_URL": server, "TRUSTDESK_API_KEY": api_key,
           "STORE_SLUG": "demo-store", "STORE_URL": url}
    log = open(tmp_path / "store.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, str(ROOT / "examples" / "partner_store.py")], cwd=ROOT,
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError((tmp_path / "store.log").read_text())
        try:
            if httpx.get(url + "/events", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def wait_for_text(page: Any, text: str, timeout_s: float = 45) -> None:
    """Reload until `text` shows (webhooks arrive from TrustDesk's job worker)."""
    deadline = time.time() + timeout_s
    while text not in page.content():
        if time.time() > deadline:
            raise AssertionError(f"{text!r} never appeared on {page.url}")
        time.sleep(0.5)
        page.reload()


def test_partner_store_opens_an_order_receives_webhooks_and_shows_the_badge(
        browser: Any, server: str, store: str) -> None:
    shopper = browser.new_context(viewport={"width": 390, "height": 844})
    page = shopper.new_page()
    page.set_default_timeout(15000)

    # -- the store shows the badge and the trust score from the public API
    page.goto(store)
    badge = page.locator("#trust-badge")
    assert badge.evaluate("img => img.complete && img.naturalWidth > 0"), "badge image did not load"
    assert "Trust score" in page.locator("#trust-score").inner_text()
    shot(page, "partners-02-store-with-badge")

    # -- checkout opens an escrow order through the API
    email = f"shopper-{secrets.token_hex(4)}@example.test"
    page.get_by_label("Your email").fill(email)
    page.get_by_role("button", name="Buy with escrow").click()
    page.wait_for_load_state()
    assert re.search(r"/orders/\d+$", page.url), page.url
    store_order_url = page.url
    assert page.locator("#order-state").inner_text() == "awaiting_payment"
    wait_for_text(page, "order.created")
    shot(page, "partners-03-store-order-created")

    # -- the buyer pays on TrustDesk (an account is created for the email the store sent)
    page.get_by_role("link", name=re.compile("Pay securely on TrustDesk")).click()
    page.wait_for_load_state()
    assert "Lahore Lawn Co." not in page.content() and "Demo Store" in page.content()
    page.get_by_role("link", name="Create an account to pay").click()
    page.wait_for_load_state()
    page.get_by_label("Your name").fill("Hina Store-Buyer")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("a long enough passphrase")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_load_state()
    page.get_by_role("button", name=re.compile(r"^Pay Rs 4,750 into escrow")).click()
    page.wait_for_load_state()
    page.get_by_role("button", name="Pay (Raast)").click()
    page.wait_for_load_state()
    assert "Payment received" in page.content()

    # -- back at the store: the signed order.funded webhook arrived; the store ships via the API
    page.goto(store_order_url)
    wait_for_text(page, "order.funded")
    assert page.locator("#order-state").inner_text() == "funded"
    page.get_by_label("Tracking number").fill("TCS-55510")
    shot(page, "partners-04-store-order-funded")
    page.get_by_role("button", name="Mark shipped via API").click()
    page.wait_for_load_state()
    assert page.locator("#order-state").inner_text() == "shipped"
    wait_for_text(page, "order.shipped")
    shot(page, "partners-05-store-order-shipped")
    page.goto(store + "/events")
    assert "Rejected (bad signature): 0" in page.content()
    shopper.close()

    # -- the seller sees every delivery, with status and timing, and can resend
    seller_ctx = browser.new_context(viewport={"width": 1200, "height": 900})
    seller = seller_ctx.new_page()
    seller.set_default_timeout(15000)
    sign_in(seller, server, "seller@demo.trustdesk")
    seller.goto(server + "/account/integrations")
    log = seller.locator("table.partners-deliveries")
    assert log.count() == 1
    text = log.inner_text()
    for event_type in ("order.created", "order.funded", "order.shipped"):
        assert event_type in text
    assert "200" in text and "ms" in text
    seller.locator("#webhooks").scroll_into_view_if_needed()
    shot(seller, "partners-06-integrations-delivery-log")
    seller.get_by_role("button", name=re.compile(r"^Resend order.created")).first.click()
    seller.wait_for_load_state()
    assert "Sending it again now" in seller.content()
    seller_ctx.close()

    # -- the same section at 375 px, with a key about to be revoked (confirm step)
    small = browser.new_context(viewport={"width": 375, "height": 812})
    phone = small.new_page()
    phone.set_default_timeout(15000)
    sign_in(phone, server, "seller@demo.trustdesk")
    phone.goto(server + "/account/integrations/api")
    phone.get_by_text("Revoke", exact=True).first.click()
    assert phone.get_by_role("button", name="Yes, revoke it").first.is_visible()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"page is {width}px wide at 375px"
    shot(phone, "partners-07-keys-and-webhooks-375px")
    small.close()


@pytest.mark.parametrize(("path", "ready"), [("/schema", ".opblock"), ("/schema/swagger", ".opblock")])
def test_openapi_ui_is_served_without_a_cdn(page: Any, server: str, path: str, ready: str) -> None:
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(server)
            and not r.url.startswith(("data:", "blob:")) else None)
    page.goto(server + path)
    page.wait_for_selector(ready, timeout=20000)
    body = page.content()
    assert "/api/v1/orders" in body or "Open an escrow order" in body
    assert outside == [], outside
    shot(page, "partners-08-openapi" + path.replace("/", "-"))
