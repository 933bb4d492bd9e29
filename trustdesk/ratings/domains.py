"""Seller domains: normalising a typed domain, matching an embedding origin, fetching the token.

The fetcher is injectable: `fetch(url) -> text` (raise on failure). Tests pass their own;
production uses `http_fetch` (HTTPS only, no redirects off the domain, small body, short timeout).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

Fetcher = Callable[[str], Awaitable[str]]

WELL_KNOWN_PATH = "/.well-known/trustdesk.txt"
TOKEN_PREFIX = "trustdesk-verification="
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
DOMAIN_RE = re.compile(rf"^{_LABEL}(\.{_LABEL})*(:[0-9]{{1,5}})?$")
MAX_BODY = 4096


class DomainError(ValueError):
    """The text is not a usable domain (message says why)."""


def normalise_domain(text: str, *, allow_local: bool = False) -> str:
    """'https://Shop.Example.com/path' -> 'shop.example.com'. Ports only for local testing."""
    raw = (text or "").strip().lower()
    if not raw:
        raise DomainError("Enter your store's domain, like shop.example.com.")
    if "://" not in raw:
        raw = "//" + raw
    try:
        parts = urlsplit(raw)
        host = (parts.hostname or "").rstrip(".")
        port = parts.port
    except ValueError as exc:
        raise DomainError("That does not look like a domain. Enter it like shop.example.com.") from exc
    try:
        host = host.encode("idna").decode("ascii") if host else host
    except UnicodeError as exc:
        raise DomainError("That domain has characters we cannot read.") from exc
    local = host in {"localhost", "127.0.0.1"}
    if local and not allow_local:
        raise DomainError("Local addresses can only be registered in development.")
    if port is not None and not local:
        raise DomainError("Enter the domain without a port.")
    value = host + (f":{port}" if port is not None else "")
    if not host or len(value) > 255 or not DOMAIN_RE.match(value) or ("." not in host and not local):
        raise DomainError("That does not look like a domain. Enter it like shop.example.com.")
    return value


def origin_host(header_value: str | None) -> str | None:
    """host[:port] of an Origin or Referer header, lower-cased; None if absent or unusable."""
    if not header_value or header_value == "null" or len(header_value) > 2048:
        return None
    try:
        parts = urlsplit(header_value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return None
        host = parts.hostname.lower().rstrip(".")
        port = parts.port
    except ValueError:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    return host if port in (None, default) else f"{host}:{port}"


def matches(origin: str | None, domains: Iterable[str]) -> bool:
    """True if the embedding origin is a verified domain (or its www. twin)."""
    if not origin:
        return False
    candidates = {origin}
    if origin.startswith("www."):
        candidates.add(origin[4:])
    else:
        candidates.add("www." + origin)
    return any(d in candidates for d in domains)


def verification_url(domain: str) -> str:
    scheme = "http" if domain.split(":")[0] in {"localhost", "127.0.0.1"} else "https"
    return f"{scheme}://{domain}{WELL_KNOWN_PATH}"


def token_line(token: str) -> str:
    return f"{TOKEN_PREFIX}{token}"


def body_has_token(body: str, token: str) -> bool:
    wanted = token_line(token)
    return any(line.strip() == wanted for line in body[:MAX_BODY].splitlines())


async def http_fetch(url: str) -> str:
    """GET url with a 5 s timeout, no cross-host redirects, at most MAX_BODY bytes read."""
    import httpx

    async with httpx.AsyncClient(timeout=5.0, follow_redirects=False) as client:
        async with client.stream("GET", url, headers={"User-Agent": "TrustDesk-domain-check"}) as resp:
            if resp.status_code != 200:
                raise DomainError(f"{url} answered HTTP {resp.status_code}, not 200.")
            chunks: list[bytes] = []
            size = 0
            async for chunk in resp.aiter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size >= MAX_BODY:
                    break
    return b"".join(chunks)[:MAX_BODY].decode("utf-8", "replace")
