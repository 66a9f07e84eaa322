"""Gateway telemetry: the device credential, checking what a gateway reports, storing it
once, and keeping the daily and monthly energy up to date in the same transaction.

A reading is the average power over the 5 minutes ending at its timestamp (a multiple of
5 minutes). A batch may mix good and bad readings: the good ones are stored, each bad one
is reported back with its index and the reason, and resending a batch is always safe
(a reading already stored for that gateway and timestamp is a duplicate, counted once)."""
from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import (String, bindparam, cast, delete, exists, func, select, text,
                        update)

from blueprints.gateways.credentials import BY_GATEWAY_ID, REPORTING_STATUSES
from models import JST, db, utcnow
from models.gateway import Gateway, PcsUnit
from models.telemetry import (SLOT, SUM_COLUMNS, AlertKind, BatteryState, DailyEnergy,
                              GatewayAlert, MonthlyEnergy, Reading, UnitStatus)

MAX_BATCH = 2016                       # a week of 5-minute readings
MAX_POWER_KW = 100.0
FUTURE_TOLERANCE = timedelta(minutes=2)  # clock skew a device may have
MAX_AGE = timedelta(days=400)          # the default of max_age(): READINGS_RETENTION_DAYS
MAX_UNITS = 6
SMALL_BATCH = 12  # an hour of readings: checked inside the transaction even on SQLite
POWER_FIELDS = {"pv_kw": "pv_w", "load_kw": "load_w", "battery_kw": "battery_w",
                "sell_kw": "sell_w", "buy_kw": "buy_w"}
ERROR_CODE = re.compile(r"[A-Z0-9][A-Z0-9-]{0,15}")
# The enums' values as plain strings: a batch checks thousands of readings.
_UNIT_STATUSES = frozenset(s.value for s in UnitStatus)
_BATTERY_STATES = frozenset(s.value for s in BatteryState)
_ERROR = UnitStatus.ERROR.value
_CHARGING, _DISCHARGING = BatteryState.CHARGING.value, BatteryState.DISCHARGING.value


# -- checking one reading ------------------------------------------------------------------
class ReadingRejected(ValueError):
    def __init__(self, reason: str, field_name: str | None, message: str):
        super().__init__(message)
        self.reason, self.field, self.message = reason, field_name, message


@dataclass(frozen=True)
class ReadingData:
    """A checked reading, in the units it is stored in."""

    ts: datetime
    pv_w: int
    load_w: int
    battery_w: int
    battery_state: str
    soc: int
    sell_w: int
    buy_w: int
    units: list = field(hash=False, compare=False)

    @property
    def has_error(self) -> bool:
        return any(u["status"] == _ERROR for u in self.units)

    def row(self, gateway_pk: int, now: datetime) -> dict:
        return dict(gateway_id=gateway_pk, ts=self.ts, pv_w=self.pv_w, load_w=self.load_w,
                    battery_w=self.battery_w, battery_state=self.battery_state,
                    soc=self.soc, sell_w=self.sell_w, buy_w=self.buy_w, units=self.units,
                    has_error=self.has_error, received_at=now)

    def sums(self) -> dict:
        """This reading's share of a rollup."""
        return dict(
            slots=1, pv_wsum=self.pv_w, load_wsum=self.load_w,
            self_wsum=max(0, self.pv_w - self.sell_w),
            supplied_wsum=max(0, self.load_w - self.buy_w),
            sell_wsum=self.sell_w, buy_wsum=self.buy_w,
            charge_wsum=self.battery_w if self.battery_state == _CHARGING else 0,
            discharge_wsum=self.battery_w if self.battery_state == _DISCHARGING else 0)


def _timestamp(raw, now: datetime, max_age: timedelta = MAX_AGE) -> datetime:
    # isprintable(): fromisoformat() ignores a NUL byte in the string.
    if not isinstance(raw, str) or len(raw) > 40 or not raw.isprintable():
        raise ReadingRejected("malformed", "timestamp",
                              "timestamp must be an ISO 8601 string with an offset")
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ReadingRejected("malformed", "timestamp",
                              "timestamp must be an ISO 8601 string with an offset") from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ReadingRejected("malformed", "timestamp",
                              "timestamp needs an offset, e.g. +09:00 or Z")
    value = value.astimezone(now.tzinfo)
    if value.second or value.microsecond or value.minute % 5:
        raise ReadingRejected("malformed", "timestamp",
                              "timestamp must be the end of a 5-minute period (hh:m0 or hh:m5)")
    if value > now + FUTURE_TOLERANCE:
        raise ReadingRejected("future_dated", "timestamp", "timestamp is in the future")
    if value < now - max_age:
        raise ReadingRejected("too_old", "timestamp",
                              f"timestamp is more than {max_age.days} days old")
    return value


