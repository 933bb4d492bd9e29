"""Jobs: broker choice (in-process stub | redis | rabbitmq), middleware, and the actors' import.

Import this module before any tasks module: it sets Dramatiq's global broker.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AsyncIO, Middleware

from trustdesk.settings import get_settings

log = logging.getLogger("trustdesk.worker")

TASK_MODULES = (
    "trustdesk.core.tasks",
    "trustdesk.escrow.tasks",
    "trustdesk.disputes.tasks",
    "trustdesk.ratings.tasks",
    "trustdesk.partners.tasks",
)


class DatabaseMiddleware(Middleware):
    """Opens the Piccolo engine (PostgreSQL pool) on the worker's event loop."""

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        from dramatiq.asyncio import get_event_loop_thread

        from trustdesk.db import start_pool

        loop_thread = get_event_loop_thread()
        if loop_thread is not None:
            loop_thread.run_coroutine(start_pool())

    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        from dramatiq.asyncio import get_event_loop_thread

        from trustdesk.db import close_pool

        loop_thread = get_event_loop_thread()
        if loop_thread is not None:
            try:
                loop_thread.run_coroutine(close_pool())
            except Exception:  # noqa: BLE001 - shutting down anyway
                log.debug("closing pool failed", exc_info=True)


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
    broker.add_middleware(AsyncIO())
    broker.add_middleware(DatabaseMiddleware())
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
        import_tasks()
        with self._lock:
            if self.worker is None:
                self.worker = dramatiq.Worker(BROKER, worker_threads=self.threads, worker_timeout=200)
                self.worker.start()

    def stop(self) -> None:
        with self._lock:
            if self.worker is not None:
                self.worker.stop(timeout=5000)
                self.worker = None
