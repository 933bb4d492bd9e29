"""Idempotency-Key on every POST, as Stripe does it.

The first request with a key claims a row (unique per API key + key) in its own committed
transaction, then runs the handler inside one write transaction that also stores its response:
either both commit or neither does. Copies that arrive meanwhile wait for the row to be done and
replay its status and body byte for byte; nothing runs twice. The same key with a different body
(or path) is refused with 422 `idempotency_key_reused`. A request that failed validation (or
auth, or the rate limit, or crashed) stores nothing, so it can be retried with the same key.
Records live 24 hours.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import timedelta
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from trustdesk.core.clock import aware, now
from trustdesk.db import write_transaction
from trustdesk.partners.auth import STATE_KEY, json_error
from trustdesk.partners.tables import IdempotencyRecord

HEADER = b"idempotency-key"
MAX_KEY_LENGTH = 255
TTL = timedelta(hours=24)
LEASE = timedelta(seconds=90)  # a "running" row older than this was abandoned by a dead process
WAIT_FOR_FIRST_S = 60.0
MAX_BODY_BYTES = 64 * 1024 * 1024  # as the app's request_max_body_size
POLL_S = 0.02
# Responses worth replaying: the command ran (or was refused by a rule that will refuse again).
STORED_STATUSES = frozenset({200, 201, 202, 204, 403, 404, 409})


class _Rollback(Exception):
    """Raised inside the transaction to undo a handler that answered with an error."""


def fingerprint(method: str, path: str, query: bytes, body: bytes) -> str:
    """What makes two requests "the same": method, path, query and the body's content.

    JSON bodies are compared by value (key order and spacing do not matter).
    """
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode() \
            if body else b""
    except (ValueError, UnicodeDecodeError):
        canonical = body
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query, canonical):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


class _TooLarge(Exception):
    pass


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _replaying_receive(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)  # nobody should wait for a disconnect here
        return {"type": "http.disconnect"}

    return receive


async def _claim(api_key_id: int, key: str, fp: str) -> tuple[str, dict[str, Any] | None]:
    """("mine", None) when this request runs; ("replay", row) / ("reused", row) otherwise."""
    scope_key = f"{api_key_id}:{key}"
    deadline = asyncio.get_running_loop().time() + WAIT_FOR_FIRST_S
    while True:
        stamp = now()
        async with write_transaction():
            rows = await IdempotencyRecord.insert(IdempotencyRecord(
                api_key_id=api_key_id, key=key, scope=scope_key, fingerprint=fp, state="running",
                created_at=stamp, body="", content_type="application/json",
            )).on_conflict(action="DO NOTHING").returning(IdempotencyRecord.id)
        if rows:
            return "mine", {"id": rows[0]["id"]}
        row = await IdempotencyRecord.select().where(IdempotencyRecord.scope == scope_key).first()
        if row is None:
            continue  # the first copy failed validation and let go of the key: run ourselves
        created = aware(row["created_at"])
        if created is not None and (stamp - created > TTL
                                    or (row["state"] == "running" and stamp - created > LEASE)):
            await IdempotencyRecord.delete().where(
                (IdempotencyRecord.id == row["id"]) & (IdempotencyRecord.state == row["state"]))
            continue
        if row["fingerprint"] != fp:
            return "reused", row
        if row["state"] == "done":
            return "replay", row
        if asyncio.get_running_loop().time() > deadline:
            return "busy", row
        await asyncio.sleep(POLL_S)


async def _send_stored(send: Send, row: dict[str, Any]) -> None:
    body = (row["body"] or "").encode()
    await send({"type": "http.response.start", "status": int(row["status_code"]), "headers": [
        (b"content-type", (row["content_type"] or "application/json").encode()),
        (b"content-length", str(len(body)).encode()),
        (b"idempotent-replayed", b"true"),
    ]})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def idempotency_middleware(app: ASGIApp) -> ASGIApp:
    """Wraps the API router (inside api_key_middleware, which resolves the key)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await app(scope, receive, send)
            return
        key = _header(scope, HEADER)
        api_key = scope.get("state", {}).get(STATE_KEY)
        if key is None or not api_key:
            await app(scope, receive, send)  # no key: runs once per request; no API key: 401
            return
        if not key.strip() or len(key) > MAX_KEY_LENGTH or any(ord(c) < 32 for c in key):
            await json_error(send, 422, "validation_error",
                             f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters.",
                             field="Idempotency-Key")
            return
        try:
            body = await _read_body(receive)
        except _TooLarge:
            await json_error(send, 413, "too_large", "The request body is too large.")
            return
        fp = fingerprint("POST", scope.get("path", ""), scope.get("query_string", b""), body)
        outcome, row = await _claim(int(api_key["id"]), key, fp)
        if outcome == "reused":
            await json_error(send, 422, "idempotency_key_reused",
                             "This Idempotency-Key was already used with a different request. "
                             "Use a new key for a new request.", field="Idempotency-Key")
            return
        if outcome == "busy":
            await json_error(send, 409, "idempotency_in_progress",
                             "A request with this Idempotency-Key is still running. Retry shortly.")
            return
        if outcome == "replay":
            await _send_stored(send, row)  # type: ignore[arg-type]
            return
        await _run_and_store(app, scope, body, send, int(row["id"]))  # type: ignore[index]

    return middleware


async def _run_and_store(app: ASGIApp, scope: Scope, body: bytes, send: Send, record_id: int) -> None:
    messages: list[Message] = []

    async def capture(message: Message) -> None:
        messages.append(message)

    status = 500
    try:
        try:
            async with write_transaction():
                await app(scope, _replaying_receive(body), capture)
                status = _status(messages)
                if status >= 400:
                    raise _Rollback  # an error answer: undo anything the handler wrote
                await _store(record_id, status, messages)
        except _Rollback:
            async with write_transaction():
                if status in STORED_STATUSES:
                    await _store(record_id, status, messages)
                else:
                    await IdempotencyRecord.delete().where(IdempotencyRecord.id == record_id)
    except BaseException:
        await IdempotencyRecord.delete().where(IdempotencyRecord.id == record_id)
        raise
    for message in messages:
        await send(message)


def _status(messages: list[Message]) -> int:
    for message in messages:
        if message["type"] == "http.response.start":
            return int(message["status"])
    return 500


async def _store(record_id: int, status: int, messages: list[Message]) -> None:
    content_type = "application/json"
    for message in messages:
        if message["type"] == "http.response.start":
            for name, value in message.get("headers", []):
                if name.lower() == b"content-type":
                    content_type = value.decode("latin-1")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    await IdempotencyRecord.update({
        IdempotencyRecord.state: "done", IdempotencyRecord.status_code: status,
        IdempotencyRecord.content_type: content_type[:100],
        IdempotencyRecord.body: body.decode("utf-8", errors="replace"),
        IdempotencyRecord.completed_at: now(),
    }).where(IdempotencyRecord.id == record_id)


async def purge_expired() -> int:
    """Delete records older than 24 h (they can no longer be replayed)."""
    rows = await IdempotencyRecord.delete().where(
        IdempotencyRecord.created_at < now() - TTL).returning(IdempotencyRecord.id)
    return len(rows)
