"""Chart geometry and chart periods: the scale, the bands of a day, the bars of a month,
period parsing and navigation (pure functions; no database)."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from blueprints.monitoring import charts
from blueprints.monitoring.energy import Period, Point, Series, Totals, parse_period, \
    switch_period

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc)  # 12:00 in Japan


def point(index: int, pv=0.0, load=0.0, sell=0.0, buy=0.0) -> Point:
    return Point(index=index, label=str(index), when=date(2026, 11, 1), pv=pv, load=load,
                 self_used=max(0.0, pv - sell), supplied=max(0.0, load - buy), sell=sell,
                 buy=buy)


@pytest.mark.parametrize("peak, minimum, scale", [
    (0, 0.5, 0.5), (0.3, 0.5, 0.5), (0.9, 0.5, 1), (1.0, 0.5, 1), (1.01, 0.5, 2),
    (3.0, 0.5, 4), (4.6, 0.5, 5), (7.7, 0.5, 10), (12, 1, 20), (41, 1, 50), (260, 1, 400),
])
def test_scale_is_a_nice_number_at_or_above_the_peak(peak, minimum, scale):
    assert charts.nice_scale(peak, minimum) == pytest.approx(scale)


def test_a_day_draws_one_step_shape_per_run_of_slots():
    series = Series(Period("day", date(2026, 11, 1)), "kW", 288,
                    [point(0, pv=2, sell=1), point(1, pv=2, sell=1), point(5, pv=1, load=1)],
                    Totals())
    chart = charts.build(series)
    shapes = {shape.css: shape.d for shape in chart.shapes}
    # Scale 2 kW (peak 2): 1 kW is 50 units from the middle line (y = 100).
    assert shapes["c-self"] == "M0 100V50H2V100H0ZM5 100V50H6V100H5Z"
    assert shapes["c-sell"] == "M0 50V0H2V50H0Z"
    assert shapes["c-supplied"] == "M5 100V150H6V100H5Z"
    assert "c-buy" not in shapes                  # nothing bought: no shape at all
    assert chart.width == 288 and chart.ticks == ["2", "1", "0", "1", "2"]
    assert chart.x_labels[::3] == ["0", "3", "6", "9", "12", "15", "18", "21"]


def test_a_changing_value_steps_at_the_slot_where_it_changes():
    series = Series(Period("day", date(2026, 11, 1)), "kW", 288,
                    [point(10, pv=1), point(11, pv=1), point(12, pv=2)], Totals())
    (self_used,) = [s for s in charts.build(series).shapes if s.css == "c-self"]
    assert self_used.d == "M10 100V50H12V0H13V100H10Z"


def test_a_month_draws_stacked_bars_with_titles():
    series = Series(Period("month", date(2026, 2, 1)), "kWh", 28,
                    [point(0, pv=10, load=8, sell=4, buy=2), point(27, pv=5, load=5)],
                    Totals())
    chart = charts.build(series)
    assert chart.width == 28 and len(chart.x_labels) == 28
    assert chart.x_labels[0] == "1" and chart.x_labels[4] == "5" and chart.x_labels[1] == ""
    bars = [(s.css, s.x, s.y, s.height) for s in chart.shapes if s.x < 1]
    # Peak 10 kWh → scale 10: 1 kWh is 10 units. Self 6 up from the middle (100), sell 4
    # above it; supplied 6 and bought 2 below.
    assert bars == [("c-self", 0.14, 40, 60), ("c-sell", 0.14, 0, 40),
                    ("c-supplied", 0.14, 100, 60), ("c-buy", 0.14, 160, 20)]
    assert all(s.title.startswith("0 発電 10.0 kWh") for s in chart.shapes if s.x < 1)


def test_no_points_is_an_empty_chart():
    chart = charts.build(Series(Period("year", date(2026, 1, 1)), "kWh", 12, [], Totals()))
    assert chart.empty and chart.shapes == [] and len(chart.x_labels) == 12


@pytest.mark.parametrize("kind, value, expected", [
    (None, None, Period("day", date(2026, 11, 23))),
    ("day", "2026-11-01", Period("day", date(2026, 11, 1))),
    ("month", None, Period("month", date(2026, 11, 1))),
    ("month", "2025-02", Period("month", date(2025, 2, 1))),
    ("year", "2000", Period("year", date(2000, 1, 1))),
    ("day", "2026-11-24", None), ("month", "2026-12", None), ("year", "2027", None),
    ("day", "1999-12-31", None), ("day", "2026-02-29", None), ("day", "2026-11-1", None),
    ("week", None, None), ("day", "２０２６-11-01", None), ("year", "2026\x00", None),
])
def test_periods_parse_strictly_and_never_into_the_future(kind, value, expected):
    assert parse_period(kind, value, NOW) == expected


def test_periods_shift_across_month_and_year_ends():
    assert Period("month", date(2026, 12, 1)).shifted(1) == Period("month", date(2027, 1, 1))
    assert Period("month", date(2026, 1, 1)).shifted(-1) == Period("month", date(2025, 12, 1))
    assert Period("day", date(2024, 2, 28)).shifted(1) == Period("day", date(2024, 2, 29))
    assert Period("year", date(2026, 1, 1)).param == "2026"


def test_tabs_keep_today_when_the_period_contains_it():
    today = Period("day", date(2026, 11, 23))
    assert switch_period(today, "month", NOW) == Period("month", date(2026, 11, 1))
    assert switch_period(Period("month", date(2026, 11, 1)), "day", NOW) == today
    old_month = Period("month", date(2025, 6, 1))
    assert switch_period(old_month, "day", NOW) == Period("day", date(2025, 6, 1))
    assert switch_period(old_month, "year", NOW) == Period("year", date(2025, 1, 1))


def test_rates_are_shares_and_undefined_without_energy():
    totals = Totals(pv=10, load=8, self_used=6, supplied=5)
    assert totals.self_consumption_rate == pytest.approx(0.6)
    assert totals.self_sufficiency_rate == pytest.approx(0.625)
    assert Totals().self_consumption_rate is None and Totals().self_sufficiency_rate is None
