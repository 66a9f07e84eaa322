"""The points ledger: the member's page, the monthly accrual, exchanges, corrections by
staff, 退会, and what other services ask of it (the monitoring panel, the access line,
gateway events, account deletion). Services hold the rules and commit; they never read
the request.

The balance is the sum of the member's `PointsEntry` rows, never a counter. Everything
that takes points (an exchange, a correction, the forfeit at 退会) first locks the member
row (`SELECT … FOR UPDATE` on PostgreSQL; on SQLite every transaction is BEGIN
IMMEDIATE, so the first statement already holds the database's write lock), then sums,
then adds its entry: twenty requests at once queue and the balance never goes below zero.

The accrual of a month: a member running in that month (joined before its end, not left
before its start) whose gateway had an eco membership running at some time in it earns
floor(kWh × POINTS_PER_KWH), where kWh is the month's self-consumed energy from the
monthly rollup (`MonthlyEnergy.self_wsum`), cut to whole Wh (3 decimals) so that the
calculation shown on the page (kWh × factor = points) is exact. A month without a rollup
or with 0 kWh adds no entry; a month with a little energy may add an entry of 0 points
(its calculation is still shown). The unique (member, kind, month) makes a second run,
or two runs at once, add nothing."""
from __future__ import annotations

import math
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import ROUND_DOWN, Decimal

from flask import current_app, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, bindparam, exists, func, or_, select, update
from sqlalchemy.orm import aliased

from blueprints.core import audit
from blueprints.core.paging import Page
from blueprints.core.registry import AccessLine, Panel
from forms.validators import today_in_japan
from models import JST, db, utcnow
from models.account import Account, AccountType
from models.eco import EcoMembership
from models.gateway import Gateway
from models.points import EntryKind, PointsEntry, PointsMember
from models.telemetry import SLOT, MonthlyEnergy

KWH_STEP = Decimal("0.001")
# Watt-sums of 5-minute averages per kWh: 1000 W × 60 min / 5 min.
WSUM_PER_KWH = Decimal(1000 * 3600) / Decimal(int(SLOT.total_seconds()))
REQUEST_KEY = re.compile(r"[A-Za-z0-9_-]{22}")
FORFEIT_NOTE = "退会によりポイント失効"


class NotEnoughPoints(Exception):
    """The balance would go below zero."""


class UnknownItem(Exception):
    """No such item in the exchange catalogue."""


# -- the formula ------------------------------------------------------------------------
def factor() -> Decimal:
    """POINTS_PER_KWH as stored on an accrual (3 decimals)."""
    return Decimal(str(current_app.config["POINTS_PER_KWH"])).quantize(KWH_STEP)


def month_kwh(self_wsum: int | None) -> Decimal:
    """Self-consumed kWh of a rollup's watt-sum, cut to whole Wh (= energy_kwh(), exact)."""
    return (Decimal(self_wsum or 0) / WSUM_PER_KWH).quantize(KWH_STEP, rounding=ROUND_DOWN)


def points_for(kwh: Decimal, per_kwh: Decimal) -> int:
    """floor(kWh × factor): never more than the energy earned."""
    return math.floor(kwh * per_kwh)


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """The month (Japan time) as [start, end) instants."""
    start = datetime.combine(month, time(), tzinfo=JST)
    end = datetime.combine(next_month(month), time(), tzinfo=JST)
    return start, end


def month_is_over(month: date) -> bool:
    return next_month(month) <= today_in_japan()


# -- who is a member ------------------------------------------------------------------------
def member_of(account) -> PointsMember | None:
    """The account's membership (running or ended), or None."""
    return db.session.scalar(select(PointsMember).where(PointsMember.account_id == account.id))


def _eco_running_between(gateway_column, start: datetime, end: datetime):
    return exists().where(EcoMembership.gateway_id == gateway_column,
                          EcoMembership.applied_at < end,
                          or_(EcoMembership.ended_at.is_(None), EcoMembership.ended_at >= start))


def _eco_running_now(gateway_column):
    return exists().where(EcoMembership.gateway_id == gateway_column,
                          EcoMembership.ended_at.is_(None))


def balance(member_id: int) -> int:
    return int(db.session.scalar(select(func.coalesce(func.sum(PointsEntry.points), 0))
                                 .where(PointsEntry.member_id == member_id)))


