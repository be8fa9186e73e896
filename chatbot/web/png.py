"""Chart images for Slack, which shows PNG but not SVG: matplotlib's Agg backend.

Why matplotlib: a well-kept, widely packaged library whose Agg renderer needs no display, no
browser and no system libraries beyond its wheel; the object API (`Figure`, no pyplot) keeps no
global state, so it is safe in the clock's threads. (cairosvg would reuse our SVG but needs the
cairo system library at run time.)
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from chatbot.web.charts import PALETTE


def weekly_trend(
    weeks: Sequence[str], requests: Sequence[int], share: Sequence[float | None], *, title: str
) -> bytes:
    """Requests per week (bars) and the share via /techhelp (line, right axis), as PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(8, 3.6), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = list(range(len(weeks)))
    axes.bar(positions, requests, color=PALETTE[0], label="requests")
    axes.set_ylabel("requests per week")
    axes.set_ylim(0, max([*requests, 1]) * 1.35)  # headroom for the legend
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))  # requests are whole numbers
    axes.set_xticks(positions, [w[5:] for w in weeks], rotation=45, ha="right", fontsize=8)
    axes.set_title(title, fontsize=11)
    axes.spines[["top"]].set_visible(False)
    right = axes.twinx()
    points = [(x, s) for x, s in zip(positions, share, strict=True) if s is not None]
    if points:
        right.plot(
            [x for x, _ in points],
            [s for _, s in points],
            color=PALETTE[1],
            marker="s",
            linestyle="--",
            linewidth=2,
            label="% via /techhelp",
        )
    right.set_ylim(0, 135)
    right.set_yticks([0, 25, 50, 75, 100])
    right.set_ylabel("% via /techhelp")
    handles = axes.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    axes.legend(handles=handles, loc="upper left", fontsize=8, frameon=False)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
