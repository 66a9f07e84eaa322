"""`flask --app app seed fleet` and `generate_fleet()`: a fleet of the asked size on top
of the demo data, whose sample's rollups are the sums of its readings; development only,
after `seed demo`."""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from blueprints.core.registry import seed_demo
from blueprints.gateways.credentials import authenticate
from blueprints.gateways.fleet import FLEET_DOMAIN, FleetError, FleetSize, generate_fleet
from models import JST, db
from models.account import Account, Company
from models.gateway import Dealer, DealerLink, Gateway, GatewayStatus, PcsUnit
from models.telemetry import (SUM_COLUMNS, DailyEnergy, GatewayAlert, MonthlyEnergy,
                              Reading)

SMALL = FleetSize(owners=12, gateways=15, dealers=4, big_dealer=6, sample=2,
                  alert_share=0.2, api_keys=3)
# 12:02 in Japan: 144 slots of the day have ended
NOW = datetime(2026, 11, 20, 3, 2, tzinfo=timezone.utc)
TABLES = (Account, Company, Dealer, Gateway, PcsUnit, DealerLink, GatewayAlert, Reading,
          DailyEnergy, MonthlyEnergy)


def counts() -> dict:
    return {model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
            for model in TABLES}


def big_dealer() -> Dealer:
    admin = db.session.scalar(select(Account).where(Account.email == "dealer@example.com"))
    return db.session.scalar(select(Dealer).where(Dealer.company_id == admin.company_id))


def fleet_gateways() -> list[Gateway]:
    return db.session.scalars(select(Gateway).where(Gateway.gateway_id.like("02FL%"))
                              .order_by(Gateway.id)).all()


def test_fleet_adds_rows_of_every_table_in_the_asked_sizes(app):
    seed_demo()
    before = counts()
    result = generate_fleet(SMALL, now=NOW)
    after = counts()
    added = {name: after[name] - before[name] for name in after}

    assert added["account"] == 12 + 4          # owners, and each dealer's administrator
    assert added["company"] == added["dealer"] == 4
    assert added["gateway"] == 15 and added["pcs_unit"] == 30
    assert added["gateway_alert"] == 3          # 20 % of 15
    assert added["gateway_reading"] == 2 * (7 * 288 + 144)
    assert added["gateway_daily_energy"] == 2 * 366   # a year back, and today
    assert added["gateway_monthly_energy"] == 2 * 13
    assert {name: count for name, count in result.counts.items()} == {
        name: added[name] for name in result.counts}
    # about 2 links per gateway, at most 5 per gateway, the big dealer's 6 among them
    assert 20 <= added["dealer_link"] <= 40
    per_gateway = Counter(db.session.scalars(
        select(DealerLink.gateway_id).join(Gateway).where(Gateway.gateway_id.like("02FL%"))))
    assert max(per_gateway.values()) <= 5
    linked_to_big = db.session.scalars(
        select(Gateway.gateway_id).join(DealerLink)
        .where(DealerLink.dealer_id == big_dealer().id, Gateway.gateway_id.like("02FL%"))).all()
    assert len(linked_to_big) == 6
    # what seed demo made is still there, unchanged
    assert db.session.scalar(select(Gateway).where(Gateway.gateway_id == "01AB00000001"))


def test_fleet_rows_are_unique_realistic_and_usable(app):
    seed_demo()
    result = generate_fleet(SMALL, now=NOW)

    owners = db.session.scalars(select(Account).where(
        Account.email.like(f"%@{FLEET_DOMAIN}"))).all()
    emails = [owner.email for owner in owners]
    assert len(set(emails)) == len(emails) == 16
    numbers = db.session.scalars(select(Account.customer_number)).all()
    assert len(set(numbers)) == len(numbers) and all(re.fullmatch(r"[1-9]\d{9}", n)
                                                     for n in numbers)
    assert all(owner.activated_at is not None and owner.family_name for owner in owners)
    admins = [owner for owner in owners if owner.company_id is not None]
    assert len(admins) == 4 and all(admin.is_company_admin for admin in admins)

    gateways = fleet_gateways()
    assert all(re.fullmatch(r"[0-9A-Z]{12}", g.gateway_id) for g in gateways)
    assert all(g.site_name.endswith("様邸") and g.prefecture and g.owner_id for g in gateways)
    assert Counter(g.status for g in gateways)[GatewayStatus.ACTIVE] >= 12
    assert all([unit.unit_no for unit in g.units] == [1, 2] for g in gateways)
    codes = db.session.scalars(select(Dealer.dealer_code)).all()
    assert len(set(codes)) == len(codes)
    # owners ≈ gateways / 1.2: every owner has one or two
    assert set(Counter(g.owner_id for g in gateways).values()) <= {1, 2}

    # the keys given back open the gateway API (stored hashed like any other key)
    assert len(result.api_keys) == 3
    for gateway_id, key in result.api_keys:
        assert authenticate(gateway_id, key).gateway_id == gateway_id
        assert authenticate(gateway_id, key + "x") is None


