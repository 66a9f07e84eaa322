"""The gateway API through the test client: a gateway posts batches of 5-minute readings
with its own API key. Good batches are stored once (resending is safe), bad readings come
back with their index and reason while the others are stored, every malformed request
gets a JSON error, and nothing is stored for a request that is refused."""
from __future__ import annotations

import io
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, update

from blueprints.gateways import credentials
from blueprints.gateways.credentials import set_api_key
from blueprints.gateways.management import dispose_gateway
from blueprints.monitoring import telemetry
from blueprints.monitoring.telemetry import FUTURE_TOLERANCE, JST, MAX_AGE, MAX_BATCH
from models import db, utcnow
from models.gateway import Gateway, GatewayStatus, PcsUnit
from models.telemetry import SUM_COLUMNS, DailyEnergy, MonthlyEnergy, Reading
from tests.flows.test_dealer_links import make_gateway, make_owner
from tests.helpers import login, reading, slot_end

GATEWAY_ID = "01AB12345678"
OTHER_ID = "02CD87654321"
SLOT = timedelta(minutes=5)
WORKERS = 8


# -- helpers (also used by test_alerts.py and test_rollups.py) ---------------------------
def reporting_gateway(owner=None, gateway_id: str = GATEWAY_ID, units: int = 2,
                      status: GatewayStatus = GatewayStatus.ACTIVE) -> tuple[Gateway, str]:
    """A registered gateway with `units` power conditioners and an API key; returns the
    gateway and its key."""
    gateway = make_gateway(owner, gateway_id=gateway_id, status=status)
    gateway.units = [PcsUnit(unit_no=n, model="PCS-5K", serial=f"SER{n:05d}")
                     for n in range(1, units + 1)]
    key = set_api_key(gateway)
    db.session.commit()
    return gateway, key


def error_units(code: str = "E201") -> list[dict]:
    return [{"unit": 1, "status": "error", "error_code": code},
            {"unit": 2, "status": "normal", "error_code": None}]


def series(count: int, newest_minutes_ago: int = 0, **fields) -> list[dict]:
    """`count` consecutive good readings, oldest first, the newest `newest_minutes_ago`
    minutes before the newest complete period."""
    newest = slot_end(newest_minutes_ago)
    return [reading(newest - SLOT * (count - 1 - i), **fields) for i in range(count)]


def post(client, gateway_id: str, key: str | None, readings=None, *, body=None,
         headers=None, content_type="application/json"):
    """POST readings the way a gateway does: `Authorization: Bearer <key>`."""
    sent = dict(headers or {})
    if key is not None:
        sent.setdefault("Authorization", f"Bearer {key}")
    data = body if body is not None else json.dumps({"readings": readings})
    return client.post(f"/api/v1/gateways/{gateway_id}/readings", data=data,
                       headers=sent, content_type=content_type)


def count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def stored(gateway: Gateway) -> list[Reading]:
    db.session.expire_all()
    return list(db.session.scalars(select(Reading).where(Reading.gateway_id == gateway.id)
                                   .order_by(Reading.ts)))


def rollups() -> dict:
    """Every daily and monthly row as plain values (to compare before and after)."""
    db.session.expire_all()
    days = {(row.gateway_id, row.day): tuple(getattr(row, c) for c in SUM_COLUMNS)
            for row in db.session.scalars(select(DailyEnergy))}
    months = {(row.gateway_id, row.month): tuple(getattr(row, c) for c in SUM_COLUMNS)
              for row in db.session.scalars(select(MonthlyEnergy))}
    return {"daily": days, "monthly": months}


def expected_rollups(gateway_pk: int, readings: list[dict]) -> dict:
    """The rollups of these readings, computed here from the readings as sent."""
    days: dict = {}
    months: dict = {}
    for raw in readings:
        ts = datetime.fromisoformat(raw["timestamp"])
        day = (ts - SLOT).astimezone(JST).date()
        watts = {name: round(raw[name] * 1000)
                 for name in ("pv_kw", "load_kw", "battery_kw", "sell_kw", "buy_kw")}
        share = (1, watts["pv_kw"], watts["load_kw"],
                 max(0, watts["pv_kw"] - watts["sell_kw"]),
                 max(0, watts["load_kw"] - watts["buy_kw"]), watts["sell_kw"],
                 watts["buy_kw"],
                 watts["battery_kw"] if raw["battery_state"] == "charging" else 0,
                 watts["battery_kw"] if raw["battery_state"] == "discharging" else 0)
        for table, key in ((days, (gateway_pk, day)),
                           (months, (gateway_pk, day.replace(day=1)))):
            table[key] = tuple(a + b for a, b in zip(table.get(key, (0,) * 9), share))
    return {"daily": days, "monthly": months}


