"""Health: is the database reachable, is the broker reachable, when did the sweep last finish."""

from __future__ import annotations

import asyncio
from typing import Any

from trustdesk.core.tables import SchedulerState


async def _database() -> dict[str, Any]:
    from trustdesk.db import get_engine, is_postgres

    try:
        await asyncio.wait_for(SchedulerState.raw("SELECT 1"), timeout=3)
        return {"ok": True, "engine": "postgresql" if is_postgres() else "sqlite",
                "name": str(getattr(get_engine(), "path", "") or "")[-60:] or None}
    except Exception as exc:  # noqa: BLE001 - report, do not raise
        return {"ok": False, "error": type(exc).__name__}


async def _broker() -> dict[str, Any]:
    from trustdesk.worker import broker_status

    try:
        return await asyncio.wait_for(asyncio.to_thread(broker_status), timeout=3)
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": type(exc).__name__}


async def _last_sweep() -> str | None:
    try:
        row = await SchedulerState.select(SchedulerState.value).where(
            SchedulerState.name == "last_sweep_at").first()
        return row["value"] if row else None
    except Exception:  # noqa: BLE001
        return None


async def check() -> dict[str, Any]:
    database, broker = await asyncio.gather(_database(), _broker())
    return {
        "ok": bool(database["ok"] and broker["ok"]),
        "database": database,
        "broker": broker,
        "last_sweep_at": await _last_sweep() if database["ok"] else None,
    }
