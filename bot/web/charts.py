"""Small server-side SVG charts for the dashboard: bars (stacked), horizontal bars, lines.

Plain SVG in the page: readable without JavaScript, printable, and allowed by the console's
Content-Security-Policy (presentation attributes, no inline styles or scripts). Every bar
and point carries a ``<title>`` (its value shows on hover and is read by screen readers).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

from markupsafe import Markup

COLORS = {
    "order": "#2e8b57",
    "transfer": "#e0a030",
    "hangup": "#8a99a8",
    "error": "#c0392b",
    "p50": "#2371b8",
    "p95": "#c0392b",
    "bar": "#2371b8",
}
FONT = 'font-family="system-ui, sans-serif" font-size="11" fill="#52606d"'


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    for power in range(-3, 9):
        for step in (1, 2, 2.5, 5):
            top = step * 10**power
            if top >= value:
                return float(top)
    return float(value)


def _count_max(value: float) -> float:
    """A top for counts whose four steps are whole numbers."""
    if value > 40:
        return _nice_max(value)
    return float(max(4, -(-math.ceil(value) // 4) * 4))


def _label(value: float) -> str:
    return f"{value:g}" if value < 10 else f"{value:.0f}"


def _axis(width: int, height: int, left: int, top_value: float, unit: str) -> list[str]:
    parts = []
    for i in range(5):
        y = 10 + (height - 30) * i / 4
        value = top_value * (4 - i) / 4
        parts.append(
            f'<line x1="{left}" x2="{width - 5}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e8ed"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" {FONT}>'
            f"{escape(_label(value))}{escape(unit)}</text>"
        )
    return parts


def _svg(width: int, height: int, label: str, body: list[str]) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(label)}</title>{''.join(body)}</svg>"
    )


def _x_labels(labels: Sequence[str], left: int, slot: float, height: int) -> list[str]:
    every = max(1, -(-len(labels) // 12))
    return [
        f'<text x="{left + slot * (i + 0.5):.1f}" y="{height - 6}" text-anchor="middle" {FONT}>'
        f"{escape(text)}</text>"
        for i, text in enumerate(labels)
        if i % every == 0
    ]


def stacked_bars(
    label: str,
    labels: Sequence[str],
    series: Mapping[str, Sequence[int]],
    titles: dict[str, str],
    *,
    width: int = 720,
    height: int = 190,
) -> Markup:
    left = 40
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    top = _count_max(max(totals, default=0))
    slot = (width - left - 5) / max(1, len(labels))
    body = _axis(width, height, left, top, "")
    scale = (height - 30) / top
    for i, name in enumerate(labels):
        base = height - 20.0
        for key, values in series.items():
            value = values[i]
            if not value:
                continue
            h = value * scale
            base -= h
            body.append(
                f'<rect x="{left + slot * i + slot * 0.12:.1f}" y="{base:.1f}" '
                f'width="{slot * 0.76:.1f}" height="{h:.1f}" fill="{COLORS.get(key, "#999")}">'
                f"<title>{escape(name)}: {escape(titles.get(key, key))} — {value}</title></rect>"
            )
    body += _x_labels(labels, left, slot, height)
    return _svg(width, height, label, body)


def hbars(
    label: str,
    items: Sequence[tuple[str, float]],
    *,
    unit: str = "",
    color: str = "#2371b8",
    width: int = 420,
    label_w: int = 180,
) -> Markup:
    row = 24
    height = max(row, row * len(items)) + 6
    top = max((v for _, v in items), default=0) or 1
    body = []
    for i, (name, value) in enumerate(items):
        y = 3 + i * row
        w = (width - label_w - 40) * value / top
        room = label_w // 7
        short = name if len(name) <= room else name[: room - 1] + "…"
        body.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" {FONT}>{escape(short)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{max(w, 1):.1f}" height="{row - 8}" '
            f'fill="{color}"><title>{escape(name)} — {_label(value)}{escape(unit)}</title></rect>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 15}" {FONT}>'
            f"{escape(_label(value))}{escape(unit)}</text>"
        )
    return _svg(width, height, label, body)


def lines(
    label: str,
    labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    titles: dict[str, str],
    *,
    unit: str = "",
    width: int = 720,
    height: int = 190,
) -> Markup:
    left = 46
    values = [v for s in series.values() for v in s if v is not None]
    top = _nice_max(max(values, default=0))
    slot = (width - left - 5) / max(1, len(labels))
    scale = (height - 30) / top
    body = _axis(width, height, left, top, unit)
    for key, points in series.items():
        color = COLORS.get(key, "#2371b8")
        coords = [
            (left + slot * (i + 0.5), height - 20 - v * scale, v)
            for i, v in enumerate(points)
            if v is not None
        ]
        if len(coords) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in coords)
            body.append(
                f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>'
            )
        for (x, y, v), name in zip(coords, [n for n, p in zip(labels, points, strict=False)
                                             if p is not None], strict=False):  # fmt: skip
            body.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"><title>'
                f"{escape(name)}: {escape(titles.get(key, key))} — {v:.2f}{escape(unit)}"
                "</title></circle>"
            )
    body += _x_labels(labels, left, slot, height)
    return _svg(width, height, label, body)