def _number(raw: dict, name: str, low: float, high: float) -> float:
    value = raw.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ReadingRejected("malformed", name, f"{name} must be a number")
    # The range first: math.isfinite() overflows on a huge JSON integer (10**400).
    if not low <= value <= high or not math.isfinite(value):
        raise ReadingRejected("out_of_range", name, f"{name} must be between {low:g} and {high:g}")
    return float(value)


def _units(raw, unit_numbers: set[int]) -> list[dict]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_UNITS:
        raise ReadingRejected("malformed", "units",
                              f"units must be a list of 1 to {MAX_UNITS} power conditioners")
    units, seen = [], set()
    for entry in raw:
        if not isinstance(entry, dict):
            raise ReadingRejected("malformed", "units", "each unit must be an object")
        number = entry.get("unit")
        if isinstance(number, bool) or not isinstance(number, int) or number in seen:
            raise ReadingRejected("malformed", "units", "unit must be a unit number, once each")
        if number not in unit_numbers:
            raise ReadingRejected("foreign", "units",
                                  f"unit {number} is not a power conditioner of this gateway")
        seen.add(number)
        status = entry.get("status")
        if status not in _UNIT_STATUSES:
            raise ReadingRejected("malformed", "units",
                                  "status must be normal, standby or error")
        code = entry.get("error_code")
        if status == _ERROR:
            if not isinstance(code, str) or not ERROR_CODE.fullmatch(code):
                raise ReadingRejected("malformed", "units",
                                      "a unit in error needs an error_code (A-Z, 0-9, -)")
        elif code not in (None, ""):
            raise ReadingRejected("malformed", "units",
                                  "error_code is only given with status error")
        units.append({"unit": number, "status": status,
                      "error_code": code if status == _ERROR else None})
    return sorted(units, key=lambda u: u["unit"])


def max_age() -> timedelta:
    """How old a reading may be: the readings' retention (READINGS_RETENTION_DAYS, 400
    days by default). An older one would be pruned, and a resent copy of a pruned
    reading would no longer be a duplicate: the rollups would count it twice."""
    return timedelta(days=current_app.config.get("READINGS_RETENTION_DAYS", MAX_AGE.days))


def check_reading(raw, gateway_code: str, unit_numbers: set[int], now: datetime,
                  max_age: timedelta = MAX_AGE) -> ReadingData:
    """Check one reading as gateway `gateway_code` sent it (its power conditioners are
    `unit_numbers`); raises ReadingRejected with the reason (malformed, out_of_range,
    future_dated, too_old, foreign)."""
    if not isinstance(raw, dict):
        raise ReadingRejected("malformed", None, "a reading must be a JSON object")
    claimed = raw.get("gateway_id")
    if claimed is not None and claimed != gateway_code:
        raise ReadingRejected("foreign", "gateway_id",
                              "this reading belongs to another gateway")
    ts = _timestamp(raw.get("timestamp"), now, max_age)
    watts = {column: round(_number(raw, name, 0.0, MAX_POWER_KW) * 1000)
             for name, column in POWER_FIELDS.items()}
    soc = _number(raw, "soc", 0, 100)
    state = raw.get("battery_state")
    if state not in _BATTERY_STATES:
        raise ReadingRejected("malformed", "battery_state",
                              "battery_state must be charging, discharging or standby")
    return ReadingData(ts=ts, battery_state=state, soc=round(soc),
                       units=_units(raw.get("units"), unit_numbers), **watts)


# -- storing a batch -----------------------------------------------------------------------
@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict] = field(default_factory=list)
    newest: ReadingData | None = None
    refused: bool = False  # the gateway was retired while the batch was checked


