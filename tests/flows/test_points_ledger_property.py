"""The monthly accrual against the rollups (property-based, on the test database): for
any members' self-consumed energy and factor, each member earns exactly
floor(kWh × factor) once, with the kWh and factor it was computed from kept on the
entry, and a second run adds nothing."""
from __future__ import annotations

import math
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from blueprints.points import ledger
from models import db
from models.points import PointsEntry
from models.telemetry import MonthlyEnergy, energy_kwh
from tests.flows.test_points_ledger import MONTH, make_member, rollup


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(wsums=st.lists(st.integers(0, 50_000_000), min_size=1, max_size=4),
       factor=st.decimals(min_value=Decimal("0.001"), max_value=100, places=3))
def test_accrual_matches_the_rollups(app, wsums, factor):
    app.config["POINTS_PER_KWH"] = str(factor)
    members = [db.session.get(type(m), m.id) for m in _members(len(wsums))]
    db.session.execute(delete(PointsEntry))
    db.session.execute(delete(MonthlyEnergy))
    db.session.commit()
    for member, wsum in zip(members, wsums):
        rollup(member, MONTH, wsum)
    added = ledger.accrue(MONTH)
    assert ledger.accrue(MONTH) == 0
    got = {e.member_id: e for e in db.session.scalars(select(PointsEntry))}
    assert added == len(got) == sum(1 for w in wsums if w > 0)
    for member, wsum in zip(members, wsums):
        if wsum == 0:
            assert member.id not in got
            continue
        entry = got[member.id]
        assert entry.factor == factor and entry.kwh == ledger.month_kwh(wsum)
        assert entry.points == math.floor(entry.kwh * entry.factor)
        assert abs(float(entry.kwh) - energy_kwh(wsum)) < 0.001




def _members(count: int):
    """Four members made once per test (hypothesis reuses the function's database)."""
    from models.points import PointsMember

    existing = list(db.session.scalars(select(PointsMember).order_by(PointsMember.id)))
    if not existing:
        existing = [make_member(f"p{n}@example.com", f"01AB9000000{n}") for n in range(4)]
    return existing[:count]
