"""Templates are i18n-ready: <html lang dir> follow the locale; strings go through gettext."""

from pathlib import Path

from trustdesk.core.templating import TEMPLATES, build_environment


def test_rtl_locale_sets_dir_rtl() -> None:
    env = build_environment("ur")
    assert env.globals["DIR"] == "rtl" and env.globals["LOCALE"] == "ur"
    assert build_environment("en").globals["DIR"] == "ltr"


def test_base_layout_uses_locale_and_direction() -> None:
    source = (Path(TEMPLATES) / "base.html").read_text()
    assert '<html lang="{{ LOCALE }}" dir="{{ DIR }}">' in source


def test_gettext_is_installed() -> None:
    env = build_environment("en")
    assert env.from_string('{{ _("Sign in") }}').render() == "Sign in"