@dataclass(frozen=True)
class ReportContext:
    """What a readings POST needs besides the gateway row, read in the same statement
    as the gateway's authentication (report_statement): its power conditioners and the
    settings announcement of the answer (settings.pending_version)."""

    unit_numbers: frozenset[int]
    settings_version: int
    settings_pending: bool

    @classmethod
    def of(cls, row) -> ReportContext:
        from blueprints.monitoring import settings

        units = row[1]
        version, pending = settings.pending_of(row[2:])
        return cls(frozenset(int(n) for n in units.split(",")) if units else frozenset(),
                   version, pending)


# Statements are built once per dialect, so that SQLAlchemy compiles each once and reuses
# it (a statement built per request with literal multi-row VALUES is compiled every time).
_STATEMENTS: dict[tuple[str, str], object] = {}


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _statement(name: str, dialect: str | None = None):
    key = (dialect or _dialect(), name)
    if key not in _STATEMENTS:
        _STATEMENTS[key] = _BUILDERS[name](key[0])
    return _STATEMENTS[key]


def report_statement():
    """credentials.BY_GATEWAY_ID with the ReportContext's columns: the unit numbers (as
    text "1,2") and the newest settings version's state."""
    return _statement("report")


def _build_report(dialect: str):
    from blueprints.monitoring import settings

    unit = cast(PcsUnit.unit_no, String)
    joined = (func.string_agg(unit, ",") if dialect == "postgresql"
              else func.group_concat(unit, ","))
    units = (select(joined).where(PcsUnit.gateway_id == Gateway.id)
             .correlate(Gateway).scalar_subquery())
    return settings.with_pending_version(BY_GATEWAY_ID.add_columns(units), Gateway.id)


def _build_lock(dialect: str):
    """SQLite (PostgreSQL's is part of _build_store): the gateway's row, locked for the
    write: whether it may still report (it may have been retired since it authenticated),
    its first and newest reading, and whether an alert that a reading can end is open
    (alerts only need a look then, or for an error)."""
    gateway = Gateway.__table__
    alerting = exists().where(GatewayAlert.gateway_id == gateway.c.id,
                              GatewayAlert.ended_at.is_(None),
                              GatewayAlert.kind.in_([AlertKind.ERROR.value,
                                                     AlertKind.SILENT.value]))
    return (select(gateway.c.status, gateway.c.first_report_at, gateway.c.last_reading_at,
                   alerting.label("alerting"))
            .where(gateway.c.id == bindparam("pk")).with_for_update(of=gateway))


# A whole batch is one short statement with the readings as one JSON
# parameter. (A multi-row VALUES of 2016 readings is a query of 24,000 placeholders,
# which the driver parses again for every batch: most of a batch's time.)
_READING_COLUMNS = (("ts", "timestamptz"), ("pv_w", "integer"), ("load_w", "integer"),
                    ("battery_w", "integer"), ("battery_state", "text"),
                    ("soc", "smallint"), ("sell_w", "integer"), ("buy_w", "integer"),
                    ("units", "json"), ("has_error", "boolean"))


def _build_readings(dialect: str):
    table = Reading.__table__
    names = ", ".join(name for name, _type in _READING_COLUMNS)
    if dialect == "postgresql":
        return _build_store(table, names)
    # SQLite: each reading a JSON array of the column values as SQLAlchemy would store
    # them (_sqlite_rows), taken apart by json_each in SQLite's C code ("WHERE true": an
    # upsert's SELECT needs a WHERE clause to be parsed as one).
    values = ", ".join(f"json_extract(value, '$[{index}]')"
                       for index in range(len(_READING_COLUMNS)))
    return text(
        f"INSERT INTO {table.name} (gateway_id, {names}, received_at) "
        f"SELECT :gateway_id, {values}, :received_at FROM json_each(:readings) WHERE true "
        "ON CONFLICT (gateway_id, ts) DO NOTHING RETURNING ts"
    ).bindparams(bindparam("received_at", type_=table.c.received_at.type))


# A reading's share of a rollup (ReadingData.sums) in SQL, over the readings inserted.
_SQL_SUMS = {
    "slots": "count(*)", "pv_wsum": "sum(pv_w)", "load_wsum": "sum(load_w)",
    "self_wsum": "sum(greatest(0, pv_w - sell_w))",
    "supplied_wsum": "sum(greatest(0, load_w - buy_w))",
    "sell_wsum": "sum(sell_w)", "buy_wsum": "sum(buy_w)",
    "charge_wsum": f"sum(CASE WHEN battery_state = '{_CHARGING}' THEN battery_w ELSE 0 END)",
    "discharge_wsum":
        f"sum(CASE WHEN battery_state = '{_DISCHARGING}' THEN battery_w ELSE 0 END)"}
