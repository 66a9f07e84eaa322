"""What the monitoring page reads: who may see a gateway, its status line (the newest
reading and today's energy) and the day, month and year series.

Every read is bounded whatever the history: the newest reading by the primary key, a day
is at most 288 readings, a month at most 31 daily rows, a year 12 monthly rows.

The series are read with as little Python per point as possible: only the columns shown,
plain rows (no ORM objects, no JSON of the units), slot labels and positions from the
slot's number (no time-zone conversion per reading). A day is read through its daily
rollup first: its sums and slot count, and how many of its readings are still kept, form
the day's `Series.key`, so the chart and table drawn for it can be kept per process
(charts.view) until a late reading, a hand-over (Gateway.history_from) or pruning changes
it. A day whose readings were pruned (older than the keeping period) answers from its
rollup: its totals, and `Series.pruned` so that the page says why there is no 5-minute
detail."""
from __future__ import annotations

import csv
import io
import json
import re
from collections import namedtuple
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta, timezone
from typing import NamedTuple

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import (DateTime, Integer, String, and_, any_, bindparam, exists, func,
                        literal_column, or_, select, type_coerce)
from sqlalchemy.orm import aliased
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import aggregate_order_by

from blueprints.core.caching import LRU, app_cache
from blueprints.dealers.services import dealer_for_account
from blueprints.monitoring.telemetry import JST
from models import db, utcnow
from models.account import Account
from models.gateway import DealerLink, Gateway, GatewayStatus, SystemModel
from models.telemetry import (SLOT, DailyEnergy, GatewayAlert, MonthlyEnergy, Reading,
                              energy_kwh)

VIEWABLE_STATUSES = (GatewayStatus.ACTIVE.value, GatewayStatus.PROVISIONAL.value)
BATTERY_LABELS = {"charging": _l("充電"), "discharging": _l("放電"), "standby": _l("待機")}
FIRST_DAY = date(2000, 1, 1)


# -- who may see a gateway -----------------------------------------------------------------
@dataclass(frozen=True)
class Viewer:
    gateway: Gateway
    owner: Account
    as_dealer: bool  # a linked dealer's employee, not the owner
    manual_url: str | None = None  # 商品マニュアル of the gateway's model (SystemModel)
    status: Status | None = None  # the status line, when asked for (viewable_gateway)
    # The rows of the period asked for, read with the gateway (None: not read).
    period_rows: PeriodRows | None = None


def viewable_gateway(account: Account, gateway_id: str, *, with_status: bool = False,
                     period: Period | None = None,
                     now: datetime | None = None) -> Viewer | None:
    """The gateway if `account` owns it or works for a dealer it is linked to; None for
    anything else (someone else's, unlinked, retired, malformed IDs). The gateway's
    model's manual link comes with it (the page's menu; no query of its own), and in the
    same statement `with_status` its status line (`Viewer.status`, see status()) and
    `period` the rows of that period (`Viewer.period_rows`, for series())."""
    if not isinstance(gateway_id, str) or not re.fullmatch(r"[0-9A-Z]{12}", gateway_id):
        return None
    now = now or utcnow()
    params = dict(gateway_id=gateway_id, today=now.astimezone(JST).date())
    if period is not None:
        params.update(_period_params(period))
    aggregated = (period is not None and period.kind != "day"
                  and db.session.get_bind().dialect.name == "postgresql")
    rows = db.session.execute(_viewable_statement(with_status, period and period.kind,
                                                  aggregated), params).all()
    if not rows:
        return None
    gateway, manual_url = rows[0][0], rows[0][1] or None
    line = _status(gateway, rows[0][2], rows[0][3], now) if with_status else None
    read = None
    if period is not None and history_start(gateway) is None:  # handover: see series()
        columns = [row[4 if with_status else 2:] for row in rows]
        read = (_aggregated_period_rows(period.kind, *columns[0]) if aggregated
                else _period_rows(period.kind, columns))
    if gateway.owner_id == account.id:
        return Viewer(gateway, account, as_dealer=False, manual_url=manual_url, status=line,
                      period_rows=read)
    dealer = dealer_for_account(account)
    if dealer is not None and gateway.owner_id is not None and db.session.scalar(
            select(exists().where(DealerLink.gateway_id == gateway.id,
                                  DealerLink.dealer_id == dealer.id))):
        return Viewer(gateway, db.session.get(Account, gateway.owner_id), as_dealer=True,
                      manual_url=manual_url, status=line, period_rows=read)
    return None


