"""Deadlines end to end: a real Redis broker and real `trustdesk worker` / `trustdesk scheduler`
subprocesses, windows in seconds, on this run's database (SQLite or PostgreSQL).

Redis: TRUSTDESK_TEST_REDIS_URL's server, database 12 (SQLite runs) or 13 (PostgreSQL runs);
only that database is flushed. Under CI=true a missing Redis fails these tests.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import signal
import socketserver
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import redis
from dramatiq.brokers.redis import RedisBroker

from tests.integration.test_deadlines_jobs import ledger_sum, make_order
from tests.support.env import IN_CI, REDIS_URL
from trustdesk import worker
from trustdesk.core import deadlines
from trustdesk.core.clock import now
from trustdesk.core.tables import AuditEntry, EmailMessage, FailedJob, Notification, OutboxEvent
from trustdesk.db import write_transaction
from trustdesk.escrow import ledger, services
from trustdesk.escrow.tables import LedgerEntry, Order
from trustdesk.settings import reset_settings_cache

worker.import_tasks()
from trustdesk.core import tasks  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DB_KIND = os.environ.get("_TRUSTDESK_TEST_ENV_READY", "sqlite")
_parsed = urlparse(REDIS_URL)
BROKER_URL = f"redis://{_parsed.hostname or '127.0.0.1'}:{_parsed.port or 6379}/" \
             f"{12 if DB_KIND == 'sqlite' else 13}"
SLACK = 5.0  # the bound: applied within (window + 5 s)


# -- fixtures ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def redis_db() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(BROKER_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        if IN_CI:
            pytest.fail(f"Redis is not reachable at {BROKER_URL} (CI=true: failing, not skipping)")
        pytest.skip(f"Redis is not reachable at {BROKER_URL}: {exc}")
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def broker(redis_db: redis.Redis) -> Iterator[RedisBroker]:
    """This test process enqueues to the same Redis the worker subprocess consumes."""
    redis_db.flushdb()
    b = RedisBroker(url=BROKER_URL, namespace="trustdesk")
    b.declare_queue(tasks.QUEUE)
    tasks.use_broker(b)
    yield b
    tasks.use_broker(None)
    b.close()


@pytest.fixture
def windows(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Set deadline windows in this process (services compute deadlines here)."""
    def set_windows(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"TRUSTDESK_{name.upper()}", value)
        reset_settings_cache()
    yield set_windows
    monkeypatch.undo()
    reset_settings_cache()


class Proc:
    """A `trustdesk <command>` subprocess in its own process group (so SIGKILL takes all)."""

    def __init__(self, tmp: Path, command: list[str], env: dict[str, str]) -> None:
        self.log_path = tmp / f"{command[0]}-{uuid.uuid4().hex[:6]}.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([sys.executable, "-m", "trustdesk.cli", *command], cwd=ROOT,
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_line(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"process exited:\n{self.output()[-3000:]}")
            time.sleep(0.1)
        raise AssertionError(f"no {text!r} after {timeout}s:\n{self.output()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the whole process group: no cleanup, no acks, no goodbyes."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)  # graceful: dramatiq stops its children
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
            except ProcessLookupError:
                pass
        self.log.close()


@pytest.fixture
def procs(tmp_path: Path, broker: RedisBroker) -> Iterator[Callable[..., Proc]]:
    started: list[Proc] = []

    def start(command: str, *, threads: int = 4, processes: int = 1, ready: bool = True,
              **extra: str) -> Proc:
        env = {k: v for k, v in os.environ.items() if k != "_TRUSTDESK_TEST_ENV_READY"}
        env.update({"TRUSTDESK_BROKER_URL": BROKER_URL, "TRUSTDESK_ENV": "test",
                    "TRUSTDESK_SWEEP_INTERVAL": "2s", "PYTHONUNBUFFERED": "1"})
        env.update({f"TRUSTDESK_{k.upper()}": v for k, v in extra.items()})
        args = [command]
        if command == "worker":
            args += ["--processes", str(processes), "--threads", str(threads)]
        p = Proc(tmp_path, args, env)
        started.append(p)
        if ready:
            p.wait_for_line("Worker process is ready" if command == "worker" else "sweep:", 60)
        return p

    yield start
    for p in started:
        p.stop()


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float,  # noqa: ASYNC109
                     what: str = "condition") -> float:
    """Poll `check` every 0.1 s; returns the seconds it took."""
    started = time.monotonic()
    while True:
        if await check():
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what} not reached within {timeout:.1f}s")
        await asyncio.sleep(0.1)


