"""A partner store on another localhost port embeds the badge; a fake shop gets "Not verified";
the public seller page shows its chart and QR code; a buyer rates a completed order."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.browser.conftest import shot, sign_in


def store_page(server: str, title: str) -> bytes:
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>
<body style="font-family: sans-serif; margin: 24px">
<h1>{title}</h1>
<p>Hand-made goods. Pay safely through TrustDesk escrow.</p>
<h2>Script widget</h2>
<div id="widget"><script src="{server}/badge/demo-store.js"></script></div>
<h2>Image badges</h2>
<p><a href="{server}/sellers/demo-store"><img id="img-full" src="{server}/badge/demo-store.svg" alt="TrustDesk badge"></a></p>
<p><img id="img-compact" src="{server}/badge/demo-store.svg?style=compact&lang=ur" alt="TrustDesk badge (Urdu)"></p>
</body></html>""".encode()


class StoreServer:
    """A tiny 'partner store' website on its own port (another origin than TrustDesk)."""

    def __init__(self, body: bytes) -> None:
        page = body

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def partner_store(server: str) -> Iterator[StoreServer]:
    store = StoreServer(store_page(server, "Demo Store — official shop"))
    yield store
    store.close()


@pytest.fixture
def fake_store(server: str) -> Iterator[StoreServer]:
    store = StoreServer(store_page(server, "Totally Real Demo Store (fake)"))
    yield store
    store.close()


def badge_text(page) -> str:
    page.wait_for_selector(".trustdesk-badge svg text")
    return " ".join(page.locator(".trustdesk-badge svg text").all_text_contents())


def test_partner_store_shows_the_score_and_a_fake_shop_does_not(server, page, partner_store, fake_store) -> None:
    # the seller registers the store's origin and (development) marks it verified
    sign_in(page, server, "seller@demo.trustdesk")
    page.goto(server + "/account/integrations")
    page.get_by_label("Add a domain").fill(f"127.0.0.1:{partner_store.port}")
    page.get_by_role("button", name="Add domain").click()
    page.wait_for_load_state()
    row = page.locator("tr", has_text=f"127.0.0.1:{partner_store.port}")
    row.get_by_role("button", name="Mark verified (development)").click()
    page.wait_for_load_state()
    assert "marked verified" in page.content()
    shot(page, "ratings-01-integrations")

    # the real store: script widget and images show the score
    page.goto(partner_store.url)
    text = badge_text(page)
    assert re.search(r"\b[1-5]\.\d\b", text), text
    assert "Not verified" not in text
    link = page.locator(".trustdesk-badge a")
    assert link.get_attribute("href") == f"{server}/sellers/demo-store"
    page.wait_for_function("document.getElementById('img-full').naturalWidth > 0")
    page.wait_for_function("document.getElementById('img-compact').naturalWidth > 0")
    shot(page, "ratings-02-partner-store-badge")

    # a fake shop copying the same snippet
    page.goto(fake_store.url)
    text = badge_text(page)
    assert "Not verified for this site" in text, text
    assert not re.search(r"\b[1-5]\.\d\b", text)
    page.wait_for_function("document.getElementById('img-full').naturalWidth > 0")
    shot(page, "ratings-03-fake-store-not-verified")


def test_seller_page_shows_components_chart_and_qr(server, page) -> None:
    page.goto(server + "/sellers/demo-store")
    assert page.locator("svg.score-chart circle").count() == 12
    assert page.locator(".qr svg").count() == 1
    body = page.inner_text("body")
    for words in ("Why this score", "Order defect rate", "Dispute record", "On-time shipping",
                  "Recent ratings", "Seller's reply", "Star ratings"):
        assert words in body, words
    shot(page, "ratings-04-seller-page")
    page.goto(server + "/sellers/quick-deals-pk")
    assert "Restricted" in page.inner_text(".score-box")
    shot(page, "ratings-05-poor-seller-page")
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(server + "/sellers/demo-store")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    shot(page, "ratings-06-seller-page-375")


def test_how_trust_works_is_linked_from_the_header(server, page) -> None:
    page.goto(server + "/")
    page.locator("header").get_by_role("link", name="How trust works").click()
    page.wait_for_load_state()
    assert "Bayesian" in page.inner_text("main")
    shot(page, "ratings-07-how-trust-works")


def test_buyer_rates_a_completed_order(server, page) -> None:
    sign_in(page, server, "buyer@demo.trustdesk")
    page.goto(server + "/orders")
    page.get_by_role("link", name="Rate the seller").first.click()
    page.wait_for_load_state()
    panel = page.locator(".rating-panel")
    panel.get_by_label(re.compile("4 of 5")).check()
    panel.get_by_label("What happened (optional, shown publicly)").fill("Lovely shawl, a day late.")
    panel.get_by_label("Good packaging").check()
    shot(page, "ratings-08-rate-form")
    panel.get_by_role("button", name="Publish rating").click()
    page.wait_for_load_state()
    assert "Your rating is published" in page.content()
    assert "Lovely shawl, a day late." in page.inner_text(".rating-panel")
    page.goto(server + "/sellers/demo-store")
    assert "Lovely shawl, a day late." in page.inner_text("body")