# -- energy totals -------------------------------------------------------------------------
@dataclass(frozen=True)
class Totals:
    """Energy of a period in kWh."""

    pv: float = 0.0
    load: float = 0.0
    self_used: float = 0.0   # 自家消費: generation not sold (used at home or charged)
    supplied: float = 0.0    # 自給: consumption not bought
    sell: float = 0.0
    buy: float = 0.0
    charge: float = 0.0
    discharge: float = 0.0
    slots: int = 0

    @classmethod
    def of(cls, row) -> Totals:
        if row is None:
            return cls()
        return cls(pv=energy_kwh(row.pv_wsum), load=energy_kwh(row.load_wsum),
                   self_used=energy_kwh(row.self_wsum), supplied=energy_kwh(row.supplied_wsum),
                   sell=energy_kwh(row.sell_wsum), buy=energy_kwh(row.buy_wsum),
                   charge=energy_kwh(row.charge_wsum),
                   discharge=energy_kwh(row.discharge_wsum), slots=row.slots)

    def __add__(self, other: Totals) -> Totals:
        return Totals(**{f.name: getattr(self, f.name) + getattr(other, f.name)
                         for f in fields(self)})

    @property
    def self_consumption_rate(self) -> float | None:
        """自家消費率: the share of the generation not sold (used at home or charged)."""
        return min(1.0, self.self_used / self.pv) if self.pv > 0 else None

    @property
    def self_sufficiency_rate(self) -> float | None:
        """自給率: the share of the consumption covered without buying."""
        return min(1.0, self.supplied / self.load) if self.load > 0 else None


# -- the status line -----------------------------------------------------------------------
@dataclass(frozen=True)
class UnitState:
    unit: int
    status: str
    error_code: str | None


@dataclass(frozen=True)
class Status:
    """正常動作中 (normal), 異常 (error), 通信途絶 (silent) or まだ通信がありません (none)."""

    state: str
    at: datetime | None
    reading: Reading | None
    today: Totals
    units: list[UnitState]

    @property
    def errors(self) -> list[UnitState]:
        return [u for u in self.units if u.error_code]


def _silence() -> timedelta:
    return timedelta(minutes=current_app.config["GATEWAY_SILENCE_MINUTES"])


def _with_status(statement):
    """`statement` (a select of the gateway) with what the status line shows joined in:
    the newest reading the current owner may see and the daily rollup of the day
    `today` (the last two columns, each None when there is none)."""
    newest = (select(func.max(Reading.ts))
              .where(Reading.gateway_id == Gateway.id,
                     # handover: nothing before the current owner's history start
                     or_(Gateway.history_from.is_(None), Reading.ts >= Gateway.history_from))
              .correlate(Gateway).scalar_subquery())
    return (statement.add_columns(Reading, DailyEnergy)
            .outerjoin(Reading, and_(Reading.gateway_id == Gateway.id, Reading.ts == newest))
            .outerjoin(DailyEnergy, and_(DailyEnergy.gateway_id == Gateway.id,
                                         DailyEnergy.day == bindparam("today"))))


# The statements of the page are built once (with bound parameters), not per request:
# SQLAlchemy then neither builds them nor computes their cache keys again.
_MANUAL = (select(SystemModel.manual_url).where(SystemModel.code == Gateway.model)
           .limit(1).scalar_subquery())
_VIEWABLE = select(Gateway, _MANUAL).where(Gateway.gateway_id == bindparam("gateway_id"),
                                           Gateway.status.in_(VIEWABLE_STATUSES))
_VIEWABLE_WITH_STATUS = _with_status(_VIEWABLE)
_STATUS = _with_status(select(Gateway).where(Gateway.id == bindparam("pk")))


def status(gateway: Gateway, now: datetime | None = None) -> Status:
    """The status line: the newest reading the current owner may see and today's energy,
    read in one statement (the monitoring page and the partial every open page poll read
    it with the gateway instead: viewable_gateway(with_status=True))."""
    now = now or utcnow()
    _gateway, reading, daily = db.session.execute(_STATUS, dict(
        pk=gateway.id, today=now.astimezone(JST).date())).one()
    return _status(gateway, reading, daily, now)


