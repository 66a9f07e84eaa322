"""The accrual formula (property-based): points = floor(kWh × factor), where kWh is the
rollup's self-consumed energy (`energy_kwh`) cut to whole Wh. Never more points than the
energy earned, never a whole point less than it (beyond the Wh cut)."""
from __future__ import annotations

import math
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from blueprints.points.ledger import month_kwh, points_for
from models.telemetry import energy_kwh

wsums = st.one_of(st.sampled_from([0, 1, 11_999, 12_000, 12_001]),
                  st.integers(0, 10**12))
factors = st.one_of(st.sampled_from([Decimal("1.000"), Decimal("0.001"), Decimal("2.500")]),
                    st.decimals(min_value=0, max_value=1000, places=3))


@given(wsums)
def test_kwh_is_energy_kwh_cut_to_whole_wh(wsum):
    kwh = month_kwh(wsum)
    assert kwh == kwh.quantize(Decimal("0.001"))
    exact = Decimal(wsum) / 12000
    assert kwh <= exact < kwh + Decimal("0.001")
    assert math.isclose(float(kwh), energy_kwh(wsum), rel_tol=1e-9, abs_tol=0.001)


@given(wsums, factors)
def test_points_are_the_floor_of_kwh_times_factor(wsum, factor):
    kwh = month_kwh(wsum)
    points = points_for(kwh, factor)
    assert isinstance(points, int)
    assert points <= kwh * factor < points + 1
    # Against the rollup's own kWh: at most one point plus the Wh cut below it.
    exact = Decimal(wsum) / 12000 * factor
    assert points <= exact < points + 1 + factor * Decimal("0.001")


def test_examples():
    assert points_for(month_kwh(123 * 12000 + 6000), Decimal("1.000")) == 123
    assert points_for(month_kwh(11_999), Decimal("1.000")) == 0
    assert points_for(month_kwh(12_000), Decimal("0.500")) == 0
    assert points_for(month_kwh(24_000), Decimal("0.500")) == 1
