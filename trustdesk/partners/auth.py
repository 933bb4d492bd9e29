"""Bearer API keys: the middleware that resolves the key (and rate-limits it), the guard that
requires one, and JSON error responses written before Litestar's handlers run."""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import ASGIApp, Receive, Scope, Send

from trustdesk.core.errors import DomainError
from trustdesk.partners import services
from trustdesk.settings import get_settings

STATE_KEY = "api_key"


class Unauthenticated(DomainError):
    status_code = 401
    code = "unauthorized"


class RateLimiter:
    """Sliding one-minute window per API key, in this process's memory.

    Several web processes each allow the limit (the limit is per process); good enough to stop a
    runaway client, which is what it is for.
    """

    def __init__(self, per_minute: int | None = None, window_s: float = 60.0) -> None:
        self.per_minute = per_minute
        self.window_s = window_s
        self._hits: dict[int, deque[float]] = {}
        self._lock = threading.Lock()

    @property
    def limit(self) -> int:
        return self.per_minute if self.per_minute is not None else get_settings().api_rate_limit

    def hit(self, key_id: int) -> int | None:
        """Count one request; None if allowed, else seconds until the next one is."""
        stamp = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key_id, deque())
            while hits and hits[0] <= stamp - self.window_s:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(1, math.ceil(hits[0] + self.window_s - stamp))
            hits.append(stamp)
            return None

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


LIMITER = RateLimiter()


def bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").strip().partition(" ")
            return token.strip() if scheme.lower() == "bearer" else ""
    return None


async def json_error(send: Send, status: int, code: str, message: str,
                     headers: dict[str, str] | None = None, **extra: Any) -> None:
    body: dict[str, Any] = {"code": code, "message": message}
    body.update({k: v for k, v in extra.items() if v is not None})
    raw = json.dumps({"error": body}).encode()
    out = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    out += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": raw, "more_body": False})


def api_key_middleware(app: ASGIApp) -> ASGIApp:
    """Resolve `Authorization: Bearer <key>` into scope state; 429 when the key is over its limit."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        token = bearer_token(scope)
        state[STATE_KEY] = None
        state["api_key_sent"] = token is not None
        if token:
            key = await services.authenticate_key(token)
            if key is not None:
                retry_after = LIMITER.hit(key["id"])
                if retry_after is not None:
                    await json_error(send, 429, "rate_limited",
                                     f"Too many requests for this API key: at most {LIMITER.limit} "
                                     f"a minute. Try again in {retry_after} s.",
                                     headers={"Retry-After": str(retry_after)},
                                     retry_after=retry_after)
                    return
                state[STATE_KEY] = key
        await app(scope, receive, send)

    return middleware


def requires_api_key(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Guard: a valid, unrevoked key of an active seller; otherwise 401."""
    state = connection.scope.get("state", {})
    if state.get(STATE_KEY):
        return
    if state.get("api_key_sent"):
        raise Unauthenticated("This API key is not valid: it is unknown, revoked, or its store "
                              "is suspended. Create a new key on /account/integrations.")
    raise Unauthenticated("Send your API key as `Authorization: Bearer <key>`.")


def partner_of(connection: ASGIConnection) -> dict[str, Any]:
    """{id, seller_id, name} of the request's API key (after requires_api_key)."""
    key = connection.scope.get("state", {}).get(STATE_KEY)
    if not key:
        raise Unauthenticated("Send your API key as `Authorization: Bearer <key>`.")
    return key
