"""One frozen Settings object, read from TRUSTDESK_* environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from trustdesk.core.durations import format_duration, parse_duration

DEV_SECRET = "dev-insecure-secret-change-me"


class SettingsError(ValueError):
    """A TRUSTDESK_* variable has a value we cannot use."""


@dataclass(frozen=True, slots=True)
class Settings:
    # name: (default, help) lives in SETTINGS_DOC below; defaults here.
    env: str = "development"
    database_url: str = "sqlite:///trustdesk.sqlite3"
    broker_url: str = ""
    secret_key: str = DEV_SECRET
    host: str = "127.0.0.1"
    port: int = 8000
    base_url: str = ""
    data_dir: str = "var"
    session_redis_url: str = ""
    smtp_url: str = ""
    mail_from: str = "TrustDesk <no-reply@trustdesk.local>"
    locale: str = "en"
    demo_data: bool = True
    # windows
    pay_window: timedelta = timedelta(hours=48)
    ship_window: timedelta = timedelta(days=5)
    confirm_window: timedelta = timedelta(days=14)
    inspection_window: timedelta = timedelta(days=3)
    response_window: timedelta = timedelta(days=3)
    offer_window: timedelta = timedelta(days=3)
    return_window: timedelta = timedelta(days=7)
    mediation_window: timedelta = timedelta(days=5)
    reminder_lead: timedelta = timedelta(hours=24)
    sweep_interval: timedelta = timedelta(seconds=60)
    rating_window: timedelta = timedelta(days=30)
    rating_edit_window: timedelta = timedelta(days=7)
    # money
    platform_fee_bps: int = 0
    default_currency: str = "PKR"
    # security
    login_max_failures: int = 5
    login_lockout: timedelta = timedelta(minutes=15)
    session_lifetime: timedelta = timedelta(days=14)
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19456
    argon2_parallelism: int = 1
    api_rate_limit: int = 120  # requests per minute per API key
    # evidence
    evidence_max_bytes: int = 10 * 1024 * 1024
    evidence_max_files: int = 10
    evidence_daily_bytes: int = 200 * 1024 * 1024
    # jobs
    worker_processes: int = 2
    worker_threads: int = 4

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def public_url(self) -> str:
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).resolve()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build from TRUSTDESK_* variables; raises SettingsError naming the bad one."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            key = f"TRUSTDESK_{f.name.upper()}"
            raw = environ.get(key)
            if raw is None:
                continue
            default = f.default
            try:
                if isinstance(default, bool):
                    values[f.name] = raw.strip().lower() in {"1", "true", "yes", "on"}
                elif isinstance(default, int):
                    values[f.name] = int(raw)
                elif isinstance(default, timedelta):
                    values[f.name] = parse_duration(raw)
                else:
                    values[f.name] = raw.strip()
            except ValueError as exc:
                raise SettingsError(f"{key}={raw!r}: {exc}") from exc
        settings = cls(**values)  # type: ignore[arg-type]
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.env not in {"development", "production", "test"}:
            raise SettingsError("TRUSTDESK_ENV must be development, production or test")
        if self.is_production and self.secret_key == DEV_SECRET:
            raise SettingsError(
                "TRUSTDESK_SECRET_KEY is the development default; set a long random value "
                "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`) "
                "before running with TRUSTDESK_ENV=production"
            )
        if self.is_production and len(self.secret_key) < 32:
            raise SettingsError("TRUSTDESK_SECRET_KEY must be at least 32 characters in production")
        if not (
            self.database_url.startswith("sqlite:///")
            or self.database_url.startswith(("postgres://", "postgresql://"))
        ):
            raise SettingsError(
                "TRUSTDESK_DATABASE_URL must be sqlite:///path or postgres://user@host:port/db"
            )
        if self.broker_url and not self.broker_url.startswith(("redis://", "amqp://", "stub")):
            raise SettingsError("TRUSTDESK_BROKER_URL must be empty, redis://… or amqp://…")
        if not 0 <= self.platform_fee_bps <= 10000:
            raise SettingsError("TRUSTDESK_PLATFORM_FEE_BPS must be between 0 and 10000")

    def describe(self) -> list[tuple[str, str]]:
        """(variable, current value) pairs for docs and `trustdesk config`."""
        out = []
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, timedelta):
                value = format_duration(value)
            if f.name == "secret_key":
                value = "(dev default)" if value == DEV_SECRET else "(set)"
            out.append((f"TRUSTDESK_{f.name.upper()}", str(value)))
        return out


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()


def reset_settings_cache() -> None:
    get_settings.cache_clear()
