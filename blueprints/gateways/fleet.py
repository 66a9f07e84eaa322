"""`flask --app app seed fleet`: a realistic fleet for measuring the portal at scale.

Development only, after `seed demo`. It adds, with bulk inserts (SQLAlchemy Core
executemany in chunks; COPY on PostgreSQL), and touches nothing `seed demo` made except
linking gateways to the demo dealer:

* owners: activated personal accounts with Japanese names (surnames as common as in
  Japan: `fleet_names`) and unique addresses on the reserved domain `fleet.example.jp`,
  all with one precomputed password hash (the demo password);
* gateways (12-character IDs `02FL…`), each with 2 PCS units, a site (案件名 「山田様邸」)
  and an address, mostly active (a few provisional), owners ≈ gateways / 1.2;
* dealer companies, each with an administrator account (販売店ID from 700001, a phone),
  about 2 dealer links per gateway on average, and `dealer@example.com`'s company (the
  demo dealer) linked to `big_dealer` gateways;
* open alerts on about 1 % of the gateways, so that the console's "alerts first" matters;
* a sample of gateways with a year of daily and monthly rollups and the last week of
  5-minute readings (whose sums are those of the rollups of their days);
* API keys: every gateway has one (stored hashed, as issued slips do); the keys of
  `api_keys` gateways outside the sample (which have no readings, so any recent
  timestamp is new) are returned so that a bench can post as them.

`generate_fleet(FleetSize(...))` is the one way in, for the command and for tests that
need 1x / 10x data. The data is deterministic for a given `seed` (except API keys and
the times, which follow the clock)."""
from __future__ import annotations

import json
import math
import os
import random
import secrets
import time as clock
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import click
from flask.cli import with_appcontext
from sqlalchemy import func, insert, select, text

from blueprints.account.services import hash_password
from blueprints.gateways.credentials import _key_hash, new_api_key
from blueprints.gateways.fleet_names import surname
from models import JST, db, utcnow
from models.account import Account, AccountType, Company, CompanyRole
from models.gateway import Dealer, DealerLink, Gateway, GatewayStatus, PcsUnit
from models.telemetry import (SLOT, SUM_COLUMNS, DailyEnergy, GatewayAlert, MonthlyEnergy,
                              Reading)

FLEET_DOMAIN = "fleet.example.jp"
FLEET_PASSWORD = "Demo-Pass-2026!"  # the demo password (README), development only
BIG_DEALER_EMAIL = "dealer@example.com"
GATEWAY_PREFIX = "02FL"             # + 8 digits: 12 characters like the slips' IDs
DEALER_CODE_BASE = 700000
CHUNK = 5000
DAY_SLOTS = 288


class FleetError(click.ClickException):
    """The fleet cannot be generated (no demo data yet, or a fleet already there)."""


@dataclass(frozen=True)
class FleetSize:
    """How big a fleet: the defaults are `make bench`'s default fleet; the issue's full
    fleet is FleetSize(owners=100_000, gateways=120_000, dealers=3_000, big_dealer=5_000,
    sample=2_000)."""

    owners: int = 16_667
    gateways: int = 20_000
    dealers: int = 500
    big_dealer: int = 5_000
    sample: int = 200
    links_per_gateway: float = 2.0
    alert_share: float = 0.01
    api_keys: int = 0
    seed: int = 14

    def checked(self) -> FleetSize:
        if min(self.owners, self.gateways, self.dealers) < 1:
            raise FleetError("owners, gateways and dealers must be at least 1")
        if self.big_dealer > self.gateways:
            raise FleetError("--big-dealer cannot exceed --gateways")
        if self.sample > self.gateways:
            raise FleetError("--sample cannot exceed --gateways")
        if self.api_keys > self.gateways - self.sample:
            raise FleetError("--keys cannot exceed the gateways outside the sample")
        return self


@dataclass
class FleetResult:
    """What was made: row counts per table, seconds taken, and the API keys asked for
    as (gateway ID, key) pairs."""

    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    api_keys: list[tuple[str, str]] = field(default_factory=list)
    big_dealer_code: str = ""

    def lines(self) -> list[str]:
        parts = ", ".join(f"{name} {count:,}" for name, count in self.counts.items())
        return [f"Fleet: {parts} in {self.seconds:.1f} s",
                f"Big dealer: dealer@example.com (販売店ID {self.big_dealer_code})"]