# -- the member's page ----------------------------------------------------------------------
@dataclass
class Estimate:
    """This month so far (見込み): the rollup's kWh × factor."""

    month: date
    kwh: Decimal
    factor: Decimal
    points: int


@dataclass
class MemberPage:
    member: PointsMember
    gateway_code: str | None
    eco_running: bool
    balance: int
    estimate: Estimate | None
    accruals: list[PointsEntry]
    exchanges: list[PointsEntry]
    corrections: list[PointsEntry]

    @property
    def running(self) -> bool:
        return self.member.left_at is None

    def item_name(self, code: str | None) -> str:
        item = find_item(code)
        return item["name"] if item else (code or "")


def _estimate(gateway_id: int | None) -> Estimate | None:
    if gateway_id is None:
        return None
    month = month_start(today_in_japan())
    wsum = db.session.scalar(select(MonthlyEnergy.self_wsum).where(
        MonthlyEnergy.gateway_id == gateway_id, MonthlyEnergy.month == month))
    kwh, per_kwh = month_kwh(wsum), factor()
    return Estimate(month, kwh, per_kwh, points_for(kwh, per_kwh))


def member_page(account) -> MemberPage | None:
    """Everything `/points/` shows, for the signed-in account's own membership only."""
    member = member_of(account)
    if member is None:
        return None
    gateway_code, eco_running = None, False
    if member.gateway_id is not None:
        gateway_code, eco_running = db.session.execute(
            select(Gateway.gateway_id, _eco_running_now(Gateway.id))
            .where(Gateway.id == member.gateway_id)).one()
    entries = list(db.session.scalars(select(PointsEntry).where(
        PointsEntry.member_id == member.id).order_by(PointsEntry.created_at.desc(),
                                                     PointsEntry.id.desc())))
    running = member.left_at is None
    return MemberPage(
        member=member, gateway_code=gateway_code, eco_running=bool(eco_running),
        balance=sum(e.points for e in entries),
        estimate=_estimate(member.gateway_id) if running and eco_running else None,
        accruals=sorted((e for e in entries if e.kind == EntryKind.ACCRUAL),
                        key=lambda e: e.month, reverse=True),
        exchanges=[e for e in entries if e.kind == EntryKind.EXCHANGE],
        corrections=[e for e in entries if e.kind == EntryKind.CORRECTION])


# -- the monthly accrual --------------------------------------------------------------------
def _insert_ignoring_duplicates(rows: list[dict]) -> None:
    if not rows:
        return
    if db.engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    db.session.execute(insert(PointsEntry).on_conflict_do_nothing(
        index_elements=["member_id", "kind", "month"]), rows)


def accrue(month: date) -> int:
    """Add the month's accrual of every member who earned one and has none yet; answers
    how many entries were added. A constant number of statements, whatever the number
    of members; commits."""
    month = month_start(month)
    start, end = month_bounds(month)
    per_kwh = factor()
    candidates = db.session.execute(
        select(PointsMember.id, MonthlyEnergy.self_wsum)
        .join(MonthlyEnergy, and_(MonthlyEnergy.gateway_id == PointsMember.gateway_id,
                                  MonthlyEnergy.month == month))
        .where(PointsMember.joined_at < end,
               or_(PointsMember.left_at.is_(None), PointsMember.left_at >= start),
               MonthlyEnergy.self_wsum > 0,
               _eco_running_between(PointsMember.gateway_id, start, end),
               ~exists().where(PointsEntry.member_id == PointsMember.id,
                               PointsEntry.kind == EntryKind.ACCRUAL.value,
                               PointsEntry.month == month))).all()
    now = utcnow()
    rows = []
    for member_id, wsum in candidates:
        kwh = month_kwh(wsum)
        rows.append(dict(member_id=member_id, kind=EntryKind.ACCRUAL.value, month=month,
                         kwh=kwh, factor=per_kwh, points=points_for(kwh, per_kwh),
                         item=None, note=None, created_by_id=None, created_at=now))
    _insert_ignoring_duplicates(rows)
    db.session.commit()
    return len(rows)


def finished_months_with_rollups() -> list[date]:
    """Months already over for which some member gateway has a rollup (for `make run`)."""
    current = month_start(today_in_japan())
    return list(db.session.scalars(
        select(MonthlyEnergy.month).distinct()
        .join(PointsMember, PointsMember.gateway_id == MonthlyEnergy.gateway_id)
        .where(MonthlyEnergy.month < current).order_by(MonthlyEnergy.month)))


