"""The `trustdesk` command: clear errors and non-zero exits on bad input; demo is idempotent."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from trustdesk.accounts.tables import User


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "trustdesk.cli", *args], capture_output=True,
                          text=True, env=full_env, timeout=120)


async def test_create_user_then_duplicate_is_refused() -> None:
    ok = run_cli("create-user", "--email", "cli@example.test", "--password", "a fine passphrase",
                 "--role", "seller", "--store-name", "CLI Store")
    assert ok.returncode == 0, ok.stderr
    assert "Created seller cli@example.test" in ok.stdout and "/sellers/cli-store" in ok.stdout
    dup = run_cli("create-user", "--email", "cli@example.test", "--password", "a fine passphrase",
                  "--role", "buyer")
    assert dup.returncode != 0 and "already exists" in dup.stderr
    assert await User.count().where(User.email == "cli@example.test") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--password", "password123", "--role", "buyer"], "most common"),
     (["--password", "a fine passphrase", "--role", "admin"], "unknown role"),
     (["--password", "short", "--role", "buyer"], "at least 10"),
     (["--password", "a fine passphrase", "--role", "seller"], "store name")],
)
async def test_bad_input_exits_non_zero_with_a_reason(args: list[str], message: str) -> None:
    r = run_cli("create-user", "--email", "bad@example.test", *args)
    assert r.returncode != 0 and message in r.stderr
    assert await User.count() == 0


async def test_mediator_created_by_cli_is_an_admin_user() -> None:
    r = run_cli("create-user", "--email", "med@example.test", "--password", "a fine passphrase",
                "--role", "mediator")
    assert r.returncode == 0, r.stderr
    row = await User.select(User.admin, User.role).where(User.email == "med@example.test").first()
    assert row == {"admin": True, "role": "mediator"}


async def test_demo_is_idempotent() -> None:
    first = run_cli("demo")
    assert first.returncode == 0, first.stderr[-2000:]
    count = await User.count()
    second = run_cli("demo")
    assert second.returncode == 0 and "nothing changed" in second.stdout
    assert await User.count() == count
    emails = {r["email"] for r in await User.select(User.email)}
    assert {"buyer@demo.trustdesk", "seller@demo.trustdesk", "mediator@demo.trustdesk"} <= emails
    store = await User.select(User.slug).where(User.email == "seller@demo.trustdesk").first()
    assert store["slug"] == "demo-store"


def test_production_refuses_the_dev_secret() -> None:
    r = run_cli("migrate", env={"TRUSTDESK_ENV": "production", "TRUSTDESK_SECRET_KEY": ""})
    assert r.returncode != 0 and "TRUSTDESK_SECRET_KEY" in r.stderr


def test_verify_audit_reports_an_intact_chain() -> None:
    r = run_cli("verify-audit")
    assert r.returncode == 0 and "Audit chain intact" in r.stdout
