"""The audit chain verifies, and any edit, deletion or reordering of an entry is detected."""

import asyncio

from tests.support.factories import make_user
from trustdesk.core import audit
from trustdesk.core.actors import Actor, Role
from trustdesk.core.tables import AuditEntry
from trustdesk.db import write_transaction


async def _record(n: int) -> None:
    for i in range(n):
        async with write_transaction():
            await audit.record("test:thing:done", subject_type="thing", subject_id=i,
                               actor=Actor(Role.SYSTEM), data={"i": i, "note": "ünïcode ✓"})


async def test_intact_chain_verifies() -> None:
    await make_user("buyer")  # registration is audited too
    await _record(5)
    report = await audit.verify_chain()
    assert report.ok and report.checked == 6


async def test_editing_an_entry_is_detected() -> None:
    await _record(5)
    third = (await AuditEntry.select(AuditEntry.id).order_by(AuditEntry.id))[2]["id"]
    await AuditEntry.update({AuditEntry.data: '{"i": 99, "note": "x"}'}).where(AuditEntry.id == third)
    report = await audit.verify_chain()
    assert not report.ok and report.broken_at == third and report.checked == 2


async def test_deleting_an_entry_is_detected() -> None:
    await _record(5)
    second = (await AuditEntry.select(AuditEntry.id).order_by(AuditEntry.id))[1]["id"]
    await AuditEntry.delete().where(AuditEntry.id == second)
    report = await audit.verify_chain()
    assert not report.ok and report.reason == "previous hash does not match"


async def test_concurrent_appends_keep_one_chain() -> None:
    async def one(i: int) -> None:
        async with write_transaction():
            await audit.record("test:race", subject_type="thing", subject_id=i,
                               actor=Actor(Role.SYSTEM), data={})

    await asyncio.gather(*(one(i) for i in range(30)))
    report = await audit.verify_chain()
    assert report.ok and report.checked == 30
    prevs = [r["prev_hash"] for r in await AuditEntry.select(AuditEntry.prev_hash)]
    assert len(set(prevs)) == 30  # no fork: every entry has a distinct predecessor
