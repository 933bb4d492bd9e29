"""Dispute deadline jobs, driven by trustdesk.disputes.deadlines.DEADLINES
(kind -> (column, states, service)). Each re-reads the dispute under a lock and calls the
disputes service only if the deadline still binds; the services are idempotent too."""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timedelta
from typing import Any

import dramatiq

from trustdesk.core import tasks as core_tasks
from trustdesk.core.clock import now
from trustdesk.core.deadline_rules import DISPUTE_REMINDERS, aware, lapsed
from trustdesk.core.notify import Note, deliver
from trustdesk.db import load_for_update, write_transaction

log = logging.getLogger("trustdesk.jobs.disputes")


def _deadlines() -> Mapping[str, tuple[str, frozenset[str], str]]:
    try:
        module = importlib.import_module("trustdesk.disputes.deadlines")
    except ModuleNotFoundError:
        return {}
    return getattr(module, "DEADLINES", {})


def _table() -> Any:
    from trustdesk.disputes.tables import Dispute

    return Dispute


async def apply_deadline(kind: str, dispute_id: int) -> bool:
    """Apply the lapse of `kind` to one dispute if it still binds; True if it acted."""
    spec = _deadlines().get(kind)
    if spec is None:
        log.warning("unknown dispute deadline %s", kind)
        return False
    column, states, service_name = spec
    services = importlib.import_module("trustdesk.disputes.services")
    service = getattr(services, service_name)
    Dispute = _table()
    async with write_transaction():
        dispute = await load_for_update(Dispute, dispute_id)
        if dispute is None or not lapsed(column, states, dispute, now()):
            return False
        result = await service(dispute_id)  # joins this transaction
    return result is not None


@dramatiq.actor(actor_name="disputes.apply_deadline", **core_tasks.JOB_OPTIONS)
async def apply_deadline_job(kind: str, dispute_id: int, version: int | None = None) -> None:
    """The delayed message for one dispute deadline (the row decides, not the message)."""
    await apply_deadline(kind, dispute_id)


@dramatiq.actor(actor_name="disputes.apply_deadlines",
                **{**core_tasks.JOB_OPTIONS, "time_limit": 300_000})
async def apply_deadlines_job(kind: str, dispute_ids: list[int]) -> None:
    """A sweep batch: each dispute in its own transaction."""
    for dispute_id in dispute_ids:
        await apply_deadline(kind, int(dispute_id))


async def find_due(at: datetime) -> AsyncIterator[tuple[str, list[int]]]:
    """Pages of dispute ids whose deadline lapsed at `at`, per kind."""
    deadlines = _deadlines()
    if not deadlines:
        return
    Dispute = _table()
    for kind, (column_name, states, _) in deadlines.items():
        column = getattr(Dispute, column_name)
        last = 0
        while True:
            rows = await Dispute.select(Dispute.id).where(
                Dispute.state.is_in(sorted(states)) & (column <= at) & (Dispute.id > last)
            ).order_by(Dispute.id).limit(core_tasks.PAGE)
            if not rows:
                break
            ids = [r["id"] for r in rows]
            last = ids[-1]
            yield kind, ids
            if len(ids) < core_tasks.PAGE:
                break


async def send_reminders(at: datetime, lead: timedelta) -> list[int]:
    """Once per deadline: seller before respond_by, buyer before offer_answer_by."""
    deadlines = _deadlines()
    Dispute = _table()
    email_ids: list[int] = []
    for kind, (recipient, title, body) in DISPUTE_REMINDERS.items():
        if kind not in deadlines:
            continue
        column_name, states, _ = deadlines[kind]
        column = getattr(Dispute, column_name)
        rows = await Dispute.select(Dispute.id, Dispute.order, Dispute.buyer, Dispute.seller,
                                    column).where(
            Dispute.state.is_in(sorted(states)) & (column > at) & (column <= at + lead))
        notes = []
        for row in rows:
            deadline = aware(row[column_name])
            user_id = row[recipient]
            if deadline is None or not user_id:
                continue
            when = _fmt(deadline)
            notes.append(Note(
                user_id=user_id,
                key=f"reminder.{kind}:{row['id']}:{deadline.isoformat(timespec='seconds')}",
                title=title.format(order_id=row["order"], at=when),
                body=body.format(order_id=row["order"], at=when),
                link=f"/disputes/{row['id']}"))
        if notes:
            async with write_transaction():
                email_ids.extend(await deliver(notes))
    return email_ids


def _fmt(value: datetime) -> str:
    from trustdesk.core.templating import fmt_dt

    return fmt_dt(value)


core_tasks.FINDERS["dispute"] = find_due
core_tasks.REMINDERS["dispute"] = send_reminders
