"""Password policy and argon2id parameters."""

import pytest

from trustdesk.accounts.passwords import (
    check_password_policy,
    hash_password_sync,
    hasher,
    needs_rehash,
)
from trustdesk.core.errors import ValidationFailed


@pytest.mark.parametrize(
    "password", ["short", "123456789", "password123", "1234567890", "qwertyuiop", "aaaaaaaaaaaa",
                 "ababababab", "x" * 129, "pakistan123"],
)
def test_refuses_weak_or_oversized_passwords(password: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        check_password_policy(password)
    assert err.value.field == "password"


def test_refuses_a_password_built_on_the_email() -> None:
    with pytest.raises(ValidationFailed):
        check_password_policy("ayeshakhan2024", email="ayeshakhan@example.com")


@pytest.mark.parametrize("password", ["correct horse battery", "my parcel came late!", "abcdefghij" * 12 + "klmnopqr"])
def test_accepts_reasonable_passwords(password: str) -> None:
    check_password_policy(password)


def test_hashes_with_argon2id_at_owasp_minimums() -> None:
    h = hasher()
    assert h.time_cost >= 2 and h.memory_cost >= 19456 and h.parallelism >= 1
    stored = hash_password_sync("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert "m=19456" in stored and "t=2" in stored
    assert not needs_rehash(stored)


def test_weaker_hashes_are_flagged_for_rehash() -> None:
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("correct horse battery")
    assert needs_rehash(weak)
    assert needs_rehash("pbkdf2_sha256$600000$salt$hash")
