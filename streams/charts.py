"""Small SVG charts for the HTML report: lines over time, bars, intervals.

Inline SVG needs nothing at view time (no script, no font, no network), prints, and is
a few kilobytes per chart — which is why the report draws its own instead of shipping a
plotting library. Every chart is a function from plain numbers to an `<svg>` string.

>>> svg = bars([("sent", 30.0), ("holdout", 5.0)], "outcomes")
>>> svg.startswith("<svg") and "sent" in svg and svg.endswith("</svg>")
True
"""

from __future__ import annotations

import html
from collections.abc import Sequence

PALETTE = ("#3b6fb6", "#d9822b", "#3a9b5c", "#c23b3b", "#7d58b3", "#8c6d46", "#d16aa6", "#6b7280")
WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 60, 150, 28, 36


def _text(x: float, y: float, text: str, anchor: str = "start", size: int = 11) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
        f'font-family="sans-serif" fill="#222">{html.escape(text)}</text>'
    )


def _frame(title: str, body: list[str], height: int = HEIGHT) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{html.escape(title)}">'
        f'<rect width="{WIDTH}" height="{height}" fill="#fff"/>'
        + _text(LEFT, 16, title, size=13)
        + "".join(body)
        + "</svg>"
    )


def _scale(low: float, high: float, out_low: float, out_high: float) -> tuple[float, float]:
    span = (high - low) or 1.0
    ratio = (out_high - out_low) / span
    return ratio, out_low - low * ratio


def lines(
    series: dict[str, list[tuple[float, float]]],
    title: str,
    x_labels: Sequence[tuple[float, str]] = (),
    y_format: str = "{:,.0f}",
    y_range: tuple[float, float] | None = None,
) -> str:
    """One polyline per named series of (x, y) points, a legend on the right."""
    points = [p for values in series.values() for p in values]
    if not points:
        return _frame(title, [_text(LEFT, 60, "no data")])
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    y_low, y_high = y_range or (min(0.0, min(ys)), max(ys) or 1.0)
    sx, ox = _scale(min(xs), max(xs), LEFT, WIDTH - RIGHT)
    sy, oy = _scale(y_low, y_high, HEIGHT - BOTTOM, TOP)
    body = [
        f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" '
        f'y2="{HEIGHT - BOTTOM}" stroke="#999"/>'
    ]
    for tick in range(5):
        value = y_low + (y_high - y_low) * tick / 4
        y = sy * value + oy
        body.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#eee"/>'
        )
        body.append(_text(LEFT - 6, y + 4, y_format.format(value), "end", 10))
    for x, label in x_labels:
        body.append(_text(sx * x + ox, HEIGHT - BOTTOM + 16, label, "middle", 10))
    for index, (name, values) in enumerate(series.items()):
        color = PALETTE[index % len(PALETTE)]
        path = " ".join(f"{sx * x + ox:.1f},{sy * y + oy:.1f}" for x, y in sorted(values))
        body.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        body.append(
            f'<rect x="{WIDTH - RIGHT + 10}" y="{TOP + 16 * index}" width="10" height="10" '
            f'fill="{color}"/>'
        )
        body.append(_text(WIDTH - RIGHT + 24, TOP + 16 * index + 9, name[:20], size=10))
    return _frame(title, body)


def bars(values: Sequence[tuple[str, float]], title: str, number: str = "{:,.0f}") -> str:
    """Horizontal bars, one per (label, value), largest first as given."""
    row = 18
    height = TOP + 12 + row * max(len(values), 1) + 10
    if not values:
        return _frame(title, [_text(LEFT, 60, "no data")])
    top = max(v for _, v in values) or 1.0
    label_width = 220
    scale = (WIDTH - label_width - 80) / top
    body = []
    for index, (label, value) in enumerate(values):
        y = TOP + 12 + index * row
        body.append(_text(label_width - 6, y + 12, label[:40], "end", 10))
        body.append(
            f'<rect x="{label_width}" y="{y + 2}" width="{max(value * scale, 0.5):.1f}" '
            f'height="{row - 5}" fill="{PALETTE[0]}"/>'
        )
        body.append(_text(label_width + value * scale + 4, y + 12, number.format(value), size=10))
    return _frame(title, body, height)


def intervals(rows: Sequence[tuple[str, float, float, float]], title: str) -> str:
    """A point with its interval per (label, estimate, low, high), a line at zero."""
    row = 22
    height = TOP + 20 + row * max(len(rows), 1) + 24
    if not rows:
        return _frame(title, [_text(LEFT, 60, "no campaign with both groups yet")])
    low = min(min(r[2] for r in rows), 0.0)
    high = max(max(r[3] for r in rows), 0.0)
    label_width = 220
    sx, ox = _scale(low, high, label_width + 10, WIDTH - 40)
    body = [
        f'<line x1="{ox:.1f}" y1="{TOP + 10}" x2="{ox:.1f}" y2="{height - 24}" '
        f'stroke="#999" stroke-dasharray="4 3"/>',
        _text(ox, height - 8, "0", "middle", 10),
        _text(sx * low + ox, height - 8, f"{low:+.0%}", "middle", 10),
        _text(sx * high + ox, height - 8, f"{high:+.0%}", "middle", 10),
    ]
    for index, (label, estimate, lo, hi) in enumerate(rows):
        y = TOP + 20 + index * row
        color = PALETTE[2] if lo > 0 else PALETTE[3] if hi < 0 else PALETTE[0]
        body.append(_text(label_width - 6, y + 4, label[:40], "end", 10))
        body.append(
            f'<line x1="{sx * lo + ox:.1f}" y1="{y}" x2="{sx * hi + ox:.1f}" y2="{y}" '
            f'stroke="{color}" stroke-width="2"/>'
        )
        body.append(f'<circle cx="{sx * estimate + ox:.1f}" cy="{y}" r="4" fill="{color}"/>')
    return _frame(title, body, height)


def calibration(points: Sequence[tuple[float, float, int]], title: str) -> str:
    """Observed rate against mean score per bin (circle area ~ points), the diagonal."""
    size = HEIGHT - TOP - BOTTOM
    body = [
        f'<rect x="{LEFT}" y="{TOP}" width="{size}" height="{size}" fill="none" stroke="#999"/>',
        f'<line x1="{LEFT}" y1="{TOP + size}" x2="{LEFT + size}" y2="{TOP}" '
        f'stroke="#bbb" stroke-dasharray="4 3"/>',
        _text(LEFT + size / 2, HEIGHT - 8, "mean churn score", "middle", 10),
        _text(LEFT + size + 12, TOP + 10, "observed churn rate (y)", size=10),
        _text(LEFT + size + 12, TOP + 26, "diagonal: perfectly calibrated", size=10),
    ]
    most = max((n for _, _, n in points), default=1) or 1
    for score, rate, n in points:
        radius = 2 + 8 * (n / most) ** 0.5
        body.append(
            f'<circle cx="{LEFT + score * size:.1f}" cy="{TOP + (1 - rate) * size:.1f}" '
            f'r="{radius:.1f}" fill="{PALETTE[0]}" fill-opacity="0.6"/>'
        )
    return _frame(title, body)