# -- exchange -------------------------------------------------------------------------------
def exchange_items() -> list[dict]:
    return [dict(item) for item in current_app.config["POINTS_EXCHANGE_ITEMS"]]


def find_item(code) -> dict | None:
    return next((item for item in exchange_items() if item["code"] == code), None)


def new_request_key() -> str:
    """The key a confirmation page carries, so that its double submit adds one entry."""
    return secrets.token_urlsafe(16)


def _lock_member(member_id: int) -> None:
    """Serialise every change of this member's balance (see the module docstring)."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(select(PointsMember.id).where(PointsMember.id == member_id)
                           .with_for_update())
    else:
        db.session.execute(update(PointsMember).where(PointsMember.id == member_id)
                           .values(id=PointsMember.id))


@dataclass
class ExchangeResult:
    entry: PointsEntry
    item: dict
    balance_after: int
    replayed: bool = False


def request_exchange(account, code: str, request_key: str) -> ExchangeResult | None:
    """Exchange points for a catalogue item: a negative EXCHANGE entry and the 受付 mail.
    None when the account has no running membership. The same `request_key` twice (a
    double submit) answers the first request's result and adds nothing."""
    from mail.messages import send_points_exchange_mail

    item = find_item(code)
    if item is None:
        raise UnknownItem(code)
    if not REQUEST_KEY.fullmatch(request_key or ""):
        request_key = new_request_key()
    member = member_of(account)
    if member is None or member.left_at is not None:
        return None
    _lock_member(member.id)
    earlier = db.session.scalar(select(PointsEntry).where(
        PointsEntry.member_id == member.id, PointsEntry.request_key == request_key))
    if earlier is not None:
        result = ExchangeResult(earlier, find_item(earlier.item) or item, balance(member.id),
                                replayed=True)
        db.session.commit()
        return result
    current = balance(member.id)
    if current < item["points"]:
        db.session.rollback()
        raise NotEnoughPoints(current)
    entry = PointsEntry(member_id=member.id, kind=EntryKind.EXCHANGE.value,
                        points=-item["points"], item=item["code"], request_key=request_key)
    db.session.add(entry)
    audit.record("points.exchange", actor_id=account.id, subject_id=account.id,
                 member=member.id, item=item["code"], points=item["points"])
    db.session.flush()
    result = ExchangeResult(entry, item, current - item["points"])
    send_points_exchange_mail(account, member, entry, item, result.balance_after)
    db.session.commit()
    return result


def exchange_entry(account, entry_id: int) -> PointsEntry | None:
    """One of the account's own exchange entries (another member's → None)."""
    return db.session.scalar(select(PointsEntry).join(PointsMember).where(
        PointsEntry.id == entry_id, PointsEntry.kind == EntryKind.EXCHANGE.value,
        PointsMember.account_id == account.id))


# -- 退会 -----------------------------------------------------------------------------------
def _forfeit(member: PointsMember, now: datetime) -> int:
    """Take what is left of the balance (a correction by nobody, with its reason)."""
    left = balance(member.id)
    if left > 0:
        db.session.add(PointsEntry(member_id=member.id, kind=EntryKind.CORRECTION.value,
                                   points=-left, note=FORFEIT_NOTE, created_at=now))
    return left


def leave(account) -> PointsMember | None:
    """退会: the membership ends for good (the ID can never join again: `account_id` stays
    unique), the balance is forfeited, the mail goes out. None when not running."""
    from mail.messages import send_points_left_mail

    member = member_of(account)
    if member is None or member.left_at is not None:
        return None
    _lock_member(member.id)
    db.session.refresh(member)
    if member.left_at is not None:  # another tab was quicker
        db.session.commit()
        return None
    now = utcnow()
    member.left_at = now
    forfeited = _forfeit(member, now)
    audit.record("points.left", actor_id=account.id, subject_id=account.id,
                 member=member.id, forfeited=forfeited)
    send_points_left_mail(account, member, forfeited)
    db.session.commit()
    return member


