"""Core jobs: deadline messages, the outbox relay, email, and the periodic sweep (scheduler).

Messages are the fast path: when a service sets a deadline (core.deadlines.schedule) or writes
an outbox event (core.outbox.emit), a message is enqueued after commit — delayed to the exact
deadline for deadlines. The sweep is the safety net: every TRUSTDESK_SWEEP_INTERVAL it finds
every row whose deadline passed (and every event or email not yet delivered) and enqueues jobs
for them, so a lost message, a killed worker or an empty broker loses nothing. Every actor
re-reads its row and does nothing when the work is already done.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import dramatiq
from dramatiq import Message

from trustdesk import worker  # noqa: F401 - sets the broker before any actor is declared
from trustdesk.core import deadlines, outbox
from trustdesk.core.clock import now
from trustdesk.core.deadline_rules import aware, delay_ms
from trustdesk.core.errors import DomainError
from trustdesk.core.tables import EmailMessage, OutboxEvent, SchedulerState
from trustdesk.db import write_transaction
from trustdesk.settings import get_settings

log = logging.getLogger("trustdesk.jobs")

QUEUE = "default"
MAX_DELAY = timedelta(days=6)  # Redis refuses delays of 7 days or more: hop in steps
BATCH = 250                    # ids per sweep message (one transaction each for set-based effects)
PAGE = 2000                    # ids read per query in the sweep
OUTBOX_GRACE = timedelta(seconds=10)  # the after-commit message normally got there first
EMAIL_GRACE = timedelta(seconds=30)

# Common options: ids only, bounded time, domain errors are answers (never retried).
JOB_OPTIONS: dict[str, Any] = {
    "max_retries": 5, "min_backoff": 1000, "max_backoff": 60_000,
    "time_limit": 60_000, "throws": (DomainError,), "queue_name": QUEUE,
}

# -- sending -----------------------------------------------------------------------------------

_target: dramatiq.Broker | None = None


def use_broker(broker: dramatiq.Broker | None) -> None:
    """Send messages to `broker` instead of the configured one (tests drive a real Redis)."""
    global _target
    _target = broker


def send(actor_name: str, *args: Any, delay: int | None = None,
         options: dict[str, Any] | None = None) -> None:
    """Enqueue a message by actor name (ids and plain values only)."""
    broker = _target or dramatiq.get_broker()
    message = Message(queue_name=QUEUE, actor_name=actor_name, args=tuple(args), kwargs={},
                      options=dict(options or {}))
    broker.enqueue(message, delay=delay or None)


# Deadline kinds are routed by prefix: "order.pay_by" -> "escrow.apply_deadline".
DEADLINE_ACTORS: dict[str, str] = {"order": "escrow.apply_deadline",
                                   "dispute": "disputes.apply_deadline"}


def schedule_deadline(kind: str, subject_id: int, version: int, at: datetime) -> None:
    """Enqueue the deadline job for exactly `at` (hopping in 6-day steps past Redis' limit)."""
    prefix = kind.split(".", 1)[0]
    actor = DEADLINE_ACTORS.get(prefix)
    if actor is None:
        log.warning("no job handles deadline kind %s", kind)
        return
    wait = delay_ms(at, now())
    if wait > MAX_DELAY.total_seconds() * 1000:
        send("core.reschedule", kind, subject_id, version, aware(at).isoformat(),  # type: ignore[union-attr]
             delay=int(MAX_DELAY.total_seconds() * 1000))
        return
    send(actor, kind, subject_id, version, delay=wait)


def relay_soon(event_id: int) -> None:
    send("core.relay_event", event_id)


def install_hooks() -> None:
    """After-commit hooks for services: deadlines and outbox events become messages."""
    deadlines.set_schedule_hook(_safe(schedule_deadline))
    outbox.set_relay_hook(_safe(relay_soon))


def _safe(fn: Callable[..., None]) -> Callable[..., None]:
    def wrapper(*args: Any) -> None:
        try:
            fn(*args)
        except Exception:  # broker down: the commit stands and the sweep catches it
            log.exception("could not enqueue %s%r; the sweep will pick it up", fn.__name__, args)
    wrapper.__name__ = fn.__name__
    return wrapper


install_hooks()


# -- actors ------------------------------------------------------------------------------------

@dramatiq.actor(actor_name="core.relay_event", **JOB_OPTIONS)
async def relay_event_job(event_id: int) -> None:
    """Deliver one outbox event (notifications, emails, webhooks); no-op if already relayed."""
    from trustdesk.core.relay import relay_event

    email_ids = await relay_event(event_id)
    for email_id in email_ids or []:
        send("core.send_email", email_id)


@dramatiq.actor(actor_name="core.send_email", **{**JOB_OPTIONS, "max_retries": 8})
async def send_email_job(email_id: int) -> None:
    """Send one stored email at most once (SMTP errors retry with backoff)."""
    from trustdesk.core.notify import send_email

    await send_email(email_id)


@dramatiq.actor(actor_name="core.reschedule", **JOB_OPTIONS)
async def reschedule_job(kind: str, subject_id: int, version: int, at_iso: str) -> None:
    """A deadline further away than the broker can delay: schedule the next hop."""
    schedule_deadline(kind, subject_id, version, datetime.fromisoformat(at_iso))


# -- the sweep ---------------------------------------------------------------------------------

# prefix -> async finder(at) yielding (kind, [ids]) pages of lapsed rows; registered by
# trustdesk.escrow.tasks and trustdesk.disputes.tasks.
FINDERS: dict[str, Callable[[datetime], AsyncIterator[tuple[str, list[int]]]]] = {}
# prefix -> async reminders(at, lead) -> list of email ids (writes notifications itself)
REMINDERS: dict[str, Callable[[datetime, timedelta], Awaitable[list[int]]]] = {}
# prefix -> batch actor name: ("order.pay_by", [ids]) -> "escrow.apply_deadlines"
BATCH_ACTORS: dict[str, str] = {"order": "escrow.apply_deadlines",
                                "dispute": "disputes.apply_deadlines"}


@dataclass
class SweepReport:
    at: datetime
    deadlines: dict[str, int] = field(default_factory=dict)
    reminders: int = 0
    events: int = 0
    emails: int = 0

    @property
    def total(self) -> int:
        return sum(self.deadlines.values())


def _chunks(ids: list[int], size: int) -> Iterable[list[int]]:
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


async def sweep_once(at: datetime | None = None) -> SweepReport:
    """Enqueue jobs for every lapsed deadline, due reminder, and undelivered event or email."""
    worker.import_tasks()
    at = at or now()
    report = SweepReport(at=at)
    for prefix, finder in list(FINDERS.items()):
        actor = BATCH_ACTORS[prefix]
        async for kind, ids in finder(at):
            for chunk in _chunks(ids, BATCH):
                send(actor, kind, chunk)
            report.deadlines[kind] = report.deadlines.get(kind, 0) + len(ids)
    lead = get_settings().reminder_lead
    for prefix, remind in list(REMINDERS.items()):
        try:
            email_ids = await remind(at, lead)
        except Exception:  # noqa: BLE001 - one domain's reminders must not stop the sweep
            log.exception("reminders for %s failed", prefix)
            continue
        report.reminders += len(email_ids)
        for email_id in email_ids:
            send("core.send_email", email_id)
    events = await OutboxEvent.select(OutboxEvent.id).where(
        OutboxEvent.relayed_at.is_null() & (OutboxEvent.created_at <= at - OUTBOX_GRACE)
    ).order_by(OutboxEvent.id).limit(PAGE * 5)
    for row in events:
        send("core.relay_event", row["id"])
    report.events = len(events)
    emails = await EmailMessage.select(EmailMessage.id).where(
        EmailMessage.sent_at.is_null() & (EmailMessage.created_at <= at - EMAIL_GRACE)
    ).order_by(EmailMessage.id).limit(PAGE)
    for row in emails:
        send("core.send_email", row["id"])
    report.emails = len(emails)
    await set_state("last_sweep_at", now().isoformat(timespec="seconds"))
    return report


async def set_state(name: str, value: str) -> None:
    stamp = now()
    await SchedulerState.insert(SchedulerState(name=name, value=value, updated_at=stamp)
                                ).on_conflict(target=SchedulerState.name, action="DO UPDATE",
                                              values=[SchedulerState.value,
                                                      SchedulerState.updated_at])


LEASE = "sweep_lease"


async def acquire_lease(owner: str, ttl: timedelta) -> bool:
    """One scheduler sweeps at a time: hold (or take over an expired) lease row. Atomic."""
    stamp = now()
    async with write_transaction():
        await SchedulerState.insert(SchedulerState(name=LEASE, value="", updated_at=stamp - ttl * 2)
                                    ).on_conflict(action="DO NOTHING")
        rows = await SchedulerState.update({SchedulerState.value: owner,
                                            SchedulerState.updated_at: stamp}).where(
            (SchedulerState.name == LEASE)
            & ((SchedulerState.value == owner) | (SchedulerState.updated_at <= stamp - ttl))
        ).returning(SchedulerState.id)
    return bool(rows)


async def release_lease(owner: str) -> None:
    await SchedulerState.update({SchedulerState.value: ""}).where(
        (SchedulerState.name == LEASE) & (SchedulerState.value == owner))


def owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


async def run_scheduler(stop: asyncio.Event, interval: timedelta | None = None,
                        on_sweep: Callable[[SweepReport], None] | None = None) -> None:
    """Sweep every `interval` while holding the lease, until `stop` is set."""
    interval = interval or get_settings().sweep_interval
    seconds = max(0.2, interval.total_seconds())
    ttl = max(timedelta(seconds=10), interval * 3)
    me = owner_id()
    try:
        while not stop.is_set():
            started = asyncio.get_running_loop().time()
            try:
                if await acquire_lease(me, ttl):
                    report = await sweep_once()
                    if on_sweep:
                        on_sweep(report)
            except Exception:  # noqa: BLE001 - the next tick tries again
                log.exception("sweep failed")
            elapsed = asyncio.get_running_loop().time() - started
            try:
                await asyncio.wait_for(stop.wait(), timeout=max(0.05, seconds - elapsed))
            except TimeoutError:
                pass
    finally:
        try:
            await release_lease(me)
        except Exception:  # noqa: BLE001
            log.debug("releasing the lease failed", exc_info=True)


# -- embedded mode (trustdesk run without a broker) ------------------------------------------

_embedded: tuple[asyncio.Task[None], asyncio.Event] | None = None


def start_embedded_scheduler() -> None:
    """Run the sweep on the web server's loop (called from the app's startup hook)."""
    global _embedded
    if _embedded is not None:
        return
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(run_scheduler(stop), name="trustdesk-sweep")
    _embedded = (task, stop)


def stop_embedded_scheduler() -> None:
    global _embedded
    if _embedded is None:
        return
    task, stop = _embedded
    _embedded = None
    stop.set()
    task.cancel()
