"""Signed webhooks to a real HTTP receiver on localhost: signature, retries with backoff,
exactly-once success, timeouts, disabling after 3 days, resend, fan-out idempotency."""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from dramatiq import Message
from dramatiq.common import current_millis

from tests.integration.conftest import post_form
from tests.integration.test_api_orders import ORDER, auth, loop_client, make_key
from tests.support.factories import login, make_user
from trustdesk import worker
from trustdesk.core.clock import now, set_clock
from trustdesk.core.tables import Notification, OutboxEvent
from trustdesk.partners import verify_signature, webhooks
from trustdesk.partners.auth import LIMITER
from trustdesk.partners.tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint

client = pytest.fixture(loop_client, name="client")

HANDLED = {"core.relay_event", "partners.deliver_webhook", "partners.retry_webhooks",
           "partners.purge_idempotency"}


class Receiver:
    """A real HTTP server on 127.0.0.1 answering from a script of status codes (then 200)."""

    def __init__(self, script: list[int] | None = None, delay_s: float = 0.0) -> None:
        self.script = list(script or [])
        self.delay_s = delay_s
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    status = receiver.script.pop(0) if receiver.script else 200
                    receiver.requests.append({"headers": dict(self.headers), "body": body,
                                              "status": status})
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                reply = b'{"ok": true}' if status < 300 else b"receiver says no"
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                except OSError:
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/trustdesk"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def succeeded(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if 200 <= r["status"] < 300]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    worker.BROKER.flush_all()
    LIMITER.reset()
    monkeypatch.setattr(webhooks, "RETRY_BASE_S", 0.05)
    monkeypatch.setattr(webhooks, "RETRY_CAP_S", 0.2)
    yield
    worker.BROKER.flush_all()
    set_clock(None)


async def drain(limit_s: float = 15.0) -> int:
    """Run queued jobs (relay + webhook deliveries) on this loop, honouring delays; returns count."""
    broker = worker.BROKER
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    ran = 0
    while loop.time() < deadline:
        waiting = False
        progressed = False
        for name in list(broker.queues):
            q = broker.queues[name]
            later = []
            while True:
                try:
                    data = q.get_nowait()
                except queue.Empty:
                    break
                message = Message.decode(data)
                if message.actor_name not in HANDLED:
                    continue
                eta = message.options.get("eta")
                if eta and eta > current_millis():
                    later.append(data)
                    continue
                fn = broker.get_actor(message.actor_name).fn
                await getattr(fn, "__wrapped__", fn)(*message.args, **message.kwargs)
                ran += 1
                progressed = True
            for data in later:
                q.put(data)
            waiting = waiting or bool(later)
        if not waiting and not progressed:
            return ran
        await asyncio.sleep(0.02)
    raise AssertionError("jobs still pending after the timeout")


async def fanned_out_delivery() -> WebhookDelivery:
    """Fan the latest event out by hand (no jobs run) and return its one delivery."""
    event = await OutboxEvent.select().order_by(OutboxEvent.id, ascending=False).first()
    await webhooks.fan_out(event["id"])
    worker.BROKER.flush_all()
    return await WebhookDelivery.objects().where(WebhookDelivery.event_id == event["id"]).first()


async def endpoint(client: Any, key: str, url: str, events: list[str] | None = None) -> dict[str, Any]:
    r = await client.post("/api/v1/webhook-endpoints",
                          json={"url": url, "events": events or ["*"]}, headers=auth(key))
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture
async def seller() -> Any:
    return await make_user("seller")


@pytest.fixture
async def key(seller: Any) -> str:
    return await make_key(seller)


