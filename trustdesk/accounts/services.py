"""Accounts commands: register, sign in/out, sessions, password and profile changes."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from trustdesk.accounts.passwords import (
    check_password_policy,
    hash_password,
    needs_rehash,
    verify_password,
)
from trustdesk.accounts.sessions import store
from trustdesk.accounts.tables import LoginAttempt, User
from trustdesk.core import audit
from trustdesk.core.actors import Actor, Role
from trustdesk.core.clock import aware, now
from trustdesk.core.errors import Conflict, RateLimited, ValidationFailed
from trustdesk.db import write_transaction
from trustdesk.settings import get_settings

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
SIGNUP_ROLES = {Role.BUYER.value, Role.SELLER.value}
ALL_ROLES = {Role.BUYER.value, Role.SELLER.value, Role.MEDIATOR.value}
IP_FAILURE_LIMIT_FACTOR = 4  # an address may fail 4x as often as one account (shared NATs)


def normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not EMAIL_RE.match(email) or len(email) > 255:
        raise ValidationFailed("Enter a valid email address, like name@example.com.", field="email")
    return email


def slugify(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-zA-Z0-9]+", "-", text).strip("-").lower()
    return text[:60] or "store"


async def unique_slug(store_name: str) -> str:
    base = slugify(store_name)
    slug, n = base, 1
    while await User.exists().where(User.slug == slug):
        n += 1
        slug = f"{base}-{n}"
    return slug


def _actor(user: User | dict[str, Any], via: str = "web") -> Actor:
    get = user.get if isinstance(user, dict) else lambda k: getattr(user, k)
    return Actor(role=Role(get("role")), user_id=get("id"), via=via)


async def register_user(*, email: str, password: str, role: str, display_name: str = "",
                        store_name: str = "", via: str = "web") -> User:
    """Create a buyer, seller or mediator; raises ValidationFailed naming the field."""
    email = normalise_email(email)
    role = (role or "").strip().lower()
    if role not in ALL_ROLES or (via == "web" and role not in SIGNUP_ROLES):
        raise ValidationFailed("Choose whether you are buying or selling.", field="role")
    check_password_policy(password, email=email)
    store_name = (store_name or "").strip()
    if role == Role.SELLER.value and not store_name:
        raise ValidationFailed("Sellers need a store name (buyers will see it).", field="store_name")
    if len(store_name) > 120:
        raise ValidationFailed("Store names are at most 120 characters.", field="store_name")
    display_name = (display_name or "").strip()[:120] or email.split("@")[0]
    hashed = await hash_password(password)
    async with write_transaction():
        if await User.exists().where(User.email == email):
            raise ValidationFailed("An account with this email already exists. Sign in instead.",
                                   field="email")
        user = User(
            username=email,
            email=email,
            password=hashed,
            role=role,
            display_name=display_name,
            store_name=store_name or None,
            slug=await unique_slug(store_name) if role == Role.SELLER.value else None,
            active=True,
            admin=role == Role.MEDIATOR.value,
            superuser=False,
            created_at=now(),
        )
        await user.save()
        await audit.record("accounts:user:registered", subject_type="user", subject_id=user.id,
                           actor=Actor(Role(role), user.id, via),
                           data={"email": email, "role": role, "slug": user.slug})
    return user


# -- signing in ------------------------------------------------------------------------------

@dataclass(frozen=True)
class SignedIn:
    user: User
    token: str  # the cookie value; only its hash is stored


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def _check_throttle(email: str, ip: str) -> None:
    s = get_settings()
    since = now() - s.login_lockout
    by_email = await LoginAttempt.count().where(
        (LoginAttempt.email == email) & (LoginAttempt.success == False)  # noqa: E712
        & (LoginAttempt.created_at > since)
    )
    by_ip = 0
    if ip:
        by_ip = await LoginAttempt.count().where(
            (LoginAttempt.ip == ip) & (LoginAttempt.success == False)  # noqa: E712
            & (LoginAttempt.created_at > since)
        )
    if by_email >= s.login_max_failures or by_ip >= s.login_max_failures * IP_FAILURE_LIMIT_FACTOR:
        minutes = int(s.login_lockout.total_seconds() // 60)
        raise RateLimited(
            f"Too many failed sign-in attempts. Wait {minutes} minutes and try again, "
            "or reset your password.",
            retry_after=int(s.login_lockout.total_seconds()),
        )


async def _note_attempt(email: str, ip: str, success: bool) -> None:
    await LoginAttempt(created_at=now(), email=email[:255], ip=ip[:64], success=success).save()


BAD_LOGIN = "That email and password do not match an account."


async def check_credentials(email: str, password: str, *, ip: str = "") -> User:
    """Verify email+password with throttling; raises ValidationFailed or RateLimited."""
    email = (email or "").strip().lower()[:255]
    await _check_throttle(email, ip)
    if len(password) > 1024:
        password = password[:1024]
    user = await User.objects().where(User.email == email).first()
    ok = await verify_password(user.password if user else None, password)
    if not ok or user is None or not user.active or user.suspended:
        await _note_attempt(email, ip, False)
        if user is not None:
            async with write_transaction():
                await audit.record("accounts:login:failed", subject_type="user",
                                   subject_id=user.id, actor=Actor(Role(user.role), None),
                                   data={"ip": ip})
        raise ValidationFailed(BAD_LOGIN, field="password")
    await _note_attempt(email, ip, True)
    if needs_rehash(user.password):
        await User.update({User.password: await hash_password(password)}).where(User.id == user.id)
    return user


async def sign_in(email: str, password: str, *, ip: str = "", user_agent: str = "",
                  old_token: str | None = None) -> SignedIn:
    """Check credentials and start a new session (any pre-login session id is dropped)."""
    user = await check_credentials(email, password, ip=ip)
    token = secrets.token_urlsafe(32)
    stamp = now()
    sessions = store()
    if old_token:
        await sessions.delete(_hash_token(old_token))
    await sessions.create(_hash_token(token), user.id, user_agent=user_agent, ip=ip)
    async with write_transaction():
        await User.update({User.last_login: stamp.replace(tzinfo=None)}).where(User.id == user.id)
        await audit.record("accounts:login:succeeded", subject_type="user", subject_id=user.id,
                           actor=_actor(user), data={"ip": ip})
    return SignedIn(user=user, token=token)


async def authenticate_for_admin(username: str, password: str) -> int | None:
    """Piccolo Admin login: same argon2 check and throttle; non-mediators are refused."""
    try:
        user = await check_credentials(username, password)
    except (ValidationFailed, RateLimited):
        return None
    if user.role != Role.MEDIATOR.value or not user.admin:
        return None
    async with write_transaction():
        await audit.record("accounts:admin-login:succeeded", subject_type="user",
                           subject_id=user.id, actor=_actor(user, "admin"))
    return user.id


async def sign_out(token: str) -> None:
    row = await store().delete(_hash_token(token))
    if not row:
        return
    user = await User.select(User.id, User.role).where(User.id == row["user_id"]).first()
    if user:
        async with write_transaction():
            await audit.record("accounts:logout", subject_type="user", subject_id=user["id"],
                               actor=_actor(user))


SESSION_TOUCH_INTERVAL = timedelta(minutes=5)


async def get_session_user(token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(session row, user row) for a cookie token, or None if unknown/expired/suspended."""
    if not token or len(token) > 100:
        return None
    session = await store().get(_hash_token(token))
    if not session:
        return None
    stamp = now()
    user = await User.select(
        User.id, User.email, User.role, User.display_name, User.store_name, User.slug,
        User.active, User.suspended, User.created_at, User.admin,
    ).where(User.id == session["user_id"]).first()
    if not user or not user["active"] or user["suspended"]:
        return None
    from trustdesk.core.tables import Notification

    user["unread"] = await Notification.count().where(
        (Notification.user_id == user["id"]) & Notification.read_at.is_null())
    if stamp - aware(session["last_seen_at"]) > SESSION_TOUCH_INTERVAL:
        await store().touch(session)
    return session, user


