"""Simulated readings: a realistic day (sun, weather, household, battery and grid), every
reading accepted by the telemetry checks, feeding twice storing nothing twice, the
`gateways simulate` command, the development feed of `make run` and the demo gateway."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytest
from sqlalchemy import func, select

from blueprints.core.registry import seed_demo as seed_demo_data
from blueprints.gateways import credentials
from blueprints.gateways.demo import DEMO_MONITORED_GATEWAY, DEMO_MONITORED_IDS
from blueprints.monitoring import simulator, telemetry
from blueprints.monitoring.cli import run_simulator
from blueprints.monitoring.simulator import SLOT, Fault, Weather
from blueprints.monitoring.telemetry import JST
from models import db, utcnow
from models.gateway import DealerLink, Gateway, GatewayStatus
from models.telemetry import DailyEnergy, GatewayAlert, MonthlyEnergy, Reading
from tests.flows.test_dealer_links import make_gateway, make_owner
from tests.helpers import add_units, outbox

GATEWAY_ID = "01AB00000001"
UNITS = (1, 2)
NOW = datetime(2026, 7, 20, 3, 2, 30, tzinfo=timezone.utc)  # 12:02:30 JST


# -- helpers -------------------------------------------------------------------------------
def days_of(weather: Weather, first: date, count: int = 92) -> list[date]:
    return [first + timedelta(days=n) for n in range(count)
            if simulator.weather_of(first + timedelta(days=n)) is weather]


def run(day: date, days: int = 1, soc: int = 50, gateway_id: str = GATEWAY_ID) -> list[dict]:
    """The readings of whole JST days, from 00:05 of `day`."""
    first = datetime.combine(day, time(0, 5), JST).astimezone(timezone.utc)
    return list(simulator.simulate(gateway_id, UNITS, first,
                                   first + timedelta(days=days) - SLOT, soc))


def hour(reading: dict) -> float:
    """The JST hour at the middle of the reading's 5 minutes."""
    start = datetime.fromisoformat(reading["timestamp"]) - SLOT / 2
    return start.hour + start.minute / 60


def watts(reading: dict, name: str) -> int:
    return round(reading[name] * 1000)


def charge(reading: dict) -> int:
    return watts(reading, "battery_kw") if reading["battery_state"] == "charging" else 0


def discharge(reading: dict) -> int:
    return watts(reading, "battery_kw") if reading["battery_state"] == "discharging" else 0


def monitored(gateway_id=GATEWAY_ID, registered=NOW - timedelta(days=40), units=2,
              status=GatewayStatus.ACTIVE, owner=None) -> Gateway:
    owner = owner or make_owner()
    gateway = make_gateway(owner, gateway_id, status=status)
    gateway.registered_at = registered
    db.session.commit()
    add_units(gateway, units)
    return gateway


def stored(gateway: Gateway) -> list[Reading]:
    db.session.expire_all()
    return list(db.session.scalars(select(Reading).where(Reading.gateway_id == gateway.id)
                                   .order_by(Reading.ts)))


def rollups(gateway: Gateway) -> list[tuple]:
    db.session.expire_all()
    rows = []
    for model, key in ((DailyEnergy, DailyEnergy.day), (MonthlyEnergy, MonthlyEnergy.month)):
        for row in db.session.scalars(select(model).where(model.gateway_id == gateway.id)
                                      .order_by(key)):
            rows.append((model.__name__, getattr(row, key.key), row.slots, row.pv_wsum,
                         row.load_wsum, row.sell_wsum, row.buy_wsum, row.charge_wsum,
                         row.discharge_wsum))
    return rows


