"""The studio's plots, drawn on the server as SVG (no chart library, no build step).

- the bottleneck heat map: each user task of the diagram coloured by its median wait, in
  five steps, with the wait written on the task too (colour is never the only signal); the
  legend's bins always read differently (minutes for short waits, more decimals when needed,
  and a single bin when every task waited the same);
- the distribution of case durations (working days) as a histogram, counted on whole-number ticks;
- trends over time: the overdue rate and the mean rating per week.

Every plot has a ``<title>`` and ``<desc>`` and the page lists the same numbers in a table,
so a screen reader and a printed page lose nothing. The numbers come from ``engine.analytics.queries``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

from api.pages.i18n import Words
from engine.analytics.views import DurationDistribution, HeatCell, TrendPoint

HEAT_LEVELS = 5
HOUR = 3600.0
MINUTE = 60.0
MAX_DECIMALS = 3
WIDTH = 640
HEIGHT = 240
PAD_LEFT = 48
PAD_RIGHT = 16
PAD_TOP = 16
PAD_BOTTOM = 44


@dataclass(frozen=True)
class HeatStep:
    """One colour step of the heat map legend: its level, the hours it covers and how it reads."""

    level: int
    low_hours: float
    high_hours: float
    text: str


@dataclass(frozen=True)
class HeatMap:
    """The diagram state (markers and texts per task), the legend, and the cells for the table."""

    state: dict[str, Any]
    legend: tuple[HeatStep, ...]
    cells: tuple[HeatCell, ...]


def heat_level(median: float, top: float) -> int:
    """The colour step (0 = shortest wait .. 4 = longest) of a median wait, against the longest."""
    if top <= 0:
        return 0
    return min(HEAT_LEVELS - 1, int(median / top * HEAT_LEVELS))


def _wait_unit(top: float, words: Words) -> tuple[float, str]:
    """Seconds per unit and the unit's word: hours, or minutes when the longest wait is under an hour."""
    return (HOUR, words.tr("小时", "h")) if top >= HOUR else (MINUTE, words.tr("分钟", "min"))


def _wait_words(seconds: float, words: Words) -> str:
    """A wait as people read it: hours with one decimal, or whole minutes under an hour."""
    if 0 < seconds < MINUTE:
        return words.tr("不足 1 分钟", "under 1 min")
    unit, name = _wait_unit(seconds, words)
    return f"{seconds / unit:.1f} {name}" if unit == HOUR else f"{seconds / unit:.0f} {name}"


def _heat_legend(top: float, words: Words) -> tuple[HeatStep, ...]:
    """The legend's bins from 0 to ``top`` seconds, each reading differently from the others.

    Equal-width bins, written with as few decimals as keep their labels distinct; when no
    count of decimals does (every wait the same, or all near zero), a single bin.
    """
    unit, name = _wait_unit(top, words)
    if top > 0:
        step = top / HEAT_LEVELS
        for decimals in range(MAX_DECIMALS + 1):
            bounds = [f"{i * step / unit:.{decimals}f}" for i in range(HEAT_LEVELS + 1)]
            if len(set(bounds)) == len(bounds):
                return tuple(
                    HeatStep(i, i * step / HOUR, (i + 1) * step / HOUR, f"{bounds[i]}–{bounds[i + 1]} {name}")
                    for i in range(HEAT_LEVELS)
                )
    return (
        HeatStep(
            0, 0.0, top / HOUR, words.tr(f"均为 {_wait_words(top, words)}", f"all {_wait_words(top, words)}")
        ),
    )