def assert_refused_json(response, status: int, error: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert response.get_json()["error"] == error
    assert "Set-Cookie" not in response.headers


# -- a good batch ------------------------------------------------------------------------
def test_good_batch_is_stored_with_its_energy(app, client):
    gateway, key = reporting_gateway()
    assert gateway.first_report_at is None
    now = slot_end()
    batch = [reading(now - SLOT * n, battery_state="discharging") for n in (4, 3, 2)] + [
        reading(now - SLOT, pv_kw=0, load_kw=1.25, battery_kw=0, battery_state="standby",
                soc=100, sell_kw=0, buy_kw=1.25)]
    response = post(client, GATEWAY_ID, key, batch)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"accepted": 4, "duplicates": 0, "rejected": []}
    assert "Set-Cookie" not in response.headers

    rows = stored(gateway)
    assert [row.ts for row in rows] == [datetime.fromisoformat(r["timestamp"]) for r in batch]
    first = rows[0]
    assert (first.pv_w, first.load_w, first.battery_w, first.battery_state, first.soc,
            first.sell_w, first.buy_w) == (3200, 800, 1500, "discharging", 82, 900, 0)
    assert first.units == [{"unit": 1, "status": "normal", "error_code": None},
                           {"unit": 2, "status": "standby", "error_code": None}]
    assert not any(row.has_error for row in rows)
    assert rollups() == expected_rollups(gateway.id, batch)

    db.session.refresh(gateway)
    assert gateway.first_report_at == rows[0].ts  # 初回通信日時: its first reading's time
    assert gateway.last_reading_at == rows[-1].ts
    first_report = gateway.first_report_at

    later = post(client, GATEWAY_ID, key, [reading(now)])
    assert later.status_code == 200 and later.get_json()["accepted"] == 1
    db.session.refresh(gateway)
    assert gateway.first_report_at == first_report  # not moved by later readings
    assert gateway.last_reading_at == now


def test_first_report_is_the_earliest_reading_not_the_arrival(app, client):
    """A gateway that back-fills a month of history first reported a month ago; a
    reading older still, sent later, moves 初回通信日時 earlier; newer ones never do."""
    gateway, key = reporting_gateway(make_owner())
    newest = slot_end()
    month_ago = newest - timedelta(days=30)
    history = [reading(month_ago + SLOT * n) for n in range(0, 30 * 288, 96)]
    history.append(reading(newest))
    response = post(client, GATEWAY_ID, key, list(reversed(history)))
    assert response.get_json() == {"accepted": len(history), "duplicates": 0, "rejected": []}
    db.session.refresh(gateway)
    assert gateway.first_report_at == month_ago
    assert gateway.last_reading_at == newest

    older = month_ago - timedelta(days=5)
    response = post(client, GATEWAY_ID, key, [reading(older), reading(newest)])
    assert response.get_json() == {"accepted": 1, "duplicates": 1, "rejected": []}
    db.session.refresh(gateway)
    assert gateway.first_report_at == older
    assert gateway.last_reading_at == newest

    post(client, GATEWAY_ID, key, [reading(month_ago + SLOT)])  # already covered: no move
    db.session.refresh(gateway)
    assert gateway.first_report_at == older

    login(client, "owner@example.com")
    page = client.get(f"/monitoring/gateways/{GATEWAY_ID}").get_data(as_text=True)
    assert older.astimezone(JST).strftime("%Y年%m月%d日 %H:%M") in page


def test_first_and_newest_reading_only_move_outwards(app, client):
    """初回通信日時 moves earlier only and the newest reading later only, even when the
    gateway's row is ahead of the readings stored (older readings pruned, a newer one
    seen first): a reading in between adds to the energy and moves neither."""
    gateway, key = reporting_gateway()
    first, newest = slot_end(60 * 24 * 3), slot_end()
    gateway.first_report_at, gateway.last_reading_at = first, newest
    db.session.commit()
    between = [reading(slot_end(60)), reading(slot_end(55), battery_state="discharging")]
    assert post(client, GATEWAY_ID, key, between).get_json()["accepted"] == 2
    db.session.refresh(gateway)
    assert (gateway.first_report_at, gateway.last_reading_at) == (first, newest)
    assert rollups() == expected_rollups(gateway.id, between)

    outside = [reading(first - SLOT), reading(slot_end(50))]
    assert post(client, GATEWAY_ID, key, outside).get_json()["accepted"] == 2
    db.session.refresh(gateway)
    assert (gateway.first_report_at, gateway.last_reading_at) == (first - SLOT, newest)
    assert rollups() == expected_rollups(gateway.id, between + outside)


def test_a_batch_of_only_rejected_readings_is_no_first_report(app, client):
    gateway, key = reporting_gateway()
    response = post(client, GATEWAY_ID, key, [reading(slot_end(), soc=101)])
    assert response.status_code == 422
    db.session.refresh(gateway)
    assert gateway.first_report_at is None and gateway.last_reading_at is None
    assert rollups() == {"daily": {}, "monthly": {}}


def test_other_offsets_mean_the_same_instant(app, client):
    gateway, key = reporting_gateway()
    ts = slot_end() - 6 * SLOT
    as_utc = reading(ts)
    as_utc["timestamp"] = ts.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    response = post(client, GATEWAY_ID, key, [as_utc, reading(ts)])
    assert response.get_json() == {"accepted": 1, "duplicates": 1, "rejected": []}
    assert [row.ts for row in stored(gateway)] == [ts]


def test_a_full_week_is_one_batch(app, client):
    gateway, key = reporting_gateway()
    batch = series(MAX_BATCH)
    response = post(client, GATEWAY_ID, key, batch)
    assert response.status_code == 200
    assert response.get_json()["accepted"] == MAX_BATCH
    assert count(Reading) == MAX_BATCH
    assert rollups() == expected_rollups(gateway.id, batch)


# -- resending ---------------------------------------------------------------------------
def test_the_same_batch_again_is_all_duplicates(app, client):
    gateway, key = reporting_gateway()
    batch = series(12)
    assert post(client, GATEWAY_ID, key, batch).status_code == 200
    energy = rollups()
    received = [row.received_at for row in stored(gateway)]

    again = post(client, GATEWAY_ID, key, batch)
    assert again.status_code == 200
    assert again.get_json() == {"accepted": 0, "duplicates": 12, "rejected": []}
    assert count(Reading) == 12
    assert rollups() == energy == expected_rollups(gateway.id, batch)
    assert [row.received_at for row in stored(gateway)] == received  # not rewritten


