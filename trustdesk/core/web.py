"""Web plumbing: auth + flash + security-header middleware, error pages, helpers for controllers."""

from __future__ import annotations

import logging
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import quote, urlparse

from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.response import Redirect, Template
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from trustdesk.core import flash as flashmod
from trustdesk.core.errors import DomainError, NotFound, RateLimited

log = logging.getLogger("trustdesk.web")

SESSION_COOKIE = "td_session"
CSRF_COOKIE = "td_csrf"
CSRF_HEADER = "x-td-csrf"

# paths that never need the signed-in user (keeps badges and assets free of DB reads)
_NO_AUTH_PREFIXES = ("/static/", "/badge/", "/admin", "/healthz", "/api/", "/schema",
                     "/favicon.ico", "/.well-known/")

BASE_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Piccolo Admin is a Vue app that sets inline styles; scripts stay 'self' only.
ADMIN_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-eval'; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; frame-ancestors 'none'"
)
# Per-path CSP overrides (the badge registers itself here: embeddable anywhere).
CSP_OVERRIDES: dict[str, str] = {}
# Paths allowed to be framed/embedded (skip X-Frame-Options).
FRAMEABLE_PREFIXES: list[str] = []


def _cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # noqa: BLE001 - a malformed cookie header is simply ignored
                continue
            if name in jar:
                return jar[name].value
    return None


def client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else ""


