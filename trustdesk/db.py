"""Engine construction and the one way to write: write_transaction() + versioned updates."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType
from piccolo.table import Table

from trustdesk.core.errors import Conflict

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_S = 30.0

_after_commit: ContextVar[list[Callable[[], Any]] | None] = ContextVar(
    "trustdesk_after_commit", default=None
)

T = TypeVar("T")


def sqlite_path(url: str) -> str:
    return url[len("sqlite:///") :] or "trustdesk.sqlite3"


def make_engine(url: str) -> Engine:
    """sqlite:///file -> SQLiteEngine (WAL, busy timeout); postgres://… -> PostgresEngine."""
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        Path(path).resolve().parent.mkdir(parents=True, exist_ok=True)
        _enable_wal(path)
        return SQLiteEngine(path=path, timeout=SQLITE_BUSY_TIMEOUT_S)
    parsed = urlparse(url)
    config: dict[str, Any] = {
        "host": parsed.hostname or "127.0.0.1",
        "port": parsed.port or 5432,
        "user": parsed.username or "postgres",
        "database": (parsed.path or "/trustdesk").lstrip("/") or "trustdesk",
    }
    if parsed.password:
        config["password"] = parsed.password
    return PostgresEngine(config=config)


def _enable_wal(path: str) -> None:
    """WAL lets readers run beside the one writer; the mode is stored in the file."""
    conn = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_S)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    finally:
        conn.close()


def get_engine() -> Engine:
    from trustdesk import piccolo_conf

    return piccolo_conf.DB


def is_postgres() -> bool:
    return isinstance(get_engine(), PostgresEngine)


async def start_pool() -> None:
    engine = get_engine()
    if isinstance(engine, PostgresEngine):
        pool_loop = getattr(engine.pool, "_loop", None)
        if engine.pool is not None and pool_loop is not None and pool_loop.is_closed():
            engine.pool = None  # left open by an earlier asyncio.run() (e.g. the demo loader): unusable
        try:
            await engine.start_connection_pool(min_size=1, max_size=20)
        except Exception:  # pool already running on this loop
            log.debug("connection pool already started", exc_info=True)


async def close_pool() -> None:
    engine = get_engine()
    if isinstance(engine, PostgresEngine) and engine.pool is not None:
        await engine.close_connection_pool()


def in_transaction() -> bool:
    engine = get_engine()
    return engine.current_transaction.get() is not None


@asynccontextmanager
async def write_transaction() -> AsyncIterator[None]:
    """One writing transaction: IMMEDIATE on SQLite, default on PostgreSQL.

    Nested calls join the outer transaction. Callbacks registered with after_commit()
    run only once the outermost transaction has committed.
    """
    engine = get_engine()
    if engine.current_transaction.get() is not None:
        yield
        return
    callbacks: list[Callable[[], Any]] = []
    token = _after_commit.set(callbacks)
    try:
        if isinstance(engine, SQLiteEngine):
            async with engine.transaction(transaction_type=TransactionType.immediate):
                yield
        else:
            async with engine.transaction():
                yield
    finally:
        _after_commit.reset(token)
    for callback in callbacks:
        try:
            result = callback()
            if asyncio.iscoroutine(result):
                await result
        except Exception:  # the commit stands; the sweep catches anything missed
            log.exception("after-commit callback failed")


def after_commit(callback: Callable[[], Any]) -> None:
    """Run `callback` after the current transaction commits (immediately if none)."""
    callbacks = _after_commit.get()
    if callbacks is None:
        result = callback()
        if asyncio.iscoroutine(result):
            asyncio.ensure_future(result)
        return
    callbacks.append(callback)


async def retry_on_conflict(fn: Callable[[], Awaitable[T]], attempts: int = 4) -> T:
    """Re-run a whole command when a racing writer won (it re-reads fresh state)."""
    for attempt in range(attempts):
        try:
            return await fn()
        except Conflict:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.005 * (attempt + 1))
    raise AssertionError("unreachable")


async def load_for_update(table: type[Table], row_id: int) -> Table | None:
    """Read one row inside the current transaction; locks it on PostgreSQL."""
    query = table.objects().where(table._meta.primary_key == row_id).first()
    if is_postgres():
        query = query.lock_rows()
    return await query


async def update_versioned(table: type[Table], row: Table, values: dict[Any, Any]) -> None:
    """UPDATE … WHERE id = ? AND version = ?; raises Conflict if someone else wrote first."""
    version_col = table.version  # type: ignore[attr-defined]
    current = row.version  # type: ignore[attr-defined]
    values = dict(values)
    values[version_col] = current + 1
    rows = await (
        table.update(values)
        .where((table._meta.primary_key == row.id) & (version_col == current))  # type: ignore[attr-defined]
        .returning(table._meta.primary_key)
    )
    if not rows:
        raise Conflict("Someone else changed this at the same moment. Reload and try again.")
    for column, value in values.items():
        name = column._meta.name if hasattr(column, "_meta") else column
        setattr(row, name, value)