def test_duplicates_inside_one_batch_count_once(app, client):
    gateway, key = reporting_gateway()
    now = slot_end()
    one, two = reading(now - SLOT), reading(now)
    changed = {**one, "pv_kw": 9.9}  # the same period sent twice: the first one counts
    response = post(client, GATEWAY_ID, key, [one, two, one, changed])
    assert response.status_code == 200
    assert response.get_json() == {"accepted": 2, "duplicates": 2, "rejected": []}
    assert [row.pv_w for row in stored(gateway)] == [3200, 3200]
    assert rollups() == expected_rollups(gateway.id, [one, two])


def test_overlapping_batches_add_only_what_is_new(app, client):
    gateway, key = reporting_gateway()
    batch = series(10)
    assert post(client, GATEWAY_ID, key, batch[:6]).get_json()["accepted"] == 6
    response = post(client, GATEWAY_ID, key, batch[3:])
    assert response.get_json() == {"accepted": 4, "duplicates": 3, "rejected": []}
    assert rollups() == expected_rollups(gateway.id, batch)


# -- partial batches and every reason a reading is refused ---------------------------------
def test_partial_batch_stores_the_good_and_lists_the_bad(app, client):
    gateway, key = reporting_gateway()
    now = slot_end()
    good = [reading(now - SLOT * n) for n in (4, 3, 2)]
    bad_soc = reading(now - SLOT * 5, soc=120)
    naive = reading(now - SLOT)
    naive["timestamp"] = naive["timestamp"][:-6]
    batch = [good[0], bad_soc, good[1], naive, good[2], "not a reading"]
    response = post(client, GATEWAY_ID, key, batch)
    assert response.status_code == 422
    answer = response.get_json()
    assert answer["error"] == "invalid_readings"
    assert answer["accepted"] == 3 and answer["duplicates"] == 0
    assert [(r["index"], r["reason"], r["field"]) for r in answer["rejected"]] == [
        (1, "out_of_range", "soc"), (3, "malformed", "timestamp"), (5, "malformed", None)]
    assert all(r["message"] for r in answer["rejected"])
    assert len(stored(gateway)) == 3
    assert rollups() == expected_rollups(gateway.id, good)

    # Resending the whole batch is safe: the good ones are duplicates now.
    again = post(client, GATEWAY_ID, key, batch).get_json()
    assert (again["accepted"], again["duplicates"], len(again["rejected"])) == (0, 3, 3)
    assert rollups() == expected_rollups(gateway.id, good)


def _without(name):
    def change(body):
        del body[name]
    return change


def _setting(name, value):
    def change(body):
        body[name] = value
    return change


def _unit(**fields):
    def change(body):
        body["units"][0].update(fields)
    return change


POWER = ("pv_kw", "load_kw", "battery_kw", "sell_kw", "buy_kw")
BAD_READINGS = [
    *[(f"missing {name}", _without(name), "malformed", name)
      for name in ("timestamp", *POWER, "soc", "battery_state", "units")],
    *[(f"{name} as {label}", _setting(name, value), "malformed", name)
      for name in (*POWER, "soc")
      for label, value in (("string", "3.2"), ("bool", True), ("null", None),
                           ("list", [1]), ("NaN string", "NaN"))],
    *[(f"{name} {label}", _setting(name, value), "out_of_range", name)
      for name in (*POWER, "soc")
      for label, value in (("negative", -0.1), ("over", 100.001), ("huge", 1e308),
                           ("huge integer", 10 ** 400))],
    ("soc over 100", _setting("soc", 101), "out_of_range", "soc"),
    ("battery_state unknown", _setting("battery_state", "idle"), "malformed",
     "battery_state"),
    ("battery_state upper case", _setting("battery_state", "CHARGING"), "malformed",
     "battery_state"),
    ("battery_state null", _setting("battery_state", None), "malformed", "battery_state"),
    ("battery_state number", _setting("battery_state", 1), "malformed", "battery_state"),
    ("battery_state with NUL", _setting("battery_state", "charging\x00"), "malformed",
     "battery_state"),
    ("timestamp as number", _setting("timestamp", 1764000000), "malformed", "timestamp"),
    ("timestamp null", _setting("timestamp", None), "malformed", "timestamp"),
    ("timestamp garbage", _setting("timestamp", "yesterday"), "malformed", "timestamp"),
    ("timestamp with NUL", lambda b: b.update(timestamp=b["timestamp"] + "\x00"),
     "malformed", "timestamp"),
    ("timestamp huge", _setting("timestamp", "2" * 100_000), "malformed", "timestamp"),
    ("timestamp naive", lambda b: b.update(timestamp=b["timestamp"][:-6]), "malformed",
     "timestamp"),
    ("timestamp at 12:03", lambda b: b.update(
        timestamp=_shifted(b["timestamp"], minutes=-2)), "malformed", "timestamp"),
    ("timestamp with seconds", lambda b: b.update(
        timestamp=_shifted(b["timestamp"], seconds=-30)), "malformed", "timestamp"),
    ("timestamp with microseconds", lambda b: b.update(
        timestamp=_shifted(b["timestamp"], microseconds=-1)), "malformed", "timestamp"),
    ("timestamp minutes ahead", lambda b: b.update(
        timestamp=_shifted(b["timestamp"], minutes=20)), "future_dated", "timestamp"),
    ("timestamp a year ahead", lambda b: b.update(
        timestamp=_shifted(b["timestamp"], days=365)), "future_dated", "timestamp"),
    ("timestamp too old", lambda b: b.update(
        timestamp=_shifted(b["timestamp"], days=-MAX_AGE.days - 1)), "too_old", "timestamp"),
    ("another gateway's reading", _setting("gateway_id", OTHER_ID), "foreign",
     "gateway_id"),
    ("gateway_id with NUL", _setting("gateway_id", GATEWAY_ID + "\x00"), "foreign",
     "gateway_id"),
    ("a unit of another gateway", lambda b: b["units"].append(
        {"unit": 3, "status": "normal", "error_code": None}), "foreign", "units"),
    ("unit 0", _unit(unit=0), "foreign", "units"),
    ("units empty", _setting("units", []), "malformed", "units"),
    ("units not a list", _setting("units", {"unit": 1}), "malformed", "units"),
    ("units as string", _setting("units", "1"), "malformed", "units"),
    ("seven units", _setting("units", [{"unit": n, "status": "normal"} for n in range(7)]),
     "malformed", "units"),
    ("unit not an object", _setting("units", ["normal"]), "malformed", "units"),
    ("unit number as string", _unit(unit="1"), "malformed", "units"),
    ("unit number as bool", _unit(unit=True), "malformed", "units"),
    ("unit number missing", lambda b: b["units"][0].pop("unit"), "malformed", "units"),
    ("the same unit twice", lambda b: b["units"].append(dict(b["units"][0])), "malformed",
     "units"),
    ("unit status unknown", _unit(status="broken"), "malformed", "units"),
    ("unit status missing", lambda b: b["units"][0].pop("status"), "malformed", "units"),
    ("error without code", _unit(status="error", error_code=None), "malformed", "units"),
    ("error with empty code", _unit(status="error", error_code=""), "malformed", "units"),
    ("error with lower-case code", _unit(status="error", error_code="e201"), "malformed",
     "units"),
    ("error code with NUL", _unit(status="error", error_code="E2\x0001"), "malformed",
     "units"),
    ("error code huge", _unit(status="error", error_code="E" * 10_000), "malformed", "units"),
    ("error code as number", _unit(status="error", error_code=201), "malformed", "units"),
    ("code with status normal", _unit(status="normal", error_code="E201"), "malformed",
     "units"),
    ("code with status standby", _unit(status="standby", error_code="E201"), "malformed",
     "units"),
]