# -- names and places ----------------------------------------------------------------------
GIVEN = [("太郎", "タロウ"), ("花子", "ハナコ"), ("健", "ケン"), ("陽菜", "ヒナ"),
         ("翔太", "ショウタ"), ("美咲", "ミサキ"), ("大輔", "ダイスケ"), ("結衣", "ユイ"),
         ("拓也", "タクヤ"), ("彩", "アヤ"), ("直樹", "ナオキ"), ("恵", "メグミ"),
         ("誠", "マコト"), ("由美", "ユミ"), ("剛", "ツヨシ"), ("愛", "アイ")]
PLACES = [("1000001", "東京都", "千代田区", "千代田"), ("1600022", "東京都", "新宿区", "新宿"),
          ("2200012", "神奈川県", "横浜市西区", "みなとみらい"),
          ("3300063", "埼玉県", "さいたま市浦和区", "高砂"), ("2600013", "千葉県", "千葉市中央区", "中央"),
          ("4600008", "愛知県", "名古屋市中区", "栄"), ("5300001", "大阪府", "大阪市北区", "梅田"),
          ("6008216", "京都府", "京都市下京区", "東塩小路町"), ("6500021", "兵庫県", "神戸市中央区", "三宮町"),
          ("8100001", "福岡県", "福岡市中央区", "天神"), ("0600001", "北海道", "札幌市中央区", "北一条西"),
          ("9800021", "宮城県", "仙台市青葉区", "中央"), ("7300011", "広島県", "広島市中区", "基町"),
          ("9000015", "沖縄県", "那覇市", "久茂地"), ("3800836", "長野県", "長野市", "南県町")]
COMPANY_WORDS = ["電設", "エナジー", "ソーラー", "住設", "電工", "ホーム", "設備", "エコ"]


def _person(rng: random.Random) -> tuple[str, str, str, str]:
    (family, family_kana), (given, given_kana) = surname(rng), rng.choice(GIVEN)
    return family, given, family_kana, given_kana


def _address(rng: random.Random, number: int) -> dict:
    postal, prefecture, city, town = rng.choice(PLACES)
    return dict(postal_code=postal, prefecture=prefecture, city=city,
                street=f"{town}{1 + number % 5}-{1 + number % 27}-{1 + number % 19}")


# -- bulk writing -------------------------------------------------------------------------
def _chunks(rows: Sequence, size: int = CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def _bulk(table, rows: list[dict]) -> int:
    """Insert `rows` into `table`: COPY on PostgreSQL, executemany in chunks elsewhere.
    Every row has the same keys (executemany would drop the keys the first row lacks)."""
    if not rows:
        return 0
    if len({len(rows[0]), len(rows[-1])}) != 1:
        raise ValueError(f"rows of {table.name} differ in their columns")
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        columns = list(rows[0])
        names = ", ".join(f'"{name}"' for name in columns)
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor, \
                cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row([json.dumps(value) if isinstance(value, (list, dict)) else value
                                for value in row.values()])
        return len(rows)
    for chunk in _chunks(rows):
        connection.execute(insert(table), list(chunk))
    return len(rows)


def _next_ids(model, count: int) -> list[int]:
    """`count` primary keys after the table's largest (the sequence is moved on after)."""
    start = (db.session.scalar(select(func.max(model.id))) or 0) + 1
    return list(range(start, start + count))


def _move_sequences(models) -> None:
    if db.session.connection().dialect.name != "postgresql":
        return
    for model in models:
        table = model.__tablename__
        db.session.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT coalesce(max(id), 1) FROM \"{table}\"))"))