# -- realism -------------------------------------------------------------------------------
def test_no_generation_at_night_and_daylight_follows_the_season():
    def daylight(day: date) -> tuple[float, float]:
        plan = simulator.day_plan(GATEWAY_ID, day)
        generating = [index for index, pv in enumerate(plan.pv_w) if pv > 0]
        return generating[0] * 5 / 60, (generating[-1] + 1) * 5 / 60

    june, december = daylight(date(2026, 6, 21)), daylight(date(2026, 12, 21))
    assert 4.0 <= june[0] <= 5.0 and 18.5 <= june[1] <= 19.5        # sunrise 4:25, sunset 19:00
    assert 6.5 <= december[0] <= 7.2 and 16.2 <= december[1] <= 16.9  # 6:47 and 16:32
    for reading in run(date(2026, 7, 1), days=7) + run(date(2026, 12, 1), days=7):
        if hour(reading) < 4 or hour(reading) > 19.5:
            assert reading["pv_kw"] == 0 and reading["sell_kw"] == 0, reading


def test_sunny_summer_day_peaks_near_noon_and_sells_around_noon():
    day = days_of(Weather.SUNNY, date(2026, 7, 1))[1]
    readings = run(day - timedelta(days=1), days=2)[288:]
    peak = max(readings, key=lambda r: r["pv_kw"])
    assert 10.5 <= hour(peak) <= 13.0
    assert peak["pv_kw"] >= 0.6 * simulator.system_watts(GATEWAY_ID) / 1000
    around_noon = [r for r in readings if 11 <= hour(r) <= 14]
    assert sum(r["sell_kw"] for r in around_noon) / 12 > 1.0  # kWh sold around noon
    assert 10 <= hour(max(readings, key=lambda r: r["sell_kw"])) <= 15
    for reading in readings:  # the battery comes first: sold when it is full or at max
        if watts(reading, "sell_kw") >= simulator.MIN_BATTERY_W:
            assert reading["soc"] >= 95 or charge(reading) == simulator.BATTERY_MAX_W, reading
    states = {r["battery_state"] for r in readings}
    assert {"charging", "discharging"} <= states


def test_the_battery_covers_the_evening_then_the_house_buys_at_night():
    readings = run(date(2026, 5, 1), days=14)
    evening = [r for r in readings if 18 <= hour(r) <= 22]
    night = [r for r in readings if hour(r) < 5]
    assert sum(1 for r in evening if r["battery_state"] == "discharging") > len(evening) / 2
    assert sum(r["buy_kw"] for r in night) / 12 > 5  # kWh bought after midnight in 2 weeks
    previous_soc = 50
    for reading in readings:
        if reading["pv_kw"] == 0:
            assert reading["sell_kw"] == 0
            if reading["buy_kw"] > 0:  # only once the battery is at the reserve, or at max
                assert (previous_soc <= simulator.RESERVE_SOC + 2
                        or discharge(reading) == simulator.BATTERY_MAX_W), reading
        previous_soc = reading["soc"]


def test_energy_balance_soc_and_units_are_consistent():
    readings = run(date(2026, 3, 1), days=31, soc=50)
    previous = 50
    days_charging, days_discharging = set(), set()
    for reading in readings:
        flows_in = watts(reading, "pv_kw") + watts(reading, "buy_kw") + discharge(reading)
        flows_out = watts(reading, "load_kw") + watts(reading, "sell_kw") + charge(reading)
        assert flows_in == flows_out, reading
        assert not (reading["sell_kw"] and reading["buy_kw"])
        for name in ("pv_kw", "load_kw", "battery_kw", "sell_kw", "buy_kw"):
            assert 0 <= reading[name] <= 100
        assert 0 <= reading["soc"] <= 100
        change = reading["soc"] - previous
        energy = reading["battery_kw"] * simulator.SLOT_HOURS / (simulator.BATTERY_WH / 1000)
        if reading["battery_state"] == "charging":
            assert 0 <= change and abs(change - energy * simulator.EFFICIENCY * 100) < 1
            days_charging.add(reading["timestamp"][:10])
        elif reading["battery_state"] == "discharging":
            assert change <= 0 and abs(-change - energy / simulator.EFFICIENCY * 100) < 1
            days_discharging.add(reading["timestamp"][:10])
        else:
            assert change == 0 and reading["battery_kw"] == 0
        previous = reading["soc"]
        assert [u["unit"] for u in reading["units"]] == list(UNITS)
        expected = "normal" if reading["pv_kw"] or reading["battery_kw"] else "standby"
        assert {u["status"] for u in reading["units"]} == {expected}
    assert len(days_charging & days_discharging) >= 25  # a typical day does both


