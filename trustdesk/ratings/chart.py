"""A small server-rendered SVG line chart of the trust score over 12 months (pure, no JS)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from xml.sax.saxutils import escape, quoteattr

WIDTH, HEIGHT = 560, 200
LEFT, RIGHT, TOP, BOTTOM = 36, 12, 12, 28
Y_MIN, Y_MAX = 1.0, 5.0
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _x(i: int, n: int) -> float:
    span = WIDTH - LEFT - RIGHT
    return LEFT + (span * i / (n - 1) if n > 1 else span / 2)


def _y(value: float) -> float:
    value = min(Y_MAX, max(Y_MIN, value))
    return TOP + (Y_MAX - value) / (Y_MAX - Y_MIN) * (HEIGHT - TOP - BOTTOM)


def score_chart(points: Sequence[tuple[datetime, float]], *, title: str = "Trust score, last 12 months") -> str:
    """Line + dots + gridlines for score points (oldest first); labelled for screen readers."""
    n = len(points)
    summary = ", ".join(f"{MONTHS[p.month - 1]} {p.year}: {v:.1f}" for p, v in points)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="score-chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label={quoteattr(title + ": " + summary)}>',
        f"<title>{escape(title)}</title>",
    ]
    for level in (1, 2, 3, 4, 5):
        y = _y(level)
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="#d9e0dc" stroke-width="1"/>')
        parts.append(f'<text x="{LEFT - 8}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
                     f'fill="#5b6660">{level}</text>')
    if n:
        coords = [(_x(i, n), _y(v)) for i, (_, v) in enumerate(points)]
        path = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(coords))
        area = path + f" L{coords[-1][0]:.1f},{_y(Y_MIN):.1f} L{coords[0][0]:.1f},{_y(Y_MIN):.1f} Z"
        parts.append(f'<path d="{area}" fill="#0b6e4f" fill-opacity="0.08" stroke="none"/>')
        parts.append(f'<path class="score-line" d="{path}" fill="none" stroke="#0b6e4f" '
                     f'stroke-width="2.5" stroke-linejoin="round"/>')
        for i, ((x, y), (moment, value)) in enumerate(zip(coords, points, strict=True)):
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="#0b6e4f">'
                         f"<title>{MONTHS[moment.month - 1]} {moment.year}: {value:.2f}</title></circle>")
            if i % 2 == (n - 1) % 2 or n <= 6:
                label = "now" if i == n - 1 else MONTHS[moment.month - 1]
                parts.append(f'<text x="{x:.1f}" y="{HEIGHT - 8}" font-size="11" text-anchor="middle" '
                             f'fill="#5b6660">{label}</text>')
    parts.append("</svg>")
    return "".join(parts)