def _shifted(timestamp: str, **delta) -> str:
    return (datetime.fromisoformat(timestamp) + timedelta(**delta)).isoformat()


@pytest.mark.parametrize("change, reason, field", [case[1:] for case in BAD_READINGS],
                         ids=[case[0] for case in BAD_READINGS])
def test_each_bad_reading_is_rejected_and_the_rest_stored(app, client, change, reason, field):
    gateway, key = reporting_gateway()
    now = slot_end()
    good = reading(now - SLOT * 6)
    bad = reading(now - SLOT * 2)
    change(bad)
    response = post(client, GATEWAY_ID, key, [good, bad])
    assert response.status_code == 422, response.get_data(as_text=True)
    answer = response.get_json()
    assert answer["accepted"] == 1
    [rejected] = answer["rejected"]
    assert (rejected["index"], rejected["reason"], rejected["field"]) == (1, reason, field)
    assert "\x00" not in rejected["message"] and len(rejected["message"]) < 200
    assert [row.ts for row in stored(gateway)] == [now - SLOT * 6]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_literals_are_out_of_range(app, client, literal):
    gateway, key = reporting_gateway()
    body = json.dumps({"readings": [reading(slot_end())]}).replace('"pv_kw": 3.2',
                                                                  f'"pv_kw": {literal}')
    response = post(client, GATEWAY_ID, key, body=body)
    assert response.status_code == 422
    [rejected] = response.get_json()["rejected"]
    assert (rejected["reason"], rejected["field"]) == ("out_of_range", "pv_kw")
    assert count(Reading) == 0


def test_boundary_values_are_accepted(app, client):
    gateway, key = reporting_gateway()
    now = slot_end()
    batch = [reading(now - 2 * SLOT, pv_kw=0, load_kw=0, battery_kw=0, sell_kw=0, buy_kw=0,
                     soc=0),
             reading(now - SLOT, pv_kw=100, load_kw=100, battery_kw=100, sell_kw=100,
                     buy_kw=100, soc=100, gateway_id=GATEWAY_ID),
             reading(now, units=[{"unit": 2, "status": "error", "error_code": "E-1"},
                                        {"unit": 1, "status": "standby"}])]
    response = post(client, GATEWAY_ID, key, batch)
    assert response.status_code == 200, response.get_data(as_text=True)
    rows = stored(gateway)
    assert (rows[1].pv_w, rows[1].soc) == (100_000, 100)
    assert rows[2].has_error
    assert rows[2].units == [{"unit": 1, "status": "standby", "error_code": None},
                             {"unit": 2, "status": "error", "error_code": "E-1"}]


def test_unknown_fields_are_not_stored(app, client):
    gateway, key = reporting_gateway()
    junk = reading(slot_end(), note="\x00" * 1000, firmware="x" * 100_000)
    junk["units"][0]["extra"] = "\x00"
    assert post(client, GATEWAY_ID, key, [junk]).status_code == 200
    [row] = stored(gateway)
    assert row.units[0] == {"unit": 1, "status": "normal", "error_code": None}


@pytest.fixture
def frozen(monkeypatch):
    """Freeze the API's clock at a chosen instant."""
    def freeze(at: datetime) -> None:
        monkeypatch.setattr(telemetry, "utcnow", lambda: at)
    return freeze