def test_cloudy_and_rainy_days_generate_clearly_less_than_sunny_ones():
    def mean_kwh(days):
        assert days, "the season has days of this weather"
        return sum(simulator.day_plan(GATEWAY_ID, day).pv_kwh for day in days) / len(days)

    first = date(2026, 4, 1)
    sunny = mean_kwh(days_of(Weather.SUNNY, first))
    assert mean_kwh(days_of(Weather.PARTLY_CLOUDY, first)) < 0.9 * sunny
    assert mean_kwh(days_of(Weather.CLOUDY, first)) < 0.55 * sunny
    assert mean_kwh(days_of(Weather.RAINY, first)) < 0.25 * sunny
    sunny_days = [simulator.day_plan(GATEWAY_ID, d).pv_kwh for d in days_of(Weather.SUNNY, first)]
    assert all(simulator.day_plan(GATEWAY_ID, d).pv_kwh < min(sunny_days)
               for d in days_of(Weather.RAINY, first) + days_of(Weather.CLOUDY, first))
    # a plausible mix: the rainy season in June, sunny dry winters
    june = [simulator.weather_of(date(year, 6, d)) for year in (2025, 2026) for d in range(1, 31)]
    january = [simulator.weather_of(date(year, 1, d)) for year in (2025, 2026)
               for d in range(1, 32)]
    assert june.count(Weather.SUNNY) < january.count(Weather.SUNNY)
    assert june.count(Weather.RAINY) > january.count(Weather.RAINY)
    assert 4 <= simulator.system_watts(GATEWAY_ID) / 1000 <= 7
    assert len({simulator.system_watts(f"01AB{n:08d}") for n in range(40)}) > 10


def test_same_gateway_same_values_fed_at_once_or_slot_by_slot():
    at_once = run(date(2026, 8, 3), days=2, soc=42)
    assert at_once == run(date(2026, 8, 3), days=2, soc=42)
    soc, one_by_one = 42, []
    for reading in at_once:  # resuming from each stored reading gives the same next one
        ts = datetime.fromisoformat(reading["timestamp"])
        [following] = simulator.simulate(GATEWAY_ID, UNITS, ts, ts, soc)
        one_by_one.append(following)
        soc = following["soc"]
    assert one_by_one == at_once
    assert run(date(2026, 8, 3), gateway_id="02CD00000002") != at_once[:288]


def test_a_fault_reports_the_error_and_costs_that_units_generation():
    first = datetime(2026, 8, 3, 3, 0, tzinfo=timezone.utc)  # 12:00 JST
    healthy = list(simulator.simulate(GATEWAY_ID, UNITS, first, first + SLOT * 5, 60))
    faulty = list(simulator.simulate(GATEWAY_ID, UNITS, first, first + SLOT * 5, 60,
                                     {2: "E201"}))
    for good, bad in zip(healthy, faulty):
        assert bad["units"] == [{"unit": 1, "status": "normal", "error_code": None},
                                {"unit": 2, "status": "error", "error_code": "E201"}]
        assert bad["pv_kw"] == pytest.approx(good["pv_kw"] / 2, abs=0.001)


# -- feeding through telemetry.ingest ----------------------------------------------------
def test_backfill_is_accepted_and_feeding_again_stores_nothing_twice(app):
    gateway = monitored()
    result = simulator.feed(gateway, days=30, now=NOW)
    assert result.rejected == [] and result.duplicates == 0
    assert result.accepted == 30 * 288 + 1
    assert (result.first, result.last) == (simulator.floor_slot(NOW - timedelta(days=30)),
                                           simulator.floor_slot(NOW))
    readings = stored(gateway)
    assert len(readings) == result.accepted and readings[-1].soc == result.soc
    db.session.expire_all()
    assert gateway.last_reading_at == simulator.floor_slot(NOW)
    assert gateway.first_report_at == result.first  # the back-filled history's start
    before = rollups(gateway)
    assert [row[2] for row in before if row[0] == "DailyEnergy"][1:-1] == [288] * 29
    assert sum(row[3] for row in before if row[0] == "DailyEnergy") == sum(
        r.pv_w for r in readings)

    again = simulator.feed(gateway, days=30, now=NOW)
    assert (again.accepted, again.first) == (0, None)
    regenerated = list(simulator.simulate(GATEWAY_ID, UNITS, result.first, result.last,
                                          _initial(result)))
    resent = telemetry.ingest(gateway, regenerated, now=NOW)
    assert (resent.accepted, resent.duplicates, resent.rejected) == (0, len(readings), [])
    assert rollups(gateway) == before and len(stored(gateway)) == len(readings)
    assert [(r.ts, r.pv_w, r.soc) for r in readings] == [
        (datetime.fromisoformat(raw["timestamp"]).astimezone(timezone.utc),
         round(raw["pv_kw"] * 1000), raw["soc"]) for raw in regenerated]