def _status(gateway: Gateway, reading: Reading | None, daily: DailyEnergy | None,
            now: datetime) -> Status:
    today = now.astimezone(JST).date()
    clipped = history_start(gateway) is not None and today <= _first_day(gateway)
    today_totals = day_totals(gateway, today) if clipped else Totals.of(daily)
    if reading is None:
        return Status("none", None, None, today_totals, [])
    units = [UnitState(u["unit"], u["status"], u.get("error_code")) for u in reading.units]
    if reading.ts < now - _silence():
        state = "silent"
    elif reading.has_error:
        state = "error"
    else:
        state = "normal"
    return Status(state, reading.ts, reading, today_totals, units)


# The open alerts of a list's gateways (`pks`), but a remote setting not yet applied (no
# state of the operation). The ids are one parameter, an array on PostgreSQL and a JSON
# array on SQLite (json_each): one statement whatever the length of the list (an
# expanding IN is rendered anew for each length, and each id bound on its own).
_OPEN_ALERTS = select(GatewayAlert.gateway_id, GatewayAlert.kind).where(
    GatewayAlert.ended_at.is_(None), GatewayAlert.kind != "unapplied")
_OPEN_ALERTS_IN = _OPEN_ALERTS.where(GatewayAlert.gateway_id.in_(
    select(literal_column("value", Integer)).select_from(
        func.json_each(bindparam("pks", type_=String)))))
_OPEN_ALERTS_ANY = _OPEN_ALERTS.where(
    GatewayAlert.gateway_id == any_(bindparam("pks", type_=postgresql.ARRAY(Integer))))


def list_states(gateways: list[Gateway], now: datetime | None = None) -> dict[int, str]:
    """The status of each gateway for lists (menu, dealer console), from the gateway row
    and its open alerts only: error, silent, normal, or none (never reported)."""
    now = now or utcnow()
    pks = [gateway.id for gateway in gateways]
    alerting = {}
    if pks:
        postgres = db.session.get_bind().dialect.name == "postgresql"
        # run as Core (no ORM entities here: the session's ORM execution path costs
        # more than the statement)
        for gateway_pk, kind in db.session.connection().execute(
                _OPEN_ALERTS_ANY if postgres else _OPEN_ALERTS_IN,
                {"pks": pks if postgres else json.dumps(pks)}).all():
            if alerting.get(gateway_pk) != "error":
                alerting[gateway_pk] = kind
    states = {}
    silent_before = now - _silence()
    for gateway in gateways:
        if gateway.id in alerting:
            states[gateway.id] = alerting[gateway.id]
        elif gateway.last_reading_at is None:
            states[gateway.id] = "none"
        elif gateway.last_reading_at < silent_before:
            states[gateway.id] = "silent"
        else:
            states[gateway.id] = "normal"
    return states


# -- periods ---------------------------------------------------------------------------------
PERIODS = ("day", "month", "year")


@dataclass(frozen=True)
class Period:
    kind: str   # day, month or year
    start: date  # the day, the month's first day or the year's first day

    @property
    def param(self) -> str:
        if self.kind == "day":
            return self.start.isoformat()
        if self.kind == "month":
            return self.start.strftime("%Y-%m")
        return str(self.start.year)

    def shifted(self, steps: int) -> Period:
        if self.kind == "day":
            return Period("day", self.start + timedelta(days=steps))
        if self.kind == "month":
            index = self.start.year * 12 + self.start.month - 1 + steps
            return Period("month", date(index // 12, index % 12 + 1, 1))
        return Period("year", date(self.start.year + steps, 1, 1))

    def contains(self, day: date) -> bool:
        return self.start <= day < self.shifted(1).start


def current_period(kind: str, now: datetime | None = None) -> Period:
    today = (now or utcnow()).astimezone(JST).date()
    if kind == "month":
        return Period("month", today.replace(day=1))
    if kind == "year":
        return Period("year", date(today.year, 1, 1))
    return Period("day", today)


def switch_period(period: Period, kind: str, now: datetime | None = None) -> Period:
    """The `kind` period to show when the viewer of `period` picks the 日/月/年 tab: the
    current one if `period` contains today, else the one where `period` starts."""
    if kind == period.kind:
        return period
    today = current_period("day", now).start
    if period.contains(today):
        return current_period(kind, now)
    if kind == "day":
        return Period("day", period.start)
    if kind == "month":
        return Period("month", period.start.replace(day=1))
    return Period("year", date(period.start.year, 1, 1))


_PATTERNS = {"day": re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})"),
             "month": re.compile(r"([0-9]{4})-([0-9]{2})"), "year": re.compile(r"([0-9]{4})")}


