"""The monitoring charts as plain SVG shapes, drawn on the server (no chart script: the
page works without JavaScript and the CSP allows no inline style).

One picture for every period: generation goes up from the middle line, split into the
part not sold (自家消費: used at home or charged into the battery) and the part sold
(売電); consumption goes down, split into the part covered without buying (自給) and
the part bought (買電). The scale is the same both ways, so the gridlines sit at fixed
heights and their labels can be laid out in HTML next to a stretched SVG
(`preserveAspectRatio="none"`), readable at 360 px.

`view()` is what the page uses: the chart, its SVG shapes and its table rows as HTML built
here in one pass (a day is 288 rows: one macro call and a dozen escapes per row in the
template cost more than the rest of the page), kept per process for a series' key and
the language (energy.cache). Only numbers and our own labels go into that HTML, and
every text is escaped."""
from __future__ import annotations

import math
from dataclasses import dataclass

from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup, escape

from blueprints.monitoring import energy
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


def _runs(points: list[Point]) -> list[list[int]]:
    """Consecutive slots with readings (their positions in `points`); a missing slot
    breaks the area (a gap shows)."""
    runs: list[list[int]] = []
    previous = None
    for position, point in enumerate(points):
        if runs and previous == point.index - 1:
            runs[-1].append(position)
        else:
            runs.append([position])
        previous = point.index
    return runs


def _edge(indices: list[int], ys: list[str], forward: bool) -> list[str]:
    """Path commands along one edge of a band: a vertical move where the value changes,
    a horizontal one to the next change (no command for an unchanged slot)."""
    commands: list[str] = []
    current = None
    if forward:
        for index, y in zip(indices, ys):
            if y != current:
                if current is not None:
                    commands.append(f"H{index}")
                commands.append(f"V{y}")
                current = y
        commands.append(f"H{indices[-1] + 1}")
    else:
        for index, y in zip(reversed(indices), reversed(ys)):
            if y != current:
                if current is not None:
                    commands.append(f"H{index + 1}")
                commands.append(f"V{y}")
                current = y
        commands.append(f"H{indices[0]}")
    return commands


def _area_shapes(points: list[Point], k: float) -> list[Shape]:
    """A step-shaped band per run of slots (one unit wide each) and band: up the left
    side, along the upper edge, down the right side, back along the lower. Each edge's
    heights are computed and formatted once per slot, shared by the bands they bound."""
    formatted: dict[float, str] = {}

    def heights(values, direction):
        ys = []
        for value in values:
            y = HEIGHT / 2 + direction * value * k
            text = formatted.get(y)
            if text is None:
                text = formatted[y] = _fmt(y)
            ys.append(text)
        return ys

    self_used = [p.self_used for p in points]
    supplied = [p.supplied for p in points]
    sold = [p.self_used + p.sell for p in points]
    bought = [p.supplied + p.buy for p in points]
    zero = [0.0] * len(points)
    edges = {"zero_up": heights(zero, -1), "self": heights(self_used, -1),
             "sold": heights(sold, -1), "zero_down": heights(zero, 1),
             "supplied": heights(supplied, 1), "bought": heights(bought, 1)}
    values = {"zero_up": zero, "self": self_used, "sold": sold, "zero_down": zero,
              "supplied": supplied, "bought": bought}
    indices = [p.index for p in points]
    runs = _runs(points)
    shapes = []
    for css, lower, upper in (("c-self", "zero_up", "self"), ("c-sell", "self", "sold"),
                              ("c-supplied", "zero_down", "supplied"),
                              ("c-buy", "supplied", "bought")):
        low_values, high_values = values[lower], values[upper]
        parts = []
        for run in runs:
            if not any(high_values[i] > low_values[i] for i in run):
                continue
            run_indices = [indices[i] for i in run]
            parts.append(f"M{run_indices[0]} {edges[lower][run[0]]}")
            parts.extend(_edge(run_indices, [edges[upper][i] for i in run], True))
            parts.extend(_edge(run_indices, [edges[lower][i] for i in run], False))
            parts.append("Z")
        if parts:
            shapes.append(Shape(css, "path", d="".join(parts)))
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


@dataclass(frozen=True)
class ChartView:
    """What the page shows of a series: the chart, its SVG shapes and its table rows."""

    chart: Chart
    shapes: Markup
    rows: Markup


def _shapes_html(chart: Chart) -> Markup:
    parts = []
    for shape in chart.shapes:
        if shape.kind == "path":
            parts.append(f'<path class="{escape(shape.css)}" d="{escape(shape.d)}"/>')
        else:
            title = f"<title>{escape(shape.title)}</title>" if shape.title else ""
            parts.append(f'<rect class="{escape(shape.css)}" x="{shape.x}" y="{shape.y}" '
                         f'width="{shape.width}" height="{shape.height}">{title}</rect>')
    return Markup("".join(parts))


def _rows_html(series: Series) -> Markup:
    """The table's body rows (a number with 2 decimals per cell; a day adds 蓄電残量)."""
    indent = "\n          "
    if series.period.kind == "day":
        rows = [f'{indent}<tr><th scope="row">{escape(p.label)}</th><td>{p.pv:.2f}</td>'
                f"<td>{p.load:.2f}</td><td>{p.self_used:.2f}</td><td>{p.sell:.2f}</td>"
                f"<td>{p.buy:.2f}</td><td>{escape(p.soc)}%</td></tr>\n        "
                for p in series.points]
    else:
        rows = [f'{indent}<tr><th scope="row">{escape(p.label)}</th><td>{p.pv:.2f}</td>'
                f"<td>{p.load:.2f}</td><td>{p.self_used:.2f}</td><td>{p.sell:.2f}</td>"
                f"<td>{p.buy:.2f}</td></tr>\n        "
                for p in series.points]
    return Markup("".join(rows))


def view(series: Series) -> ChartView:
    """The chart of `series` with its shapes and table rows as HTML; kept per process
    for the series' key in the current language."""
    key = None if series.key is None else (str(get_locale()), series.key)
    cache = energy.cache("charts")
    if key is not None and (cached := cache.get(key)) is not None:
        return cached
    chart = build(series)
    result = ChartView(chart, _shapes_html(chart), _rows_html(series))
    return result if key is None else cache.put(key, result)