# -- a plausible house --------------------------------------------------------------------
def _slot_powers(pv_scale: float, load_scale: float) -> list[tuple]:
    """The 288 readings of one day (slot s ends at 00:05 + 5 s min, Japan time) as
    (pv, load, battery, state, soc, sell, buy) in watts: panels peaking at noon, loads in
    the morning and evening, a battery that stores the surplus and covers the evening."""
    slots = []
    soc = 40.0
    for slot in range(DAY_SLOTS):
        hour = (slot + 0.5) / 12
        daylight = (hour - 5.5) / 13
        pv = 4500 * pv_scale * math.sin(math.pi * daylight) ** 1.5 if 0 < daylight < 1 else 0
        load = load_scale * (350 + 900 * math.exp(-((hour - 7.5) / 1.0) ** 2)
                             + 1400 * math.exp(-((hour - 19.5) / 1.8) ** 2))
        pv, load = int(pv), int(load)
        surplus = pv - load
        charge = discharge = 0
        if surplus > 0 and soc < 100:
            charge = min(surplus, 2500)
        elif surplus < 0 and soc > 10 and hour >= 16:
            discharge = min(-surplus, 2000)
        soc = min(100.0, max(5.0, soc + (charge - discharge) / 12 / 7400 * 100))
        state = "charging" if charge else "discharging" if discharge else "standby"
        slots.append((pv, load, charge or discharge, state, round(soc),
                      max(0, surplus - charge), max(0, -surplus - discharge)))
    return slots


def _day_sums(slots: list[tuple]) -> dict:
    sums = dict.fromkeys(SUM_COLUMNS, 0)
    for pv, load, battery, state, _soc, sell, buy in slots:
        sums["slots"] += 1
        sums["pv_wsum"] += pv
        sums["load_wsum"] += load
        sums["self_wsum"] += max(0, pv - sell)
        sums["supplied_wsum"] += max(0, load - buy)
        sums["sell_wsum"] += sell
        sums["buy_wsum"] += buy
        sums["charge_wsum"] += battery if state == "charging" else 0
        sums["discharge_wsum"] += battery if state == "discharging" else 0
    return sums


class _Profiles:
    """Days by (weather level, load level), computed once: a year of rollups for
    thousands of gateways costs a few thousand days of arithmetic, not millions."""

    def __init__(self):
        self._days: dict[tuple[int, int], tuple[list[tuple], dict]] = {}

    def day(self, pv_level: int, load_level: int) -> tuple[list[tuple], dict]:
        key = (pv_level, load_level)
        if key not in self._days:
            slots = _slot_powers(pv_level / 20, 0.6 + load_level / 10)
            self._days[key] = (slots, _day_sums(slots))
        return self._days[key]


def _pv_level(rng: random.Random, day: date, panel: float) -> int:
    season = math.cos(2 * math.pi * (day.timetuple().tm_yday - 172) / 365)
    return max(1, round(20 * panel * (0.8 + 0.2 * season) * rng.uniform(0.25, 1.0)))


# -- the fleet ----------------------------------------------------------------------------
def _big_dealer() -> Dealer:
    admin = db.session.scalar(select(Account).where(
        func.lower(Account.email) == BIG_DEALER_EMAIL))
    dealer = None if admin is None or admin.company_id is None else db.session.scalar(
        select(Dealer).where(Dealer.company_id == admin.company_id))
    if dealer is None:
        raise FleetError("run `flask --app app seed demo` first: the fleet's big dealer is "
                         f"{BIG_DEALER_EMAIL}'s company")
    return dealer