def parse_period(kind: str | None, value: str | None,
                 now: datetime | None = None) -> Period | None:
    """`day` + `2026-11-23`, `month` + `2026-11`, `year` + `2026`; no value → the current
    one. None for anything malformed, before 2000 or after the current period."""
    kind = kind or "day"
    if kind not in PERIODS:
        return None
    current = current_period(kind, now)
    if not value:
        return current
    match = _PATTERNS[kind].fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    parts = [int(part) for part in match.groups()] + [1] * (3 - len(match.groups()))
    try:
        start = date(*parts)
    except ValueError:
        return None
    if start < FIRST_DAY or start > current.start:
        return None
    return Period(kind, start)


# -- series ----------------------------------------------------------------------------------
class Point(NamedTuple):
    """One bar or slot of a chart: a 5-minute slot (average kW) or a day / month (kWh).
    A tuple: a day makes 288 of them per request."""

    index: int        # position in the chart: slot 0-287, day 0-30, month 0-11
    label: str        # 12:05, 11/23, 2026/11
    when: date | datetime
    pv: float
    load: float
    self_used: float
    supplied: float
    sell: float
    buy: float
    soc: int | None = None
    battery_state: str | None = None


@dataclass(frozen=True)
class Series:
    period: Period
    unit: str          # kW or kWh
    slots: int         # how many positions the chart has
    points: list[Point]
    totals: Totals
    # What the points were drawn from, hashable (charts.view keeps a drawing per key);
    # None: not to be kept.
    key: tuple | None = None
    pruned: bool = False  # a day whose 5-minute readings are past their keeping period
    # The first day with anything the viewer may see (for the 前へ link), read with the
    # period's own rows; `first_known` False: not read (has_history_before asks).
    first_day: date | None = None
    first_known: bool = False


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), JST)


def series(gateway: Gateway, period: Period, read: PeriodRows | None = None) -> Series:
    """The chart's series of `period`; `read`: its rows as viewable_gateway read them
    with the gateway (else they are read here)."""
    if period.kind == "day":
        return _day_series(gateway, period, read)
    if period.kind == "month":
        return _month_series(gateway, period, read)
    return _year_series(gateway, period, read)


# The label of each 5-minute slot of a day (the end of its 5 minutes, Japan time: no
# daylight saving) and its end after midnight; slot 287 ends at 24:00.
_SLOT_LABELS = tuple(f"{m // 60:02d}:{m % 60:02d}" for m in range(5, 24 * 60 + 1, 5))
_SLOT_ENDS = tuple(SLOT * (index + 1) for index in range(288))
_DAY_COLUMNS = (Reading.pv_w, Reading.load_w, Reading.sell_w, Reading.buy_w, Reading.soc,
                Reading.battery_state)
_SUM_NAMES = ("slots", "pv_wsum", "load_wsum", "self_wsum", "supplied_wsum", "sell_wsum",
              "buy_wsum", "charge_wsum", "discharge_wsum")


# The period statements, built once with bound parameters (see _VIEWABLE): `pk` the
# gateway's primary key, `first_day` _first_day(gateway) (handover).
# The first day with anything the viewer may see, as a column of a period's query.
_FIRST = (select(func.min(DailyEnergy.day))
          .where(DailyEnergy.gateway_id == bindparam("pk"),
                 DailyEnergy.day >= bindparam("first_day"))  # handover
          .scalar_subquery().label("first"))
# A day's rollup sums, how many of its readings (`start` < ts <= `end`) are kept and the
# first day.
_DAY_ROLLUP = (
    select(*(getattr(DailyEnergy, name) for name in _SUM_NAMES),
           select(func.count()).select_from(Reading)
           .where(Reading.gateway_id == bindparam("pk"), Reading.ts > bindparam("start"),
                  Reading.ts <= bindparam("end")).scalar_subquery().label("kept"),
           _FIRST)
    .where(DailyEnergy.gateway_id == bindparam("pk"), DailyEnergy.day == bindparam("day")))
# The days of a month (`since` <= day < `until`) and the months of a year, with the
# first day.
_MONTH_DAYS = (
    select(DailyEnergy.day, *(getattr(DailyEnergy, name) for name in _SUM_NAMES), _FIRST)
    .where(DailyEnergy.gateway_id == bindparam("pk"), DailyEnergy.day >= bindparam("since"),
           DailyEnergy.day < bindparam("until"))
    .order_by(DailyEnergy.day))