async def state_of(order_id: int) -> str:
    row = await Order.select(Order.state).where(Order.id == order_id).first()
    return row["state"]


async def release_postings_per_order(order_ids: list[int]) -> dict[int, int]:
    rows = await LedgerEntry.select(LedgerEntry.order, LedgerEntry.posting_id).where(
        LedgerEntry.kind == "release")
    per: dict[int, set[str]] = {i: set() for i in order_ids}
    for row in rows:
        per.setdefault(row["order"], set()).add(row["posting_id"])
    return {k: len(v) for k, v in per.items()}


async def shorten_inspection(order_id: int, seconds: float) -> None:
    """Orders store their inspection window in whole days; the test moves this order's
    inspect_until to a few seconds from now and schedules it the way the service does."""
    async with write_transaction():
        order = await services.get_order(order_id)
        at = now() + timedelta(seconds=seconds)
        await Order.update({Order.inspect_until: at}).where(Order.id == order_id)
        deadlines.schedule("order.inspect_until", order_id, order.version, at)


# -- the four deadlines, with a real worker ------------------------------------------------------

class TestDeadlinesWithRealWorker:
    async def test_unpaid_order_is_cancelled_in_time(self, procs: Any, windows: Any) -> None:
        procs("worker")
        windows(pay_window="3s")
        order, _, _ = await make_order()
        took = await wait_until(lambda: _is(order.id, "cancelled"), 3 + SLACK, "cancelled")
        assert took <= 3 + SLACK
        assert (await services.get_order(order.id)).cancel_reason == "not_paid_in_time"
        assert await ledger_sum() == 0

    async def test_unshipped_order_is_cancelled_and_refunded(self, procs: Any,
                                                              windows: Any) -> None:
        procs("worker")
        windows(ship_window="3s")
        order, _, buyer = await make_order("funded")
        await wait_until(lambda: _is(order.id, "cancelled"), 3 + SLACK, "cancelled")
        done = await services.get_order(order.id)
        assert done.cancel_reason == "not_shipped_in_time"
        assert await services.escrow_balance(order.id) == 0
        assert await services.account_balance(f"refunds:buyer:{buyer.id}") == 265_000
        assert await ledger_sum() == 0

    async def test_unconfirmed_delivery_counts_as_delivered(self, procs: Any,
                                                             windows: Any) -> None:
        procs("worker")
        windows(confirm_window="3s")
        order, _, _ = await make_order("shipped")
        await wait_until(lambda: _is(order.id, "delivered"), 3 + SLACK, "delivered")

    async def test_delivered_order_is_released_after_inspection(self, procs: Any) -> None:
        procs("worker")
        order, seller, _ = await make_order("delivered")
        await shorten_inspection(order.id, 3)
        await wait_until(lambda: _is(order.id, "released"), 3 + SLACK, "released")
        assert await services.account_balance(f"payable:seller:{seller.id}") == 265_000
        assert (await release_postings_per_order([order.id]))[order.id] == 1
        assert await ledger_sum() == 0

    async def test_silent_seller_on_damaged_complaint_pays_the_mandated_refund(
            self, procs: Any, windows: Any) -> None:
        from tests.integration.test_deadlines_jobs import open_complaint
        from trustdesk.disputes.tables import Dispute

        procs("worker")
        windows(response_window="3s")
        dispute, order, _, buyer = await open_complaint(amount=100_000)

        async def refunded() -> bool:
            row = await Dispute.select(Dispute.state).where(Dispute.id == dispute.id).first()
            return row["state"] == "resolved"

        await wait_until(refunded, 3 + SLACK, "mandated refund")
        assert await services.account_balance(f"refunds:buyer:{buyer.id}") >= 250_000
        assert await services.escrow_balance(order.id) == 0
        assert await ledger_sum() == 0

    async def test_outbox_events_become_notifications_and_emails(self, procs: Any) -> None:
        procs("worker")
        order, seller, buyer = await make_order("funded")

        async def delivered() -> bool:
            return (await OutboxEvent.count().where(OutboxEvent.relayed_at.is_null()) == 0
                    and await EmailMessage.count().where(EmailMessage.sent_at.is_null()) == 0)

        await wait_until(delivered, 10, "relay")
        users = {r["user_id"] for r in await Notification.select(Notification.user_id)}
        assert users == {seller.id, buyer.id}

    async def test_a_job_that_keeps_failing_is_recorded_for_the_admin(self, procs: Any) -> None:
        procs("worker")
        tasks.send("core.reschedule", "order.pay_by", 1, 1, "not-a-date",
                   options={"max_retries": 0})

        async def recorded() -> bool:
            return await FailedJob.count().where(FailedJob.actor_name == "core.reschedule") == 1

        await wait_until(recorded, 10, "failed job row")
        row = await FailedJob.select().first()
        assert "ValueError" in row["error"] and "not-a-date" in row["args"]