async def test_events_arrive_signed_and_verifiable(client: Any, key: str, receiver: Receiver) -> None:
    # given
    ep = await endpoint(client, key, receiver.url)
    # when
    order = (await client.post("/api/v1/orders", json=ORDER, headers=auth(key))).json()
    await drain()
    # then
    assert len(receiver.requests) == 1
    got = receiver.requests[0]
    header = got["headers"]["TrustDesk-Signature"]
    assert verify_signature(ep["secret"], header, got["body"])
    assert not verify_signature("whsec_wrong", header, got["body"])
    assert not verify_signature(ep["secret"], header, got["body"].replace(b"450000", b"450001"))
    payload = json.loads(got["body"])
    assert set(payload) == {"id", "type", "created_at", "data"}
    assert payload["type"] == "order.created" and payload["data"]["id"] == order["id"]
    event = await OutboxEvent.select().where(OutboxEvent.id == payload["id"]).first()
    assert event["event_type"] == "order.created"
    delivery = await WebhookDelivery.objects().first()
    assert delivery.state == "succeeded" and delivery.attempts == 1


async def test_a_replayed_old_signature_is_rejected(client: Any, key: str, receiver: Receiver) -> None:
    ep = await endpoint(client, key, receiver.url)
    await client.post("/api/v1/orders", json=ORDER, headers=auth(key))
    await drain()
    got = receiver.requests[0]
    header = got["headers"]["TrustDesk-Signature"]
    t = int(header.split(",")[0].split("=")[1])
    assert verify_signature(ep["secret"], header, got["body"], now=t + 299)
    assert not verify_signature(ep["secret"], header, got["body"], now=t + 301)
    assert not verify_signature(ep["secret"], header, got["body"], tolerance=60, now=t + 61)
    forged = header.replace(f"t={t}", f"t={t + 400}")  # a fresh timestamp breaks the HMAC
    assert not verify_signature(ep["secret"], forged, got["body"], now=t + 400)
    assert not verify_signature(ep["secret"], "garbage", got["body"])


async def test_receiver_failing_twice_then_succeeding_gets_it_once(client: Any, key: str) -> None:
    receiver = Receiver(script=[500, 503])
    try:
        await endpoint(client, key, receiver.url, ["order.created"])
        await client.post("/api/v1/orders", json=ORDER, headers=auth(key))
        started = time.monotonic()
        await drain()
        elapsed = time.monotonic() - started
    finally:
        receiver.close()
    assert [r["status"] for r in receiver.requests] == [500, 503, 200]
    assert len(receiver.succeeded) == 1
    assert len({json.loads(r["body"])["id"] for r in receiver.requests}) == 1
    assert elapsed >= 0.05 + 0.1  # backoff waited 0.05 s, then 0.1 s
    delivery = await WebhookDelivery.objects().first()
    assert delivery.state == "succeeded" and delivery.attempts == 3
    attempts = await WebhookAttempt.select().order_by(WebhookAttempt.id)
    assert [a["status_code"] for a in attempts] == [500, 503, 200]
    assert "receiver says no" in attempts[0]["response_snippet"]
    assert all(a["duration_ms"] >= 0 for a in attempts)
    assert (await WebhookEndpoint.objects().first()).failing_since is None
    await drain()  # nothing left that could send it again
    assert len(receiver.requests) == 3


async def test_timeout_counts_as_failure(client: Any, key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webhooks, "TIMEOUT_S", 0.2)
    receiver = Receiver(delay_s=0.6)
    receiver.script = [200, 200]
    try:
        await endpoint(client, key, receiver.url, ["order.created"])
        await client.post("/api/v1/orders", json=ORDER, headers=auth(key))
        delivery = await fanned_out_delivery()
        delay = await webhooks.attempt_delivery(delivery.id)
    finally:
        receiver.close()
    attempt = await WebhookAttempt.objects().first()
    assert attempt.status_code is None and "Timed out" in attempt.error
    assert delay == pytest.approx(0.05)
    assert (await WebhookDelivery.objects().first()).state == "pending"