_YEAR_MONTHS = (
    select(MonthlyEnergy.month, *(getattr(MonthlyEnergy, name) for name in _SUM_NAMES),
           _FIRST)
    .where(MonthlyEnergy.gateway_id == bindparam("pk"),
           MonthlyEnergy.month >= bindparam("since"), MonthlyEnergy.month < bindparam("until"))
    .order_by(MonthlyEnergy.month))
_FIRST_DAY = select(_FIRST)


# -- a period's rows read with the gateway (viewable_gateway) ----------------------------
# For a gateway without a hand-over (its whole history visible; one with a hand-over has
# its period read by series(), clipped): the rows of the statements above, joined to the
# gateway's row, with the first day of its history.
_DayRollup = namedtuple("_DayRollup", _SUM_NAMES + ("kept", "first"))
_DayRow = namedtuple("_DayRow", ("day",) + _SUM_NAMES + ("first",))
_MonthRow = namedtuple("_MonthRow", ("month",) + _SUM_NAMES + ("first",))


class PeriodRows(NamedTuple):
    rows: object        # a day: its _DayRollup or None; a month or year: its rows
    first: date | None  # the first day of the history (None: nothing recorded)


def _with_period(statement, kind: str, aggregated: bool = False):
    """`statement` (a select of the gateway) with the rows of a `kind` period joined in:
    a day's rollup (`day`; its readings `start` < ts <= `end`), a month's days or a
    year's months (`since` <= day or month < `until`; `aggregated`: as one JSON array);
    the first day of the history last."""
    first = (select(func.min(DailyEnergy.day))
             .where(DailyEnergy.gateway_id == Gateway.id, DailyEnergy.day >= FIRST_DAY)
             .correlate(Gateway).scalar_subquery())
    if kind == "day":
        rollup = aliased(DailyEnergy)
        kept = (select(func.count()).select_from(Reading)
                .where(Reading.gateway_id == Gateway.id, Reading.ts > bindparam("start"),
                       Reading.ts <= bindparam("end"))
                .correlate(Gateway).scalar_subquery())
        return (statement.add_columns(*(getattr(rollup, name) for name in _SUM_NAMES),
                                      kept, first)
                .outerjoin(rollup, and_(rollup.gateway_id == Gateway.id,
                                        rollup.day == bindparam("day"))))
    rollup = aliased(DailyEnergy if kind == "month" else MonthlyEnergy)
    at = rollup.day if kind == "month" else rollup.month
    sums = [getattr(rollup, name) for name in _SUM_NAMES]
    in_period = and_(rollup.gateway_id == Gateway.id, at >= bindparam("since"),
                     at < bindparam("until"))
    if aggregated:
        # PostgreSQL: the period's rows as one JSON array, so that the statement answers
        # one row (not the gateway's columns again on each of a month's 30 rows, the
        # status line's and the first day's subqueries run once)
        rows = (select(func.json_agg(aggregate_order_by(func.json_build_array(at, *sums), at)))
                .where(in_period).correlate(Gateway).scalar_subquery())
        return statement.add_columns(rows, first)
    return (statement.add_columns(at, *sums, first).outerjoin(rollup, in_period)
            .order_by(at))


_VIEWABLE_STATEMENTS: dict = {}


def _viewable_statement(with_status: bool, kind: str | None, aggregated: bool):
    """The gateway's statement of viewable_gateway, built once per combination."""
    key = (with_status, kind, aggregated)
    if key not in _VIEWABLE_STATEMENTS:
        statement = _VIEWABLE_WITH_STATUS if with_status else _VIEWABLE
        _VIEWABLE_STATEMENTS[key] = (statement if kind is None
                                     else _with_period(statement, kind, aggregated))
    return _VIEWABLE_STATEMENTS[key]


def _period_params(period: Period) -> dict:
    if period.kind == "day":
        start = _day_start(period.start)
        return dict(day=period.start, start=start, end=start + timedelta(days=1))
    return dict(since=period.start, until=period.shifted(1).start)


def _period_rows(kind: str, rows: list) -> PeriodRows:
    """PeriodRows from the period's columns of each row of the gateway's statement (one
    row with empty columns when the period has none)."""
    first = rows[0][-1]
    if kind == "day":
        return PeriodRows(_DayRollup(*rows[0]) if rows[0][0] is not None else None, first)
    make = _DayRow if kind == "month" else _MonthRow
    return PeriodRows([make(*row) for row in rows if row[0] is not None], first)


