"""A tiny partner store on TrustDesk's partner API (a Litestar app in one file).

It sells one product. At checkout it opens an escrow order through the API (with an
Idempotency-Key, so a double click never makes two orders) and sends the buyer to TrustDesk's
checkout page. It receives TrustDesk's signed webhooks, checks every signature with
`verify_signature`, and shows the seller's trust badge and score.

    TRUSTDESK_URL=http://127.0.0.1:8000 \\
    TRUSTDESK_API_KEY=td_key_...        # /account/integrations, or `trustdesk create-api-key`
    STORE_SLUG=demo-store               # the seller's slug (/sellers/<slug>)
    STORE_URL=http://127.0.0.1:8100     # where TrustDesk can reach this store's webhooks
    python examples/partner_store.py

At start-up it registers STORE_URL/webhooks/trustdesk as a webhook endpoint (unless
TRUSTDESK_WEBHOOK_SECRET is given, for an endpoint registered before) and keeps the signing
secret in memory. State (orders, received events) lives in memory too: it is an example.
"""

from __future__ import annotations

import html
import os
import uuid
from typing import Any
from urllib.parse import urlparse

import httpx
import uvicorn
from litestar import Litestar, Request, get, post
from litestar.response import Redirect, Response

try:  # the helper documented for partners writing Python (pure standard library)
    from trustdesk.partners import verify_signature
except ImportError:  # pragma: no cover - a store without the trustdesk package: same code
    import hashlib
    import hmac
    import time

    def verify_signature(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
        parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        try:
            t = int(parts["t"])
        except (KeyError, ValueError):
            return False
        if abs(time.time() - t) > tolerance:
            return False
        expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, parts.get("v1", ""))


TRUSTDESK_URL = os.environ.get("TRUSTDESK_URL", "http://127.0.0.1:8000").rstrip("/")
API_KEY = os.environ.get("TRUSTDESK_API_KEY", "")
STORE_SLUG = os.environ.get("STORE_SLUG", "demo-store")
STORE_URL = os.environ.get("STORE_URL", "http://127.0.0.1:8100").rstrip("/")
PRODUCT = {"title": "Hand-block printed lawn suit (3 piece)", "amount_minor": 450000,
           "shipping_minor": 25000, "currency": "PKR"}

STATE: dict[str, Any] = {"secret": os.environ.get("TRUSTDESK_WEBHOOK_SECRET", ""),
                         "orders": {}, "events": [], "rejected": 0}


def api() -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"{TRUSTDESK_URL}/api/v1", timeout=15,
                             headers={"Authorization": f"Bearer {API_KEY}"})


def rupees(minor: int) -> str:
    return f"Rs {minor / 100:,.0f}" if minor % 100 == 0 else f"Rs {minor / 100:,.2f}"


async def register_webhook() -> None:
    """Subscribe this store to every event (once per process)."""
    if STATE["secret"] or not API_KEY:
        return
    async with api() as client:
        r = await client.post("/webhook-endpoints",
                              json={"url": f"{STORE_URL}/webhooks/trustdesk", "events": ["*"],
                                    "description": "example partner store"},
                              headers={"Idempotency-Key": f"store-webhook-{STORE_URL}"})
        r.raise_for_status()
        STATE["secret"] = r.json()["secret"]


def page(title: str, body: str, status: int = 200) -> Response:
    doc = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{html.escape(title)} · Lahore Lawn Co.</title>