assert tuple(_SQL_SUMS) == SUM_COLUMNS


def _build_store(table, names: str):
    """PostgreSQL: the whole write as one statement. It locks the gateway's row first
    (_build_lock's columns, as they were before this statement's writes); the readings are inserted
    only if the gateway may still report, and the insert's RETURNING (only the readings
    actually inserted: a duplicate adds nothing) feeds data-modifying CTEs that add them
    to the daily energy (the JST day of ts - 5 minutes, local_day) and the monthly energy
    (that day's month), in key order, and move the gateway's first reading earlier and
    its newest later (the row only written when one of them moves). The statement
    answers the lock's row with the timestamps inserted (no row: no such gateway)."""
    typed = ", ".join(f"{name} {kind}" for name, kind in _READING_COLUMNS)
    gateway, daily, monthly = (Gateway.__table__.name, DailyEnergy.__table__.name,
                               MonthlyEnergy.__table__.name)
    alert = GatewayAlert.__table__.name
    reporting = ", ".join(f"'{status.value}'" for status in REPORTING_STATUSES)
    ending = ", ".join(f"'{kind.value}'" for kind in (AlertKind.ERROR, AlertKind.SILENT))
    sums = ", ".join(SUM_COLUMNS)
    day_sums = ", ".join(f"{expression} AS {name}" for name, expression in _SQL_SUMS.items())
    month_sums = ", ".join(f"sum({name})" for name in SUM_COLUMNS)

    def added(rollup: str) -> str:
        return ", ".join(f"{name} = {rollup}.{name} + excluded.{name}" for name in SUM_COLUMNS)

    return text(
        f"WITH locked AS (SELECT status, first_report_at, last_reading_at, "
        f"EXISTS (SELECT 1 FROM {alert} WHERE {alert}.gateway_id = {gateway}.id "
        f"AND {alert}.ended_at IS NULL AND {alert}.kind IN ({ending})) AS alerting "
        f"FROM {gateway} WHERE id = :gateway_id FOR UPDATE OF {gateway}), "
        f"new AS (INSERT INTO {table.name} (gateway_id, {names}, received_at) "
        f"SELECT :gateway_id, {names}, :received_at "
        f"FROM json_to_recordset(CAST(:readings AS json)) AS r({typed}) "
        f"WHERE EXISTS (SELECT 1 FROM locked WHERE status IN ({reporting})) "
        "ON CONFLICT (gateway_id, ts) DO NOTHING "
        "RETURNING ts, pv_w, load_w, battery_w, battery_state, sell_w, buy_w), "
        f"days AS (SELECT CAST((ts - INTERVAL '5 minutes') AT TIME ZONE '{JST.key}' AS date)"
        f" AS day, {day_sums} FROM new GROUP BY 1), "
        f"added_daily AS (INSERT INTO {daily} (gateway_id, day, {sums}) "
        f"SELECT :gateway_id, day, {sums} FROM days ORDER BY day "
        f"ON CONFLICT (gateway_id, day) DO UPDATE SET {added(daily)}), "
        f"added_monthly AS (INSERT INTO {monthly} (gateway_id, month, {sums}) "
        "SELECT :gateway_id, CAST(date_trunc('month', CAST(day AS timestamp)) AS date), "
        f"{month_sums} FROM days GROUP BY 2 ORDER BY 2 "
        f"ON CONFLICT (gateway_id, month) DO UPDATE SET {added(monthly)}), "
        f"moved AS (UPDATE {gateway} "
        "SET first_report_at = least(first_report_at, span.earliest), "
        "last_reading_at = greatest(last_reading_at, span.newest) "
        "FROM (SELECT min(ts) AS earliest, max(ts) AS newest FROM new) AS span "
        f"WHERE {gateway}.id = :gateway_id AND span.newest IS NOT NULL "
        "AND (first_report_at IS NULL OR first_report_at > span.earliest "
        "OR last_reading_at IS NULL OR last_reading_at < span.newest)) "
        "SELECT status, first_report_at, last_reading_at, alerting, "
        "ARRAY(SELECT ts FROM new) AS inserted FROM locked")


