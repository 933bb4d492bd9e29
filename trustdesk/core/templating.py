"""The Jinja2 environment: autoescape, gettext (Babel catalogs), money and time filters."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from babel.support import NullTranslations, Translations
from jinja2 import Environment, FileSystemLoader, select_autoescape

from trustdesk.core import money
from trustdesk.core.clock import aware, now

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
LOCALE_DIR = ROOT / "trustdesk" / "locale"
RTL_LOCALES = {"ur", "ar", "fa", "ps", "sd"}
# Pakistan Standard Time is the display zone by default (UTC+5, no DST).
DISPLAY_OFFSET = timedelta(hours=5)
DISPLAY_ZONE = "PKT"


def translations(locale: str) -> NullTranslations:
    try:
        return Translations.load(str(LOCALE_DIR), [locale], domain="messages")
    except Exception:  # noqa: BLE001 - a missing catalog means English
        return NullTranslations()


def fmt_dt(value: datetime | None, with_zone: bool = True) -> str:
    if value is None:
        return ""
    local = aware(value) + DISPLAY_OFFSET  # type: ignore[operator]
    text = local.strftime("%-d %b %Y, %H:%M")
    return f"{text} {DISPLAY_ZONE}" if with_zone else text


def fmt_date(value: datetime | None) -> str:
    if value is None:
        return ""
    return (aware(value) + DISPLAY_OFFSET).strftime("%-d %b %Y")  # type: ignore[operator]


def humanize_delta(delta: timedelta) -> str:
    seconds = int(abs(delta.total_seconds()))
    days, rem = divmod(seconds, 86400)
    hours, rem = divmod(rem, 3600)
    minutes = rem // 60
    if days >= 2:
        return f"{days} days"
    if days == 1:
        return f"1 day {hours} h" if hours else "1 day"
    if hours >= 1:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes >= 1:
        return f"{minutes} min"
    return f"{seconds} s"


def countdown(value: datetime | None) -> str:
    """'2 days left' / 'passed 3 h ago'."""
    if value is None:
        return ""
    delta = aware(value) - now()  # type: ignore[operator]
    if delta.total_seconds() >= 0:
        return f"{humanize_delta(delta)} left"
    return f"passed {humanize_delta(delta)} ago"


def is_past(value: datetime | None) -> bool:
    return value is not None and aware(value) <= now()  # type: ignore[operator]


def describe_device(user_agent: str | None) -> str:
    """'Mozilla/5.0 (Linux; Android 14…) … Chrome/120' -> 'Chrome on Android'."""
    ua = user_agent or ""
    browser = next((name for key, name in (("Edg/", "Edge"), ("OPR/", "Opera"),
                    ("SamsungBrowser", "Samsung Internet"), ("Firefox/", "Firefox"),
                    ("Chrome/", "Chrome"), ("Chromium", "Chromium"), ("Safari/", "Safari"))
                    if key in ua), "")
    system = next((name for key, name in (("Android", "Android"), ("iPhone", "iPhone"),
                   ("iPad", "iPad"), ("Windows", "Windows"), ("Mac OS X", "macOS"),
                   ("CrOS", "ChromeOS"), ("Linux", "Linux")) if key in ua), "")
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or (ua[:40] if ua else "Unknown device")


def build_environment(locale: str = "en") -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html", "xml", "svg"], default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    env.filters["money"] = lambda minor, currency="PKR": money.format_money(int(minor or 0), currency)
    env.filters["money_plain"] = lambda minor, currency="PKR": money.format_plain(int(minor or 0), currency)
    env.filters["dt"] = fmt_dt
    env.filters["date"] = fmt_date
    env.filters["countdown"] = countdown
    env.filters["past"] = is_past
    env.filters["humanize"] = humanize_delta
    env.filters["device"] = describe_device
    env.globals["LOCALE"] = locale
    env.globals["DIR"] = "rtl" if locale.split("_")[0] in RTL_LOCALES else "ltr"
    env.globals["now"] = now
    env.globals["currencies"] = list(money.CURRENCIES)
    from trustdesk.core.web import current_user, flashes

    env.globals["flashes"] = flashes
    env.globals["current_user"] = current_user
    return env


def render_string(env: Environment, source: str, **context: Any) -> str:
    return env.from_string(source).render(**context)
