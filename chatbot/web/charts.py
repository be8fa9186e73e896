"""Charts drawn on the server as SVG: no front-end build, no script, readable without them.

Each chart is an `<svg role="img">` with a title and a description that states the figures in
words (what a screen reader announces); the page shows the same figures in a data table beside it.
Series differ in colour, dash pattern and marker shape, so they stay apart without colour vision;
markers of equal values at the same point are set side by side, not on top of each other.
Colours keep at least 3:1 against white (WCAG 1.4.11, non-text contrast).

Axes read as what they measure: counts have whole-number ticks, a 1–5 rating runs from 1 to 5,
a share from 0 %. The axis labels and the legend each have a band of their own, so they never
overlap. With too little to draw (no figure, or a trend of one point) the chart says so in
words instead of drawing empty axes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import count

from markupsafe import Markup, escape

# Okabe–Ito-derived, darkened to at least 3:1 on white.
PALETTE = ("#0b5cad", "#b35900", "#007a5e", "#a4307a", "#5a5a5a", "#8a6d00", "#3d3dbf")
DASHES = ("", "6 3", "2 3", "8 3 2 3", "4 4", "1 2", "10 4")
WIDTH = 720
LEFT, RIGHT, TOP = 56, 16, 20
PLOT_H = 196
LABEL_FONT, CHAR_W = 11, 6.2  # px; a generous average glyph width for the estimate
LABEL_ANGLE = 35
LEGEND_ROW, LEGEND_NAME = 18, 24  # px per legend row; characters of a name shown
RATING_UNIT = "1–5"
DODGE = 7.0  # px between markers of equal value at one point
_ids = count(1)


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]


@dataclass(frozen=True)
class Axis:
    low: float
    high: float
    ticks: tuple[float, ...]

    def y(self, value: float) -> float:
        return TOP + PLOT_H - PLOT_H * (value - self.low) / (self.high - self.low)


def axis(unit: str, largest: float) -> Axis:
    """The value axis for `unit`: a 1–5 rating from 1 to 5; anything else from 0 with
    whole-number ticks (counts, and percentages) at a round step, five intervals at most."""
    if unit == RATING_UNIT:
        return Axis(1, 5, (1, 2, 3, 4, 5))
    largest = max(largest, 1)
    step = 1
    for magnitude in (10**e for e in range(0, 12)):
        found = next((s * magnitude for s in (1, 2, 5) if largest / (s * magnitude) <= 5), None)
        if found:
            step = found
            break
    steps = math.ceil(largest / step)
    return Axis(0, step * steps, tuple(step * i for i in range(steps + 1)))


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def _label_band(labels: Sequence[str]) -> float:
    """Height below the plot taken by the x labels (rotated by LABEL_ANGLE)."""
    longest = max((len(label) for label in labels), default=0)
    angle = math.radians(LABEL_ANGLE)
    return 16 + longest * CHAR_W * math.sin(angle) + LABEL_FONT * math.cos(angle) + 8


def _legend_rows(names: Sequence[str]) -> list[list[tuple[int, str, float]]]:
    """Legend entries (series number, name, x) wrapped into rows within the width."""
    rows: list[list[tuple[int, str, float]]] = [[]]
    x = float(LEFT)
    for n, name in enumerate(names):
        shown = name if len(name) <= LEGEND_NAME else name[: LEGEND_NAME - 1] + "…"
        width = 28 + len(shown) * CHAR_W + 18
        if rows[-1] and x + width > WIDTH - RIGHT:
            rows.append([])
            x = float(LEFT)
        rows[-1].append((n, shown, x))
        x += width
    return [row for row in rows if row]


def _svg(title: str, description: str, body: str, height: float) -> Markup:
    uid = next(_ids)
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.0f}" '
        f'width="100%" role="img" aria-labelledby="chart-title-{uid} chart-desc-{uid}" '
        f'focusable="false">'
        f'<title id="chart-title-{uid}">{escape(title)}</title>'
        f'<desc id="chart-desc-{uid}">{escape(description)}</desc>'
        f"{body}</svg>"
    )


def _too_little(title: str, description: str, why: str) -> Markup:
    """In place of empty axes: a sentence saying why there is no chart yet."""
    body = (
        f'<rect x="1" y="1" width="{WIDTH - 2}" height="78" rx="6" fill="#f4f4f4" '
        f'stroke="#d0d0d0"/>'
        f'<text class="too-little" x="{WIDTH / 2:.0f}" y="36" text-anchor="middle" '
        f'font-size="15" fill="#333">{escape(why)}</text>'
        f'<text x="{WIDTH / 2:.0f}" y="58" text-anchor="middle" font-size="12" fill="#555">'
        f"The figures there are, if any, are in the table below.</text>"
    )
    return _svg(title, f"{description} {why}", body, 80)


def _frame(
    title: str,
    description: str,
    body: str,
    *,
    scale: Axis,
    unit: str,
    labels: Sequence[str],
    legend: Sequence[Series] = (),
) -> Markup:
    grid = []
    for value in scale.ticks:
        y = scale.y(value)
        grid.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#d0d0d0" stroke-width="1"/>'
            f'<text class="y-tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
            f'font-size="12" fill="#333">{escape(_fmt(value))}</text>'
        )
    band = _label_band(labels)
    legend_top = TOP + PLOT_H + band
    rows = _legend_rows([s.name for s in legend])
    keys = []
    for r, row in enumerate(rows):
        y = legend_top + LEGEND_ROW * r + 12
        for n, name, x in row:
            colour, dash = PALETTE[n % len(PALETTE)], DASHES[n % len(DASHES)]
            keys.append(
                f'<g class="legend"><line x1="{x:.1f}" x2="{x + 22:.1f}" y1="{y - 4:.1f}" '
                f'y2="{y - 4:.1f}" stroke="{colour}" stroke-width="2.5" '
                f'stroke-dasharray="{dash}"/>{_marker(n, x + 11, y - 4, colour)}'
                f'<text x="{x + 28:.1f}" y="{y:.1f}" font-size="11" fill="#333">'
                f"{escape(name)}</text></g>"
            )
    height = legend_top + LEGEND_ROW * len(rows) + 6
    head = f'<text x="4" y="11" font-size="11" fill="#333">{escape(unit)}</text>'
    return _svg(title, description, head + "".join(grid) + body + "".join(keys), height)


def _x_labels(labels: Sequence[str], step: float) -> str:
    every = max(1, math.ceil(len(labels) / 12))
    out = []
    y = TOP + PLOT_H + 16
    for i, label in enumerate(labels):
        if i % every:
            continue
        x = LEFT + step * (i + 0.5)
        out.append(
            f'<text class="x-label" x="{x:.1f}" y="{y}" text-anchor="end" '
            f'font-size="{LABEL_FONT}" fill="#333" '
            f'transform="rotate(-{LABEL_ANGLE} {x:.1f} {y})">{escape(label)}</text>'
        )
    return "".join(out)


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float], *, unit: str) -> Markup:
    """One bar per label."""
    if labels:
        words = "; ".join(f"{label}: {_fmt(v)}" for label, v in zip(labels, values, strict=True))
    else:
        words = "no data in this range"
    description = f"{title} ({unit}). {words}."
    if not any(values):
        return _too_little(title, description, f"Nothing to draw: no {unit} in this range.")
    scale = axis(unit, max(values))
    plot_w = WIDTH - LEFT - RIGHT
    step = plot_w / max(1, len(labels))
    bars = []
    for i, value in enumerate(values):
        y = scale.y(value)
        x = LEFT + step * i + step * 0.15
        bars.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" '
            f'height="{TOP + PLOT_H - y:.1f}" fill="{PALETTE[0]}"><title>{escape(labels[i])}: '
            f"{escape(_fmt(value))}</title></rect>"
        )
    body = "".join(bars) + _x_labels(labels, step)
    return _frame(title, description, body, scale=scale, unit=unit, labels=labels)


def line_chart(title: str, labels: Sequence[str], series: Sequence[Series], *, unit: str) -> Markup:
    """One line per series over the labels (weeks); a gap where a value is missing."""
    series = list(series[: len(PALETTE)])
    numbers = [v for s in series for v in s.values if v is not None]
    words = []
    for item in series:
        shown = [
            f"{label} {_fmt(v)}"
            for label, v in zip(labels, item.values, strict=False)
            if v is not None
        ]
        words.append(f"{item.name}: {', '.join(shown) or 'no data'}")
    description = f"{title} ({unit}). " + ("; ".join(words) if words else "no data in this range")
    description += "."
    points = sum(1 for i in range(len(labels)) if any(_at(s, i) is not None for s in series))
    if points < 2 or not any(numbers):
        why = (
            "Nothing to draw: no figures in this range."
            if not any(numbers)
            else f"Too little data for a trend: figures for {points} of {len(labels)} points; "
            "a line needs two."
        )
        return _too_little(title, description, why)
    scale = axis(unit, max(numbers))
    step = (WIDTH - LEFT - RIGHT) / max(1, len(labels))
    located: list[list[tuple[int, float, float]]] = []  # per series: (index, x, y)
    for item in series:
        located.append(
            [
                (i, LEFT + step * (i + 0.5), scale.y(v))
                for i, v in enumerate(item.values)
                if v is not None
            ]
        )
    # Equal values at one point: each series' marker beside the others, centred on the point.
    together: dict[tuple[int, float], list[int]] = {}
    for n, found in enumerate(located):
        for i, _, y in found:
            together.setdefault((i, round(y, 1)), []).append(n)
    parts = []
    for n, (item, found) in enumerate(zip(series, located, strict=True)):
        colour, dash = PALETTE[n % len(PALETTE)], DASHES[n % len(DASHES)]
        segments: list[list[tuple[int, float, float]]] = [[]]
        for point in found:
            if segments[-1] and point[0] != segments[-1][-1][0] + 1:
                segments.append([])
            segments[-1].append(point)
        for segment in (s for s in segments if s):
            path = " ".join(f"{x:.1f},{y:.1f}" for _, x, y in segment)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2.5" '
                f'stroke-dasharray="{dash}"/>'
            )
        for i, x, y in found:
            group = together[(i, round(y, 1))]
            shift = (group.index(n) - (len(group) - 1) / 2) * DODGE
            value = item.values[i]
            assert value is not None
            tip = f"{item.name}, {labels[i]}: {_fmt(value)}"
            if len(group) > 1:
                tip += f" (the same as {len(group) - 1} other{'s' if len(group) > 2 else ''})"
            parts.append(
                f'<g class="point">{_marker(n, x + shift, y, colour)}'
                f"<title>{escape(tip)}</title></g>"
            )
    body = "".join(parts) + _x_labels(labels, step)
    return _frame(title, description, body, scale=scale, unit=unit, labels=labels, legend=series)


def _at(series: Series, i: int) -> float | None:
    return series.values[i] if i < len(series.values) else None


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
