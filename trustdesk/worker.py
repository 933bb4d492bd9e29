"""Jobs: broker choice (in-process stub | redis | rabbitmq), middleware, and the actors' import.

Import this module before any tasks module: it sets Dramatiq's global broker.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from typing import Any

import dramatiq
from dramatiq.asyncio import EventLoopThread, get_event_loop_thread, set_event_loop_thread
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AsyncIO, Middleware, Retries

from trustdesk.settings import get_settings

log = logging.getLogger("trustdesk.worker")

TASK_MODULES = (
    "trustdesk.core.tasks",
    "trustdesk.escrow.tasks",
    "trustdesk.disputes.tasks",
    "trustdesk.ratings.tasks",
    "trustdesk.partners.tasks",
)


class HostLoop(EventLoopThread):
    """Embedded mode: run async actors on the web server's own event loop (no extra thread).

    The web app's PostgreSQL pool lives on that loop, so jobs share it instead of touching a
    pool bound to another loop.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:  # noqa: D107
        threading.Thread.__init__(self, daemon=True)
        self.interrupt_check_ival = 0.1
        self.logger = log
        self.loop = loop

    def start(self, *, timeout: float | None = None) -> None:
        pass

    def stop(self) -> None:
        pass

    def join(self, timeout: float | None = None) -> None:
        pass


_host_loop: asyncio.AbstractEventLoop | None = None


class LoopMiddleware(AsyncIO):
    """Dramatiq's AsyncIO middleware, or the host loop when the worker runs inside `trustdesk run`."""

    def before_worker_boot(self, broker: Any, worker: Any) -> None:
        if _host_loop is not None:
            set_event_loop_thread(HostLoop(_host_loop))
        else:
            super().before_worker_boot(broker, worker)

    def after_worker_shutdown(self, broker: Any, worker: Any) -> None:
        if _host_loop is not None:
            set_event_loop_thread(None)
        else:
            super().after_worker_shutdown(broker, worker)


class DatabaseMiddleware(Middleware):
    """Opens the Piccolo engine (PostgreSQL pool) on the worker's event loop."""

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        from trustdesk.db import start_pool

        loop_thread = get_event_loop_thread()
        if loop_thread is not None and _host_loop is None:
            loop_thread.run_coroutine(start_pool())

    def after_worker_shutdown(self, broker: Any, worker: Any) -> None:
        # After the worker threads stopped (in-flight jobs finish first) and before the loop
        # stops: after_* hooks run in reverse order, and LoopMiddleware was added first.
        from trustdesk.db import close_pool

        loop_thread = get_event_loop_thread()
        if loop_thread is not None and _host_loop is None:
            try:
                loop_thread.run_coroutine(close_pool())
            except Exception:  # noqa: BLE001 - shutting down anyway
                log.debug("closing pool failed", exc_info=True)


class FailedJobs(Middleware):
    """A message that failed for good (retries exhausted, or a domain error that is never
    retried) is written to FailedJob, which mediators see in the admin as "Failed jobs"."""

    def after_process_message(self, broker: Any, message: Any, *, result: Any = None,
                              exception: BaseException | None = None) -> None:
        if exception is None or not message.failed:
            return
        loop_thread = get_event_loop_thread()
        if loop_thread is None:
            return
        try:
            loop_thread.run_coroutine(record_failed_job(
                message.actor_name, message.message_id, list(message.args),
                f"{type(exception).__name__}: {exception}"))
        except Exception:  # noqa: BLE001 - never let bookkeeping kill the worker
            log.exception("could not record failed job %s", message.message_id)


async def record_failed_job(actor_name: str, message_id: str, args: list[Any], error: str) -> None:
    import json

    from trustdesk.core.clock import now
    from trustdesk.core.tables import FailedJob

    await FailedJob.insert(FailedJob(
        created_at=now(), actor_name=actor_name[:100], message_id=str(message_id)[:64],
        args=json.dumps(args, default=str), error=error[:4000], resolved=False))


class DeliverTwice(Middleware):
    """Fault injection for tests: every message is enqueued a second time (same message id),
    as a broker that redelivers would. Enable with
    TRUSTDESK_WORKER_MIDDLEWARE=trustdesk.worker:DeliverTwice."""

    copies = 0

    def after_enqueue(self, broker: Any, message: Any, delay: int | None) -> None:
        if message.options.get("duplicate_of"):
            return
        copy = message.copy(options={"duplicate_of": message.message_id})
        DeliverTwice.copies += 1
        broker.enqueue(copy, delay=delay)


def _extra_middleware() -> list[Middleware]:
    """TRUSTDESK_WORKER_MIDDLEWARE=module:Class,… adds Dramatiq middleware (tests use it to
    deliver every message twice)."""
    import importlib

    out: list[Middleware] = []
    for spec in filter(None, (os.environ.get("TRUSTDESK_WORKER_MIDDLEWARE") or "").split(",")):
        module_name, _, attr = spec.strip().partition(":")
        out.append(getattr(importlib.import_module(module_name), attr)())
    return out


def make_broker(url: str) -> dramatiq.Broker:
    if url.startswith("redis://"):
        from dramatiq.brokers.redis import RedisBroker

        broker: dramatiq.Broker = RedisBroker(url=url, namespace="trustdesk")
    elif url.startswith("amqp://"):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        broker = RabbitmqBroker(url=url)
    else:
        broker = StubBroker()
        broker.emit_after("process_boot")
    broker.add_middleware(LoopMiddleware())
    broker.add_middleware(DatabaseMiddleware())
    broker.add_middleware(FailedJobs(), before=Retries)  # after_* hooks run in reverse: see Retries
    for middleware in _extra_middleware():
        broker.add_middleware(middleware)
    return broker


BROKER = make_broker(get_settings().broker_url)
dramatiq.set_broker(BROKER)


def is_stub() -> bool:
    return isinstance(BROKER, StubBroker)


def broker_status() -> dict[str, Any]:
    """Reachability of the configured broker (blocking; call from a thread)."""
    url = get_settings().broker_url
    if not url:
        return {"ok": True, "kind": "in-process"}
    if url.startswith("redis://"):
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            client.ping()
            return {"ok": True, "kind": "redis"}
        finally:
            client.close()
    import pika

    params = pika.URLParameters(url)
    params.socket_timeout = 2
    params.blocked_connection_timeout = 2
    conn = pika.BlockingConnection(params)
    conn.close()
    return {"ok": True, "kind": "rabbitmq"}


def import_tasks() -> None:
    import importlib

    for name in TASK_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


class InProcessWorker:
    """A Dramatiq worker on threads inside the web process (embedded mode)."""

    def __init__(self, threads: int = 2) -> None:
        self.threads = threads
        self.worker: dramatiq.Worker | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Call from the web server's event loop: async actors then run on that loop."""
        global _host_loop
        import_tasks()
        try:
            _host_loop = asyncio.get_running_loop()
        except RuntimeError:
            _host_loop = None
        with self._lock:
            if self.worker is None:
                self.worker = dramatiq.Worker(BROKER, worker_threads=self.threads, worker_timeout=200)
                self.worker.start()

    def stop(self) -> None:
        with self._lock:
            if self.worker is not None:
                self.worker.stop(timeout=5000)
                self.worker = None