def generate_fleet(size: FleetSize, now: datetime | None = None) -> FleetResult:
    """Add a fleet of `size` to a database that has the demo data, and commit."""
    started = clock.monotonic()
    size = size.checked()
    now = now or utcnow()
    rng = random.Random(size.seed)
    big = _big_dealer()
    if db.session.scalar(select(Account.id).where(
            Account.email.like(f"%@{FLEET_DOMAIN}")).limit(1)) is not None:
        raise FleetError("a fleet is already there (accounts @" + FLEET_DOMAIN + ")")
    result = FleetResult(big_dealer_code=big.dealer_code)
    password_hash = hash_password(FLEET_PASSWORD)
    taken = set(db.session.scalars(select(Account.customer_number)))

    def customer_number() -> str:
        while True:
            number = str(rng.randrange(10**9, 10**10))
            if number not in taken:
                taken.add(number)
                return number

    # owners and the dealers' administrators (accounts), dealer companies
    owner_ids = _next_ids(Account, size.owners + size.dealers)
    admin_ids, owner_ids = owner_ids[size.owners:], owner_ids[:size.owners]
    company_ids = _next_ids(Company, size.dealers)
    dealer_ids = _next_ids(Dealer, size.dealers)
    accounts, companies, dealers = [], [], []
    for number, account_id in enumerate(owner_ids):
        family, given, family_kana, given_kana = _person(rng)
        accounts.append(dict(
            id=account_id, email=f"owner{number:06d}@{FLEET_DOMAIN}",
            customer_number=customer_number(), password_hash=password_hash,
            family_name=family, given_name=given, family_kana=family_kana,
            given_kana=given_kana, account_type=AccountType.PERSONAL.value, role="user",
            language="ja", **_address(rng, number), company_id=None, company_role=None,
            newsletter=False, terms_accepted_at=now,
            privacy_accepted_at=now, activated_at=now, password_changed_at=now,
            created_at=now))
    for number, (account_id, company_id, dealer_id) in enumerate(
            zip(admin_ids, company_ids, dealer_ids)):
        family, given, family_kana, given_kana = _person(rng)
        place = _address(rng, number)
        phone = f"03{number:08d}"
        companies.append(dict(
            id=company_id, name=f"株式会社{family}{COMPANY_WORDS[number % len(COMPANY_WORDS)]}"
                                f"{number + 1}", kind="販売店", **place,
            email=f"info{number:05d}@{FLEET_DOMAIN}", phone=phone, created_at=now,
            findable=True))
        accounts.append(dict(
            id=account_id, email=f"dealer{number:05d}@{FLEET_DOMAIN}",
            customer_number=customer_number(), password_hash=password_hash,
            family_name=family, given_name=given, family_kana=family_kana,
            given_kana=given_kana, account_type=AccountType.COMMERCIAL.value, role="user",
            language="ja", **place, company_id=company_id,
            company_role=CompanyRole.ADMIN.value, newsletter=False, terms_accepted_at=now,
            privacy_accepted_at=now, activated_at=now, password_changed_at=now,
            created_at=now))
        dealers.append(dict(id=dealer_id, company_id=company_id,
                            dealer_code=str(DEALER_CODE_BASE + number + 1), phone=phone,
                            created_at=now))
    result.counts["company"] = _bulk(Company.__table__, companies)
    result.counts["account"] = _bulk(Account.__table__, accounts)
    result.counts["dealer"] = _bulk(Dealer.__table__, dealers)

    # gateways, their units, API keys
    gateway_ids = _next_ids(Gateway, size.gateways)
    unit_ids = _next_ids(PcsUnit, 2 * size.gateways)
    sample = set(rng.sample(range(size.gateways), size.sample))
    keyed = [n for n in range(size.gateways) if n not in sample][:size.api_keys]
    keys = {n: new_api_key() for n in keyed}
    slip_hash = hash_password("fleetslip234")
    gateways, units, owner_of = [], [], {}
    newest_slot = now.replace(second=0, microsecond=0)
    newest_slot -= timedelta(minutes=newest_slot.minute % 5)
    for number, gateway_pk in enumerate(gateway_ids):
        # the first owners have two gateways, the others one (owners ≈ gateways / 1.2)
        owner = owner_ids[number % len(owner_ids)]
        owner_of[gateway_pk] = owner
        owner_account = accounts[number % len(owner_ids)]
        status = (GatewayStatus.PROVISIONAL if rng.random() < 0.03 else GatewayStatus.ACTIVE)
        registered = now - timedelta(days=rng.randint(30, 2000))
        last = (now - timedelta(minutes=rng.randint(0, 9)) if number not in sample
                else newest_slot)
        key = keys.get(number) or secrets.token_hex(16)
        gateway_code = f"{GATEWAY_PREFIX}{number:08d}"
        gateways.append(dict(
            id=gateway_pk, gateway_id=gateway_code, slip_password_hash=slip_hash,
            model=("GW-M001", "GW-M002", "GW-M003")[number % 3], status=status.value,
            owner_id=owner, site_name=f"{owner_account['family_name']}様邸",
            postal_code=owner_account["postal_code"],
            prefecture=owner_account["prefecture"], city=owner_account["city"],
            street=owner_account["street"], building=None,
            issued_at=registered - timedelta(days=30), registered_at=registered,
            first_report_at=registered, last_reading_at=last,
            api_key_hash=_key_hash(key), api_key_issued_at=registered - timedelta(days=30),
            operation_started_on=registered.astimezone(JST).date()))
        for unit_no in (1, 2):
            units.append(dict(id=unit_ids[2 * number + unit_no - 1], gateway_id=gateway_pk,
                              unit_no=unit_no, model="PCS-5K",
                              serial=f"F{2 * number + unit_no:07d}"))
        if number in keys:
            result.api_keys.append((gateway_code, keys[number]))
    result.counts["gateway"] = _bulk(Gateway.__table__, gateways)
    result.counts["pcs_unit"] = _bulk(PcsUnit.__table__, units)
    del accounts, gateways, units  # the full fleet's rows are a few hundred MB

    # dealer links: the big dealer's, then others at random (at most 5 per gateway)
    links = []
    big_links = set(rng.sample(gateway_ids, size.big_dealer))
    others = dealer_ids
    wanted = max(0, round(size.links_per_gateway * size.gateways) - size.big_dealer)
    mean_others = wanted / size.gateways
    for gateway_pk in gateway_ids:
        chosen = [big.id] if gateway_pk in big_links else []
        count = min(4, len(others), int(mean_others) + (rng.random() < mean_others % 1))
        chosen += rng.sample(others, count)
        for dealer_id in chosen:
            links.append(dict(gateway_id=gateway_pk, dealer_id=dealer_id,
                              linked_by_id=owner_of[gateway_pk],
                              linked_at=now - timedelta(minutes=rng.randint(10, 900_000))))
    result.counts["dealer_link"] = _bulk(DealerLink.__table__, links)
    del links

    # open alerts on about 1 % of the gateways
    alerts = []
    for gateway_pk in rng.sample(gateway_ids, round(size.alert_share * size.gateways)):
        kind = rng.choice(("error", "silent"))
        alerts.append(dict(gateway_id=gateway_pk, kind=kind,
                           started_at=now - timedelta(hours=rng.randint(1, 200)),
                           error_codes="1:E201" if kind == "error" else None))
    result.counts["gateway_alert"] = _bulk(GatewayAlert.__table__, alerts)

    # the sample: a year of rollups, a week of readings
    result.counts.update(_sample_history(rng, [gateway_ids[n] for n in sorted(sample)], now))
    _move_sequences((Account, Company, Dealer, Gateway, PcsUnit))
    db.session.commit()
    result.seconds = clock.monotonic() - started
    return result


