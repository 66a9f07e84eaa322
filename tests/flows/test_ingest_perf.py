"""What a gateway's readings POST costs the database, counted (never timed): a fixed,
small number of statements and one commit, the same with ten times the gateways and
readings stored, every statement served from SQLAlchemy's compiled cache, alerts looked
at only when something can change, and a full batch in as many statements as one
reading. Times are `make bench`'s business."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, insert
from sqlalchemy.engine.default import CACHE_HIT

from models import db, utcnow
from models.telemetry import GatewayAlert, Reading
from tests.flows.test_gateway_api import (GATEWAY_ID, SLOT, count, error_units, post,
                                          reporting_gateway, series)
from tests.helpers import reading, slot_end

# PostgreSQL: the gateway with its units and settings announcement; then one statement
# (data-modifying CTEs; was 5 apart) that locks its row (with whether an alert is open),
# inserts the readings, adds them to the daily and the monthly energy and moves the
# gateway's newest reading. SQLite (no DML in CTEs) sends those five apart and adds its
# BEGIN IMMEDIATE.
STATEMENTS = {"postgresql": 2, "sqlite": 7}


class Recorder:
    """Statements and commits the engine sees, with whether each came from the cache."""

    def __init__(self, engine):
        self.statements: list[tuple[str, bool]] = []
        self.commits = 0
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)
        self.engine = engine

    def _statement(self, conn, cursor, statement, parameters, context, executemany):
        cached = context is not None and context.cache_hit is CACHE_HIT
        self.statements.append((statement, cached))

    def _commit(self, conn):
        self.commits += 1

    def clear(self):
        self.statements.clear()
        self.commits = 0

    def close(self):
        event.remove(self.engine, "before_cursor_execute", self._statement)
        event.remove(self.engine, "commit", self._commit)

    def texts(self) -> list[str]:
        return [text for text, _cached in self.statements]


@pytest.fixture
def recorder(app):
    recording = Recorder(db.engine)
    yield recording
    recording.close()


def _fleet(size: int, first: int = 0) -> None:
    """`size` other gateways, each with `size` days of hourly readings."""
    now = utcnow()
    for number in range(first, first + size):
        gateway, _key = reporting_gateway(gateway_id=f"03EF{number:08d}")
        db.session.execute(insert(Reading), [
            dict(gateway_id=gateway.id, ts=slot_end() - timedelta(hours=hour), pv_w=1,
                 load_w=1, battery_w=0, battery_state="standby", soc=50, sell_w=0, buy_w=0,
                 units=[{"unit": 1, "status": "normal", "error_code": None}],
                 has_error=False, received_at=now)
            for hour in range(24 * size)])
    db.session.commit()


def _single_post_cost(client, recorder, key, minutes_ago: int) -> tuple[int, int]:
    recorder.clear()
    response = post(client, GATEWAY_ID, key, [reading(slot_end(minutes_ago))])
    assert response.status_code == 200 and response.json["accepted"] == 1
    return len(recorder.statements), recorder.commits


def test_a_single_reading_is_a_fixed_few_statements_and_one_commit(app, client, recorder):
    _gateway, key = reporting_gateway()
    _fleet(1)
    post(client, GATEWAY_ID, key, series(3, newest_minutes_ago=60))  # not the first report
    small = _single_post_cost(client, recorder, key, 30)
    _fleet(10, first=1)
    large = _single_post_cost(client, recorder, key, 25)
    dialect = db.engine.dialect.name
    assert small == large == (STATEMENTS[dialect], 1)


def test_every_statement_of_a_post_comes_from_the_compiled_cache(app, client, recorder):
    _gateway, key = reporting_gateway()
    post(client, GATEWAY_ID, key, series(2, newest_minutes_ago=60))  # compiles them once
    post(client, GATEWAY_ID, key, [reading(slot_end(30), units=error_units())])
    post(client, GATEWAY_ID, key, [reading(slot_end(25))])
    recorder.clear()
    post(client, GATEWAY_ID, key, [reading(slot_end(15))])
    post(client, GATEWAY_ID, key, series(12, newest_minutes_ago=0)[-2:])
    compiled = [text for text, cached in recorder.statements
                if not cached and not text.startswith(("BEGIN", "COMMIT"))]
    assert compiled == []  # the readings' insert too, on both databases


def test_alerts_are_not_read_for_a_normal_reading_without_an_open_alert(app, client, recorder):
    _gateway, key = reporting_gateway()
    post(client, GATEWAY_ID, key, series(2, newest_minutes_ago=60))
    recorder.clear()
    post(client, GATEWAY_ID, key, [reading(slot_end(30))])
    alone = [text for text in recorder.texts() if "gateway_alert" in text]
    assert len(alone) == 1 and "EXISTS" in alone[0]  # only the lock's look
    recorder.clear()
    post(client, GATEWAY_ID, key, [reading(slot_end(25), units=error_units())])
    assert count(GatewayAlert, GatewayAlert.ended_at.is_(None)) == 1
    assert len([text for text in recorder.texts() if "gateway_alert" in text]) > 1


def test_an_open_alert_however_it_was_made_ends_with_a_normal_reading(app, client):
    """The lock reads whether an alert is open from the alerts themselves (no flag to
    keep in step): an alert written by any path still ends on recovery."""
    gateway, key = reporting_gateway()
    post(client, GATEWAY_ID, key, series(2, newest_minutes_ago=60))
    db.session.add(GatewayAlert(gateway_id=gateway.id, kind="error", error_codes="1:E201",
                                started_at=slot_end(40)))
    db.session.commit()
    assert post(client, GATEWAY_ID, key, [reading(slot_end(30))]).status_code == 200
    assert count(GatewayAlert, GatewayAlert.ended_at.is_(None)) == 0


def test_a_full_batch_costs_as_many_statements_as_one_reading(app, client, recorder):
    _gateway, key = reporting_gateway()
    post(client, GATEWAY_ID, key, series(2, newest_minutes_ago=60 * 24 * 20))
    recorder.clear()
    one = _single_post_cost(client, recorder, key, 60 * 24 * 19)
    recorder.clear()
    response = post(client, GATEWAY_ID, key, series(2016, newest_minutes_ago=0))
    assert response.status_code == 200 and response.json["accepted"] == 2016
    statements = [text for text in recorder.texts() if not text.startswith(("BEGIN", "COMMIT"))]
    # SQLite sends a large batch in chunks and ends the reads before checking it.
    limit = one[0] if db.engine.dialect.name == "postgresql" else one[0] + 8
    assert len(statements) <= limit
    assert count(Reading) == 2016 + 3
    assert SLOT  # the helpers' slot is the readings' period


def test_the_batch_insert_stores_a_reading_as_the_orm_does(app, client):
    """The readings go in as one JSON parameter taken apart by the database: a reading
    stored the ORM's way (the simulator, the fleet seed) is a duplicate when sent again,
    and what the API stored reads back through the ORM with every value."""
    gateway, key = reporting_gateway()
    earlier, later = slot_end(60), slot_end(55)
    db.session.execute(insert(Reading), [dict(
        gateway_id=gateway.id, ts=earlier, pv_w=3200, load_w=800, battery_w=1500,
        battery_state="charging", soc=82, sell_w=900, buy_w=0,
        units=[{"unit": 1, "status": "normal", "error_code": None}], has_error=False,
        received_at=utcnow())])
    db.session.commit()
    response = post(client, GATEWAY_ID, key, [
        reading(earlier), reading(later, units=error_units("E-7"), soc=41, pv_kw=1.234)])
    assert response.json == {"accepted": 1, "duplicates": 1, "rejected": []}
    db.session.expire_all()
    stored = db.session.get(Reading, (gateway.id, later))
    assert (stored.ts, stored.pv_w, stored.load_w, stored.battery_w, stored.battery_state,
            stored.soc, stored.sell_w, stored.buy_w, stored.has_error) == (
        later, 1234, 800, 1500, "charging", 41, 900, 0, True)
    assert stored.units == error_units("E-7")
    assert stored.received_at.tzinfo is not None
    assert abs(stored.received_at - utcnow()) < timedelta(minutes=1)