def _aggregated_period_rows(kind: str, rows: list | None, first: date | None) -> PeriodRows:
    """PeriodRows from a month's days or a year's months as a JSON array of arrays (the
    day or month as an ISO date, then the sums)."""
    make = _DayRow if kind == "month" else _MonthRow
    return PeriodRows([make(date.fromisoformat(row[0]), *row[1:], first)
                       for row in rows or ()], first)


def _day_rollup(gateway: Gateway, day: date):
    """The day's rollup sums, how many of its readings are kept and the first day of the
    history (one query), or None for a day without any."""
    start = _day_start(day)
    return db.session.execute(_DAY_ROLLUP, dict(
        pk=gateway.id, start=start, end=start + timedelta(days=1), day=day,
        first_day=_first_day(gateway))).first()


def _day_series(gateway: Gateway, period: Period, read: PeriodRows | None = None) -> Series:
    day = period.start
    if read is not None:
        rollup, first = read.rows, dict(first_day=read.first, first_known=True)
    else:
        # handover: nothing of a day before the current owner's history (not even
        # whether it had readings)
        rollup = _day_rollup(gateway, day) if day >= _first_day(gateway) else None
        first = {} if rollup is None else dict(first_day=rollup.first, first_known=True)
    if rollup is None:
        return Series(period, "kW", 288, [], Totals(),
                      key=("day", gateway.id, day, gateway.history_from, None), **first)
    key = ("day", gateway.id, day, gateway.history_from, tuple(rollup))
    if rollup.kept < rollup.slots:  # pruned: the rollup's totals, no 5-minute detail
        return Series(period, "kW", 288, [], day_totals(gateway, day, rollup), key=key,
                      pruned=True, **first)
    cache = _series_cache()
    if (cached := cache.get(key)) is not None:
        return cached
    start = _day_start(day)
    rows = db.session.execute(
        _clip_readings(gateway, select(type_coerce(Reading.ts, DateTime(timezone=True)),
                                       *_DAY_COLUMNS).where(
            Reading.gateway_id == gateway.id, Reading.ts > start,
            Reading.ts <= start + timedelta(days=1)))  # handover: clipped
        .order_by(Reading.ts)).all()
    points = []
    if rows:
        # Timestamps come back naive (UTC) from SQLite and aware from PostgreSQL: the
        # day's start in the same form, then one subtraction per reading.
        base = start.astimezone(timezone.utc)
        naive = rows[0][0].tzinfo is None
        if naive:
            base = base.replace(tzinfo=None)
        utc_start = start.astimezone(timezone.utc)
        labels, ends, append = _SLOT_LABELS, _SLOT_ENDS, points.append
        for ts, pv, load, sell, buy, soc, state in rows:
            index = (ts - base) // SLOT - 1
            append(Point(index, labels[index], utc_start + ends[index], pv / 1000,
                         load / 1000, (pv - sell if pv > sell else 0) / 1000,
                         (load - buy if load > buy else 0) / 1000, sell / 1000, buy / 1000,
                         soc, state))
    totals = day_totals(gateway, day, rollup)  # handover: clipped
    return cache.put(key, Series(period, "kW", 288, points, totals, key=key, **first))


def cache(name: str) -> LRU:
    """The monitoring page's per-process keep `name` (blueprints/core/caching.py; the keys
    hold database IDs), MONITOR_CACHE_SIZE entries."""
    return app_cache(f"monitoring.{name}", current_app.config["MONITOR_CACHE_SIZE"])


def _series_cache() -> LRU:
    return cache("series")


def _point(index: int, label: str, when: date, row) -> Point:
    totals = Totals.of(row)
    return Point(index, label, when, totals.pv, totals.load, totals.self_used,
                 totals.supplied, totals.sell, totals.buy)


def _month_series(gateway: Gateway, period: Period,
                  read: PeriodRows | None = None) -> Series:
    end = period.shifted(1).start
    if read is not None:
        rows, first = read.rows, dict(first_day=read.first, first_known=True)
    else:
        first_day = _first_day(gateway)
        rows = db.session.execute(_MONTH_DAYS, dict(
            pk=gateway.id, since=max(period.start, first_day), until=end,
            first_day=first_day)).all()
        first = _first_of(rows)
    points = [_point(row.day.day - 1, f"{row.day.month}/{row.day.day}", row.day,
                     _clip_day_row(gateway, row))  # handover: clipped
              for row in rows]
    if history_start(gateway) is None:  # the month's rollup is the sum of its days
        sums = _Sums()
        for row in rows:
            sums.add(row)
        totals = Totals.of(sums)
    else:
        totals = month_totals(gateway, period.start)  # handover: clipped
    return Series(period, "kWh", (end - period.start).days, points, totals,
                  key=("points", period, tuple(points)), **first)


