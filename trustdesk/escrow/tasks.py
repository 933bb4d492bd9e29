"""Escrow deadline jobs: unpaid -> cancelled, unshipped -> cancelled + refunded,
unconfirmed -> delivered, inspected -> released. Each re-reads the order under a lock and acts
only if its deadline still applies; effects go through the escrow services."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import dramatiq

from trustdesk.core import tasks as core_tasks
from trustdesk.core.actors import Actor
from trustdesk.core.clock import now
from trustdesk.core.deadline_rules import (
    ORDER_REMINDERS,
    ORDER_RULES,
    Rule,
    applies,
    aware,
)
from trustdesk.core.notify import Note, deliver
from trustdesk.db import load_for_update, write_transaction
from trustdesk.escrow import services
from trustdesk.escrow.tables import Order

log = logging.getLogger("trustdesk.jobs.escrow")

SYSTEM = Actor.system("job")


async def apply_deadline(kind: str, order_id: int) -> bool:
    """Apply the lapse of `kind` to one order if it still applies; True if it acted."""
    rule = ORDER_RULES.get(kind)
    if rule is None:
        log.warning("unknown order deadline %s", kind)
        return False
    async with write_transaction():
        order = await load_for_update(Order, order_id)
        if order is None or not applies(rule, order, now()):
            return False
        await _effect(rule, order_id)
    return True


async def _effect(rule: Rule, order_id: int) -> None:
    # Joins the transaction above: the check and the change are one atomic step.
    if rule.effect == "cancel_order":
        await services.cancel_order(order_id, actor=SYSTEM, reason=rule.reason)
    elif rule.effect == "confirm_delivery":
        await services.confirm_delivery(order_id, actor=SYSTEM)
    elif rule.effect == "release_funds":
        await services.release_funds(order_id, actor=SYSTEM)
    else:  # pragma: no cover - ORDER_RULES is closed
        raise AssertionError(rule.effect)


@dramatiq.actor(actor_name="escrow.apply_deadline", **core_tasks.JOB_OPTIONS)
async def apply_deadline_job(kind: str, order_id: int, version: int | None = None) -> None:
    """The delayed message for one order's deadline (version is informational: the row's
    state and deadline column, re-read under lock, decide)."""
    await apply_deadline(kind, order_id)


@dramatiq.actor(actor_name="escrow.apply_deadlines",
                **{**core_tasks.JOB_OPTIONS, "time_limit": 300_000})
async def apply_deadlines_job(kind: str, order_ids: list[int]) -> None:
    """A sweep batch: the due orders in one transaction (each through its service, so state,
    ledger, audit and outbox still change together); if any one fails, the batch is redone
    order by order so one bad row cannot hold the others back."""
    due = await still_due(kind, order_ids)
    if not due:
        return
    rule = ORDER_RULES[kind]
    if rule.effect == "release_funds":
        # The common case by far (every happy order ends here): set-based, same service rules.
        try:
            await services.release_after_inspection_many(due, actor=SYSTEM)
            return
        except Exception:  # noqa: BLE001 - fall back to one by one below
            log.warning("batch release of %d orders failed; applying one by one", len(due),
                        exc_info=True)
            for order_id in due:
                await apply_deadline(kind, order_id)
            return
    try:
        async with write_transaction():
            for order_id in due:
                await apply_deadline(kind, order_id)
    except Exception:  # noqa: BLE001 - isolate the failing order below
        log.warning("batch of %d %s failed; applying one by one", len(due), kind, exc_info=True)
        for order_id in due:
            await apply_deadline(kind, order_id)


async def still_due(kind: str, order_ids: list[int]) -> list[int]:
    """One read to drop ids that are done already (duplicate sweeps cost a query, not locks)."""
    rule = ORDER_RULES.get(kind)
    if rule is None or not order_ids:
        return []
    column = getattr(Order, rule.column)
    rows = await Order.select(Order.id).where(
        Order.id.is_in([int(i) for i in order_ids]) & Order.state.is_in(sorted(rule.states))
        & (column <= now())).order_by(Order.id)
    return [r["id"] for r in rows]


async def find_due(at: datetime) -> AsyncIterator[tuple[str, list[int]]]:
    """Pages of order ids whose deadline lapsed at `at`, per kind."""
    for kind, rule in ORDER_RULES.items():
        column = getattr(Order, rule.column)
        last = 0
        while True:
            rows = await Order.select(Order.id).where(
                Order.state.is_in(sorted(rule.states)) & (column <= at) & (Order.id > last)
            ).order_by(Order.id).limit(core_tasks.PAGE)
            if not rows:
                break
            ids = [r["id"] for r in rows]
            last = ids[-1]
            yield kind, ids
            if len(ids) < core_tasks.PAGE:
                break


async def send_reminders(at: datetime, lead: timedelta) -> list[int]:
    """Once per deadline: seller before ship_by, buyer before inspect_until."""
    email_ids: list[int] = []
    for kind, reminder in ORDER_REMINDERS.items():
        rule = ORDER_RULES[kind]
        column = getattr(Order, rule.column)
        rows = await Order.select(Order.id, Order.title, Order.seller, Order.buyer, column).where(
            Order.state.is_in(sorted(rule.states)) & (column > at) & (column <= at + lead)
        ).order_by(Order.id)
        notes = []
        for row in rows:
            user_id = row[reminder.recipient]
            deadline = aware(row[rule.column])
            if not user_id or deadline is None:
                continue
            when = _fmt(deadline)
            notes.append(Note(
                user_id=user_id,
                key=f"{reminder.kind}:{row['id']}:{deadline.isoformat(timespec='seconds')}",
                title=reminder.title.format(id=row["id"], at=when),
                body=reminder.body.format(title=row["title"], at=when),
                link=f"/orders/{row['id']}"))
        if notes:
            async with write_transaction():
                email_ids.extend(await deliver(notes))
    return email_ids


def _fmt(value: datetime) -> str:
    from trustdesk.core.templating import fmt_dt

    return fmt_dt(value)


core_tasks.FINDERS["order"] = find_due
core_tasks.REMINDERS["order"] = send_reminders