def test_clock_skew_within_the_tolerance_is_accepted(app, client, frozen):
    gateway, key = reporting_gateway()
    ahead = slot_end(10)
    frozen(ahead - FUTURE_TOLERANCE - timedelta(seconds=1))
    refused = post(client, GATEWAY_ID, key, [reading(ahead)]).get_json()
    assert [r["reason"] for r in refused["rejected"]] == ["future_dated"]
    frozen(ahead - FUTURE_TOLERANCE)
    assert post(client, GATEWAY_ID, key, [reading(ahead)]).status_code == 200
    assert [row.ts for row in stored(gateway)] == [ahead]


def test_the_oldest_accepted_reading_is_max_age_old(app, client, frozen):
    gateway, key = reporting_gateway()
    now = slot_end()
    frozen(now)
    oldest = now - MAX_AGE
    response = post(client, GATEWAY_ID, key, [reading(oldest), reading(oldest - SLOT)])
    assert response.status_code == 422
    assert [(r["index"], r["reason"]) for r in response.get_json()["rejected"]] == [
        (1, "too_old")]
    assert [row.ts for row in stored(gateway)] == [oldest]


# -- malformed requests ------------------------------------------------------------------
@pytest.mark.parametrize("body, error", [
    ("", "malformed_batch"),
    ("{", "malformed_batch"),
    ("not json", "malformed_batch"),
    ('{"readings": [}', "malformed_batch"),
    ("null", "malformed_batch"),
    ("[]", "malformed_batch"),
    ('[{"readings": []}]', "malformed_batch"),
    ('"readings"', "malformed_batch"),
    ("{}", "malformed_batch"),
    ('{"readings": null}', "malformed_batch"),
    ('{"readings": {}}', "malformed_batch"),
    ('{"readings": "[]"}', "malformed_batch"),
    ('{"readings": 1}', "malformed_batch"),
    ('{"readings": []}', "empty_batch"),
    (b'{"readings": [\xff\xfe]}', "malformed_batch"),
    ('{"readings": ' + "[" * 100_000 + "]" * 100_000 + "}", "malformed_batch"),
])
def test_a_body_that_is_not_a_batch_is_400(app, client, body, error):
    _gateway, key = reporting_gateway()
    response = post(client, GATEWAY_ID, key, body=body)
    assert_refused_json(response, 400, error)
    assert count(Reading) == 0


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", None])
def test_a_body_that_is_not_json_is_415(app, client, content_type):
    _gateway, key = reporting_gateway()
    response = post(client, GATEWAY_ID, key, [reading(slot_end())],
                    content_type=content_type)
    assert_refused_json(response, 415, "unsupported_media_type")
    assert count(Reading) == 0


def test_json_with_a_charset_is_fine(app, client):
    _gateway, key = reporting_gateway()
    response = post(client, GATEWAY_ID, key, [reading(slot_end())],
                    content_type="application/json; charset=utf-8")
    assert response.status_code == 200


def test_too_many_readings_is_413_and_nothing_stored(app, client):
    _gateway, key = reporting_gateway()
    response = post(client, GATEWAY_ID, key, series(MAX_BATCH + 1))
    assert_refused_json(response, 413, "too_many_readings")
    assert count(Reading) == 0


def test_an_oversized_body_is_413_json(app, client):
    _gateway, key = reporting_gateway()
    huge = json.dumps({"readings": [reading(slot_end(), note="x" * (5 * 1024 * 1024))]})
    response = post(client, GATEWAY_ID, key, body=huge)
    assert_refused_json(response, 413, "too_large")
    assert count(Reading) == 0