def _sample_history(rng: random.Random, gateway_pks: list[int], now: datetime) -> dict:
    """A year of daily and monthly rollups for each sampled gateway and the readings of
    its last 7 days and of today up to now: the rollups of those days are the sums of
    their readings. Readings are written gateway by gateway to keep memory flat."""
    today = now.astimezone(JST).date()
    midnight = datetime.combine(today, time(), JST)
    slots_today = int((now - midnight) / SLOT)  # slots that have ended today
    days = [today - timedelta(days=back) for back in range(365, -1, -1)]
    read_from = today - timedelta(days=7)
    profiles = _Profiles()
    counts = {"gateway_reading": 0, "gateway_daily_energy": 0, "gateway_monthly_energy": 0}
    daily, monthly = [], []
    units = [{"unit": 1, "status": "normal", "error_code": None},
             {"unit": 2, "status": "normal", "error_code": None}]
    for gateway_pk in gateway_pks:
        panel, load_level = rng.uniform(0.7, 1.2), rng.randint(2, 8)
        months: dict[date, dict] = {}
        readings = []
        for day in days:
            slots, sums = profiles.day(_pv_level(rng, day, panel), load_level)
            if day == today:
                slots = slots[:slots_today]
                sums = _day_sums(slots)
                if not slots:
                    continue
            if day >= read_from:
                start = datetime.combine(day, time(), JST)
                for slot, (pv, load, battery, state, soc, sell, buy) in enumerate(slots):
                    readings.append(dict(
                        gateway_id=gateway_pk, ts=start + (slot + 1) * SLOT, pv_w=pv,
                        load_w=load, battery_w=battery, battery_state=state, soc=soc,
                        sell_w=sell, buy_w=buy, units=units, has_error=False,
                        received_at=now))
            daily.append(dict(gateway_id=gateway_pk, day=day, **sums))
            month = months.setdefault(day.replace(day=1), dict.fromkeys(SUM_COLUMNS, 0))
            for name in SUM_COLUMNS:
                month[name] += sums[name]
        monthly.extend(dict(gateway_id=gateway_pk, month=month, **sums)
                       for month, sums in months.items())
        counts["gateway_reading"] += _bulk(Reading.__table__, readings)
        if len(daily) >= 50_000:
            counts["gateway_daily_energy"] += _bulk(DailyEnergy.__table__, daily)
            daily = []
    counts["gateway_daily_energy"] += _bulk(DailyEnergy.__table__, daily)
    counts["gateway_monthly_energy"] = _bulk(MonthlyEnergy.__table__, monthly)
    return counts


