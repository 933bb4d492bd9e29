"""Test environment: a throwaway database (SQLite file or PostgreSQL db) set up before import.

TRUSTDESK_TEST_DB=sqlite (default) | postgres. Under CI=true an unreachable PostgreSQL or
Redis is an error, never a skip.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import socket
import tempfile

PG_HOST = os.environ.get("TRUSTDESK_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("TRUSTDESK_TEST_PG_PORT", "5432"))
REDIS_URL = os.environ.get("TRUSTDESK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _create_pg_database(name: str) -> None:
    import asyncio

    import asyncpg

    async def go() -> None:
        conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user="postgres", database="postgres")
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(go())


def drop_pg_database(name: str) -> None:
    import asyncio

    import asyncpg

    async def go() -> None:
        conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user="postgres", database="postgres")
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    try:
        asyncio.run(go())
    except Exception:  # noqa: BLE001 - best effort cleanup
        pass


def setup_test_environment() -> str:
    """Point TRUSTDESK_* at throwaway storage; returns 'sqlite' or 'postgres'."""
    if os.environ.get("_TRUSTDESK_TEST_ENV_READY"):
        return os.environ["_TRUSTDESK_TEST_ENV_READY"]
    kind = os.environ.get("TRUSTDESK_TEST_DB", "sqlite").lower()
    tmp = tempfile.mkdtemp(prefix="trustdesk-test-")
    atexit.register(shutil.rmtree, tmp, True)
    os.environ["TRUSTDESK_ENV"] = "test"
    os.environ["TRUSTDESK_DATA_DIR"] = os.path.join(tmp, "data")
    os.environ.setdefault("TRUSTDESK_SECRET_KEY", "test-secret-key-" + secrets.token_hex(16))
    os.environ["TRUSTDESK_BROKER_URL"] = os.environ.get("TRUSTDESK_TEST_BROKER_URL", "")
    if kind == "postgres":
        if not reachable(PG_HOST, PG_PORT):
            message = f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT}"
            raise RuntimeError(message + (" (CI=true: failing, not skipping)" if IN_CI else
                                          "; start it or run with TRUSTDESK_TEST_DB=sqlite"))
        name = f"trustdesk_test_{os.getpid()}_{secrets.token_hex(3)}"
        _create_pg_database(name)
        atexit.register(drop_pg_database, name)
        os.environ["TRUSTDESK_DATABASE_URL"] = f"postgres://postgres@{PG_HOST}:{PG_PORT}/{name}"
    else:
        kind = "sqlite"
        os.environ["TRUSTDESK_DATABASE_URL"] = f"sqlite:///{os.path.join(tmp, 'test.sqlite3')}"
    os.environ["_TRUSTDESK_TEST_ENV_READY"] = kind
    return kind