# -- staff ----------------------------------------------------------------------------------
def add_correction(staff, member_id: int, points: int, reason: str) -> PointsEntry | None:
    """A staff correction (+/−) with its reason, audited; refused (NotEnoughPoints) when
    it would make the balance negative. None for an unknown member."""
    member = db.session.get(PointsMember, member_id)
    if member is None:
        return None
    _lock_member(member.id)
    current = balance(member.id)
    if current + points < 0:
        db.session.rollback()
        raise NotEnoughPoints(current)
    entry = PointsEntry(member_id=member.id, kind=EntryKind.CORRECTION.value, points=points,
                        note=reason, created_by_id=staff.id)
    db.session.add(entry)
    db.session.flush()
    audit.record("points.correction", actor_id=staff.id, subject_id=member.account_id,
                 member=member.id, entry=entry.id, points=points, reason=reason)
    db.session.commit()
    return entry


def member_state(member: PointsMember) -> str:
    if member.pseudonymised_at is not None:
        return "pseudonymised"
    return "left" if member.left_at is not None else "running"


@dataclass
class StaffMember:
    member: PointsMember
    account: Account | None
    gateway_code: str | None
    balance: int

    @property
    def state(self) -> str:
        return member_state(self.member)


def _paged(query, count_query, page: int, per_page: int):
    total = db.session.scalar(count_query)
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    return db.session.execute(query.limit(per_page).offset((page - 1) * per_page)).all(), \
        total, page


def staff_members(page: int = 1, per_page: int = 20) -> Page:
    """Points members, newest first, with their state and balance."""
    sums = (select(PointsEntry.member_id, func.sum(PointsEntry.points).label("total"))
            .group_by(PointsEntry.member_id).subquery())
    query = (select(PointsMember, Account, Gateway.gateway_id, sums.c.total)
             .outerjoin(Account, Account.id == PointsMember.account_id)
             .outerjoin(Gateway, Gateway.id == PointsMember.gateway_id)
             .outerjoin(sums, sums.c.member_id == PointsMember.id)
             .order_by(PointsMember.id.desc()))
    rows, total, page = _paged(query, select(func.count()).select_from(PointsMember),
                               page, per_page)
    return Page([StaffMember(m, a, code, int(t or 0)) for m, a, code, t in rows],
                total, page, per_page)


def staff_eco_members(page: int = 1, per_page: int = 20) -> Page:
    """Eco memberships, newest first: (membership, points member id or None)."""
    query = (select(EcoMembership, PointsMember.id)
             .outerjoin(PointsMember, PointsMember.eco_membership_id == EcoMembership.id)
             .order_by(EcoMembership.id.desc()))
    rows, total, page = _paged(query, select(func.count()).select_from(EcoMembership),
                               page, per_page)
    return Page([(eco, member_id) for eco, member_id in rows], total, page, per_page)


def staff_member(member_id: int) -> tuple[StaffMember, list[PointsEntry]] | None:
    member = db.session.get(PointsMember, member_id)
    if member is None:
        return None
    account = db.session.get(Account, member.account_id) if member.account_id else None
    code = (db.session.scalar(select(Gateway.gateway_id).where(Gateway.id == member.gateway_id))
            if member.gateway_id else None)
    entries = list(db.session.scalars(select(PointsEntry).where(
        PointsEntry.member_id == member.id).order_by(PointsEntry.id.desc())))
    return StaffMember(member, account, code, sum(e.points for e in entries)), entries


@dataclass
class ReportRow:
    member_id: int
    gateway_code: str | None
    eco_applied_at: datetime | None
    eco_ended_at: datetime | None
    joined_at: datetime
    left_at: datetime | None
    kwh: Decimal
    points: int | None