# -- the command ----------------------------------------------------------------------------
def _write_keys(path, pairs: list[tuple[str, str]]) -> None:
    """Write `gateway_id,api_key` lines to a file only its owner may read."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.writelines(f"{gateway_id},{key}\n" for gateway_id, key in pairs)


def _analyze() -> None:
    """Fresh statistics for the planner after the bulk inserts (what autovacuum does in
    time on a live database): without them PostgreSQL guesses a dealer's 5,000 links to be
    200 rows and sorts them instead of walking their index, and an index-only count has
    no visibility map yet. SQLite: ANALYZE fills sqlite_stat1 for its planner."""
    engine = db.engine
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
    else:
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")


@click.command("fleet")
@click.option("--owners", type=click.IntRange(1), default=None,
              help="Owner accounts (default: gateways / 1.2).")
@click.option("--gateways", type=click.IntRange(1), default=FleetSize.gateways, show_default=True)
@click.option("--dealers", type=click.IntRange(1), default=None,
              help="Dealer companies (default: gateways / 40).")
@click.option("--big-dealer", type=click.IntRange(0), default=None,
              help="Gateways linked to dealer@example.com's company (default: gateways / 4).")
@click.option("--sample", type=click.IntRange(0), default=None,
              help="Gateways with a year of rollups and a week of readings (default: 1 %, "
                   "at most 2,000).")
@click.option("--api-keys", "keys_file", type=click.Path(dir_okay=False), default=None,
              help="Write `gateway_id,api_key` of --keys gateways to this file.")
@click.option("--keys", type=click.IntRange(0), default=2000, show_default=True)
@click.option("--seed", type=int, default=FleetSize.seed, show_default=True)
@click.option("--i-know-this-is-not-production", "forced", is_flag=True,
              help="Seed although ENELINK_ENV is not development.")
@with_appcontext
def seed_fleet(owners, gateways, dealers, big_dealer, sample, keys_file, keys, seed, forced):
    """A realistic fleet for `make bench` (after `seed demo`; development only). The
    defaults are the bench's fleet: 20,000 gateways, 16,667 owners, 500 dealers, a
    5,000-gateway big dealer, a 200-gateway sample."""
    from flask import current_app

    from blueprints.core.cli import demo_seeding_allowed

    if not demo_seeding_allowed(current_app, forced):
        raise click.ClickException(
            "refusing to seed a fleet outside development: set ENELINK_ENV=development, "
            "or pass --i-know-this-is-not-production")
    size = FleetSize(
        owners=owners or max(1, round(gateways / 1.2)), gateways=gateways,
        dealers=dealers or max(1, gateways // 40),
        big_dealer=min(gateways, gateways // 4 if big_dealer is None else big_dealer),
        sample=min(gateways, 2000, max(1, gateways // 100) if sample is None else sample),
        api_keys=keys if keys_file else 0, seed=seed)
    result = generate_fleet(size)
    _analyze()
    if keys_file:
        _write_keys(keys_file, result.api_keys)
        result.counts["api keys written"] = len(result.api_keys)
    for line in result.lines():
        click.echo(line)