async def _is(order_id: int, state: str) -> bool:
    return await state_of(order_id) == state


# -- crash, lost messages, duplicates --------------------------------------------------------

async def seed_overdue_deliveries(n: int, amount: int = 10_000) -> list[int]:
    """n delivered orders whose inspection ended a minute ago, each funded by a real posting."""
    from tests.support.factories import make_user

    seller = await make_user("seller")
    buyer = await make_user("buyer")
    stamp = now()
    past = stamp - timedelta(minutes=1)
    ids: list[int] = []
    for start in range(0, n, 500):
        rows = [Order(token=uuid.uuid4().hex, seller=seller.id, buyer=buyer.id,
                      title=f"Crate {start + i}", amount_minor=amount, shipping_minor=0,
                      currency="PKR", inspection_days=3, state="delivered", version=5,
                      created_at=stamp, updated_at=stamp, funded_at=stamp, shipped_at=stamp,
                      delivered_at=stamp, inspect_until=past)
                for i in range(min(500, n - start))]
        inserted = await Order.insert(*rows).returning(Order.id)
        batch = [r["id"] for r in inserted]
        ids.extend(batch)
        from trustdesk.core.money import Money

        entries = []
        for oid in batch:
            posting = str(uuid.uuid4())
            for e in ledger.fund(oid, buyer.id, Money(amount, "PKR")):
                entries.append(LedgerEntry(posting_id=posting, kind="fund", account=e.account,
                                           amount_minor=e.amount_minor, currency=e.currency,
                                           order=oid, created_at=stamp))
        await LedgerEntry.insert(*entries)
    return ids


