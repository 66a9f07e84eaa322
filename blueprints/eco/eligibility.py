"""Who may join the eco programme (seed 002 §1-2 and 001-03): one gateway at a time.

A gateway of an owner is eligible when every condition holds:

- its model is eco-eligible in the catalogue (an unknown model is not);
- it is online: a reading within `ECO_ONLINE_HOURS`;
- its owner is an individual (a 商用アカウント is not: 会員規約 第2条-2 (7));
- PV and battery both report: in the daily rollups of today and yesterday (JST) the
  generation is above zero and so is charge + discharge (a system running without one of
  its units, e.g. during a failure exchange, is not eligible — 001-03). Raw readings are
  never scanned;
- its 運転開始日 is on or after the day `ECO_OPERATION_YEARS` years before the
  application date (unknown until the first reading: the application then opens once the
  system reports);
- the owner's two declarations, asked at 申込: no private generator (エネファーム …) and
  not enrolled in another credit scheme.

`check(gateway, account)` answers one `Eligibility` with each condition's state and the
Japanese reason of each failed one; `check_many` answers them for many gateways of one
account in a constant number of queries. Every page, the STEP4 offer and the guidance
job read these, so the rules are written once.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from blueprints.gateways import catalogue
from models import JST, db, utcnow
from models.gateway import Gateway, SystemModel
from models.telemetry import DailyEnergy

# The conditions, in the order the checklist shows them.
MODEL, ONLINE, INDIVIDUAL, PV_BATTERY, OPERATION, NO_GENERATOR, NO_SCHEME = (
    "model", "online", "individual", "pv_battery", "operation", "no_private_generator",
    "no_other_scheme")
LABELS = {
    MODEL: _l("対象の蓄電システム（機種）であること"),
    ONLINE: _l("蓄電システムをインターネットに常時接続していること"),
    INDIVIDUAL: _l("遠隔モニタリングサービスの利用登録が個人名で行われていること"),
    PV_BATTERY: _l("太陽光発電と蓄電池の両方が運転していること"),
    OPERATION: _l("蓄電システムの運転開始日が申込日の2年前の日以降であること"),
    NO_GENERATOR: _l("自家発電装置（エネファームなど）を設置していないこと"),
    NO_SCHEME: _l("J-クレジットの別のプロジェクトや他の類似制度に登録していないこと"),
}
DECLARATIONS = (NO_GENERATOR, NO_SCHEME)


@dataclass(frozen=True)
class Condition:
    """One condition: `ok` True / False, or None for a declaration not asked yet."""

    key: str
    ok: bool | None
    reason: object = None  # a lazy Japanese string: rendered in the reader's language

    @property
    def label(self):
        return LABELS[self.key]

    @property
    def declaration(self) -> bool:
        return self.key in DECLARATIONS


@dataclass(frozen=True)
class Eligibility:
    gateway_id: int
    conditions: list[Condition] = field(default_factory=list)

    @property
    def measurable_ok(self) -> bool:
        """Every condition the site can measure holds (the declarations aside)."""
        return all(c.ok for c in self.conditions if not c.declaration)

    @property
    def ok(self) -> bool:
        """Every condition holds, the declarations included."""
        return all(c.ok for c in self.conditions)

    @property
    def failed(self) -> list[Condition]:
        return [c for c in self.conditions if c.ok is False]

    def condition(self, key: str) -> Condition:
        return next(c for c in self.conditions if c.key == key)


def years_before(day: date, years: int) -> date:
    """The same day `years` years earlier; 29 Feb becomes the last day of February
    (2028-02-29 → 2026-02-28), as the civil code counts periods."""
    year = day.year - years
    return day.replace(year=year, day=min(day.day, calendar.monthrange(year, day.month)[1]))


@dataclass(frozen=True)
class Facts:
    """What the rules read about one gateway, fetched in bulk by `facts_for`."""

    eco_model: bool
    pv_wsum: int
    battery_wsum: int


def facts_for(gateways: list[Gateway], today: date) -> dict[int, Facts]:
    """The model's eligibility and today's + yesterday's rollups of each gateway, in two
    queries whatever the number of gateways."""
    if not gateways:
        return {}
    catalogue.ensure_catalogue()
    codes = {g.model for g in gateways if g.model}
    eligible = set(db.session.scalars(select(SystemModel.code).where(
        SystemModel.code.in_(codes), SystemModel.eco_eligible.is_(True)))) if codes else set()
    ids = [g.id for g in gateways]
    sums = {row.gateway_id: row for row in db.session.execute(
        select(DailyEnergy.gateway_id,
               func.coalesce(func.sum(DailyEnergy.pv_wsum), 0).label("pv"),
               func.coalesce(func.sum(DailyEnergy.charge_wsum + DailyEnergy.discharge_wsum),
                             0).label("battery"))
        .where(DailyEnergy.gateway_id.in_(ids),
               DailyEnergy.day.in_([today, today - timedelta(days=1)]))
        .group_by(DailyEnergy.gateway_id))}
    return {g.id: Facts(g.model in eligible,
                        int(sums[g.id].pv) if g.id in sums else 0,
                        int(sums[g.id].battery) if g.id in sums else 0)
            for g in gateways}


def evaluate(gateway: Gateway, commercial: bool, facts: Facts, now: datetime, today: date,
             declarations: dict[str, bool] | None = None) -> Eligibility:
    """The rules themselves, on facts already read (no query)."""
    config = current_app.config
    conditions = [
        Condition(MODEL, facts.eco_model, None if facts.eco_model else (
            _l("この機種（%(model)s）は「みんなでつくるエコ活サークル」の対象外です。",
               model=gateway.model or "—"))),
        _online(gateway, now, config["ECO_ONLINE_HOURS"]),
        Condition(INDIVIDUAL, not commercial, (_l(
            "法人名（商用アカウント）で登録されたお客様はお申し込みいただけません。"))
            if commercial else None),
    ]
    both = facts.pv_wsum > 0 and facts.battery_wsum > 0
    conditions.append(Condition(PV_BATTERY, both, None if both else (_l(
        "今日と昨日のデータで、太陽光発電と蓄電池の両方の運転を確認できません。故障交換などで"
        "PVユニットまたは蓄電池ユニットを使用せずに運転している間はお申し込みいただけません。"))))
    conditions.append(_operation(gateway, today, config["ECO_OPERATION_YEARS"]))
    for key in DECLARATIONS:
        if declarations is None or key not in declarations:
            conditions.append(Condition(key, None))
        else:
            ticked = bool(declarations[key])
            conditions.append(Condition(key, ticked, None if ticked else (
                _l("申込時にご確認いただく条件です。"))))
    return Eligibility(gateway.id, conditions)


def _online(gateway: Gateway, now: datetime, hours: int) -> Condition:
    last = gateway.last_reading_at
    if last is None:
        return Condition(ONLINE, False, (_l(
            "まだ通信がありません。システムからの通信が始まるとお申し込みいただけます。")))
    if last < now - timedelta(hours=hours):
        return Condition(ONLINE, False, (_l(
            "%(hours)s時間以上通信がありません（最終通信 %(last)s）。インターネットへの接続を"
            "ご確認ください。", hours=hours,
            last=last.astimezone(JST).strftime("%Y/%m/%d %H:%M"))))
    return Condition(ONLINE, True)


def _operation(gateway: Gateway, today: date, years: int) -> Condition:
    start = gateway.operation_start
    if start is None:
        return Condition(OPERATION, False, (_l(
            "運転開始日がまだわかりません。システムからの通信が始まるとお申し込みいただけます。")))
    limit = years_before(today, years)
    if start < limit:
        return Condition(OPERATION, False, (_l(
            "運転開始日（%(start)s）が申込日の%(years)s年前の日（%(limit)s）より前です。",
            start=start.strftime("%Y/%m/%d"), years=years, limit=limit.strftime("%Y/%m/%d"))))
    return Condition(OPERATION, True)


def check_many(gateways: list[Gateway], account, declarations: dict[str, bool] | None = None,
               now: datetime | None = None) -> dict[int, Eligibility]:
    """Each gateway's eligibility for `account` (its owner), by gateway pk."""
    now = now or utcnow()
    today = now.astimezone(JST).date()
    facts = facts_for(gateways, today)
    return {g.id: evaluate(g, account.is_commercial, facts[g.id], now, today, declarations)
            for g in gateways}


def check(gateway: Gateway, account, declarations: dict[str, bool] | None = None,
          now: datetime | None = None) -> Eligibility:
    """One gateway's eligibility for its owner."""
    return check_many([gateway], account, declarations, now)[gateway.id]