def _sqlite_rows(readings: list[ReadingData]) -> list[list]:
    """The readings' column values (_READING_COLUMNS' order) as SQLAlchemy stores them
    in SQLite: the timestamp as UTC text with microseconds, the units as json.dumps'
    text (made once for the units' states a batch repeats), the flag as 0/1."""
    units_text: dict[tuple, str] = {}
    rows = []
    for reading in readings:
        key = tuple((u["unit"], u["status"], u["error_code"]) for u in reading.units)
        dumped = units_text.get(key)
        if dumped is None:
            dumped = units_text[key] = json.dumps(reading.units)
        rows.append([reading.ts.astimezone(timezone.utc).replace(tzinfo=None)
                     .isoformat(" ", "microseconds"), reading.pv_w, reading.load_w,
                     reading.battery_w, reading.battery_state, reading.soc, reading.sell_w,
                     reading.buy_w, dumped, int(reading.has_error)])
    return rows


def _build_rollup(model, key: str):
    """An upsert adding a batch's sums to the rollup rows, as text: the dialects'
    on_conflict constructs have no cache key, so SQLAlchemy would compile them for every
    request. The same SQL serves PostgreSQL and SQLite."""
    def build(dialect: str):
        table = model.__table__
        names = ["gateway_id", key, *SUM_COLUMNS]
        added = ", ".join(f"{name} = {table.name}.{name} + excluded.{name}"
                          for name in SUM_COLUMNS)
        return text(
            f"INSERT INTO {table.name} ({', '.join(names)}) "
            f"VALUES ({', '.join(':' + name for name in names)}) "
            f"ON CONFLICT (gateway_id, {key}) DO UPDATE SET {added}"
        ).bindparams(*(bindparam(name, type_=table.c[name].type) for name in names))
    return build


_BUILDERS = {"report": _build_report, "lock": _build_lock, "readings": _build_readings,
             "daily": _build_rollup(DailyEnergy, "day"),
             "monthly": _build_rollup(MonthlyEnergy, "month")}


def local_day(ts: datetime) -> date:
    """The Japan-time day a reading counts for (the day its 5 minutes began in)."""
    return (ts - SLOT).astimezone(JST).date()


def _add_to_rollups(gateway_pk: int, readings: list[ReadingData], dialect: str) -> None:
    days: dict[date, dict] = {}
    for reading in readings:
        day = local_day(reading.ts)
        totals = days.get(day)
        if totals is None:
            days[day] = reading.sums()
        else:
            for name, value in reading.sums().items():
                totals[name] += value
    months: dict[date, dict] = defaultdict(lambda: dict.fromkeys(SUM_COLUMNS, 0))
    for day, totals in days.items():
        month = months[day.replace(day=1)]
        for name, value in totals.items():
            month[name] += value
    for name, key, totals in (("daily", "day", days), ("monthly", "month", months)):
        # In key order: two batches adding to the same days lock their rows in one order.
        rows = [{"gateway_id": gateway_pk, key: when, **totals[when]} for when in sorted(totals)]
        if rows:
            db.session.execute(_statement(name, dialect), rows)


def _check_batch(raw_readings, gateway_code: str, unit_numbers: set[int],
                 now: datetime, result: IngestResult) -> list[ReadingData]:
    """The batch's good readings, the first of each timestamp; the bad ones and repeats
    are counted in `result`."""
    checked: dict[datetime, ReadingData] = {}
    oldest = max_age()
    for index, raw in enumerate(raw_readings):
        try:
            reading = check_reading(raw, gateway_code, unit_numbers, now, oldest)
        except ReadingRejected as error:
            result.rejected.append({"index": index, "reason": error.reason,
                                    "field": error.field, "message": error.message})
            continue
        if reading.ts in checked:
            result.duplicates += 1  # the same timestamp twice in one batch: the first counts
        else:
            checked[reading.ts] = reading
    return list(checked.values())