class TestResilience:
    async def test_sigkill_mid_sweep_releases_every_order_exactly_once(self, procs: Any) -> None:
        ids = await seed_overdue_deliveries(1000)
        first = procs("worker", threads=4)
        procs("scheduler")  # sweeps every 2 s: finds all 1,000

        async def some_released() -> bool:
            return await Order.count().where(Order.state == "released") >= 150

        await wait_until(some_released, 60, "first releases")
        first.kill()
        killed_at = await Order.count().where(Order.state == "released")
        assert killed_at < 1000, "the worker finished before it could be killed"
        procs("worker", threads=4)

        async def all_released() -> bool:
            return await Order.count().where(Order.state == "released") == 1000

        await wait_until(all_released, 240, "all 1,000 released")
        counts = await release_postings_per_order(ids)
        assert set(counts.values()) == {1}, {k: v for k, v in counts.items() if v != 1}
        assert await AuditEntry.count().where(AuditEntry.action == "escrow:order:released") == 1000
        assert await ledger_sum() == 0
        escrow_left = await LedgerEntry.select(LedgerEntry.amount_minor).where(
            LedgerEntry.account.like("escrow:order:%"))
        assert sum(r["amount_minor"] for r in escrow_left) == 0
        print(f"\ncrash: killed with {killed_at}/1000 released; after restart 1000/1000, "
              f"each with exactly one release posting")

    async def test_lost_messages_are_recovered_by_the_sweep(self, procs: Any, windows: Any,
                                                             redis_db: redis.Redis) -> None:
        windows(pay_window="4s")
        orders = [(await make_order())[0] for _ in range(10)]
        # the fast path: one delayed message per order is waiting in Redis …
        assert redis_db.hlen("trustdesk:default.DQ.msgs") >= 10, redis_db.keys("*")
        redis_db.flushdb()  # … and is lost
        assert redis_db.dbsize() == 0
        procs("worker")
        procs("scheduler")
        latest = max(services_aware(o.pay_by) for o in orders)
        interval = 2.0
        for order in orders:
            await wait_until(lambda o=order: _is(o.id, "cancelled"),
                             max(0.0, (latest - now()).total_seconds()) + interval + SLACK,
                             f"order {order.id} cancelled by the sweep")
        assert await ledger_sum() == 0

    async def test_every_message_delivered_twice_changes_nothing_twice(
            self, procs: Any, windows: Any, broker: RedisBroker) -> None:
        smtp = SmtpSink()
        broker.add_middleware(worker.DeliverTwice())
        procs("worker", worker_middleware="trustdesk.worker:DeliverTwice",
              smtp_url=f"smtp://127.0.0.1:{smtp.port}")
        procs("scheduler")
        windows(pay_window="3s", ship_window="3s")
        copies_before = worker.DeliverTwice.copies
        unpaid = [(await make_order())[0] for _ in range(3)]
        unshipped = [(await make_order("funded"))[0] for _ in range(3)]
        delivered = [(await make_order("delivered"))[0] for _ in range(3)]
        for order in delivered:
            await shorten_inspection(order.id, 2)
        assert worker.DeliverTwice.copies > copies_before

        async def settled() -> bool:
            states = [await state_of(o.id) for o in unpaid + unshipped + delivered]
            return (states == ["cancelled"] * 6 + ["released"] * 3
                    and await OutboxEvent.count().where(OutboxEvent.relayed_at.is_null()) == 0
                    and await EmailMessage.count().where(EmailMessage.sent_at.is_null()) == 0)

        await wait_until(settled, 30, "everything applied and delivered")
        await asyncio.sleep(3)  # let any straggling duplicate run
        rows = await LedgerEntry.select(LedgerEntry.order, LedgerEntry.kind,
                                        LedgerEntry.posting_id)
        per: dict[tuple[int, str], set[str]] = {}
        for r in rows:
            per.setdefault((r["order"], r["kind"]), set()).add(r["posting_id"])
        assert all(len(v) == 1 for v in per.values()), per
        assert await ledger_sum() == 0
        events = await OutboxEvent.select(OutboxEvent.id, OutboxEvent.event_type,
                                          OutboxEvent.subject_id)
        kinds = [(e["subject_id"], e["event_type"]) for e in events]
        assert len(kinds) == len(set(kinds)), "an event was emitted twice"
        notes = await Notification.select(Notification.dedupe_key)
        emails = await EmailMessage.select(EmailMessage.dedupe_key, EmailMessage.to_address,
                                           EmailMessage.subject)
        assert len(notes) == len({n["dedupe_key"] for n in notes}) > 0
        sent = smtp.messages()
        assert sorted(sent) == sorted((e["to_address"], e["subject"]) for e in emails), \
            "SMTP got a different set of mails than stored (a duplicate or a miss)"
        print(f"\nduplicates: {worker.DeliverTwice.copies - copies_before} extra copies sent "
              f"from this process; {len(sent)} emails over SMTP for {len(emails)} stored; "
              f"{len(notes)} notifications; every posting once")
        smtp.close()


def services_aware(value: Any) -> Any:
    from trustdesk.core.clock import aware

    return aware(value)


class SmtpSink:
    """A minimal SMTP server (HELO/EHLO, MAIL, RCPT, DATA, QUIT) that records what it gets."""

    def __init__(self) -> None:
        received: list[tuple[str, str]] = []
        lock = threading.Lock()

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.wfile.write(b"220 sink ESMTP\r\n")
                rcpt = ""
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    cmd = line.decode(errors="replace").strip()
                    upper = cmd.upper()
                    if upper.startswith(("HELO", "EHLO")):
                        self.wfile.write(b"250 sink\r\n")
                    elif upper.startswith("MAIL FROM"):
                        self.wfile.write(b"250 OK\r\n")
                    elif upper.startswith("RCPT TO"):
                        rcpt = cmd.split(":", 1)[1].strip().strip("<>")
                        self.wfile.write(b"250 OK\r\n")
                    elif upper == "DATA":
                        self.wfile.write(b"354 go\r\n")
                        raw = b""
                        while True:
                            data = self.rfile.readline()
                            if data in (b".\r\n", b".\n", b""):
                                break
                            raw += data
                        parsed = email.message_from_bytes(raw, policy=email.policy.default)
                        subject = str(parsed["Subject"])
                        with lock:
                            received.append((rcpt, subject))
                        self.wfile.write(b"250 queued\r\n")
                    elif upper == "QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:
                        self.wfile.write(b"250 OK\r\n")

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._received, self._lock = received, lock
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def messages(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._received)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