def heat_map(cells: Sequence[HeatCell], words: Words) -> HeatMap:
    """Colour every task with a known median wait; tasks without figures stay plain."""
    known = [c for c in cells if c.median_wait is not None]
    top = max((c.median_wait or 0.0 for c in known), default=0.0)
    legend = _heat_legend(top, words) if known else ()
    elements: dict[str, dict[str, str]] = {}
    for cell in known:
        median = cell.median_wait or 0.0
        level = heat_level(median, top) if len(legend) > 1 else 0
        text = words.tr(
            f"⏱ 等待中位数 {_wait_words(median, words)} · {cell.count} 件",
            f"⏱ median wait {_wait_words(median, words)} · {cell.count} done",
        )
        elements[cell.task] = {"state": f"heat-{level}", "text": text}
    return HeatMap({"elements": elements, "focus": None}, legend, tuple(known))


def _text(x: float, y: float, body: str, anchor: str = "middle", css: str = "") -> str:
    klass = f' class="{css}"' if css else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{klass}>{escape(body)}</text>'


def _frame(title: str, desc: str, ident: str, body: list[str]) -> Markup:
    key = escape(ident)
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" id="{key}" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' role="img" aria-labelledby="{key}-t {key}-d">'
        f'<title id="{key}-t">{escape(title)}</title><desc id="{key}-d">{escape(desc)}</desc>'
    )
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704 - every text above and in body is escaped


def count_axis(most: int, ticks: int = 4) -> tuple[int, int]:
    """A count axis's top and number of steps, so that every tick is a whole number.

    Steps of 1, 2 or 5 times a power of ten, about ``ticks`` of them, the top the first
    multiple of the step at or above ``most``: 3 cases give 0, 1, 2, 3; 7 give 0, 2, 4, 6, 8.
    """
    most = max(most, 1)
    raw = most / ticks
    power = 10 ** max(0, math.floor(math.log10(raw))) if raw >= 1 else 1
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    top = step * math.ceil(most / step)
    return top, top // step


