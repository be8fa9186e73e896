"""Charts drawn on the server as SVG: no front-end build, no script, readable without them.

Each chart is an `<svg role="img">` with a title and a description that states the figures in
words (what a screen reader announces); the page shows the same figures in a data table beside it.
Series differ in colour, dash pattern and marker shape, so they stay apart without colour vision.
Colours keep at least 3:1 against white (WCAG 1.4.11, non-text contrast).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import count

from markupsafe import Markup, escape

# Okabe–Ito-derived, darkened to at least 3:1 on white.
PALETTE = ("#0b5cad", "#b35900", "#007a5e", "#a4307a", "#5a5a5a", "#8a6d00", "#3d3dbf")
DASHES = ("", "6 3", "2 3", "8 3 2 3", "4 4", "1 2", "10 4")
WIDTH, HEIGHT = 720, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 20, 84
_ids = count(1)


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10.0 * magnitude


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def _frame(title: str, description: str, body: str, *, top: float, unit: str) -> Markup:
    uid = next(_ids)
    plot_h = HEIGHT - TOP - BOTTOM
    grid = []
    for i in range(5):
        value = top * i / 4
        y = TOP + plot_h - plot_h * i / 4
        grid.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#d0d0d0" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="12" '
            f'fill="#333">{escape(_fmt(value))}</text>'
        )
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" role="img" aria-labelledby="chart-title-{uid} chart-desc-{uid}" '
        f'focusable="false">'
        f'<title id="chart-title-{uid}">{escape(title)}</title>'
        f'<desc id="chart-desc-{uid}">{escape(description)}</desc>'
        f'<text x="4" y="11" font-size="11" fill="#333">{escape(unit)}</text>'
        f"{''.join(grid)}{body}</svg>"
    )


def _x_labels(labels: Sequence[str], step: float) -> str:
    every = max(1, len(labels) // 12)
    out = []
    for i, label in enumerate(labels):
        if i % every:
            continue
        x = LEFT + step * (i + 0.5)
        out.append(
            f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="end" font-size="11" '
            f'fill="#333" transform="rotate(-35 {x:.1f} {HEIGHT - BOTTOM + 16})">'
            f"{escape(label)}</text>"
        )
    return "".join(out)


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float], *, unit: str) -> Markup:
    """One bar per label."""
    top = _nice_max(max(values, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(1, len(labels))
    bars = []
    for i, value in enumerate(values):
        h = plot_h * value / top
        x = LEFT + step * i + step * 0.15
        bars.append(
            f'<rect x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{step * 0.7:.1f}" '
            f'height="{h:.1f}" fill="{PALETTE[0]}"><title>{escape(labels[i])}: '
            f"{escape(_fmt(value))}</title></rect>"
        )
    if labels:
        words = "; ".join(f"{label}: {_fmt(v)}" for label, v in zip(labels, values, strict=True))
    else:
        words = "no data in this range"
    body = "".join(bars) + _x_labels(labels, step)
    return _frame(title, f"{title} ({unit}). {words}.", body, top=top, unit=unit)


def line_chart(title: str, labels: Sequence[str], series: Sequence[Series], *, unit: str) -> Markup:
    """One line per series over the labels (weeks); a gap where a value is missing."""
    numbers = [v for s in series for v in s.values if v is not None]
    top = _nice_max(max(numbers, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(1, len(labels))
    parts, words = [], []
    for n, item in enumerate(series[: len(PALETTE)]):
        colour, dash = PALETTE[n % len(PALETTE)], DASHES[n % len(DASHES)]
        points: list[list[tuple[float, float]]] = []
        segment: list[tuple[float, float]] = []
        for i, value in enumerate(item.values):
            if value is None:
                if segment:
                    points.append(segment)
                segment = []
                continue
            segment.append((LEFT + step * (i + 0.5), TOP + plot_h - plot_h * value / top))
        if segment:
            points.append(segment)
        for seg in points:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in seg)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2.5" '
                f'stroke-dasharray="{dash}"/>'
            )
            for x, y in seg:
                parts.append(_marker(n, x, y, colour))
        shown = [
            f"{label} {_fmt(v)}"
            for label, v in zip(labels, item.values, strict=False)
            if v is not None
        ]
        words.append(f"{item.name}: {', '.join(shown) or 'no data'}")
    legend = []
    for n, item in enumerate(series[: len(PALETTE)]):
        x = LEFT + (n % 4) * 165
        y = HEIGHT - 10 - (n // 4) * 14
        colour = PALETTE[n % len(PALETTE)]
        legend.append(
            f'<line x1="{x}" x2="{x + 22}" y1="{y - 4}" y2="{y - 4}" stroke="{colour}" '
            f'stroke-width="2.5" stroke-dasharray="{DASHES[n % len(DASHES)]}"/>'
            f"{_marker(n, x + 11, y - 4, colour)}"
            f'<text x="{x + 28}" y="{y}" font-size="11" fill="#333">{escape(item.name[:24])}</text>'
        )
    description = f"{title} ({unit}). " + ("; ".join(words) if words else "no data in this range")
    body = "".join(parts) + _x_labels(labels, step) + "".join(legend)
    return _frame(title, description + ".", body, top=top, unit=unit)


def _marker(n: int, x: float, y: float, colour: str) -> str:
    shape = n % 3
    if shape == 0:
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"/>'
    if shape == 1:
        return f'<rect x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7" fill="{colour}"/>'
    return (
        f'<polygon points="{x:.1f},{y - 4.5:.1f} {x + 4.5:.1f},{y + 3.5:.1f} '
        f'{x - 4.5:.1f},{y + 3.5:.1f}" fill="{colour}"/>'
    )
