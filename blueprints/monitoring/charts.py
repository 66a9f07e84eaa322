"""The monitoring charts as plain SVG shapes, drawn on the server (no chart script: the
page works without JavaScript and the CSP allows no inline style).

One picture for every period: generation goes up from the middle line, split into the
part not sold (自家消費: used at home or charged into the battery) and the part sold
(売電); consumption goes down, split into the part covered without buying (自給) and
the part bought (買電). The scale is the same both ways, so the gridlines sit at fixed
heights and their labels can be laid out in HTML next to a stretched SVG
(`preserveAspectRatio="none"`), readable at 360 px."""
from __future__ import annotations

import math
from dataclasses import dataclass

from flask_babel import gettext as _

from blueprints.monitoring.energy import Point, Series

HEIGHT = 200          # the SVG's viewBox height; the middle line is at HEIGHT / 2
BAR_WIDTH = 0.72      # of a column, for days and months
BANDS = (             # css class, lower edge, upper edge, direction (-1 up, +1 down)
    ("c-self", lambda p: 0.0, lambda p: p.self_used, -1),
    ("c-sell", lambda p: p.self_used, lambda p: p.self_used + p.sell, -1),
    ("c-supplied", lambda p: 0.0, lambda p: p.supplied, 1),
    ("c-buy", lambda p: p.supplied, lambda p: p.supplied + p.buy, 1),
)


@dataclass(frozen=True)
class Shape:
    css: str
    kind: str         # "path" or "rect"
    d: str = ""
    x: float = 0.0
    y: float = 0.0
    width: float = 0.0
    height: float = 0.0
    title: str = ""


@dataclass(frozen=True)
class Chart:
    width: int                    # viewBox width: one unit per column
    height: int
    ticks: list[str]              # 5 labels, top to bottom
    x_labels: list[str]           # one per label column ("" for unlabelled ones)
    shapes: list[Shape]
    empty: bool


def nice_scale(peak: float, minimum: float) -> float:
    """The top of the scale: twice a step of 1, 2, 2.5 or 5 × 10^n at or above peak/2."""
    half = max(peak, minimum) / 2
    magnitude = 10 ** math.floor(math.log10(half))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * magnitude >= half - 1e-9:
            return 2 * factor * magnitude
    return 2 * 10 * magnitude  # pragma: no cover - the loop always returns


def _fmt(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text if text != "-0" else "0"


def _tick(value: float) -> str:
    return f"{value:g}" if value >= 10 or value == int(value) else f"{value:.1f}"


def _y(value: float, direction: int, k: float) -> float:
    return HEIGHT / 2 + direction * value * k


def _runs(points: list[Point]) -> list[list[Point]]:
    """Consecutive slots with readings; a missing slot breaks the area (a gap shows)."""
    runs: list[list[Point]] = []
    for point in points:
        if runs and runs[-1][-1].index == point.index - 1:
            runs[-1].append(point)
        else:
            runs.append([point])
    return runs


def _walk(run: list[Point], edge, direction: int, k: float, forward: bool) -> list[str]:
    """Path commands along one edge of a band: a vertical move where the value changes,
    a horizontal one to the next change (no command for an unchanged slot)."""
    points = run if forward else run[::-1]
    commands: list[str] = []
    current = None
    for point in points:
        y = _fmt(_y(edge(point), direction, k))
        if y != current:
            if current is not None:
                commands.append(f"H{point.index if forward else point.index + 1}")
            commands.append(f"V{y}")
            current = y
    commands.append(f"H{points[-1].index + 1 if forward else points[-1].index}")
    return commands


def _band_path(run: list[Point], lower, upper, direction: int, k: float) -> str:
    """A step-shaped band between two edges over a run of slots (one unit wide each):
    up the left side, along the upper edge, down the right side, back along the lower."""
    start = f"M{run[0].index} {_fmt(_y(lower(run[0]), direction, k))}"
    return "".join([start, *_walk(run, upper, direction, k, True),
                    *_walk(run, lower, direction, k, False), "Z"])


def _area_shapes(points: list[Point], k: float) -> list[Shape]:
    shapes = []
    for css, lower, upper, direction in BANDS:
        d = "".join(_band_path(run, lower, upper, direction, k) for run in _runs(points)
                    if any(upper(p) > lower(p) for p in run))
        if d:
            shapes.append(Shape(css, "path", d=d))
    return shapes


def _bar_shapes(points: list[Point], k: float, titles: dict[int, str]) -> list[Shape]:
    shapes = []
    for point in points:
        x = point.index + (1 - BAR_WIDTH) / 2
        for css, lower, upper, direction in BANDS:
            low, high = lower(point), upper(point)
            if high <= low:
                continue
            y_low, y_high = _y(low, direction, k), _y(high, direction, k)
            shapes.append(Shape(css, "rect", x=round(x, 3), y=round(min(y_low, y_high), 2),
                                width=BAR_WIDTH, height=round(abs(y_high - y_low), 2),
                                title=titles.get(point.index, "")))
    return shapes


def _x_labels(series: Series) -> list[str]:
    kind = series.period.kind
    if kind == "day":   # 24 hour columns, every third one labelled
        return [str(hour) if hour % 3 == 0 else "" for hour in range(24)]
    if kind == "month":
        return [str(day) if day == 1 or day % 5 == 0 else "" for day in range(1, series.slots + 1)]
    return [str(month) for month in range(1, 13)]


def _bar_titles(series: Series) -> dict[int, str]:
    """What a bar says on hover (desktop): its day or month and its energy."""
    return {p.index: _("%(when)s 発電 %(pv).1f kWh・消費 %(load).1f kWh・売電 %(sell).1f kWh"
                       "・買電 %(buy).1f kWh", when=p.label, pv=p.pv, load=p.load, sell=p.sell,
                       buy=p.buy)
            for p in series.points}


def build(series: Series) -> Chart:
    """The chart of a series: stepped areas for a day's 5-minute slots, bars for the days
    of a month and the months of a year."""
    peak = max((max(p.self_used + p.sell, p.supplied + p.buy) for p in series.points),
                default=0.0)
    scale = nice_scale(peak, 0.5 if series.unit == "kW" else 1.0)
    k = (HEIGHT / 2) / scale
    if series.period.kind == "day":
        shapes = _area_shapes(series.points, k)
    else:
        shapes = _bar_shapes(series.points, k, _bar_titles(series))
    ticks = [_tick(scale), _tick(scale / 2), "0", _tick(scale / 2), _tick(scale)]
    return Chart(width=series.slots, height=HEIGHT, ticks=ticks, x_labels=_x_labels(series),
                 shapes=shapes, empty=not series.points)
