"""Factories with meaningful defaults: make_user(role="seller")."""

from __future__ import annotations

import itertools
from typing import Any

from trustdesk.accounts.services import register_user, sign_in
from trustdesk.accounts.tables import User

PASSWORD = "correct-horse-battery"
_seq = itertools.count(1)


async def make_user(role: str = "buyer", *, email: str | None = None, password: str = PASSWORD,
                    store_name: str | None = None, **kwargs: Any) -> User:
    n = next(_seq)
    email = email or f"{role}{n}@example.test"
    if role == "seller" and store_name is None:
        store_name = f"Store {n}"
    return await register_user(email=email, password=password, role=role,
                               store_name=store_name or "", via="cli", **kwargs)


async def login(client: Any, user: User, password: str = PASSWORD) -> None:
    """Sign a test client in (sets the session cookie on it)."""
    signed = await sign_in(user.email, password)
    client.cookies.set("td_session", signed.token)
