"""The hash-chained audit log: record() inside a write transaction, verify_chain() to check."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from trustdesk.core.actors import Actor
from trustdesk.core.clock import aware, now
from trustdesk.core.tables import AuditEntry

GENESIS = "0" * 64
_LOCK_KEY = 7_374_011  # pg_advisory_xact_lock key that serialises chain appends


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)


def entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """sha256(prev_hash || canonical JSON of the entry's fields)."""
    return hashlib.sha256((prev_hash + _canonical(fields)).encode()).hexdigest()


def _fields(created_at: Any, actor_role: str, actor_id: int | None, via: str, action: str,
            subject_type: str, subject_id: str, data: dict[str, Any]) -> dict[str, Any]:
    stamp = aware(created_at)
    return {
        "created_at": stamp.isoformat(timespec="microseconds") if stamp else None,
        "actor_role": actor_role,
        "actor_id": actor_id,
        "via": via,
        "action": action,
        "subject_type": subject_type,
        "subject_id": str(subject_id),
        "data": data,
    }


async def record(action: str, *, subject_type: str, subject_id: object, actor: Actor,
                 data: dict[str, Any] | None = None) -> AuditEntry:
    """Append one entry; call inside write_transaction() (appends are serialised)."""
    from trustdesk.db import is_postgres

    if is_postgres():
        await AuditEntry.raw("SELECT pg_advisory_xact_lock({})", _LOCK_KEY)
    last = await AuditEntry.select(AuditEntry.hash).order_by(AuditEntry.id, ascending=False).first()
    prev = last["hash"] if last else GENESIS
    stamp = now()
    payload = json.loads(_canonical(data or {}))
    fields = _fields(stamp, str(actor.role), actor.user_id, actor.via, action, subject_type,
                     str(subject_id), payload)
    digest = entry_hash(prev, fields)
    entry = AuditEntry(
        created_at=stamp,
        actor_role=str(actor.role),
        actor_id=actor.user_id,
        via=actor.via,
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id),
        data=_canonical(payload),
        prev_hash=prev,
        hash=digest,
    )
    await entry.save()
    return entry


async def record_many(items: list[tuple[str, str, object, dict[str, Any]]], *, actor: Actor) -> None:
    """Append many entries (action, subject_type, subject_id, data) for one actor in one insert.

    Same chain, same hashes as calling record() for each in turn; used by batch jobs.
    """
    from trustdesk.db import is_postgres

    if not items:
        return
    if is_postgres():
        await AuditEntry.raw("SELECT pg_advisory_xact_lock({})", _LOCK_KEY)
    last = await AuditEntry.select(AuditEntry.hash).order_by(AuditEntry.id, ascending=False).first()
    prev = last["hash"] if last else GENESIS
    stamp = now()
    rows = []
    for action, subject_type, subject_id, data in items:
        payload = json.loads(_canonical(data or {}))
        fields = _fields(stamp, str(actor.role), actor.user_id, actor.via, action, subject_type,
                         str(subject_id), payload)
        digest = entry_hash(prev, fields)
        rows.append(AuditEntry(
            created_at=stamp, actor_role=str(actor.role), actor_id=actor.user_id, via=actor.via,
            action=action, subject_type=subject_type, subject_id=str(subject_id),
            data=_canonical(payload), prev_hash=prev, hash=digest))
        prev = digest
    await AuditEntry.insert(*rows)


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    broken_at: int | None = None
    reason: str = ""


async def verify_chain(batch: int = 5000) -> ChainReport:
    """Recompute every hash in order; reports the first entry that does not match."""
    prev = GENESIS
    checked = 0
    last_id = 0
    while True:
        rows = await (
            AuditEntry.select()
            .where(AuditEntry.id > last_id)
            .order_by(AuditEntry.id)
            .limit(batch)
        )
        if not rows:
            return ChainReport(ok=True, checked=checked)
        for row in rows:
            data = row["data"]
            data = json.loads(data) if isinstance(data, str) else data
            fields = _fields(row["created_at"], row["actor_role"], row["actor_id"], row["via"],
                             row["action"], row["subject_type"], row["subject_id"], data)
            if row["prev_hash"] != prev:
                return ChainReport(False, checked, row["id"], "previous hash does not match")
            if entry_hash(prev, fields) != row["hash"]:
                return ChainReport(False, checked, row["id"], "entry was altered")
            prev = row["hash"]
            checked += 1
            last_id = row["id"]


async def list_for(subject_type: str, subject_id: object) -> list[dict[str, Any]]:
    rows = await (
        AuditEntry.select()
        .where((AuditEntry.subject_type == subject_type) & (AuditEntry.subject_id == str(subject_id)))
        .order_by(AuditEntry.id)
    )
    for row in rows:
        if isinstance(row["data"], str):
            row["data"] = json.loads(row["data"])
        row["created_at"] = aware(row["created_at"])
    return rows