async def test_endpoint_failing_for_three_days_is_disabled_and_seller_told(
        client: Any, seller: Any, key: str) -> None:
    receiver = Receiver(script=[500] * 10)
    try:
        await endpoint(client, key, receiver.url, ["order.created"])
        await client.post("/api/v1/orders", json=ORDER, headers=auth(key))
        delivery = await fanned_out_delivery()
        assert await webhooks.attempt_delivery(delivery.id) is not None
        later = now() + timedelta(days=3, minutes=1)
        set_clock(lambda: later)
        assert await webhooks.attempt_delivery(delivery.id) is None
    finally:
        set_clock(None)
        receiver.close()
    ep = await WebhookEndpoint.objects().first()
    assert ep.enabled is False and ep.disabled_reason
    assert (await WebhookDelivery.objects().first()).state == "failed"
    notes = await Notification.select().where(Notification.user_id == seller.id)
    assert any("webhook" in n["title"].lower() for n in notes)
    # a new event is not sent to a disabled endpoint
    await client.post("/api/v1/orders", json=ORDER, headers=auth(key))
    await drain()
    assert await WebhookDelivery.count() == 1


async def test_fan_out_is_idempotent_and_respects_subscriptions(client: Any, key: str,
                                                                receiver: Receiver) -> None:
    await endpoint(client, key, receiver.url, ["order.cancelled"])
    await endpoint(client, key, receiver.url, ["order.created"])
    other_key = await make_key(await make_user("seller"))
    await endpoint(client, other_key, receiver.url, ["*"])
    await client.post("/api/v1/orders", json=ORDER, headers=auth(key))
    event = await OutboxEvent.select().where(OutboxEvent.event_type == "order.created").first()
    first = await webhooks.fan_out(event["id"])
    again = await webhooks.fan_out(event["id"])
    assert len(first) == 1 and again == []
    assert await WebhookDelivery.count() == 1


async def test_resend_button_sends_again_and_logs_it(client: Any, seller: Any, key: str,
                                                     receiver: Receiver) -> None:
    await endpoint(client, key, receiver.url, ["order.created"])
    await client.post("/api/v1/orders", json=ORDER, headers=auth(key))
    await drain()
    delivery = await WebhookDelivery.objects().first()
    await login(client, seller)
    page = await client.get("/account/integrations/api")
    assert page.status_code == 200 and "Resend" in page.text and receiver.url in page.text
    r = await post_form(client, f"/account/integrations/webhooks/deliveries/{delivery.id}/resend",
                        {}, token_from="/account/integrations/api",
                        headers={"referer": "http://testserver.local/account/integrations/api"})
    assert r.status_code == 303
    await drain()
    assert len(receiver.requests) == 2
    attempts = await WebhookAttempt.select().order_by(WebhookAttempt.id)
    assert [a["manual"] for a in attempts] == [False, True]


async def test_resend_of_another_sellers_delivery_is_404(client: Any, key: str,
                                                         receiver: Receiver) -> None:
    await endpoint(client, key, receiver.url, ["order.created"])
    await client.post("/api/v1/orders", json=ORDER, headers=auth(key))
    await drain()
    delivery = await WebhookDelivery.objects().first()
    stranger = await make_user("seller")
    await login(client, stranger)
    r = await post_form(client, f"/account/integrations/webhooks/deliveries/{delivery.id}/resend",
                        {}, token_from="/account/integrations/api")
    assert r.status_code == 404


async def test_the_core_sweep_finds_overdue_deliveries_and_old_idempotency_records(
        client: Any, key: str, receiver: Receiver) -> None:
    from trustdesk.core import tasks as core_tasks
    from trustdesk.partners.tables import IdempotencyRecord

    await endpoint(client, key, receiver.url, ["order.created"])
    await client.post("/api/v1/orders", json=ORDER, headers={**auth(key), "Idempotency-Key": "s1"})
    await fanned_out_delivery()  # its job message is lost (flushed)
    later = now() + timedelta(days=2)
    set_clock(lambda: later)
    try:
        report = await core_tasks.sweep_once(later)
        await drain()
    finally:
        set_clock(None)
    assert report.deadlines.get("webhook.retry") == 1
    assert report.deadlines.get("idempotency.purge") == 1
    assert len(receiver.succeeded) == 1
    assert await IdempotencyRecord.count() == 0
