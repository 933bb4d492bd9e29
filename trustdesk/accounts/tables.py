"""Users (one table, roles), web sessions, login attempts, the admin's session table."""

from __future__ import annotations

from typing import Any

from piccolo.apps.user.tables import BaseUser
from piccolo.columns import Boolean, Integer, Serial, Timestamptz, Varchar
from piccolo.table import Table
from piccolo_api.session_auth.tables import SessionsBase

from trustdesk.core.actors import Role


class User(BaseUser, tablename="td_user"):
    """Every person: buyer, seller or mediator (mediators are Piccolo Admin users)."""

    role = Varchar(length=20, default=Role.BUYER.value, choices=None, index=True)
    display_name = Varchar(length=120, default="")
    store_name = Varchar(length=120, null=True, default=None)
    slug = Varchar(length=80, null=True, default=None, unique=True)
    phone = Varchar(length=32, default="")
    created_at = Timestamptz()
    suspended = Boolean(default=False)
    version = Integer(default=1)

    # Piccolo's BaseUser hashes with PBKDF2 in __init__/__setattr__ unless the value looks
    # hashed already; we store argon2id, so an argon2 value passes through untouched.
    @classmethod
    def hash_password(cls, password: str, salt: str = "", iterations: int | None = None) -> str:
        if password.startswith("$argon2"):
            return password
        from trustdesk.accounts.passwords import hash_password_sync

        return hash_password_sync(password)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "password" and isinstance(value, str) and not value.startswith("$argon2"):
            value = self.__class__.hash_password(value)
        Table.__setattr__(self, name, value)

    @classmethod
    def _validate_password(cls, password: str) -> None:
        from trustdesk.accounts.passwords import check_password_policy

        check_password_policy(password)

    @classmethod
    async def login(cls, username: str, password: str) -> int | None:
        """Piccolo Admin's login: argon2 check, throttled, and only mediators get in."""
        from trustdesk.accounts.services import authenticate_for_admin

        return await authenticate_for_admin(username, password)

    @classmethod
    async def update_password(cls, user: str | int, password: str) -> None:
        from trustdesk.accounts.passwords import check_password_policy, hash_password

        check_password_policy(password)
        clause = cls.username == user if isinstance(user, str) else cls.id == user
        await cls.update({cls.password: await hash_password(password)}).where(clause)

    @property
    def is_mediator(self) -> bool:
        return self.role == Role.MEDIATOR.value


class Session(Table, tablename="td_session"):
    """Server-side web session; the cookie holds a random token, we store its SHA-256."""

    id = Serial(primary_key=True)
    token_hash = Varchar(length=64, unique=True)
    user_id = Integer(index=True)
    created_at = Timestamptz()
    last_seen_at = Timestamptz()
    expires_at = Timestamptz()
    user_agent = Varchar(length=255, default="")
    ip = Varchar(length=64, default="")


class LoginAttempt(Table, tablename="td_login_attempt"):
    id = Serial(primary_key=True)
    created_at = Timestamptz(index=True)
    email = Varchar(length=255, index=True)
    ip = Varchar(length=64, index=True)
    success = Boolean(default=False)


class AdminSession(SessionsBase, tablename="td_admin_session"):
    """Piccolo Admin's own session table (its login flow manages these)."""
