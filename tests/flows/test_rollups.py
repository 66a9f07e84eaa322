"""The daily and monthly energy are kept as readings arrive; whatever the batches, their
order, their repeats and the offsets the timestamps are written in, every rollup row must
equal the sums recomputed from the stored readings (property-based, with hypothesis)."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from blueprints.monitoring.telemetry import JST, ingest
from models import db
from models.audit import AuditEvent
from models.gateway import Gateway
from models.mail import OutboxMail
from models.telemetry import SUM_COLUMNS, DailyEnergy, GatewayAlert, MonthlyEnergy, Reading
from tests.flows.test_gateway_api import OTHER_ID, reporting_gateway

SLOT = timedelta(minutes=5)
# Slot ends from Sun 29 Nov 2026 00:00 JST (which counts for 28 Nov) to 2 Dec 00:15 JST:
# four days and a month boundary (1 Dec 00:00 JST still counts for November).
FIRST = datetime(2026, 11, 29, 0, 0, tzinfo=JST)
SLOTS = 3 * 288 + 4
MIDNIGHTS = [i for i in range(SLOTS) if (FIRST + SLOT * i).astimezone(JST).hour == 0
             and (FIRST + SLOT * i).astimezone(JST).minute in (0, 5)]
NOW = datetime(2026, 12, 10, 12, 0, tzinfo=JST)
OFFSETS = [JST, timezone.utc, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5,
                                                                                 minutes=45))]

watts = st.one_of(st.sampled_from([0, 1, 999, 100_000]), st.integers(0, 100_000))
values = st.fixed_dictionaries({
    "pv": watts, "load": watts, "battery": watts, "sell": watts, "buy": watts,
    "state": st.sampled_from(["charging", "discharging", "standby"]),
    "soc": st.integers(0, 100),
    "error": st.booleans(),
})


def _reading(ts: datetime, value: dict, offset) -> dict:
    unit = ({"unit": 1, "status": "error", "error_code": "E201"} if value["error"]
            else {"unit": 1, "status": "normal", "error_code": None})
    return {"timestamp": ts.astimezone(offset).isoformat(), "pv_kw": value["pv"] / 1000,
            "load_kw": value["load"] / 1000, "battery_kw": value["battery"] / 1000,
            "battery_state": value["state"], "soc": value["soc"],
            "sell_kw": value["sell"] / 1000, "buy_kw": value["buy"] / 1000,
            "units": [unit, {"unit": 2, "status": "standby", "error_code": None}]}


def _empty() -> None:
    db.session.rollback()
    for model in (Reading, DailyEnergy, MonthlyEnergy, GatewayAlert, OutboxMail, AuditEvent,
                  Gateway):
        db.session.execute(delete(model))
    db.session.commit()


def _recomputed() -> tuple[dict, dict]:
    """Daily and monthly sums computed here from the stored raw readings."""
    days: dict = defaultdict(lambda: dict.fromkeys(SUM_COLUMNS, 0))
    months: dict = defaultdict(lambda: dict.fromkeys(SUM_COLUMNS, 0))
    for row in db.session.scalars(select(Reading)):
        day = (row.ts - SLOT).astimezone(JST).date()  # the day its 5 minutes began in
        share = {"slots": 1, "pv_wsum": row.pv_w, "load_wsum": row.load_w,
                 "self_wsum": max(0, row.pv_w - row.sell_w),
                 "supplied_wsum": max(0, row.load_w - row.buy_w),
                 "sell_wsum": row.sell_w, "buy_wsum": row.buy_w,
                 "charge_wsum": row.battery_w if row.battery_state == "charging" else 0,
                 "discharge_wsum": row.battery_w if row.battery_state == "discharging" else 0}
        for table, key in ((days, (row.gateway_id, day)),
                           (months, (row.gateway_id, day.replace(day=1)))):
            for name, value in share.items():
                table[key][name] += value
    return dict(days), dict(months)


def _rows(model, key: str) -> dict:
    return {(row.gateway_id, getattr(row, key)): {c: getattr(row, c) for c in SUM_COLUMNS}
            for row in db.session.scalars(select(model))}


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_rollups_equal_the_sums_of_the_stored_readings(app, data):
    _empty()
    gateways = [reporting_gateway(gateway_id=gid)[0] for gid in ("01AB12345678", OTHER_ID)]
    sends = []  # (gateway index, slot, values, offset) in the order they are generated
    for index in range(len(gateways)):
        slots = data.draw(st.sets(st.integers(0, SLOTS - 1), max_size=40), label="slots")
        slots |= set(data.draw(st.sets(st.sampled_from(MIDNIGHTS), min_size=2),
                               label="midnights"))
        for slot in sorted(slots):
            sends.append((index, slot, data.draw(values), data.draw(st.sampled_from(OFFSETS))))
        # Repeats: resent as they were, or (a device's bug) with other values.
        for slot in data.draw(st.lists(st.sampled_from(sorted(slots)), max_size=15),
                              label="repeats"):
            sends.append((index, slot, data.draw(values), data.draw(st.sampled_from(OFFSETS))))
    order = data.draw(st.randoms(use_true_random=False), label="order")
    order.shuffle(sends)

    first_values = {}  # what must be stored: the first copy of each (gateway, slot) sent
    accepted = duplicates = 0
    position = 0
    while position < len(sends):
        size = data.draw(st.integers(1, 30), label="batch size")
        chunk = sends[position:position + size]
        position += size
        for index in range(len(gateways)):
            batch = [(slot, value, offset) for i, slot, value, offset in chunk if i == index]
            if not batch:
                continue
            for slot, value, _offset in batch:
                first_values.setdefault((index, slot), value)
            result = ingest(gateways[index],
                            [_reading(FIRST + SLOT * slot, value, offset)
                             for slot, value, offset in batch], now=NOW)
            assert result.rejected == []
            accepted += result.accepted
            duplicates += result.duplicates
    assert accepted == len(first_values)
    assert duplicates == len(sends) - len(first_values)

    db.session.expire_all()
    pks = [gateway.id for gateway in gateways]
    stored = {(pks.index(row.gateway_id), row.ts): row
              for row in db.session.scalars(select(Reading))}
    assert len(stored) == len(first_values)
    for (index, slot), value in first_values.items():
        row = stored[(index, FIRST + SLOT * slot)]
        assert (row.pv_w, row.load_w, row.battery_w, row.sell_w, row.buy_w, row.soc,
                row.battery_state, row.has_error) == (
            value["pv"], value["load"], value["battery"], value["sell"], value["buy"],
            value["soc"], value["state"], value["error"])

    days, months = _recomputed()
    assert _rows(DailyEnergy, "day") == days  # equal keys: no rollup without readings
    assert _rows(MonthlyEnergy, "month") == months
    assert {month for _pk, month in months} <= {FIRST.date().replace(day=1),
                                                 FIRST.date().replace(month=12, day=1)}
    for gateway in gateways:
        db.session.refresh(gateway)
        assert gateway.last_reading_at == max(ts for (i, ts) in stored
                                              if i == gateways.index(gateway))


def test_the_day_of_a_reading_is_the_day_its_five_minutes_began(app):
    """00:00 JST closes the previous day; 00:05 JST is the first reading of the new one,
    and 1 December 00:00 JST still belongs to November."""
    gateway, _key = reporting_gateway()
    at = [datetime(2026, 12, 1, 0, 0, tzinfo=JST), datetime(2026, 12, 1, 0, 5, tzinfo=JST),
          datetime(2026, 11, 30, 15, 0, tzinfo=timezone.utc)]  # = 1 Dec 00:00 JST again
    value = {"pv": 1200, "load": 500, "battery": 300, "sell": 1000, "buy": 100,
             "state": "discharging", "soc": 50, "error": False}
    result = ingest(gateway, [_reading(ts, value, offset) for ts, offset in zip(at, OFFSETS)],
                    now=NOW)
    assert (result.accepted, result.duplicates) == (2, 1)
    days = _rows(DailyEnergy, "day")
    months = _rows(MonthlyEnergy, "month")
    nov30, dec1 = (gateway.id, FIRST.date().replace(day=30)), (gateway.id, NOW.date().replace(
        day=1))
    assert set(days) == {nov30, dec1}
    assert set(months) == {(gateway.id, FIRST.date().replace(day=1)), dec1}
    expected = {"slots": 1, "pv_wsum": 1200, "load_wsum": 500, "self_wsum": 200,
                "supplied_wsum": 400, "sell_wsum": 1000, "buy_wsum": 100, "charge_wsum": 0,
                "discharge_wsum": 300}
    assert days[nov30] == days[dec1] == expected
    assert months[dec1] == expected
