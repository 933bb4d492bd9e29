"""Badge rendering and domain matching are pure: every variant is valid XML, nothing leaks."""

from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import pytest

from trustdesk.ratings import badge, chart, domains
from trustdesk.ratings.domains import DomainError, matches, normalise_domain, origin_host

DATA = badge.BadgeData(store_name='Nadia\'s <Crafts> & "Co"', score=4.62, level="top_rated",
                       completed_orders=128, rating_count=90)


@pytest.mark.parametrize("style", ["full", "compact", "bogus"])
@pytest.mark.parametrize("lang", ["en", "ur", "fr"])
@pytest.mark.parametrize(("data", "verified"), [(DATA, True), (DATA, False), (None, False), (None, True)])
def test_every_variant_is_valid_svg(style, lang, data, verified) -> None:
    svg = badge.render_svg(data, style=badge.normalise_style(style), lang=badge.normalise_lang(lang),
                           verified=verified)
    root = ElementTree.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.find("{http://www.w3.org/2000/svg}title") is not None
    text = "".join(root.itertext())
    if data is None:
        assert badge.TEXT[badge.normalise_lang(lang)]["unknown"] in text
    elif not verified:
        assert badge.TEXT[badge.normalise_lang(lang)]["unverified"] in text
        assert "4.6" not in text and "Crafts" not in text
    else:
        assert "4.6" in text


def test_verified_full_badge_shows_score_level_and_orders() -> None:
    text = "".join(ElementTree.fromstring(badge.render_svg(DATA, style="full", lang="en", verified=True)).itertext())
    assert "4.6" in text and "Top rated" in text and "128 orders" in text and "<Crafts>" in text


def test_urdu_label() -> None:
    svg = badge.render_svg(None, style="compact", lang="ur", verified=False)
    assert "ٹرسٹ ڈیسک کا سیلر نہیں" in svg


def test_js_widget_escapes_markup() -> None:
    svg = badge.render_svg(DATA, style="full", lang="en", verified=True)
    js = badge.render_js(svg, link="https://td.example/sellers/x", title="See", slug="x")
    assert "</script>" not in js and "<svg" not in js
    assert "attachShadow" in js and "https://td.example/sellers/x" in js


@pytest.mark.parametrize(("raw", "expected"), [
    ("shop.example.com", "shop.example.com"),
    ("https://Shop.Example.COM/path?q=1", "shop.example.com"),
    ("  www.example.pk ", "www.example.pk"),
    ("bücher.example", "xn--bcher-kva.example"),
])
def test_normalise_domain(raw, expected) -> None:
    assert normalise_domain(raw) == expected


@pytest.mark.parametrize("raw", ["", "localhost", "no spaces.com", "example", "-bad.com",
                                 "example.com:8080", "a" * 300 + ".com", "http://"])
def test_bad_domains_are_refused(raw) -> None:
    with pytest.raises(DomainError):
        normalise_domain(raw)


def test_local_domains_only_when_allowed() -> None:
    assert normalise_domain("http://localhost:8123/x", allow_local=True) == "localhost:8123"
    assert normalise_domain("127.0.0.1:9000", allow_local=True) == "127.0.0.1:9000"


@pytest.mark.parametrize(("header", "host"), [
    ("https://shop.example.com/cart", "shop.example.com"),
    ("https://shop.example.com:443/", "shop.example.com"),
    ("http://localhost:8123/page", "localhost:8123"),
    ("null", None), ("", None), (None, None), ("javascript:alert(1)", None), ("ftp://x.com", None),
])
def test_origin_host(header, host) -> None:
    assert origin_host(header) == host


def test_matching_is_exact_apart_from_www() -> None:
    mine = ["shop.example.com"]
    assert matches("shop.example.com", mine)
    assert matches("www.shop.example.com", mine)
    assert not matches("evil-shop.example.com", mine)
    assert not matches("shop.example.com.evil.net", mine)
    assert not matches(None, mine)


def test_token_line_must_stand_alone() -> None:
    assert domains.body_has_token("x\ntrustdesk-verification=abc\n", "abc")
    assert not domains.body_has_token("trustdesk-verification=abcdef", "abc")


def test_chart_is_valid_svg_with_a_point_per_month() -> None:
    at = datetime(2026, 11, 22, tzinfo=UTC)
    points = [(at - timedelta(days=30 * i), 3.5 + i / 10) for i in range(11, -1, -1)]
    root = ElementTree.fromstring(chart.score_chart(points))
    circles = root.findall(".//{http://www.w3.org/2000/svg}circle")
    assert len(circles) == 12
    ElementTree.fromstring(chart.score_chart([]))