def _year_series(gateway: Gateway, period: Period, read: PeriodRows | None = None) -> Series:
    end = period.shifted(1).start
    if read is not None:
        rows, first = read.rows, dict(first_day=read.first, first_known=True)
    else:
        first_day = _first_day(gateway)
        rows = db.session.execute(_YEAR_MONTHS, dict(
            pk=gateway.id, since=max(period.start, first_day.replace(day=1)), until=end,
            first_day=first_day)).all()
        first = _first_of(rows)
    rows = [_clip_month_row(gateway, row) for row in rows]  # handover: clipped
    points = [_point(row.month.month - 1, f"{row.month.year}/{row.month.month}", row.month,
                     row) for row in rows]
    totals = Totals()
    for row in rows:
        totals = totals + Totals.of(row)
    return Series(period, "kWh", 12, points, totals, key=("points", period, tuple(points)),
                  **first)


def _first_of(rows) -> dict:
    """Series' first_day from a period's rows (unknown without rows)."""
    return dict(first_day=rows[0].first, first_known=True) if rows else {}


def has_history_before(gateway: Gateway, period: Period, series: Series | None = None) -> bool:
    """Whether anything was recorded before this period (for the 前へ link); the
    period's series may know already."""
    if series is not None and series.first_known:
        first = series.first_day
    else:
        first = db.session.scalar(_FIRST_DAY, dict(pk=gateway.id,
                                                   first_day=_first_day(gateway)))
    return first is not None and first < period.start


# -- CSV ---------------------------------------------------------------------------------------
def series_csv(gateway: Gateway, series: Series) -> str:
    """The figures of a chart as CSV (UTF-8 with BOM, so that spreadsheet programs in
    Japan open it as UTF-8): 5-minute average kW for a day, kWh for a month or a year.
    A day whose readings were pruned has one row: its totals in kWh from the rollup."""
    day = series.period.kind == "day" and not series.pruned
    unit = "kWh" if series.pruned else series.unit
    header = [_("日時") if day else _("期間"),
              f"{_('発電')}({unit})", f"{_('消費')}({unit})", f"{_('自家消費')}({unit})",
              f"{_('自給')}({unit})", f"{_('売電')}({unit})", f"{_('買電')}({unit})"]
    if day:
        header += [_("蓄電残量") + "(%)", _("蓄電池の動作状態")]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    if series.pruned:
        t = series.totals
        writer.writerow([series.period.start.isoformat()] + [f"{value:.3f}" for value in (
            t.pv, t.load, t.self_used, t.supplied, t.sell, t.buy)])
    elif day:
        # Labels from the slot (its end, Japan time; the last one is the next day's 00:00)
        # and the battery states translated once, not per row.
        states = {state: str(label) for state, label in BATTERY_LABELS.items()}
        today = f"{series.period.start.isoformat()} "
        midnight = f"{(series.period.start + timedelta(days=1)).isoformat()} 00:00"
        writer.writerows(
            [today + point.label if point.index < 287 else midnight,
             f"{point.pv:.3f}", f"{point.load:.3f}", f"{point.self_used:.3f}",
             f"{point.supplied:.3f}", f"{point.sell:.3f}", f"{point.buy:.3f}", point.soc,
             states.get(point.battery_state, "")]
            for point in series.points)
    else:
        year = series.period.kind == "year"
        writer.writerows(
            [point.when.strftime("%Y-%m") if year else point.when.isoformat()]
            + [f"{value:.3f}" for value in (point.pv, point.load, point.self_used,
                                            point.supplied, point.sell, point.buy)]
            for point in series.points)
    return "\ufeff" + buffer.getvalue()


def csv_filename(gateway: Gateway, series: Series) -> str:
    return f"enelink_{gateway.gateway_id}_{series.period.kind}_{series.period.param}.csv"