def ingest(gateway: Gateway, raw_readings, now: datetime | None = None,
           context: ReportContext | None = None) -> IngestResult:
    """Store a batch of readings of one gateway and commit: new readings are added to the
    daily and monthly energy, duplicates are ignored, bad ones come back in `rejected`.
    初回通信日時 is the earliest accepted reading's timestamp (a gateway back-filling a month
    of history first reported a month ago, not when the batch arrived), moved earlier when
    an older reading arrives later; alerts open or close on the newest.

    `context` is what the API read with the gateway (report_statement); without it the
    units are read here. The write is one transaction with one commit: the gateway's row
    is locked first (a gateway retired meanwhile stores nothing, and a disposal, which
    locks it too, never interleaves), then the readings are inserted, the rollups added
    up and the gateway's first/newest reading moved, each statement compiled once (on
    PostgreSQL all three in one statement, data-modifying CTEs fed by the insert).
    Alerts are looked at only when the newest reading reports an error or an error or
    silence alert of the gateway is open (read with the lock).

    On SQLite every transaction of this app holds the database's write lock: there the
    reads end before a batch larger than SMALL_BATCH is checked, so that a batch of 2016
    readings does not keep other requests waiting while it is checked (a few readings
    are checked in microseconds). On PostgreSQL the checks run inside the transaction,
    which has only read the gateway's row so far (no lock held)."""
    now = now or utcnow()
    result = IngestResult()
    gateway_pk, gateway_code = gateway.id, gateway.gateway_id
    if context is None:
        unit_numbers = set(db.session.scalars(select(PcsUnit.unit_no)
                                              .where(PcsUnit.gateway_id == gateway_pk)))
    else:
        unit_numbers = context.unit_numbers
    dialect = _dialect()
    if dialect != "postgresql" and len(raw_readings) > SMALL_BATCH:
        db.session.commit()  # end the reads (and the caller's work) before the checks
    checked = _check_batch(raw_readings, gateway_code, unit_numbers, now, result)
    if not checked:
        db.session.commit()
        return result
    state, stored = _lock_and_store(gateway_pk, checked, now, dialect)
    if state is None or state.status not in REPORTING_STATUSES:  # retired meanwhile
        db.session.rollback()
        result.refused = True
        return result
    result.accepted = len(stored)
    result.duplicates += len(checked) - len(stored)
    if stored:
        if dialect != "postgresql":  # PostgreSQL's insert did this (_build_store)
            _add_to_rollups(gateway_pk, stored, dialect)
        newest = max(stored, key=lambda r: r.ts)
        earliest = min(r.ts for r in stored)
        moved = {}
        if state.first_report_at is None or earliest < state.first_report_at:
            moved["first_report_at"] = earliest
        if state.last_reading_at is None or newest.ts > state.last_reading_at:
            moved["last_reading_at"] = newest.ts
            result.newest = newest
        if moved and dialect != "postgresql":
            table = Gateway.__table__
            db.session.execute(update(table).where(table.c.id == gateway_pk).values(moved))
        if result.newest is not None and (newest.has_error or state.alerting):
            _observe_newest(gateway_pk, newest, stored, now)
    db.session.commit()
    return result


def _observe_newest(gateway_pk: int, newest: ReadingData, stored: list[ReadingData],
                    now: datetime) -> None:
    """alerts.observe_newest with the gateway row as this transaction changed it."""
    from blueprints.monitoring import alerts

    locked = db.session.get(Gateway, gateway_pk, populate_existing=True)
    alerts.observe_newest(locked, newest.has_error, newest_codes(newest), now,
                          since=_error_run_start(stored))


def _error_run_start(readings: list[ReadingData]) -> datetime | None:
    """When the errors the newest of these readings reports began: the first of the
    consecutive readings in error that end with it (None if it reports none)."""
    start = None
    for reading in sorted(readings, key=lambda r: r.ts, reverse=True):
        if not reading.has_error or (start is not None and start - reading.ts > SLOT):
            break
        start = reading.ts
    return start


def newest_codes(reading: ReadingData) -> str:
    return ", ".join(f"{u['unit']}:{u['error_code']}" for u in reading.units
                     if u.get("error_code"))