def _y_axis(top: float, fmt: Callable[[float], str], ticks: int = 4) -> list[str]:
    """Horizontal grid lines and their labels from 0 to ``top``."""
    out = []
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    for i in range(ticks + 1):
        value = top * i / ticks
        y = HEIGHT - PAD_BOTTOM - plot_h * i / ticks
        out.append(f'<line class="grid" x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(_text(PAD_LEFT - 6, y + 4, fmt(value), "end", "tick"))
    return out


def duration_histogram(dist: DurationDistribution, words: Words) -> Markup | None:
    """Bars of finished cases by duration in working days (None without finished cases)."""
    if dist.count == 0 or not dist.bins:
        return None
    top, steps = count_axis(max(n for _, _, n in dist.bins))
    most = float(top)
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    bar_w = plot_w / len(dist.bins)
    body = _y_axis(most, _whole, ticks=steps)
    for i, (low, high, n) in enumerate(dist.bins):
        h = plot_h * n / most
        x = PAD_LEFT + i * bar_w
        y = HEIGHT - PAD_BOTTOM - h
        span = words.tr(f"{low:g}–{high:g} 个工作日：{n} 件", f"{low:g}–{high:g} working days: {n} case(s)")
        body.append(
            f'<rect class="bar" x="{x + 1:.1f}" y="{y:.1f}" width="{max(bar_w - 2, 1):.1f}" height="{h:.1f}"'
            f' data-low="{low:g}" data-count="{n}"><title>{escape(span)}</title></rect>'
        )
        if n:
            body.append(_text(x + bar_w / 2, y - 3, str(n), css="value"))
        body.append(_text(x, HEIGHT - PAD_BOTTOM + 14, f"{low:g}", css="tick"))
    body.append(_text(PAD_LEFT + plot_w, HEIGHT - PAD_BOTTOM + 14, f"{dist.bins[-1][1]:g}", css="tick"))
    body.append(
        _text(PAD_LEFT + plot_w / 2, HEIGHT - 6, words.tr("办理用时（工作日）", "Duration (working days)"))
    )
    desc = words.tr(
        f"{dist.count} 件已办结；中位数 {_days(dist.median_days)} 个工作日，P90 {_days(dist.p90_days)}。",
        f"{dist.count} finished case(s); median {_days(dist.median_days)} working days, "
        f"p90 {_days(dist.p90_days)}.",
    )
    return _frame(words.tr("办件用时分布", "Case durations"), desc, "plot-durations", body)


def _days(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _line(
    points: Sequence[TrendPoint],
    values: Sequence[float | None],
    top: float,
    css: str,
    label: Callable[[float], str],
) -> list[str]:
    """A polyline through the known values, a dot and a value label on each."""
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    step = plot_w / max(1, len(points) - 1)
    coords: list[tuple[float, float, float]] = []
    for i, value in enumerate(values):
        if value is None:
            continue
        x = PAD_LEFT + (i * step if len(points) > 1 else plot_w / 2)
        y = HEIGHT - PAD_BOTTOM - plot_h * (value / top if top else 0)
        coords.append((x, y, value))
    out = []
    if len(coords) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in coords)
        out.append(f'<polyline class="{css}" points="{path}"/>')
    for x, y, value in coords:
        tip = escape(label(value))
        out.append(f'<circle class="{css}" cx="{x:.1f}" cy="{y:.1f}" r="4"><title>{tip}</title></circle>')
        out.append(_text(x, y - 8, label(value), css="value"))
    return out


def _x_labels(points: Sequence[TrendPoint]) -> list[str]:
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    step = plot_w / max(1, len(points) - 1)
    every = max(1, len(points) // 8)
    out = []
    for i, p in enumerate(points):
        if i % every:
            continue
        x = PAD_LEFT + (i * step if len(points) > 1 else plot_w / 2)
        out.append(_text(x, HEIGHT - PAD_BOTTOM + 14, p.start.strftime("%m-%d"), css="tick"))
    return out


def _percent(value: float) -> str:
    return f"{value:.0f}%"


def _whole(value: float) -> str:
    return f"{value:.0f}"


def _one_decimal(value: float) -> str:
    return f"{value:.1f}"


def _weekly(
    points: Sequence[TrendPoint],
    values: Sequence[float | None],
    top: float,
    series: str,
    scale: tuple[Callable[[float], str], Callable[[float], str], int],
    words: Words,
) -> list[str]:
    """A weekly trend line on a 0..``top`` axis, with the weeks along the bottom.

    ``scale`` is how the axis and the points write their values, and how many grid lines.
    """
    axis, label, ticks = scale
    body = _y_axis(top, axis, ticks=ticks)
    body += _line(points, values, top, series, label)
    body += _x_labels(points)
    body.append(_text(WIDTH / 2, HEIGHT - 6, words.tr("周（起始日）", "Week (starting)")))
    return body


def overdue_trend(points: Sequence[TrendPoint], words: Words) -> Markup | None:
    """The share of finished tasks that were late, per week (None without finished tasks)."""
    rates = [None if p.overdue_rate is None else p.overdue_rate * 100 for p in points]
    if not any(r is not None for r in rates):
        return None
    body = _weekly(points, rates, 100.0, "series-overdue", (_percent, _percent, 4), words)
    desc = "; ".join(
        f"{p.start.isoformat()}: {'—' if r is None else f'{r:.0f}%'} ({p.tasks_overdue}/{p.tasks_completed})"
        for p, r in zip(points, rates, strict=True)
    )
    return _frame(words.tr("逾期率趋势", "Overdue rate over time"), desc, "plot-overdue", body)


def rating_trend(points: Sequence[TrendPoint], words: Words) -> Markup | None:
    """The mean rating (1..5) per week (None without ratings)."""
    means = [p.rating_mean for p in points]
    if not any(m is not None for m in means):
        return None
    body = _weekly(points, means, 5.0, "series-rating", (_whole, _one_decimal, 5), words)
    desc = "; ".join(
        f"{p.start.isoformat()}: {'—' if m is None else f'{m:.1f}'} ({p.ratings})"
        for p, m in zip(points, means, strict=True)
    )
    return _frame(words.tr("评价均分趋势", "Mean rating over time"), desc, "plot-ratings", body)