def test_feeding_starts_at_the_registration_and_continues_the_battery(app):
    registered = NOW - timedelta(hours=30, minutes=2)
    gateway = monitored(registered=registered)
    first = simulator.feed(gateway, days=30, now=NOW)
    assert first.first == simulator.ceil_slot(registered) >= registered
    later = NOW + timedelta(hours=6)
    second = simulator.feed(gateway, days=30, now=later)
    assert second.first == first.last + SLOT and second.rejected == []
    readings = stored(gateway)
    assert len(readings) == first.accepted + second.accepted
    in_one_go = list(simulator.simulate(GATEWAY_ID, UNITS, first.first, second.last,
                                        _initial(first)))
    assert [(r.ts, r.soc, r.pv_w, r.buy_w) for r in readings] == [
        (datetime.fromisoformat(raw["timestamp"]).astimezone(timezone.utc), raw["soc"],
         round(raw["pv_kw"] * 1000), round(raw["buy_kw"] * 1000)) for raw in in_one_go]


def _initial(result) -> int:
    return simulator.initial_soc(GATEWAY_ID, telemetry.local_day(result.first))


def test_a_gap_longer_than_days_is_not_filled_and_retired_gateways_are_refused(app):
    gateway = monitored()
    simulator.feed(gateway, days=1, now=NOW - timedelta(days=10))
    result = simulator.feed(gateway, days=2, now=NOW)
    assert result.first == simulator.floor_slot(NOW - timedelta(days=2))
    gateway.status = GatewayStatus.RETIRED
    db.session.commit()
    with pytest.raises(ValueError, match="retired"):
        simulator.feed(gateway, now=NOW)
    with pytest.raises(ValueError, match="no unit 3"):
        simulator.check_feedable(monitored("01AB00000002", owner=gateway_owner(gateway)),
                                 Fault(3, "E201"))


def gateway_owner(gateway: Gateway):
    from models.account import Account

    return db.session.get(Account, gateway.owner_id)


def test_a_fault_opens_an_alert_and_lasts_until_recovered(app):
    gateway = monitored()
    simulator.feed(gateway, days=1, now=NOW)
    faulty = simulator.feed(gateway, now=NOW + timedelta(minutes=10), fault=Fault(2, "E201"))
    assert faulty.accepted == 2 and faulty.faults == {2: "E201"}
    [alert] = db.session.scalars(select(GatewayAlert)).all()
    assert (alert.kind, alert.error_codes, alert.ended_at) == ("error", "2:E201", None)
    assert len(outbox("owner@example.com", "gateway_alert")) == 1
    # the unit stays in error in later feeds (also the in-process one of `make run`)
    simulator.feed(gateway, now=NOW + timedelta(minutes=20))
    assert stored(gateway)[-1].error_codes == ["2:E201"]
    recovered = simulator.feed(gateway, now=NOW + timedelta(minutes=30), recover=True)
    assert recovered.faults == {} and stored(gateway)[-1].has_error is False
    db.session.expire_all()
    assert alert.ended_at is not None and alert.ended_by == "recovered"
    assert len(outbox("owner@example.com", "gateway_recovered")) == 1


