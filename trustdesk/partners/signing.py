"""Webhook signatures: `TrustDesk-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.

Pure (standard library only) so partner code can copy it or import it cheaply.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "TrustDesk-Signature"
SCHEME = "v1"


def compute_signature(secret: str, timestamp: int, body: bytes | str) -> str:
    """Hex HMAC-SHA256 of "<timestamp>.<body>" keyed with the endpoint's secret."""
    raw = body.encode() if isinstance(body, str) else body
    message = str(int(timestamp)).encode() + b"." + raw
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes | str, timestamp: int | None = None) -> str:
    """The header value for `body` sent at `timestamp` (now by default)."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={t},{SCHEME}={compute_signature(secret, t, body)}"


def parse_header(header: str) -> tuple[int | None, list[str]]:
    """(timestamp, [v1 signatures]) from a header value; (None, []) if malformed."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in (header or "").split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if name == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return None, []
        elif name == SCHEME:
            signatures.append(value.strip())
    return timestamp, signatures


def verify_signature(secret: str, header: str, body: bytes | str, tolerance: int = 300,
                     *, now: float | None = None) -> bool:
    """True if `header` signs `body` with `secret` and was made within `tolerance` seconds.

    Use the raw request body (bytes as received, before any JSON parsing). A captured request
    replayed later than `tolerance` seconds is rejected, as is any change to body or timestamp.
    """
    timestamp, signatures = parse_header(header)
    if timestamp is None or not signatures or not secret:
        return False
    current = time.time() if now is None else now
    if tolerance is not None and abs(current - timestamp) > tolerance:
        return False
    expected = compute_signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, s) for s in signatures)