# -- who may post ------------------------------------------------------------------------
@pytest.mark.parametrize("authorization", [
    None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token {key}", "{key}",
    "Bearer wrong-key", "Bearer {key}x", "Bearer " + "a" * 5000, "Bearer {key}\x00",
])
def test_without_the_right_key_it_is_401(app, client, authorization):
    gateway, key = reporting_gateway()
    headers = {} if authorization is None else {
        "Authorization": authorization.replace("{key}", key)}
    response = post(client, GATEWAY_ID, None, [reading(slot_end())], headers=headers)
    assert_refused_json(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="gateway"'
    assert count(Reading) == 0
    db.session.refresh(gateway)
    assert gateway.first_report_at is None


def test_the_scheme_name_is_case_insensitive(app, client):
    _gateway, key = reporting_gateway()
    response = post(client, GATEWAY_ID, None, [reading(slot_end())],
                    headers={"Authorization": f"bearer {key}"})
    assert response.status_code == 200


def test_a_gateway_cannot_post_for_another(app, client):
    mine, my_key = reporting_gateway()
    other, other_key = reporting_gateway(gateway_id=OTHER_ID)
    # The other gateway's key on this gateway's URL, with or without claiming the ID.
    for body in ([reading(slot_end())], [reading(slot_end(), gateway_id=GATEWAY_ID)],
                 [reading(slot_end(), gateway_id=OTHER_ID)]):
        response = post(client, GATEWAY_ID, other_key, body)
        assert_refused_json(response, 401, "unauthorized")
        assert "WWW-Authenticate" in response.headers
    # Its own key on its own URL, claiming to be the other: refused as foreign.
    response = post(client, GATEWAY_ID, my_key, [reading(slot_end(), gateway_id=OTHER_ID)])
    assert response.status_code == 422
    assert response.get_json()["rejected"][0]["reason"] == "foreign"
    assert count(Reading) == 0
    for gateway in (mine, other):
        db.session.refresh(gateway)
        assert gateway.first_report_at is None


@pytest.mark.parametrize("gateway_id", [OTHER_ID, "01ab12345678", "01AB1234567", "0" * 200,
                                        "01AB12345678%00"])
def test_an_unknown_gateway_is_401(app, client, gateway_id):
    _gateway, key = reporting_gateway()
    response = post(client, gateway_id, key, [reading(slot_end())])
    assert_refused_json(response, 401, "unauthorized")
    assert count(Reading) == 0


def test_a_gateway_without_a_key_cannot_post(app, client):
    gateway = make_gateway(None)
    assert gateway.api_key_hash is None
    for key in ("", "0" * 64, "None"):
        response = post(client, GATEWAY_ID, key, [reading(slot_end())])
        assert response.status_code == 401


def test_an_unregistered_gateway_is_403(app, client):
    _gateway, key = reporting_gateway(status=GatewayStatus.UNREGISTERED)
    response = post(client, GATEWAY_ID, key, [reading(slot_end())])
    assert_refused_json(response, 403, "gateway_not_registered")
    assert_refused_json(client.get(f"/api/v1/gateways/{GATEWAY_ID}",
                                   headers={"Authorization": f"Bearer {key}"}),
                        403, "gateway_not_registered")
    assert count(Reading) == 0


def test_a_disposed_gateway_is_403(app, client):
    owner = make_owner()
    gateway, key = reporting_gateway(owner)
    assert post(client, GATEWAY_ID, key, [reading(slot_end(5))]).status_code == 200
    assert dispose_gateway(owner, GATEWAY_ID)
    db.session.refresh(gateway)
    assert gateway.status == GatewayStatus.RETIRED
    readings_before = count(Reading)
    energy_before = rollups()

    response = post(client, GATEWAY_ID, key, [reading(slot_end())])
    assert_refused_json(response, 403, "gateway_retired")
    assert count(Reading) == readings_before
    assert rollups() == energy_before
    assert_refused_json(client.get(f"/api/v1/gateways/{GATEWAY_ID}",
                                   headers={"Authorization": f"Bearer {key}"}),
                        403, "gateway_retired")


def test_a_provisional_gateway_reports(app, client):
    gateway, key = reporting_gateway(make_owner(), status=GatewayStatus.PROVISIONAL)
    response = post(client, GATEWAY_ID, key, [reading(slot_end())])
    assert response.status_code == 200
    assert len(stored(gateway)) == 1


# -- the state endpoint ------------------------------------------------------------------
def test_state_tells_where_to_resume(app, client):
    _gateway, key = reporting_gateway()
    auth = {"Authorization": f"Bearer {key}"}
    response = client.get(f"/api/v1/gateways/{GATEWAY_ID}", headers=auth)
    assert response.status_code == 200
    state = response.get_json()
    assert state["gateway_id"] == GATEWAY_ID and state["status"] == "active"
    assert state["last_reading_at"] is None and state["max_batch"] == MAX_BATCH
    assert abs(datetime.fromisoformat(state["server_time"]) - utcnow()) < timedelta(minutes=1)
    assert "Set-Cookie" not in response.headers

    now = slot_end()
    post(client, GATEWAY_ID, key, [reading(now - 3 * SLOT), reading(now - SLOT)])
    post(client, GATEWAY_ID, key, [reading(now - 12 * SLOT)])  # a backfill: no going back
    state = client.get(f"/api/v1/gateways/{GATEWAY_ID}", headers=auth).get_json()
    assert datetime.fromisoformat(state["last_reading_at"]) == now - SLOT


def test_state_needs_the_key(app, client):
    reporting_gateway()
    other, other_key = reporting_gateway(gateway_id=OTHER_ID)
    for headers in ({}, {"Authorization": "Bearer nope"},
                    {"Authorization": f"Bearer {other_key}"}):
        response = client.get(f"/api/v1/gateways/{GATEWAY_ID}", headers=headers)
        assert_refused_json(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="gateway"'


# -- the API is not a browser page -------------------------------------------------------
def test_no_csrf_token_and_no_cookie(app, client):
    """CSRF protection is on for the site, but a gateway has no session to forge: its
    key in the header is the proof. The API never sets a cookie."""
    _gateway, key = reporting_gateway()
    assert app.test_client().post("/account/login", data={}).status_code == 400  # CSRF on
    response = post(client, GATEWAY_ID, key, [reading(slot_end())])
    assert response.status_code == 200
    for answer in (response, post(client, GATEWAY_ID, "wrong", [reading(slot_end())]),
                   post(client, GATEWAY_ID, key, body="{")):
        assert "Set-Cookie" not in answer.headers
    assert client.get_cookie("session") is None


@pytest.mark.parametrize("method, path, status, error", [
    ("get", "/api/v1/nothing", 404, "not_found"),
    ("get", "/api/v1/gateways/01AB12345678/readings/1", 404, "not_found"),
    ("get", "/api/v1/gateways/01AB12345678/readings", 405, "method_not_allowed"),
    ("put", "/api/v1/gateways/01AB12345678/readings", 405, "method_not_allowed"),
    ("delete", "/api/v1/gateways/01AB12345678/readings", 405, "method_not_allowed"),
    ("post", "/api/v1/gateways/01AB12345678", 405, "method_not_allowed"),
])
def test_errors_under_the_api_are_json(app, client, method, path, status, error):
    reporting_gateway()
    response = getattr(client, method)(path)
    assert_refused_json(response, status, error)


# -- rate limits -------------------------------------------------------------------------
# Small limits, set in the app's config as an operator would.
LIMITED = dict(RATELIMIT_ENABLED=True, GATEWAY_API_LIMIT="5 per minute",
               GATEWAY_API_FAILED_AUTH_LIMIT="3 per minute")


class UnreadBody(io.RawIOBase):
    """A request body that records whether anything tried to read it."""

    def __init__(self):
        super().__init__()
        self.read_from = False

    def readable(self):
        return True

    def readinto(self, buffer):
        self.read_from = True
        return 0


def post_unsent(client, gateway_id: str, authorization: str | None = None,
                address: str = "127.0.0.1", length: int = 5_000_000):
    """POST that announces a `length`-byte JSON body without sending it (as an attacker's
    client can); returns the response and whether the app tried to read the body."""
    body = UnreadBody()
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = client.post(f"/api/v1/gateways/{gateway_id}/readings",
                           content_type="application/json", headers=headers,
                           environ_base={"REMOTE_ADDR": address},
                           environ_overrides={"wsgi.input": body,
                                              "CONTENT_LENGTH": str(length)})
    return response, body.read_from


def post_from(client, address: str, gateway_id: str, key: str | None, readings=None,
              body=None):
    """`post()` from another client address."""
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    data = body if body is not None else json.dumps({"readings": readings})
    return client.post(f"/api/v1/gateways/{gateway_id}/readings", data=data,
                       content_type="application/json", headers=headers,
                       environ_base={"REMOTE_ADDR": address})


def test_rate_limit_is_429_json_per_gateway(make_app):
    app = make_app(GATEWAY_API_LIMIT="3 per minute", RATELIMIT_ENABLED=True)
    with app.app_context():
        _mine, key = reporting_gateway()
        _other, other_key = reporting_gateway(gateway_id=OTHER_ID)
        client = app.test_client()
        now = slot_end()
        codes = [post(client, GATEWAY_ID, key, [reading(now - SLOT * i)]).status_code
                 for i in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = post(client, GATEWAY_ID, key, [reading(now - SLOT * 9)])
        assert_refused_json(limited, 429, "too_many_requests")
        assert 0 < int(limited.headers["Retry-After"]) <= 60
        assert count(Reading) == 3
        # The state endpoint draws on the same allowance.
        state = client.get(f"/api/v1/gateways/{GATEWAY_ID}",
                           headers={"Authorization": f"Bearer {key}"})
        assert_refused_json(state, 429, "too_many_requests")
        # Another gateway behind the same address has its own allowance.
        assert post(client, OTHER_ID, other_key, [reading(slot_end())]).status_code == 200


def test_wrong_keys_do_not_use_up_a_gateways_allowance(make_app):
    """Its ID is printed on the slip: whoever knows it must not be able to silence it."""
    app = make_app(GATEWAY_API_LIMIT="3 per minute", RATELIMIT_ENABLED=True)
    with app.app_context():
        _gateway, key = reporting_gateway()
        intruder, device = app.test_client(), app.test_client()
        now = slot_end()
        assert [post(intruder, GATEWAY_ID, "gwk_guess", [reading(now)]).status_code
                for _ in range(10)] == [401] * 10
        assert [post(device, GATEWAY_ID, key, [reading(now - SLOT * i)]).status_code
                for i in range(3)] == [200, 200, 200]
        assert count(Reading) == 3


def test_oversized_posts_without_the_key_are_401_and_do_not_silence_the_gateway(make_app):
    """The attack of issue 9: posts announcing a 5 MB body, with no key or a wrong one,
    from many addresses. Each is refused as 401 before its body is read, and none of them
    uses up the gateway's own allowance; nor do bodies that are not a batch."""
    app = make_app(**LIMITED)
    with app.app_context():
        gateway, key = reporting_gateway()
        intruder, device = app.test_client(), app.test_client()
        for i in range(12):
            for authorization in (None, "Bearer gwk_guess"):
                response, read_from = post_unsent(intruder, GATEWAY_ID, authorization,
                                                  address=f"192.0.2.{i + 1}")
                assert_refused_json(response, 401, "unauthorized")
                assert not read_from
            malformed = post_from(intruder, f"198.51.100.{i + 1}", GATEWAY_ID, None,
                                  body="{")
            assert_refused_json(malformed, 401, "unauthorized")

        now = slot_end()
        codes = [post(device, GATEWAY_ID, key, [reading(now - SLOT * i)]).status_code
                 for i in range(6)]
        assert codes == [200] * 5 + [429]
        assert len(stored(gateway)) == 5


def test_an_oversized_body_with_the_right_key_is_413_and_counts(make_app):
    """An authenticated request is the gateway's own: its 413 counts against its
    allowance (and its body is still not read)."""
    app = make_app(**LIMITED)
    with app.app_context():
        _gateway, key = reporting_gateway()
        client = app.test_client()
        for _ in range(5):
            response, read_from = post_unsent(client, GATEWAY_ID, f"Bearer {key}")
            assert_refused_json(response, 413, "too_large")
            assert not read_from
        assert_refused_json(post(client, GATEWAY_ID, key, [reading(slot_end())]),
                            429, "too_many_requests")


def test_failed_keys_are_limited_per_address(make_app):
    """Failed keys count per client address; the gateway's own requests from that address
    are not failures and are never refused because of the failures."""
    app = make_app(**{**LIMITED, "GATEWAY_API_LIMIT": "50 per minute"})
    with app.app_context():
        gateway, key = reporting_gateway()
        reporting_gateway(gateway_id=OTHER_ID)
        client = app.test_client()
        now = slot_end()
        # Its own requests, good and bad, are no failures.
        assert post(client, GATEWAY_ID, key, [reading(now)]).status_code == 200
        assert post(client, GATEWAY_ID, key, body="{").status_code == 400

        codes = [post(client, gateway_id, f"gwk_guess{i}", [reading(now)]).status_code
                 for i, gateway_id in enumerate([GATEWAY_ID, OTHER_ID, GATEWAY_ID, OTHER_ID,
                                                 GATEWAY_ID])]
        assert codes == [401, 401, 401, 429, 429]
        limited = post(client, GATEWAY_ID, "gwk_guess", [reading(now)])
        assert_refused_json(limited, 429, "too_many_requests")
        assert 0 < int(limited.headers["Retry-After"]) <= 60
        assert_refused_json(client.get(f"/api/v1/gateways/{GATEWAY_ID}",
                                       headers={"Authorization": "Bearer gwk_guess"}),
                            429, "too_many_requests")
        response, read_from = post_unsent(client, GATEWAY_ID, None)
        assert response.status_code == 429 and not read_from

        # The right key from the same address still gets through, again and again.
        for i in range(1, 6):
            assert post(client, GATEWAY_ID, key, [reading(now - SLOT * i)]).status_code == 200
        state = client.get(f"/api/v1/gateways/{GATEWAY_ID}",
                           headers={"Authorization": f"Bearer {key}"})
        assert state.status_code == 200
        assert len(stored(gateway)) == 6
        # Another address has its own count of failures.
        assert post_from(client, "203.0.113.9", GATEWAY_ID, "gwk_guess",
                         [reading(now)]).status_code == 401


def test_the_failure_limit_is_a_setting(make_app):
    app = make_app(RATELIMIT_ENABLED=True)
    assert app.config["GATEWAY_API_FAILED_AUTH_LIMIT"] == "20 per minute; 200 per hour"
    with app.app_context():
        reporting_gateway()
        client = app.test_client()
        codes = [post(client, GATEWAY_ID, f"gwk_guess{i}", [reading(slot_end())]).status_code
                 for i in range(21)]
        assert codes == [401] * 20 + [429]


def test_limits_off_when_rate_limiting_is_off(make_app):
    app = make_app(**{**LIMITED, "RATELIMIT_ENABLED": False})
    with app.app_context():
        _gateway, key = reporting_gateway()
        client = app.test_client()
        assert {post(client, GATEWAY_ID, "gwk_guess", [reading(slot_end())]).status_code
                for _ in range(5)} == {401}
        assert {post(client, GATEWAY_ID, key, [reading(slot_end(5 * i))]).status_code
                for i in range(7)} == {200}


# -- concurrency -------------------------------------------------------------------------
def test_the_same_batch_posted_at_once_is_stored_once(make_app):
    app = make_app(RATELIMIT_ENABLED=False)
    with app.app_context():
        gateway, key = reporting_gateway()
        gateway_pk = gateway.id
        db.session.commit()
    batch = series(36)

    def send(_):
        response = post(app.test_client(), GATEWAY_ID, key, batch)
        return response.status_code, response.get_json()

    with ThreadPoolExecutor(WORKERS) as pool:
        answers = list(pool.map(send, range(WORKERS)))
    assert [status for status, _ in answers] == [200] * WORKERS
    assert sum(answer["accepted"] for _, answer in answers) == 36
    assert sum(answer["duplicates"] for _, answer in answers) == 36 * (WORKERS - 1)
    with app.app_context():
        assert count(Reading) == 36
        assert rollups() == expected_rollups(gateway_pk, batch)


def test_overlapping_batches_posted_at_once_add_up_once(make_app):
    app = make_app(RATELIMIT_ENABLED=False)
    with app.app_context():
        gateway, key = reporting_gateway()
        gateway_pk = gateway.id
        db.session.commit()
    week = series(96)
    batches = [week[i * 8:i * 8 + 40] for i in range(WORKERS)]  # each overlaps the next

    def send(batch):
        return post(app.test_client(), GATEWAY_ID, key, batch).status_code

    with ThreadPoolExecutor(WORKERS) as pool:
        assert list(pool.map(send, batches)) == [200] * WORKERS
    sent = {r["timestamp"]: r for batch in batches for r in batch}
    with app.app_context():
        assert count(Reading) == len(sent)
        assert rollups() == expected_rollups(gateway_pk, list(sent.values()))


def test_full_batches_of_several_gateways_at_once_all_succeed(make_app):
    """Each batch is checked outside the write transaction, which then only inserts: on
    SQLite (one writer at a time) large batches arriving together queue briefly, none
    fails with 'database is locked'."""
    app = make_app(RATELIMIT_ENABLED=False)
    gateway_ids = [f"01AB0000{n:04d}" for n in range(4)]
    with app.app_context():
        keys = {gateway_id: reporting_gateway(gateway_id=gateway_id)[1]
                for gateway_id in gateway_ids}
        db.session.commit()
    batch = series(MAX_BATCH)

    def send(gateway_id):
        return post(app.test_client(), gateway_id, keys[gateway_id], batch).status_code

    with ThreadPoolExecutor(len(gateway_ids)) as pool:
        assert list(pool.map(send, gateway_ids)) == [200] * len(gateway_ids)
    with app.app_context():
        assert count(Reading) == MAX_BATCH * len(gateway_ids)


def test_a_gateway_retired_while_its_batch_is_checked_stores_nothing(app, client):
    from blueprints.monitoring import telemetry

    gateway, key = reporting_gateway()
    authenticated = credentials.authenticate(GATEWAY_ID, key)
    # Disposed of in another request between authentication and the write.
    db.session.execute(update(Gateway).where(Gateway.id == gateway.id)
                       .values(status=GatewayStatus.RETIRED.value))
    db.session.commit()
    result = telemetry.ingest(authenticated, series(3))
    assert result.refused and result.accepted == 0
    assert count(Reading) == 0 and db.session.get(Gateway, gateway.id).first_report_at is None