class SiteMiddleware:
    """Loads the signed-in user, carries flash messages and adds security headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from trustdesk.accounts.services import get_session_user

        path: str = scope.get("path", "")
        state = scope.setdefault("state", {})
        scope["user"] = None
        scope["auth"] = None
        flash_in_raw = None
        if not path.startswith(_NO_AUTH_PREFIXES):
            token = _cookie(scope, SESSION_COOKIE)
            if token:
                found = await get_session_user(token)
                if found:
                    scope["auth"], scope["user"] = found
                    scope["auth"]["token"] = token
            flash_in_raw = _cookie(scope, flashmod.COOKIE)
            state["flash_in"] = flashmod.decode(flash_in_raw)

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                _add_security_headers(path, headers, names)
                out = state.get("flash_out")
                is_html = any(k.lower() == b"content-type" and b"text/html" in v for k, v in headers)
                if out:
                    headers.append((b"set-cookie", _set_cookie(flashmod.COOKIE, flashmod.encode(out))))
                elif flash_in_raw and is_html and state.get("flash_shown"):
                    headers.append((b"set-cookie", _set_cookie(flashmod.COOKIE, "", max_age=0)))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_wrapper)


def _set_cookie(name: str, value: str, max_age: int | None = None) -> bytes:
    from trustdesk.settings import get_settings

    parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if get_settings().is_production:
        parts.append("Secure")
    return "; ".join(parts).encode()


def _add_security_headers(path: str, headers: list[tuple[bytes, bytes]], names: set[bytes]) -> None:
    def add(name: bytes, value: str) -> None:
        if name not in names:
            headers.append((name, value.encode()))

    add(b"x-content-type-options", "nosniff")
    add(b"referrer-policy", "strict-origin-when-cross-origin")
    csp = BASE_CSP
    if path.startswith("/admin"):
        csp = ADMIN_CSP
    else:
        for prefix, override in CSP_OVERRIDES.items():
            if path.startswith(prefix):
                csp = override
                break
    if path.startswith("/schema"):
        csp = ""  # Litestar's OpenAPI UI loads its own assets; it carries no user data
    if csp:
        add(b"content-security-policy", csp)
    if not any(path.startswith(p) for p in FRAMEABLE_PREFIXES):
        add(b"x-frame-options", "DENY")
    add(b"permissions-policy", "camera=(), microphone=(), geolocation=()")


# -- helpers for controllers -------------------------------------------------------------------

def current_user(request: Request) -> dict[str, Any] | None:
    return request.scope.get("user")


def flashes(request: Request) -> list[dict[str, str]]:
    """Messages for this page (marks them consumed so the cookie is cleared)."""
    state = request.scope.setdefault("state", {})
    state["flash_shown"] = True
    return list(state.get("flash_in", [])) + list(state.get("flash_out_now", []))


def flash(request: Request, message: str, level: str = "success") -> None:
    flashmod.flash(request, message, level)


def safe_next(target: str | None, default: str = "/account") -> str:
    """Only same-site relative paths; anything else falls back (no open redirects)."""
    if not target:
        return default
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or "\n" in target or "\r" in target:
        return default
    return target


def back(request: Request, default: str = "/") -> Redirect:
    """Redirect to the page the form came from (same-site only)."""
    referer = request.headers.get("referer", "")
    target = default
    if referer:
        parsed = urlparse(referer)
        host = request.headers.get("host", "")
        if parsed.netloc == host and parsed.path.startswith("/"):
            target = parsed.path + (f"?{parsed.query}" if parsed.query else "")
    return Redirect(path=target, status_code=303)


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def page(template: str, status: int = 200, **context: Any) -> Template:
    return Template(template_name=template, context=context, status_code=status)


# -- exception handlers -----------------------------------------------------------------------

def api_error(code: str, message: str, status: int, **extra: Any) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    body.update({k: v for k, v in extra.items() if v is not None})
    headers = {}
    if status == 429 and "retry_after" in extra:
        headers["Retry-After"] = str(extra["retry_after"])
    return Response(content={"error": body}, status_code=status, headers=headers,
                    media_type="application/json")


def _error_page(request: Request, status: int, title: str, message: str, hint: str) -> Template:
    return Template(
        template_name="errors/error.html",
        context={"status": status, "title": title, "message": message, "hint": hint},
        status_code=status,
    )


def domain_error_handler(request: Request, exc: DomainError) -> Response:
    if is_api(request):
        extra = dict(exc.extra)
        if isinstance(exc, RateLimited):
            extra["retry_after"] = exc.retry_after
        return api_error(exc.code, exc.message, exc.status_code, field=exc.field, **extra)
    if isinstance(exc, NotFound):
        return _not_found_page(request)
    if request.method in {"POST", "PUT", "DELETE", "PATCH"}:
        flash(request, exc.message, "error")
        return back(request)
    return _error_page(request, exc.status_code, "That did not work", exc.message,
                       "Go back and try again.")


def _not_found_page(request: Request) -> Template:
    return _error_page(request, 404, "Page not found",
                       "There is nothing here, or it is not yours to see.",
                       "Check the address, or go to your orders.")


def http_error_handler(request: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    if is_api(request):
        code = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 409: "conflict", 413: "too_large",
                415: "unsupported_media_type", 422: "validation_error",
                429: "rate_limited"}.get(status, "error")
        message = exc.detail if isinstance(exc.detail, str) else "Request failed"
        extra: dict[str, Any] = {}
        if isinstance(exc, ValidationException) and exc.extra:
            first = exc.extra[0] if isinstance(exc.extra, list) and exc.extra else {}
            if isinstance(first, dict):
                key = str(first.get("key") or "")
                extra["field"] = key or None
                message = first.get("message") or message
            status, code = 422, "validation_error"
        response = api_error(code, message, status, **extra)
        response.headers.update(exc.headers or {})  # e.g. Allow on 405 (RFC 9110)
        return response
    if isinstance(exc, NotAuthorizedException):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":
            target = "/"
        flash(request, "Please sign in to continue.", "info")
        return Redirect(path=f"/login?next={quote(target)}", status_code=303)
    if isinstance(exc, NotFoundException) or status == 404:
        return _not_found_page(request)
    if isinstance(exc, PermissionDeniedException) and "CSRF" in str(exc.detail):
        return _error_page(request, 403, "This form has expired",
                           "We could not confirm that this form came from TrustDesk "
                           "(its security token was missing or stale). Nothing was changed.",
                           "Go back, reload the page, and submit the form again.")
    if status == 403:
        return _error_page(request, 403, "Not allowed",
                           "Your account cannot do this.",
                           "If you think it should, sign in with the right account.")
    if status == 405:
        return _error_page(request, 405, "Not allowed here",
                           "This address does not accept that kind of request.",
                           "Use the buttons on the page instead.")
    if status == 413:
        return _error_page(request, 413, "Too large", str(exc.detail), "Send a smaller file.")
    return _error_page(request, status, "Something is not right",
                       str(exc.detail) if status < 500 else "The request could not be handled.",
                       "Go back and try again.")


def server_error_handler(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    if is_api(request):
        return api_error("internal_error", "Something went wrong on our side. Try again.", 500)
    return _error_page(request, 500, "Something went wrong on our side",
                       "We could not finish that request. Nothing was half-done: "
                       "every change is all-or-nothing.",
                       "Try again in a minute. If it keeps happening, tell us what you did.")


def set_session_cookie(response: Response, token: str | None) -> Response:
    from trustdesk.settings import get_settings

    secure = get_settings().is_production
    if token is None:
        response.set_cookie(Cookie(key=SESSION_COOKIE, value="", max_age=0, path="/",
                                   httponly=True, samesite="lax", secure=secure))
    else:
        response.set_cookie(Cookie(
            key=SESSION_COOKIE, value=token, path="/", httponly=True, samesite="lax",
            secure=secure, max_age=int(get_settings().session_lifetime.total_seconds())))
    return response