async def list_sessions(user_id: int) -> list[dict[str, Any]]:
    return await store().list_for(user_id)


async def end_other_sessions(user_id: int, keep_session_id: Any) -> int:
    """Sign out everywhere else; returns how many sessions ended."""
    ended = await store().delete_others(user_id, keep_session_id)
    user = await User.select(User.id, User.role).where(User.id == user_id).first()
    async with write_transaction():
        await audit.record("accounts:sessions:ended-others", subject_type="user",
                           subject_id=user_id, actor=_actor(user), data={"count": ended})
    return ended


async def change_password(user_id: int, *, current: str, new: str, keep_session_id: Any) -> None:
    """Check the current password, store the new one, end every other session."""
    user = await User.objects().where(User.id == user_id).first()
    if user is None:
        raise ValidationFailed("Account not found.")
    if not await verify_password(user.password, current):
        raise ValidationFailed("Your current password is not right.", field="current_password")
    check_password_policy(new, email=user.email)
    if current == new:
        raise ValidationFailed("Choose a password different from the current one.",
                               field="new_password")
    hashed = await hash_password(new)
    async with write_transaction():
        rows = await User.update({User.password: hashed, User.version: User.version + 1}).where(
            (User.id == user_id) & (User.version == user.version)).returning(User.id)
        if not rows:
            raise Conflict("Your account changed meanwhile; try again.")
        await audit.record("accounts:password:changed", subject_type="user", subject_id=user_id,
                           actor=_actor(user))
    await store().delete_others(user_id, keep_session_id)


async def update_profile(user_id: int, *, display_name: str, phone: str = "",
                         store_name: str | None = None) -> None:
    display_name = (display_name or "").strip()
    if not display_name or len(display_name) > 120:
        raise ValidationFailed("Enter a name of 1 to 120 characters.", field="display_name")
    phone = (phone or "").strip()
    if phone and not re.fullmatch(r"\+?[0-9 \-]{7,20}", phone):
        raise ValidationFailed("Enter a phone number like +92 300 1234567.", field="phone")
    user = await User.objects().where(User.id == user_id).first()
    values: dict[Any, Any] = {User.display_name: display_name, User.phone: phone}
    if user.role == Role.SELLER.value and store_name is not None:
        store_name = store_name.strip()
        if not store_name or len(store_name) > 120:
            raise ValidationFailed("Enter a store name of 1 to 120 characters.", field="store_name")
        values[User.store_name] = store_name
    async with write_transaction():
        values[User.version] = User.version + 1
        await User.update(values).where(User.id == user_id)
        await audit.record("accounts:profile:updated", subject_type="user", subject_id=user_id,
                           actor=_actor(user), data={"display_name": display_name})


async def get_user(user_id: int) -> User | None:
    return await User.objects().where(User.id == user_id).first()


async def get_user_by_email(email: str) -> User | None:
    return await User.objects().where(User.email == email.strip().lower()).first()


async def get_seller_by_slug(slug: str) -> User | None:
    return await User.objects().where((User.slug == slug) & (User.role == Role.SELLER.value)).first()
