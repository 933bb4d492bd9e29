"""Server-side session storage: the database by default, Redis when TRUSTDESK_SESSION_REDIS_URL is set.

Only SHA-256 hashes of cookie tokens are stored. A session's `id` is the first 16 hex characters
of that hash (the database row id for the default store) — stable and safe to show.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

from trustdesk.accounts.tables import Session
from trustdesk.core.clock import aware, now
from trustdesk.settings import get_settings


class SessionStore(Protocol):
    async def create(self, token_hash: str, user_id: int, *, user_agent: str, ip: str) -> None: ...
    async def get(self, token_hash: str) -> dict[str, Any] | None: ...
    async def touch(self, session: dict[str, Any]) -> None: ...
    async def delete(self, token_hash: str) -> dict[str, Any] | None: ...
    async def list_for(self, user_id: int) -> list[dict[str, Any]]: ...
    async def delete_others(self, user_id: int, keep_id: Any) -> int: ...


class DatabaseSessions:
    async def create(self, token_hash: str, user_id: int, *, user_agent: str, ip: str) -> None:
        stamp = now()
        await Session(token_hash=token_hash, user_id=user_id, created_at=stamp, last_seen_at=stamp,
                      expires_at=stamp + get_settings().session_lifetime,
                      user_agent=user_agent[:255], ip=ip[:64]).save()

    async def get(self, token_hash: str) -> dict[str, Any] | None:
        row = await Session.select().where(Session.token_hash == token_hash).first()
        if row and aware(row["expires_at"]) <= now():
            await Session.delete().where(Session.id == row["id"])
            return None
        return row

    async def touch(self, session: dict[str, Any]) -> None:
        stamp = now()
        await Session.update({Session.last_seen_at: stamp,
                              Session.expires_at: stamp + get_settings().session_lifetime}
                             ).where(Session.id == session["id"])

    async def delete(self, token_hash: str) -> dict[str, Any] | None:
        rows = await Session.delete().where(Session.token_hash == token_hash).returning(
            Session.id, Session.user_id)
        return rows[0] if rows else None

    async def list_for(self, user_id: int) -> list[dict[str, Any]]:
        return await Session.select().where(Session.user_id == user_id).order_by(
            Session.last_seen_at, ascending=False)

    async def delete_others(self, user_id: int, keep_id: Any) -> int:
        rows = await Session.delete().where(
            (Session.user_id == user_id) & (Session.id != keep_id)).returning(Session.id)
        return len(rows)


class RedisSessions:
    """Sessions as Redis hashes with a TTL; a per-user set indexes them for 'sign out others'."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self.redis = redis.Redis.from_url(url, decode_responses=True)

    @staticmethod
    def _key(token_hash: str) -> str:
        return f"trustdesk:session:{token_hash}"

    @staticmethod
    def _user_key(user_id: int) -> str:
        return f"trustdesk:user-sessions:{user_id}"

    @staticmethod
    def _decode(raw: str | None) -> dict[str, Any] | None:
        if not raw:
            return None
        data = json.loads(raw)
        for key in ("created_at", "last_seen_at", "expires_at"):
            data[key] = datetime.fromisoformat(data[key])
        return data

    async def _write(self, data: dict[str, Any]) -> None:
        ttl = int(get_settings().session_lifetime.total_seconds())
        payload = {**data, **{k: data[k].isoformat() for k in ("created_at", "last_seen_at", "expires_at")}}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self._key(data["token_hash"]), json.dumps(payload), ex=ttl)
            pipe.sadd(self._user_key(data["user_id"]), data["token_hash"])
            pipe.expire(self._user_key(data["user_id"]), ttl)
            await pipe.execute()

    async def create(self, token_hash: str, user_id: int, *, user_agent: str, ip: str) -> None:
        stamp = now()
        await self._write({"id": token_hash[:16], "token_hash": token_hash, "user_id": user_id,
                           "created_at": stamp, "last_seen_at": stamp,
                           "expires_at": stamp + get_settings().session_lifetime,
                           "user_agent": user_agent[:255], "ip": ip[:64]})

    async def get(self, token_hash: str) -> dict[str, Any] | None:
        return self._decode(await self.redis.get(self._key(token_hash)))

    async def touch(self, session: dict[str, Any]) -> None:
        stamp = now()
        await self._write({**session, "last_seen_at": stamp,
                           "expires_at": stamp + get_settings().session_lifetime})

    async def delete(self, token_hash: str) -> dict[str, Any] | None:
        data = await self.get(token_hash)
        await self.redis.delete(self._key(token_hash))
        if data:
            await self.redis.srem(self._user_key(data["user_id"]), token_hash)
        return data

    async def list_for(self, user_id: int) -> list[dict[str, Any]]:
        hashes = await self.redis.smembers(self._user_key(user_id))
        out = []
        for token_hash in hashes:
            data = await self.get(token_hash)
            if data is None:
                await self.redis.srem(self._user_key(user_id), token_hash)
            else:
                out.append(data)
        return sorted(out, key=lambda s: s["last_seen_at"], reverse=True)

    async def delete_others(self, user_id: int, keep_id: Any) -> int:
        ended = 0
        for session in await self.list_for(user_id):
            if session["id"] != keep_id:
                await self.delete(session["token_hash"])
                ended += 1
        return ended


@lru_cache(maxsize=4)
def _redis_store(url: str) -> RedisSessions:
    return RedisSessions(url)


def store() -> SessionStore:
    url = get_settings().session_redis_url
    return _redis_store(url) if url else DatabaseSessions()