# >>> handover: the current owner's history starts at Gateway.history_from
def history_start(gateway: Gateway) -> datetime | None:
    """The first moment of a gateway's history that its current owner (and the dealers
    linked to it) may see: the hand-over to them (ゲートウェイの譲渡), or None for all of
    it. Every read of readings, daily and monthly energy on the monitoring page, its
    charts and its CSV goes through this (readings from `ts >= history_start`)."""
    return gateway.history_from


def _clip_readings(gateway: Gateway, statement):
    start = history_start(gateway)
    return statement if start is None else statement.where(Reading.ts >= start)


def _first_day(gateway: Gateway) -> date:
    """The first (Japan-time) day with anything the current owner may see."""
    start = history_start(gateway)
    return FIRST_DAY if start is None else (start - SLOT).astimezone(JST).date()


@dataclass
class _Sums:
    """A rollup-like row (what Totals.of reads) summed from readings."""

    day: date | None = None
    month: date | None = None
    slots: int = 0
    pv_wsum: int = 0
    load_wsum: int = 0
    self_wsum: int = 0
    supplied_wsum: int = 0
    sell_wsum: int = 0
    buy_wsum: int = 0
    charge_wsum: int = 0
    discharge_wsum: int = 0

    def add(self, other) -> None:
        for name in ("slots", "pv_wsum", "load_wsum", "self_wsum", "supplied_wsum",
                     "sell_wsum", "buy_wsum", "charge_wsum", "discharge_wsum"):
            setattr(self, name, getattr(self, name) + (getattr(other, name) or 0))


def _boundary_day(gateway: Gateway, day: date) -> _Sums:
    """The energy of the hand-over day counted from the history start only, summed from
    its readings (at most 288)."""
    start = _day_start(day)
    sums = _Sums(day=day)
    for pv, load, sell, buy, battery, state in db.session.execute(_clip_readings(
            gateway, select(Reading.pv_w, Reading.load_w, Reading.sell_w, Reading.buy_w,
                            Reading.battery_w, Reading.battery_state).where(
                Reading.gateway_id == gateway.id, Reading.ts > start,
                Reading.ts <= start + timedelta(days=1)))):
        sums.slots += 1
        sums.pv_wsum += pv
        sums.load_wsum += load
        sums.self_wsum += max(0, pv - sell)
        sums.supplied_wsum += max(0, load - buy)
        sums.sell_wsum += sell
        sums.buy_wsum += buy
        if state == "charging":
            sums.charge_wsum += battery
        elif state == "discharging":
            sums.discharge_wsum += battery
    return sums


def _clip_day_row(gateway: Gateway, row):
    if history_start(gateway) is None or row.day > _first_day(gateway):
        return row
    return _boundary_day(gateway, row.day) if row.day == _first_day(gateway) else None


def day_totals(gateway: Gateway, day: date, rollup=None) -> Totals:
    """The energy of a day as the current owner may see it (`rollup`: the day's row if
    already read). A hand-over day whose readings were pruned shows nothing: its rollup
    cannot be split at the hand-over, and the previous owner's part is never shown."""
    if history_start(gateway) is not None and day <= _first_day(gateway):
        return Totals.of(_boundary_day(gateway, day)) if day == _first_day(gateway) \
            else Totals()
    return Totals.of(rollup if rollup is not None
                     else db.session.get(DailyEnergy, (gateway.id, day)))


def _month_from_days(gateway: Gateway, month: date) -> _Sums:
    """The hand-over month from the history start: the boundary day from its readings,
    the later days from their daily rows (at most 31)."""
    first = _first_day(gateway)
    sums = _Sums(month=month)
    sums.add(_boundary_day(gateway, first))
    end = Period("month", month).shifted(1).start
    for row in db.session.scalars(select(DailyEnergy).where(
            DailyEnergy.gateway_id == gateway.id, DailyEnergy.day > first,
            DailyEnergy.day < end)):
        sums.add(row)
    return sums


def _clip_month_row(gateway: Gateway, row):
    if history_start(gateway) is None or row.month != _first_day(gateway).replace(day=1):
        return row
    return _month_from_days(gateway, row.month)


def month_totals(gateway: Gateway, month: date) -> Totals:
    """The energy of a month as the current owner may see it."""
    if history_start(gateway) is not None:
        first_month = _first_day(gateway).replace(day=1)
        if month < first_month:
            return Totals()
        if month == first_month:
            return Totals.of(_month_from_days(gateway, month))
    return Totals.of(db.session.get(MonthlyEnergy, (gateway.id, month)))
# <<< handover
