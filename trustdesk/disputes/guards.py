"""Who may reach dispute pages, and the form-token check for streamed uploads."""

from __future__ import annotations

import hmac
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.middleware.csrf import CSRF_SECRET_LENGTH, generate_csrf_hash

from trustdesk.accounts.guards import requires_login
from trustdesk.core.web import CSRF_COOKIE, CSRF_HEADER

__all__ = ["requires_login", "token_checker", "csrf_error"]


def _decode(token: str, secret: str) -> str | None:
    if not token or len(token) < CSRF_SECRET_LENGTH + 1:
        return None
    secret_part, digest = token[:CSRF_SECRET_LENGTH], token[CSRF_SECRET_LENGTH:]
    expected = generate_csrf_hash(token=secret_part, secret=secret)
    return secret_part if hmac.compare_digest(digest, expected) else None


def token_checker(connection: ASGIConnection[Any, Any, Any, Any]) -> Any:
    """A function value -> bool that checks a form token against this browser's CSRF cookie.

    Upload routes skip Litestar's CSRF middleware (it would read the whole body into memory
    first); they check the same token themselves, before accepting any file bytes."""
    from trustdesk.settings import get_settings

    secret = get_settings().secret_key
    cookie = connection.cookies.get(CSRF_COOKIE, "")

    def check(value: str | None) -> bool:
        a, b = _decode(value or "", secret), _decode(cookie, secret)
        return a is not None and b is not None and hmac.compare_digest(a, b)

    return check


def header_token_ok(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    check = token_checker(connection)
    return bool(check(connection.headers.get(CSRF_HEADER)) or
                check(connection.query_params.get("_csrf_token")))


def csrf_error() -> PermissionDeniedException:
    return PermissionDeniedException("CSRF token verification failed")