# -- the command ---------------------------------------------------------------------------
def test_command_backfills_the_demo_gateway(app, runner):
    seed_demo_data()
    seed_demo_data()
    gateway = db.session.scalar(select(Gateway).where(Gateway.gateway_id == GATEWAY_ID))
    assert DEMO_MONITORED_IDS == (GATEWAY_ID,)
    assert gateway.status == GatewayStatus.ACTIVE and gateway.site_name == "山田様邸"
    assert gateway.prefecture == "東京都"
    assert [(u.unit_no, u.serial) for u in gateway.units] == [
        (1, "DM000101"), (2, "DM000102")]
    assert timedelta(days=39) < utcnow() - gateway.registered_at < timedelta(days=41)
    assert credentials.authenticate(GATEWAY_ID, DEMO_MONITORED_GATEWAY["api_key"]).id == gateway.id
    [link] = db.session.scalars(select(DealerLink).where(DealerLink.gateway_id == gateway.id))
    assert link.dealer.dealer_code == "4001"

    result = runner.invoke(args=["gateways", "simulate", "--days", "2"])
    assert result.exit_code == 0, result.output
    assert f"{GATEWAY_ID}: 577 readings" in result.output
    count = len(stored(gateway))
    assert count == 577
    assert simulator.floor_slot(utcnow()) - stored(gateway)[-1].ts <= SLOT
    again = runner.invoke(args=["gateways", "simulate", "--days", "2"])
    assert again.exit_code == 0 and len(stored(gateway)) - count <= 1  # a new slot at most


def test_command_refuses_unknown_and_unregistered_gateways(app, runner):
    owner = make_owner()
    unregistered = make_gateway(None, "01AB12345678", status=GatewayStatus.UNREGISTERED)
    retired = make_gateway(owner, "01AB12345679", status=GatewayStatus.RETIRED)
    for gateway in (unregistered, retired):
        add_units(gateway)
    for args, message in ((["--gateway", "01ZZ99999999"], "no gateway 01ZZ99999999"),
                          (["--gateway", "01ab-1234-5678"], "01AB12345678 is unregistered"),
                          (["--gateway", "01AB12345679"], "01AB12345679 is retired"),
                          ([], f"no gateway {GATEWAY_ID}")):
        result = runner.invoke(args=["gateways", "simulate", *args])
        assert result.exit_code == 1 and message in result.output, result.output
    for args in (["--rounds", "2"], ["--all-registered", "--gateway", "01AB12345678"],
                 ["--error-code", "E 2!"], ["--error-code", "E201", "--recover"]):
        assert runner.invoke(args=["gateways", "simulate", *args]).exit_code == 2
    assert db.session.scalar(select(func.count()).select_from(Reading)) == 0


def test_all_registered_feeds_active_gateways_and_only_in_development(make_app):
    production = make_app(TESTING=False, DEVELOPMENT=False)
    with production.app_context():
        owner = make_owner()
        active = monitored(registered=utcnow() - timedelta(hours=1), owner=owner)
        monitored("01AB00000002", status=GatewayStatus.PROVISIONAL, owner=owner)
        for args in (["--all-registered"], []):  # nor the demo gateway's ID by default
            result = production.test_cli_runner().invoke(args=["gateways", "simulate", *args])
            assert result.exit_code == 1 and "development only" in result.output
        assert stored(active) == []
    development = make_app(DEVELOPMENT=True, TESTING=False)
    with development.app_context():
        result = development.test_cli_runner().invoke(
            args=["gateways", "simulate", "--all-registered"])
        assert result.exit_code == 0, result.output
        active, provisional = (db.session.scalar(select(Gateway).where(
            Gateway.gateway_id == gateway_id)) for gateway_id in (GATEWAY_ID, "01AB00000002"))
        assert 11 <= len(stored(active)) <= 13 and stored(provisional) == []
        assert stored(active)[0].ts >= active.registered_at