def test_sample_has_a_year_of_rollups_that_its_readings_add_up_to(app):
    seed_demo()
    generate_fleet(SMALL, now=NOW)
    sampled = db.session.scalars(select(Reading.gateway_id).distinct()
                                 .join(Gateway).where(Gateway.gateway_id.like("02FL%"))).all()
    assert len(sampled) == 2
    for gateway_pk in sampled:
        sums: dict = defaultdict(lambda: dict.fromkeys(SUM_COLUMNS, 0))
        readings = db.session.scalars(select(Reading).where(Reading.gateway_id == gateway_pk)
                                      .order_by(Reading.ts)).all()
        for reading in readings:
            day = (reading.ts - timedelta(minutes=5)).astimezone(JST).date()
            row = sums[day]
            row["slots"] += 1
            row["pv_wsum"] += reading.pv_w
            row["load_wsum"] += reading.load_w
            row["sell_wsum"] += reading.sell_w
            row["buy_wsum"] += reading.buy_w
            row["self_wsum"] += max(0, reading.pv_w - reading.sell_w)
            row["supplied_wsum"] += max(0, reading.load_w - reading.buy_w)
            row["charge_wsum"] += reading.battery_w if reading.battery_state == "charging" else 0
            row["discharge_wsum"] += (reading.battery_w
                                      if reading.battery_state == "discharging" else 0)
        assert len(sums) == 8  # the last 7 days and today
        assert readings[-1].ts == NOW.replace(minute=0)
        days = {day.day: day for day in db.session.scalars(
            select(DailyEnergy).where(DailyEnergy.gateway_id == gateway_pk))}
        for day, expected in sums.items():
            assert {name: getattr(days[day], name) for name in SUM_COLUMNS} == expected
        assert sum(day.pv_wsum for day in days.values()) > 0
        # the months are the sums of their days
        for month in db.session.scalars(
                select(MonthlyEnergy).where(MonthlyEnergy.gateway_id == gateway_pk)):
            in_month = [day for key, day in days.items()
                        if key.replace(day=1) == month.month]
            assert month.pv_wsum == sum(day.pv_wsum for day in in_month)
            assert month.slots == sum(day.slots for day in in_month)
        gateway = db.session.get(Gateway, gateway_pk)
        assert gateway.last_reading_at == readings[-1].ts


def test_the_fleet_needs_the_demo_data_and_comes_once(app):
    with pytest.raises(FleetError, match="seed demo"):
        generate_fleet(SMALL, now=NOW)
    seed_demo()
    generate_fleet(SMALL, now=NOW)
    before = counts()
    with pytest.raises(FleetError, match="already"):
        generate_fleet(SMALL, now=NOW)
    assert counts() == before


def test_command_joins_the_seed_group_and_writes_keys(app, runner, tmp_path, monkeypatch):
    monkeypatch.setenv("ENELINK_ENV", "development")
    listed = runner.invoke(args=["seed", "--help"]).output
    assert "demo" in listed and "fleet" in listed

    refused = runner.invoke(args=["seed", "fleet", "--gateways", "10"])
    assert refused.exit_code != 0 and "seed demo" in refused.output
    assert runner.invoke(args=["seed", "demo"]).exit_code == 0

    keys = tmp_path / "keys.csv"
    done = runner.invoke(args=["seed", "fleet", "--gateways", "10", "--sample", "1",
                               "--api-keys", str(keys), "--keys", "4"])
    assert done.exit_code == 0, done.output
    assert "gateway 10" in done.output
    # defaults follow the gateways: owners = gateways / 1.2, a quarter to the big dealer
    assert len(fleet_gateways()) == 10
    assert db.session.scalar(select(func.count()).select_from(Account).where(
        Account.email.like("owner%@" + FLEET_DOMAIN))) == 8
    assert db.session.scalar(select(func.count()).select_from(DealerLink).where(
        DealerLink.dealer_id == big_dealer().id)) >= 2
    lines = keys.read_text().splitlines()
    assert len(lines) == 4 and keys.stat().st_mode & 0o777 == 0o600
    gateway_id, key = lines[0].split(",")
    assert authenticate(gateway_id, key) is not None


def test_command_refuses_outside_development(app, runner, monkeypatch):
    monkeypatch.delenv("ENELINK_ENV", raising=False)
    seed_demo()
    before = counts()
    refused = runner.invoke(args=["seed", "fleet", "--gateways", "10"])
    assert refused.exit_code != 0 and "outside development" in refused.output
    assert counts() == before


@pytest.mark.parametrize("scale", [1, 10])
def test_fleet_fixture_builds_1x_and_10x(fleet, scale):
    """The `fleet` fixture other tests use to compare 1x and 10x data."""
    result = fleet(scale)
    assert result.counts["gateway"] == 40 * scale
    assert db.session.scalar(select(func.count()).select_from(DealerLink).where(
        DealerLink.dealer_id == big_dealer().id)) == 10 * scale + 1  # + the demo gateway