def credit_report(month: date) -> list[ReportRow]:
    """The month's self-consumed kWh per member gateway (members running in the month),
    with what was accrued: the figures the credit programme needs. One query."""
    month = month_start(month)
    start, end = month_bounds(month)
    accrual = aliased(PointsEntry)
    rows = db.session.execute(
        select(PointsMember.id, Gateway.gateway_id, EcoMembership.applied_at,
               EcoMembership.ended_at, PointsMember.joined_at, PointsMember.left_at,
               MonthlyEnergy.self_wsum, accrual.kwh, accrual.points)
        .outerjoin(Gateway, Gateway.id == PointsMember.gateway_id)
        .outerjoin(EcoMembership, EcoMembership.id == PointsMember.eco_membership_id)
        .outerjoin(MonthlyEnergy, and_(MonthlyEnergy.gateway_id == PointsMember.gateway_id,
                                       MonthlyEnergy.month == month))
        .outerjoin(accrual, and_(accrual.member_id == PointsMember.id,
                                 accrual.kind == EntryKind.ACCRUAL.value,
                                 accrual.month == month))
        .where(PointsMember.joined_at < end,
               or_(PointsMember.left_at.is_(None), PointsMember.left_at >= start))
        .order_by(PointsMember.id)).all()
    return [ReportRow(member_id, code, applied, ended, joined, left,
                      accrued_kwh if accrued_kwh is not None else month_kwh(wsum), points)
            for member_id, code, applied, ended, joined, left, wsum, accrued_kwh, points
            in rows]


# -- what other services ask ---------------------------------------------------------------
# The monitoring page's panel: built once with bound parameters (the page is read often;
# SQLAlchemy then neither builds the statement nor computes its cache key per request).
_PANEL = (select(PointsMember.id, MonthlyEnergy.self_wsum,
                 _eco_running_now(PointsMember.gateway_id))
          .outerjoin(MonthlyEnergy, and_(MonthlyEnergy.gateway_id == PointsMember.gateway_id,
                                         MonthlyEnergy.month == bindparam("month")))
          .where(PointsMember.account_id == bindparam("account"),
                 PointsMember.gateway_id == bindparam("gateway"),
                 PointsMember.left_at.is_(None)))


def monitoring_panel(gateway, account) -> Panel | None:
    """This month's estimate on the monitoring page of the account's member gateway (one
    query; nothing for a dealer or another account)."""
    if account is None or not getattr(account, "is_authenticated", False):
        return None
    month = month_start(today_in_japan())
    row = db.session.execute(_PANEL, dict(month=month, account=account.id,
                                          gateway=gateway.id)).first()
    if row is None:
        return None
    _member_id, wsum, eco_running = row
    kwh, per_kwh = month_kwh(wsum), factor()
    return Panel("points/_monitor_panel.html", dict(
        estimate=Estimate(month, kwh, per_kwh, points_for(kwh, per_kwh)),
        eco_running=bool(eco_running)))


def access_lines(account) -> list[AccessLine]:
    """The owner's access page: the running membership, with 退会 (the same warning)."""
    row = db.session.execute(
        select(PointsMember, Gateway.gateway_id)
        .outerjoin(Gateway, Gateway.id == PointsMember.gateway_id)
        .where(PointsMember.account_id == account.id, PointsMember.left_at.is_(None))).first()
    if row is None:
        return []
    member, code = row
    return [AccessLine(
        who=current_app.config["OPERATOR_NAME"],
        what=_l("ポイントサービス会員（ゲートウェイ %(code)s）：自家消費した電力量を受け取り、ポイントを付与",
                code=code or "—"),
        scope=code or "—", since=member.joined_at, manage_url=url_for("points.leave"),
        manage_label=_l("退会する"), detail_url=url_for("points.mypage"),
        detail_label=_l("ポイントを見る"))]


def pseudonymise(account) -> None:
    """The ID is being deleted: the membership ends (balance forfeited) and is marked
    pseudonymised; `account_id` becomes NULL through the foreign key, and nothing of the
    row or its entries names the person. Inside the deletion's transaction."""
    member = member_of(account)
    if member is None:
        return
    now = utcnow()
    if member.left_at is None:
        _lock_member(member.id)
        member.left_at = now
        _forfeit(member, now)
    member.pseudonymised_at = now
    member.install_postal_code = member.install_prefecture = member.install_city = None
    member.install_street = member.install_building = None
    db.session.flush()


def follow_exchanged_gateway(old_pk: int, new_pk: int, now) -> None:
    db.session.execute(update(PointsMember).where(PointsMember.gateway_id == old_pk)
                       .values(gateway_id=new_pk))


def detach_from_gateways(pks, now, reason) -> None:
    """Retired or released: the member stays, accrues nothing, and the gateway is free
    for its next owner."""
    db.session.execute(update(PointsMember).where(PointsMember.gateway_id.in_(list(pks)))
                       .values(gateway_id=None))


def is_individual(account) -> bool:
    return account.account_type == AccountType.PERSONAL