def test_error_code_option_reports_the_fault_and_opens_an_alert(app, runner):
    gateway = monitored(registered=utcnow() - timedelta(hours=2))
    result = runner.invoke(args=["gateways", "simulate", "--gateway", GATEWAY_ID,
                                 "--error-code", "e201", "--unit", "2"])
    assert result.exit_code == 0 and "in error: unit 2 E201" in result.output, result.output
    readings = stored(gateway)
    assert len(readings) >= 23 and all(r.error_codes == ["2:E201"] for r in readings)
    [alert] = db.session.scalars(select(GatewayAlert).where(GatewayAlert.ended_at.is_(None)))
    assert (alert.kind, alert.error_codes) == ("error", "2:E201")
    wrong_unit = runner.invoke(args=["gateways", "simulate", "--gateway", GATEWAY_ID,
                                     "--error-code", "E201", "--unit", "3"])
    assert wrong_unit.exit_code == 1 and "no unit 3" in wrong_unit.output


def test_live_round_adds_the_newest_slot(app, runner):
    gateway = monitored()
    simulator.feed(gateway, days=1, now=utcnow() - timedelta(minutes=15))
    behind = stored(gateway)[-1].ts
    before = simulator.floor_slot(utcnow())
    result = runner.invoke(args=["gateways", "simulate", "--gateway", GATEWAY_ID, "--live",
                                 "--rounds", "1"])
    assert result.exit_code == 0, result.output
    newest = stored(gateway)[-1]
    assert newest.ts >= before > behind and f"{GATEWAY_ID}: " in result.output
    assert len(stored(gateway)) == 288 + 1 + (newest.ts - behind) // SLOT


# -- the development feed of `make run` ---------------------------------------------------
class OneRound:
    """A stop event that lets run_simulator do exactly one round, without waiting."""

    def __init__(self):
        self.waits = 0

    def wait(self, _timeout=None) -> bool:
        self.waits += 1
        return self.waits > 1


def test_background_feed_starts_a_new_registration_at_its_registration(app):
    owner = make_owner()
    registered = utcnow() - timedelta(minutes=12)
    fresh = monitored(registered=registered, owner=owner)
    slip = make_gateway(None, "01AB12345678", status=GatewayStatus.UNREGISTERED)
    add_units(slip)
    db.session.commit()  # the feed works in its own app context and session
    run_simulator(app, OneRound())
    readings = stored(fresh)
    assert 2 <= len(readings) <= 3 and readings[0].ts >= registered
    assert stored(slip) == []


def test_create_app_starts_the_feed_in_development_only(make_app):
    assert "gateway_simulator_stop" not in make_app(
        GATEWAY_SIMULATOR_IN_PROCESS=True).extensions
    development = make_app(GATEWAY_SIMULATOR_IN_PROCESS=True, DEVELOPMENT=True)
    development.extensions["gateway_simulator_stop"].set()


def test_a_fault_asked_by_hand_goes_into_the_next_slot_whoever_feeds_it(app, runner):
    """Under `make run` the in-process feed usually writes the next slot before a command
    started by hand: the fault asked for must be in that slot all the same (the request
    waits in the instance folder, which both processes share)."""
    gateway = monitored(registered=utcnow() - timedelta(hours=2), owner=make_owner())
    simulator.feed(gateway)                       # up to date: no slot is due now
    result = runner.invoke(args=["gateways", "simulate", "--gateway", GATEWAY_ID,
                                 "--error-code", "E201", "--unit", "2"])
    assert result.exit_code == 0, result.output
    newest = stored(gateway)[-1]
    if newest.has_error:                          # a slot fell due in between: fed at once
        pending_left = {}
    else:
        assert "next 5-minute slot" in result.output
        assert simulator._read_pending(app.instance_path) == {
            GATEWAY_ID: {"unit": 2, "code": "E201"}}
        # Five minutes later make run's feed writes the next slot, with the fault.
        fed = simulator.feed_asked(gateway, app.instance_path,
                                   now=utcnow() + timedelta(minutes=5))
        assert fed.accepted >= 1 and stored(gateway)[-1].error_codes == ["2:E201"]
        pending_left = simulator._read_pending(app.instance_path)
    assert pending_left == {}
    alert = db.session.scalar(select(GatewayAlert))
    assert (alert.kind, alert.error_codes, alert.ended_at) == ("error", "2:E201", None)
