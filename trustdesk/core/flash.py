"""Flash messages in a signed cookie: set on a POST, shown once on the next page."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

COOKIE = "td_flash"


def _key() -> bytes:
    from trustdesk.settings import get_settings

    return hashlib.sha256(("flash:" + get_settings().secret_key).encode()).digest()


def encode(messages: list[dict[str, str]]) -> str:
    raw = base64.urlsafe_b64encode(json.dumps(messages).encode()).decode()
    sig = hmac.new(_key(), raw.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{raw}.{sig}"


def decode(value: str | None) -> list[dict[str, str]]:
    if not value or "." not in value or len(value) > 4000:
        return []
    raw, sig = value.rsplit(".", 1)
    good = hmac.new(_key(), raw.encode(), hashlib.sha256).hexdigest()[:32]
    if not hmac.compare_digest(sig, good):
        return []
    try:
        data = json.loads(base64.urlsafe_b64decode(raw.encode()))
    except ValueError:
        return []
    return [m for m in data if isinstance(m, dict)][:10]


def flash(request: Any, message: str, level: str = "success") -> None:
    """Queue a message for the next page this browser renders."""
    state = request.scope.setdefault("state", {})
    state.setdefault("flash_out", []).append({"level": level, "message": message[:500]})
