"""Raw readings kept READINGS_RETENTION_DAYS: `gateways prune` removes the older ones in
bounded batches (whole monthly partitions first on PostgreSQL), the daily and monthly
energy stay, a second run does nothing, and the API refuses what would be pruned."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, insert, select, text

from blueprints.monitoring import retention
from models import db, utcnow
from models.telemetry import DailyEnergy, MonthlyEnergy, Reading
from tests.flows.test_gateway_api import GATEWAY_ID, count, post, reporting_gateway
from tests.helpers import reading, slot_end

AGES_IN_DAYS = (700, 500, 401, 399, 30, 1)


def _store(gateway_pk: int, ages=AGES_IN_DAYS, per_age: int = 3) -> None:
    """`per_age` readings at each of these ages (straight into the table: the API
    refuses readings older than the retention)."""
    now = utcnow()
    db.session.execute(insert(Reading), [
        dict(gateway_id=gateway_pk, ts=slot_end() - timedelta(days=days, minutes=5 * n),
             pv_w=1000, load_w=500, battery_w=0, battery_state="standby", soc=50, sell_w=0,
             buy_w=0, units=[{"unit": 1, "status": "normal", "error_code": None}],
             has_error=False, received_at=now)
        for days in ages for n in range(per_age)])
    db.session.add(DailyEnergy(gateway_id=gateway_pk, day=date(2025, 1, 1), slots=3,
                               pv_wsum=3000))
    db.session.add(MonthlyEnergy(gateway_id=gateway_pk, month=date(2025, 1, 1), slots=3,
                                 pv_wsum=3000))
    db.session.commit()


def _ages() -> list[int]:
    now = utcnow()
    return sorted({(now - ts).days for ts in db.session.scalars(select(Reading.ts))})


def test_prune_removes_only_readings_older_than_the_retention(app):
    gateway, _key = reporting_gateway()
    _store(gateway.id)
    rollups = (count(DailyEnergy), count(MonthlyEnergy))
    result = retention.prune()
    assert _ages() == [1, 30, 399]
    assert count(Reading) == 9 and result.finished
    assert (count(DailyEnergy), count(MonthlyEnergy)) == rollups
    assert db.session.get(DailyEnergy, (gateway.id, date(2025, 1, 1))).pv_wsum == 3000


def test_prune_twice_does_nothing_the_second_time(app):
    gateway, _key = reporting_gateway()
    _store(gateway.id)
    retention.prune()
    again = retention.prune()
    assert (again.deleted, again.dropped, again.batches) == (0, [], 0) and again.finished
    assert count(Reading) == 9


def test_batches_are_bounded_and_the_next_run_goes_on(app):
    gateway, _key = reporting_gateway()
    _store(gateway.id, ages=(500, 401, 1), per_age=5)
    first = retention.prune(batch_size=2, max_batches=3)
    dropped_rows = 0 if not first.dropped else None
    if dropped_rows is None:  # PostgreSQL dropped whole months first: fewer rows left
        assert first.deleted <= 6
    else:
        assert (first.deleted, first.batches, first.finished) == (6, 3, False)
        assert count(Reading) == 15 - 6
    while not retention.prune(batch_size=2, max_batches=3).finished:
        pass
    assert _ages() == [1] and count(Reading) == 5


def test_the_cli_says_what_it_did(app):
    gateway, _key = reporting_gateway()
    _store(gateway.id, ages=(401, 1), per_age=4)
    output = app.test_cli_runner().invoke(args=["gateways", "prune", "--batch-size", "3"]).output
    assert "row(s) deleted" in output and count(Reading) == 4
    assert retention.prune().deleted == 0


def test_the_api_refuses_readings_older_than_the_retention(make_app):
    app = make_app(READINGS_RETENTION_DAYS=30)
    with app.app_context():
        _gateway, key = reporting_gateway()
        client = app.test_client()
        response = post(client, GATEWAY_ID, key, [reading(slot_end(60 * 24 * 31)),
                                                  reading(slot_end(60 * 24 * 29))])
        assert response.status_code == 422 and response.json["accepted"] == 1
        assert response.json["rejected"][0]["reason"] == "too_old"
        assert "30 days" in response.json["rejected"][0]["message"]


# -- PostgreSQL: partitioned by month -------------------------------------------------------
def _partition_of(ts) -> str:
    return db.session.scalar(text("SELECT tableoid::regclass::text FROM gateway_reading "
                                  "WHERE ts = :ts"), {"ts": ts})


@pytest.fixture
def postgres(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("partitions are PostgreSQL's")
    return app


def test_readings_are_partitioned_by_month_with_a_default(postgres):
    assert retention.is_partitioned()
    retention.ensure_partitions()
    month = utcnow().date().replace(day=1)
    existing = retention.partitions()
    ahead = [month]
    for _ in range(retention.MONTHS_AHEAD):
        ahead.append(retention._next_month(ahead[-1]))
    assert all(existing.get(m) == retention.partition_name(m) for m in ahead)
    primary = db.session.scalar(text(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'pk_gateway_reading'"))
    assert primary == "PRIMARY KEY (gateway_id, ts)"
    gateway, key = reporting_gateway()
    newest = slot_end()
    client = postgres.test_client()
    assert post(client, GATEWAY_ID, key, [reading(newest)]).json["accepted"] == 1
    assert post(client, GATEWAY_ID, key, [reading(newest)]).json["duplicates"] == 1
    assert _partition_of(newest) == retention.partition_name(
        newest.date().replace(day=1))


def test_a_month_without_its_partition_lands_in_the_default_and_moves_later(postgres):
    gateway, _key = reporting_gateway()
    _store(gateway.id, ages=(700,), per_age=1)
    old = db.session.scalar(select(Reading.ts))
    month = retention._month(old)
    if month in retention.partitions():  # made by an earlier test of this worker
        db.session.execute(text(f"DROP TABLE {retention.partition_name(month)}"))
        db.session.commit()
        _store(gateway.id, ages=(700,), per_age=1)
    assert _partition_of(old) == retention.DEFAULT_PARTITION
    retention._create_partition(month)
    db.session.commit()
    assert _partition_of(old) == retention.partition_name(month)
    assert count(Reading) == 1


def test_prune_drops_whole_months_before_the_cutoff(postgres):
    gateway, _key = reporting_gateway()
    _store(gateway.id, ages=(500, 1), per_age=2)
    month = retention._month(utcnow() - timedelta(days=500))
    if month not in retention.partitions():
        retention._create_partition(month)
        db.session.commit()
    result = retention.prune()
    assert retention.partition_name(month) in result.dropped
    assert month not in retention.partitions()
    assert _ages() == [1]
    assert db.session.scalar(select(func.count()).select_from(DailyEnergy)) == 1