def _lock_and_store(gateway_pk: int, readings: list[ReadingData], now: datetime,
                    dialect: str) -> tuple[object, list[ReadingData]]:
    """Lock the gateway's row (_build_lock's columns; None if it is gone) and, if it may
    still report, insert what is not stored yet; returns the row and the readings
    inserted (the others are duplicates). One short statement for the whole batch, the
    readings as one JSON parameter that the database takes apart (SQLAlchemy binding 2016
    readings a column at a time was most of a batch's time), returning the timestamps
    actually inserted. In time order, so that two batches sharing timestamps wait for
    each other in one order. On PostgreSQL one statement does it all, the rollups and
    the gateway's first and newest reading too (_build_store)."""
    readings = sorted(readings, key=lambda r: r.ts)
    if dialect == "postgresql":
        rows = [{"ts": r.ts.isoformat(), "pv_w": r.pv_w, "load_w": r.load_w,
                 "battery_w": r.battery_w, "battery_state": r.battery_state, "soc": r.soc,
                 "sell_w": r.sell_w, "buy_w": r.buy_w, "units": r.units,
                 "has_error": r.has_error} for r in readings]
        params = {"gateway_id": gateway_pk, "received_at": now,
                  "readings": json.dumps(rows)}
        state = db.session.execute(_statement("readings", dialect), params).first()
        inserted = set(state.inserted) if state is not None else set()
        return state, [r for r in readings if r.ts in inserted]
    state = db.session.execute(_statement("lock", dialect), {"pk": gateway_pk}).first()
    if state is None or state.status not in REPORTING_STATUSES:
        return state, []
    return state, _store_new(gateway_pk, readings, now)


def _store_new(gateway_pk: int, readings: list[ReadingData],
               now: datetime) -> list[ReadingData]:
    """SQLite: insert what is not stored yet (_lock_and_store)."""
    rows = _sqlite_rows(readings)
    inserted = set(db.session.execute(_statement("readings"), {
        "gateway_id": gateway_pk, "received_at": now,
        "readings": json.dumps(rows)}).scalars().all())
    return [r for r, row in zip(readings, rows) if row[0] in inserted]


# -- history follows the registration --------------------------------------------------------
_HISTORY = (Reading, DailyEnergy, MonthlyEnergy)


def move_history(old_pk: int, new_pk: int, now: datetime) -> None:
    """ゲートウェイの交換: the new gateway takes over the old one's readings and energy
    (an unregistered gateway has none of its own); open alerts of the old one end."""
    for model in _HISTORY:
        db.session.execute(update(model).where(model.gateway_id == old_pk)
                           .values(gateway_id=new_pk),
                           execution_options={"synchronize_session": False})
    last = db.session.scalar(select(Gateway.last_reading_at).where(Gateway.id == old_pk))
    db.session.execute(update(Gateway).where(Gateway.id == new_pk)
                       .values(last_reading_at=last),
                       execution_options={"synchronize_session": False})
    end_alerts([old_pk], now, "replaced")


def purge_history(gateway_pks: list[int], now: datetime, reason: str) -> None:
    """廃棄 or account deletion: the readings and energy of these gateways are removed
    (a gateway registered again must not show its previous owner's history)."""
    if not gateway_pks:
        return
    for model in _HISTORY:
        db.session.execute(delete(model).where(model.gateway_id.in_(gateway_pks)),
                           execution_options={"synchronize_session": False})
    end_alerts(gateway_pks, now, reason)
    db.session.execute(update(Gateway).where(Gateway.id.in_(gateway_pks))
                       .values(last_reading_at=None, first_report_at=None),
                       execution_options={"synchronize_session": False})


def end_alerts(gateway_pks: list[int], now: datetime, reason: str) -> None:
    db.session.execute(update(GatewayAlert)
                       .where(GatewayAlert.gateway_id.in_(gateway_pks),
                              GatewayAlert.ended_at.is_(None))
                       .values(ended_at=now, ended_by=reason),
                       execution_options={"synchronize_session": False})


# >>> handover
def end_for_handover(gateway_pks: list[int], now: datetime, reason: str) -> None:
    """ゲートウェイの譲渡: the open alerts end and the status starts afresh for the next
    owner (no newest reading, so no silence alert before it reports), but the readings
    and energy stay: the previous owner's CSV reads them, and the next owner sees only
    what came after `Gateway.history_from`."""
    if not gateway_pks:
        return
    end_alerts(gateway_pks, now, reason)
    db.session.execute(update(Gateway).where(Gateway.id.in_(gateway_pks))
                       .values(last_reading_at=None),
                       execution_options={"synchronize_session": False})
# <<< handover
