"""Badge rendering (pure): the SVG image and the JS widget that shows it in a shadow root.

Three kinds: a seller's score (only for their verified domains), "Not verified for this site",
and the neutral "Not a TrustDesk seller". No personal data: the store name, its numbers, a link.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final
from xml.sax.saxutils import escape, quoteattr

STYLES: Final = ("compact", "full")
LANGS: Final = ("en", "ur")
FONT: Final = "Verdana,DejaVu Sans,Noto Sans,Noto Nastaliq Urdu,sans-serif"

TEXT: Final[dict[str, dict[str, str]]] = {
    "en": {
        "brand": "TrustDesk", "orders": "orders", "order": "order", "unverified": "Not verified for this site",
        "unknown": "Not a TrustDesk seller", "check": "Check sellers at TrustDesk",
        "new": "New", "top_rated": "Top rated", "trusted": "Trusted", "at_risk": "At risk",
        "restricted": "Restricted", "score": "trust score", "see": "See the seller's record",
    },
    "ur": {
        "brand": "ٹرسٹ ڈیسک", "orders": "آرڈرز", "order": "آرڈر",
        "unverified": "اس سائٹ کے لیے تصدیق شدہ نہیں", "unknown": "ٹرسٹ ڈیسک کا سیلر نہیں",
        "check": "سیلر کی جانچ ٹرسٹ ڈیسک پر کریں", "new": "نیا", "top_rated": "بہترین درجہ",
        "trusted": "قابلِ اعتماد", "at_risk": "خطرے میں", "restricted": "محدود",
        "score": "ٹرسٹ اسکور", "see": "سیلر کا ریکارڈ دیکھیں",
    },
}
LEVEL_COLOURS: Final = {
    "new": "#3d5a80", "top_rated": "#0b6e4f", "trusted": "#1f7a55", "at_risk": "#9a5b00",
    "restricted": "#b3261e",
}
NEUTRAL: Final = "#5b6660"
GOLD: Final = "#e0a100"
EMPTY_STAR: Final = "#c9d1cc"


@dataclass(frozen=True, slots=True)
class BadgeData:
    """What the badge may show about a seller: nothing personal."""

    store_name: str
    score: float
    level: str  # scoring.Level value
    completed_orders: int
    rating_count: int


def normalise_style(value: str | None) -> str:
    return value if value in STYLES else "full"


def normalise_lang(value: str | None) -> str:
    return value if value in LANGS else "en"


def _width(text: str, size: float) -> float:
    """A generous width estimate (no font metrics here): wide enough never to clip."""
    wide = sum(1 for ch in text if ord(ch) > 0x2000 or ch.isupper() or ch in "MW@")
    return (len(text) - wide) * size * 0.58 + wide * size * 0.72


def _stars(score: float) -> str:
    full = int(round(score))
    spans = [f'<tspan fill="{GOLD if i < full else EMPTY_STAR}">★</tspan>' for i in range(5)]
    return "".join(spans)


def _svg(width: int, height: int, label: str, body: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label={quoteattr(label)}>'
        f"<title>{escape(label)}</title>{body}</svg>"
    )


def render_svg(data: BadgeData | None, *, style: str, lang: str, verified: bool) -> str:
    """The badge image. data=None -> neutral; verified=False -> 'Not verified for this site'."""
    t = TEXT[normalise_lang(lang)]
    rtl = lang == "ur"
    if data is None:
        kind, colour, headline = "unknown", NEUTRAL, t["unknown"]
    elif not verified:
        kind, colour, headline = "unverified", NEUTRAL, t["unverified"]
    else:
        kind, colour, headline = "ok", LEVEL_COLOURS.get(data.level, NEUTRAL), t.get(data.level, data.level)
    if normalise_style(style) == "compact":
        return _compact(data, kind, colour, headline, t, rtl)
    return _full(data, kind, colour, headline, t, rtl)


def _text_attrs(rtl: bool, x: float, width: float) -> str:
    if rtl:
        return f'x="{width - x:.0f}" direction="rtl" text-anchor="start"'
    return f'x="{x:.0f}"'


def _compact(data: BadgeData | None, kind: str, colour: str, headline: str,
             t: dict[str, str], rtl: bool) -> str:
    size = 11.0
    left = t["brand"]
    right = f"{data.score:.1f} ★ {headline}" if kind == "ok" and data else headline
    lw = int(_width(left, size) + 16)
    rw = int(_width(right, size) + 16)
    width, height = lw + rw, 28
    label = f"{t['brand']}: {right}"
    brand_x = rw if rtl else 0
    filler_x = rw if rtl else lw - 6
    x_brand = brand_x + lw / 2
    x_value = (rw / 2) if rtl else (lw + rw / 2)
    brand_fill = "#1d2521"
    weight = "" if rtl else ' font-weight="bold"'  # Urdu glyphs often lack a bold face
    body = (
        f'<rect width="{width}" height="{height}" rx="5" fill="{colour}"/>'
        f'<rect x="{brand_x}" width="{lw}" height="{height}" rx="5" fill="{brand_fill}"/>'
        f'<rect x="{filler_x}" width="6" height="{height}" fill="{brand_fill}"/>'
        f'<g fill="#fff" font-family="{FONT}" font-size="{size:.0f}" text-anchor="middle">'
        f'<text x="{x_brand:.0f}" y="18">{escape(left)}</text>'
        f'<text x="{x_value:.0f}" y="18"{weight}>{escape(right)}</text></g>'
    )
    return _svg(width, height, label, body)


def _full(data: BadgeData | None, kind: str, colour: str, headline: str,
          t: dict[str, str], rtl: bool) -> str:
    height = 64
    pad = 54  # text starts after the shield
    if kind == "ok" and data:
        line1 = data.store_name[:40]
        n = data.completed_orders
        line3 = f"{headline} · {n} {t['order'] if n == 1 else t['orders']} · {t['brand']}"
        label = (f"{t['brand']} {t['score']} {data.score:.1f}/5 · {headline} · {n} "
                 f"{t['orders']} · {data.store_name[:40]}")
        widths = [_width(line1, 13), _width(f"{data.score:.1f} ★★★★★", 15), _width(line3, 11)]
    else:
        line1 = t["brand"]
        line3 = t["check"]
        label = f"{t['brand']}: {headline}"
        widths = [_width(line1, 13), _width(headline, 14), _width(line3, 11)]
    width = int(max(300, pad + max(widths) + 14))
    shield_x = width - 42 if rtl else 10
    mark = ("M11 17 l5 5 l10 -11" if kind == "ok" else
            "M18 10 v9 M18 24 v1" if kind == "unverified" else "M12 12 l12 12 M24 12 l-12 12")
    body = (
        f'<rect x="0.5" y="0.5" width="{width - 1}" height="{height - 1}" rx="8" fill="#fff" '
        f'stroke="{colour}" stroke-width="1.5"/>'
        f'<g transform="translate({shield_x},14)"><path d="M18 0 L34 6 V18 C34 28 27 34 18 37 '
        f'C9 34 2 28 2 18 V6 Z" fill="{colour}"/>'
        f'<path d="{mark}" stroke="#fff" stroke-width="3.2" fill="none" stroke-linecap="round" '
        f'stroke-linejoin="round" transform="translate(-1,1)"/></g>'
        f'<g font-family="{FONT}" fill="#1d2521">'
        f'<text {_text_attrs(rtl, pad, width)} y="19" font-size="13" font-weight="bold">{escape(line1)}</text>'
    )
    if kind == "ok" and data:
        body += (
            f'<text {_text_attrs(rtl, pad, width)} y="38" font-size="15">'
            f'<tspan font-weight="bold" fill="{colour}">{data.score:.1f}</tspan> '
            f'<tspan font-size="14">{_stars(data.score)}</tspan></text>'
        )
    else:
        body += (f'<text {_text_attrs(rtl, pad, width)} y="38" font-size="14" font-weight="bold" '
                 f'fill="{colour}">{escape(headline)}</text>')
    body += (f'<text {_text_attrs(rtl, pad, width)} y="55" font-size="11" fill="#5b6660">'
             f"{escape(line3)}</text></g>")
    return _svg(width, height, label, body)


def render_js(svg: str, *, link: str, title: str, slug: str) -> str:
    """A dependency-free widget: puts the badge in a shadow root right where the script tag is."""
    payload = json.dumps({"svg": svg, "link": link, "title": title, "slug": slug})
    payload = payload.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return (
        "(function(){'use strict';\n"
        f"var d={payload};\n"
        "var s=document.currentScript;\n"
        "if(!s){var all=document.querySelectorAll('script[src*=\"/badge/'+d.slug+'.js\"]');"
        "for(var i=0;i<all.length;i++){if(!all[i].hasAttribute('data-trustdesk-done')){s=all[i];break;}}}\n"
        "if(!s||!s.parentNode){return;}\n"
        "s.setAttribute('data-trustdesk-done','');\n"
        "var host=document.createElement('span');host.className='trustdesk-badge';\n"
        "host.setAttribute('data-seller',d.slug);\n"
        "s.parentNode.insertBefore(host,s.nextSibling);\n"
        "var root=host.attachShadow?host.attachShadow({mode:'open'}):host;\n"
        "var a=document.createElement('a');a.href=d.link;a.target='_blank';a.rel='noopener';\n"
        "a.title=d.title;a.setAttribute('aria-label',d.title);\n"
        "a.style.display='inline-block';a.style.lineHeight='0';a.style.textDecoration='none';\n"
        "a.innerHTML=d.svg;root.appendChild(a);\n"
        "})();\n"
    )
