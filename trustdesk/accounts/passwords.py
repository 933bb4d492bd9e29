"""argon2id hashing (off the event loop) and the password policy."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from trustdesk.core.errors import ValidationFailed

MIN_LENGTH = 10
MAX_LENGTH = 128

# The most common passwords that pass the length rule (from public breach top-lists).
COMMON = frozenset(
    """
    1234567890 0123456789 12345678910 123456789a 123456789q 1q2w3e4r5t 1q2w3e4r5t6y
    qwertyuiop qwertyuiop1 asdfghjkl1 zxcvbnm123 password12 password123 password1234
    password12345 passw0rd123 iloveyou12 iloveyou123 qwerty1234 qwerty12345 qwerty123456
    abcdefghij abcd123456 abc1234567 aaaaaaaaaa 1111111111 0000000000 9876543210 1234512345
    1234554321 11223344556 1122334455 123123123123 letmein123 welcome123 welcome1234
    admin12345 administrator football123 baseball123 superman123 princess123 sunshine123
    monkey12345 dragon12345 starwars123 trustno1234 whatever123 computer123 internet123
    pakistan123 pakistan12 pakistan1947 karachi123 lahore1234 islamabad1 cricket123
    pakistanzindabad allahuakbar bismillah123 mashallah123 qwertyqwerty asdfasdfasdf
    changeme123 changeme1234 demo-pass-1 password!1 p@ssw0rd123 p@ssword123 test123456
    testtest123 secret1234 secret12345 master12345 michael123 jennifer123 1qaz2wsx3edc
    zaq12wsxcde zaq1xsw2cde3 qazwsxedc123 qazwsxedcrfv 147258369a 1234qwerasdf
    """.split()
)


def check_password_policy(password: str, *, email: str = "") -> None:
    """Raise ValidationFailed (field 'password') if the password is too weak or too long."""
    if len(password) < MIN_LENGTH:
        raise ValidationFailed(f"Use at least {MIN_LENGTH} characters.", field="password")
    if len(password) > MAX_LENGTH:
        raise ValidationFailed(f"Use at most {MAX_LENGTH} characters.", field="password")
    lowered = password.lower()
    if lowered in COMMON or len(set(lowered)) <= 2:
        raise ValidationFailed(
            "That password is one of the most common ones; choose something less guessable.",
            field="password",
        )
    local = email.split("@")[0].lower()
    if local and len(local) >= 4 and lowered.startswith(local):
        raise ValidationFailed("Your password should not be based on your email.", field="password")


@lru_cache(maxsize=1)
def hasher() -> PasswordHasher:
    from trustdesk.settings import get_settings

    s = get_settings()
    return PasswordHasher(
        time_cost=max(2, s.argon2_time_cost),
        memory_cost=max(19456, s.argon2_memory_kib),
        parallelism=max(1, s.argon2_parallelism),
        type=Type.ID,
    )


def hash_password_sync(password: str) -> str:
    return hasher().hash(password)


# argon2 is deliberately CPU- and memory-hard. Running it on a small pool (one core fewer than
# the machine has) keeps a login storm from starving everything else the process serves
# (pages, badges): logins queue instead.
_ARGON2_POOL = ThreadPoolExecutor(max_workers=max(1, (os.cpu_count() or 2) - 1),
                                  thread_name_prefix="argon2")


async def _off_loop(fn, *args):  # type: ignore[no-untyped-def]
    return await asyncio.get_running_loop().run_in_executor(_ARGON2_POOL, fn, *args)


async def hash_password(password: str) -> str:
    return await _off_loop(hasher().hash, password)


def _verify(stored: str, password: str) -> bool:
    try:
        return hasher().verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify_password(stored: str | None, password: str) -> bool:
    """Constant work whether or not the user exists (a dummy hash is checked)."""
    return await _off_loop(_verify, stored or _dummy_hash(), password) and stored is not None


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hasher().hash("not-a-real-password-for-timing")


def needs_rehash(stored: str) -> bool:
    try:
        return hasher().check_needs_rehash(stored)
    except InvalidHashError:
        return True
