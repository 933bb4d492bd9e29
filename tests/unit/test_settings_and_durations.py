"""Settings come from TRUSTDESK_* variables, with duration syntax and a production guard."""

from datetime import timedelta

import pytest

from trustdesk.core.durations import format_duration, parse_duration
from trustdesk.settings import DEV_SECRET, Settings, SettingsError


@pytest.mark.parametrize(
    ("text", "delta"),
    [("30s", timedelta(seconds=30)), ("12h", timedelta(hours=12)), ("3d", timedelta(days=3)),
     ("1d12h", timedelta(days=1, hours=12)), ("90m", timedelta(minutes=90)), ("2w", timedelta(weeks=2)),
     ("45", timedelta(seconds=45))],
)
def test_parses_durations(text: str, delta: timedelta) -> None:
    assert parse_duration(text) == delta
    assert parse_duration(format_duration(delta)) == delta


@pytest.mark.parametrize("text", ["", "3x", "d3", "3 days", "-1h", "1.5h"])
def test_refuses_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_defaults_match_the_design() -> None:
    s = Settings.from_env({})
    assert s.database_url == "sqlite:///trustdesk.sqlite3"
    assert s.broker_url == ""
    assert (s.pay_window, s.ship_window, s.confirm_window, s.inspection_window) == (
        timedelta(hours=48), timedelta(days=5), timedelta(days=14), timedelta(days=3))
    assert (s.response_window, s.offer_window, s.return_window, s.mediation_window) == (
        timedelta(days=3), timedelta(days=3), timedelta(days=7), timedelta(days=5))
    assert s.port == 8000


def test_reads_every_kind_of_variable() -> None:
    s = Settings.from_env({"TRUSTDESK_PORT": "9000", "TRUSTDESK_SHIP_WINDOW": "30s",
                           "TRUSTDESK_DEMO_DATA": "false",
                           "TRUSTDESK_DATABASE_URL": "postgres://postgres@127.0.0.1:5432/td"})
    assert s.port == 9000 and s.ship_window == timedelta(seconds=30) and s.demo_data is False
    assert not s.is_sqlite


@pytest.mark.parametrize(
    ("env", "needle"),
    [({"TRUSTDESK_PORT": "eighty"}, "TRUSTDESK_PORT"),
     ({"TRUSTDESK_SHIP_WINDOW": "soon"}, "TRUSTDESK_SHIP_WINDOW"),
     ({"TRUSTDESK_DATABASE_URL": "mysql://x"}, "TRUSTDESK_DATABASE_URL"),
     ({"TRUSTDESK_BROKER_URL": "kafka://x"}, "TRUSTDESK_BROKER_URL"),
     ({"TRUSTDESK_ENV": "staging"}, "TRUSTDESK_ENV")],
)
def test_bad_values_name_the_variable(env: dict[str, str], needle: str) -> None:
    with pytest.raises(SettingsError, match=needle):
        Settings.from_env(env)


def test_production_refuses_the_dev_secret() -> None:
    with pytest.raises(SettingsError, match="TRUSTDESK_SECRET_KEY"):
        Settings.from_env({"TRUSTDESK_ENV": "production"})
    with pytest.raises(SettingsError, match="TRUSTDESK_SECRET_KEY"):
        Settings.from_env({"TRUSTDESK_ENV": "production", "TRUSTDESK_SECRET_KEY": DEV_SECRET})
    ok = Settings.from_env({"TRUSTDESK_ENV": "production", "TRUSTDESK_SECRET_KEY": "x" * 40})
    assert ok.is_production


def test_settings_are_frozen() -> None:
    s = Settings.from_env({})
    with pytest.raises(AttributeError):
        s.port = 1  # type: ignore[misc]