<style>
body{{font-family:system-ui,sans-serif;margin:0;background:#faf7f2;color:#222}}
header{{background:#5b2a86;color:#fff;padding:14px 20px}} header a{{color:#fff;text-decoration:none;font-weight:700}}
main{{max-width:760px;margin:0 auto;padding:20px}} .card{{background:#fff;border:1px solid #e4ddd3;border-radius:10px;padding:16px 20px;margin:14px 0}}
button{{background:#5b2a86;color:#fff;border:0;border-radius:8px;padding:10px 16px;font-size:1rem;cursor:pointer}}
input,select{{font-size:1rem;padding:8px;border:1px solid #bbb;border-radius:6px;width:100%;max-width:360px;box-sizing:border-box}}
label{{display:block;font-weight:600;margin:10px 0 4px}} .muted{{color:#666;font-size:.9rem}}
.trust{{display:flex;gap:16px;align-items:center;flex-wrap:wrap}} table{{border-collapse:collapse;width:100%}}
td,th{{text-align:left;border-bottom:1px solid #eee;padding:6px 4px;font-size:.95rem}} code{{font-size:.85rem}}
.state{{display:inline-block;background:#efe7f7;border-radius:99px;padding:2px 10px;font-weight:600}}
</style></head><body><header><a href="/">Lahore Lawn Co.</a> <span class="muted" style="color:#ddd">· paid safely with TrustDesk escrow</span></header>
<main>{body}</main></body></html>"""
    return Response(doc, status_code=status, media_type="text/html")


async def trust_panel() -> str:
    badge = f"{TRUSTDESK_URL}/badge/{STORE_SLUG}.svg"
    seller_page = f"{TRUSTDESK_URL}/sellers/{STORE_SLUG}"
    summary = ""
    try:
        async with httpx.AsyncClient(timeout=5) as client:  # public: no key needed
            r = await client.get(f"{TRUSTDESK_URL}/api/v1/sellers/{STORE_SLUG}/trust")
        if r.status_code == 200:
            t = r.json()
            summary = (f"<p id='trust-score'>Trust score <strong>{t['score']:.1f}</strong> / 5 · "
                       f"{html.escape(t['level_label'])} · {t['components']['rating_count']} ratings</p>")
    except httpx.HTTPError:
        summary = "<p class='muted'>Trust score unavailable right now.</p>"
    return (f"<div class='card trust'><a href='{seller_page}'><img id='trust-badge' src='{badge}' "
            f"alt='TrustDesk trust badge for this store' height='60'></a><div>{summary}"
            "<p class='muted'>Your payment is held by TrustDesk until you confirm delivery.</p></div></div>")


@get("/")
async def home() -> Response:
    form_key = uuid.uuid4().hex  # one Idempotency-Key per rendered form: a double submit is one order
    body = f"""<h1>{html.escape(PRODUCT['title'])}</h1>
{await trust_panel()}
<div class="card"><p>{rupees(PRODUCT['amount_minor'])} + {rupees(PRODUCT['shipping_minor'])} shipping</p>
<form method="post" action="/buy">
<input type="hidden" name="idempotency_key" value="{form_key}">
<label for="email">Your email</label><input id="email" name="email" type="email" required>
<p><button type="submit">Buy with escrow</button></p></form></div>
<p><a href="/events">Webhook events received ({len(STATE['events'])})</a></p>"""
    return page("Shop", body)


@post("/buy")
async def buy(request: Request) -> Response:
    form = await request.form()
    email = str(form.get("email", "")).strip()
    key = str(form.get("idempotency_key", "")) or uuid.uuid4().hex
    async with api() as client:
        r = await client.post("/orders", json={**PRODUCT, "buyer_email": email,
                                               "external_ref": f"llc-{key[:12]}"},
                              headers={"Idempotency-Key": key})
    if r.status_code != 201:
        error = r.json().get("error", {})
        return page("Could not start checkout",
                    f"<div class='card'><h1>Checkout failed</h1><p id='error'>{html.escape(error.get('message', r.text))}</p>"
                    "<p><a href='/'>Back</a></p></div>", status=400)
    order = r.json()
    STATE["orders"][order["id"]] = order
    return Redirect(f"/orders/{order['id']}", status_code=303)


@get("/orders/{order_id:int}")
async def order_page(order_id: int) -> Response:
    async with api() as client:
        r = await client.get(f"/orders/{order_id}")
    if r.status_code != 200:
        return page("Not found", "<p>No such order.</p>", status=404)
    order = r.json()
    events = [e for e in STATE["events"] if e["data"].get("id") == order_id
              or e["data"].get("order_id") == order_id]
    rows = "".join(f"<tr><td><code>{html.escape(e['type'])}</code></td><td>{html.escape(e['created_at'])}</td></tr>"
                   for e in events) or "<tr><td colspan='2' class='muted'>None yet.</td></tr>"
    ship = ""
    if order["state"] == "funded":
        ship = f"""<div class="card"><h2>Store admin: ship it</h2><form method="post" action="/orders/{order_id}/ship">
<label for="carrier">Courier</label><select id="carrier" name="carrier"><option>TCS</option><option>Leopards</option></select>
<label for="tracking">Tracking number</label><input id="tracking" name="tracking_number" required>
<p><button type="submit">Mark shipped via API</button></p></form></div>"""
    body = f"""<h1>Order #{order['id']}</h1>
<div class="card"><p>{html.escape(order['title'])} · {rupees(order['total_minor'])}</p>
<p>Status: <span class="state" id="order-state">{html.escape(order['state'])}</span></p>
{"<p><a id='checkout' href='" + html.escape(order['checkout_url']) + "'>Pay securely on TrustDesk →</a></p>" if order['state'] == 'awaiting_payment' else ""}
</div>{ship}
<div class="card"><h2>Webhooks received for this order</h2><table id="events"><tr><th>Event</th><th>At</th></tr>{rows}</table>
<p class="muted">Each one arrived signed; the signature was checked with verify_signature.</p></div>"""
    return page(f"Order {order_id}", body)


@post("/orders/{order_id:int}/ship")
async def ship(order_id: int, request: Request) -> Response:
    form = await request.form()
    async with api() as client:
        r = await client.post(f"/orders/{order_id}/ship",
                              json={"carrier": str(form.get("carrier", "")),
                                    "tracking_number": str(form.get("tracking_number", ""))},
                              headers={"Idempotency-Key": uuid.uuid4().hex})
    if r.status_code != 200:
        return page("Could not ship", f"<p id='error'>{html.escape(r.json()['error']['message'])}</p>",
                    status=400)
    return Redirect(f"/orders/{order_id}", status_code=303)


@post("/webhooks/trustdesk")
async def webhook(request: Request) -> Response:
    body = await request.body()  # the raw bytes: the signature covers exactly these
    header = request.headers.get("TrustDesk-Signature", "")
    if not STATE["secret"] or not verify_signature(STATE["secret"], header, body):
        STATE["rejected"] += 1
        return Response({"ok": False}, status_code=400)
    import json

    event = json.loads(body)
    if all(e["id"] != event["id"] for e in STATE["events"]):  # retries repeat the same id
        STATE["events"].append(event)
    return Response({"ok": True}, status_code=200)


@get("/events")
async def events() -> Response:
    rows = "".join(f"<tr><td>{e['id']}</td><td><code>{html.escape(e['type'])}</code></td>"
                   f"<td>{html.escape(str(e['data'].get('id', '')))}</td></tr>"
                   for e in reversed(STATE["events"])) or "<tr><td colspan='3'>None yet.</td></tr>"
    return page("Events", f"<h1>Webhook events</h1><div class='card'><table id='events'>"
                          f"<tr><th>Id</th><th>Type</th><th>Order</th></tr>{rows}</table>"
                          f"<p class='muted'>Rejected (bad signature): {STATE['rejected']}</p></div>")


app = Litestar([home, buy, order_page, ship, webhook, events], on_startup=[register_webhook])

if __name__ == "__main__":
    port = urlparse(STORE_URL).port or 8100
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
