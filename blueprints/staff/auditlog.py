"""The audit log for staff admins (/staff/audit): the rows newest first with filters, the
same rows as CSV, and the proxy sessions (代理ログイン) with the changes they made.

Filters: actor and subject by e-mail address or お客様番号 (exact, case-insensitive
address), the gateway (`AuditEvent.gateway_id`), the action's prefix (`account.`), and a
period of Japan dates (both ends included). A page is two statements whatever its
length (the count, the rows joined to both accounts); the CSV streams with `yield_per`,
so a year of rows does not sit in memory."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import Select, and_, distinct, func, or_, select
from sqlalchemy.orm import aliased

from blueprints.core.paging import Page
from models import JST, db
from models.account import Account
from models.audit import AuditEvent
from models.club import ProxySession

PER_PAGE = 50
MAX_PAGE = 100_000
CSV_BATCH = 500


@dataclass
class AuditFilters:
    actor: str = ""
    subject: str = ""
    gateway: str = ""
    action: str = ""
    date_from: date | None = None
    date_to: date | None = None

    def as_args(self) -> dict:
        """The filters as query arguments (for the pager and the CSV link)."""
        args = {"actor": self.actor, "subject": self.subject, "gateway": self.gateway,
                "action": self.action,
                "date_from": self.date_from.isoformat() if self.date_from else "",
                "date_to": self.date_to.isoformat() if self.date_to else ""}
        return {key: value for key, value in args.items() if value}


@dataclass
class AuditRow:
    event: AuditEvent
    actor: Account | None
    subject: Account | None

    @property
    def detail_json(self) -> str:
        return compact_json(self.event.detail)


def compact_json(value) -> str:
    return json.dumps(value or {}, ensure_ascii=False, separators=(",", ":"), sort_keys=True,
                      default=str)


def _start_of(day: date) -> datetime:
    """Midnight of a Japan date, as an aware datetime (compared with UTC columns)."""
    return datetime.combine(day, time(0), tzinfo=JST)


def _accounts_by(who: str):
    """The ids of the accounts an e-mail address or a お客様番号 names (a subquery)."""
    return select(Account.id).where(or_(func.lower(Account.email) == who.lower(),
                                        Account.customer_number == who))


def _in_period(column, date_from: date | None, date_to: date | None) -> list:
    conditions = []
    if date_from:
        conditions.append(column >= _start_of(date_from))
    if date_to:
        conditions.append(column < _start_of(date_to + timedelta(days=1)))
    return conditions


def _conditions(filters: AuditFilters) -> list:
    conditions = []
    if filters.actor:
        conditions.append(AuditEvent.actor_id.in_(_accounts_by(filters.actor)))
    if filters.subject:
        conditions.append(AuditEvent.subject_id.in_(_accounts_by(filters.subject)))
    if filters.gateway:
        conditions.append(AuditEvent.gateway_id == filters.gateway)
    if filters.action:
        conditions.append(AuditEvent.action.startswith(filters.action, autoescape=True))
    conditions += _in_period(AuditEvent.at, filters.date_from, filters.date_to)
    return conditions


def _rows(filters: AuditFilters) -> Select:
    actor, subject = aliased(Account), aliased(Account)
    return (select(AuditEvent, actor, subject)
            .outerjoin(actor, actor.id == AuditEvent.actor_id)
            .outerjoin(subject, subject.id == AuditEvent.subject_id)
            .where(*_conditions(filters))
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()))


def audit_page(filters: AuditFilters, page: int) -> Page:
    """One page of 50 rows, newest first (past the end: the last page)."""
    total = db.session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(*_conditions(filters))) or 0
    page = min(max(1, min(page, MAX_PAGE)), max(1, -(-total // PER_PAGE)))
    rows = db.session.execute(_rows(filters).limit(PER_PAGE)
                              .offset((page - 1) * PER_PAGE)).all()
    return Page(items=[AuditRow(*row) for row in rows], total=total, page=page,
                per_page=PER_PAGE)


def action_prefixes() -> list[str]:
    """The known prefixes (`account.`, `club.` …) of the actions recorded so far."""
    actions = db.session.scalars(select(distinct(AuditEvent.action)))
    return sorted({action.split(".", 1)[0] + "." for action in actions if action})


CSV_HEADER = ("日時（日本時間）", "操作", "操作した人", "操作した人のお客様番号", "対象のアカウント",
              "対象のお客様番号", "ゲートウェイID", "IPアドレス", "詳細")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    """A cell that a spreadsheet will not run: text starting with = + - @ (or a tab or
    carriage return) gets a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_line(row: AuditRow) -> list[str]:
    event = row.event
    return [csv_cell(value) for value in (
        event.at.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S"), event.action,
        row.actor.email if row.actor else "", row.actor.customer_number if row.actor else "",
        row.subject.email if row.subject else "",
        row.subject.customer_number if row.subject else "",
        event.gateway_id or "", event.ip or "", row.detail_json)]


# -- proxy sessions ------------------------------------------------------------------------
@dataclass
class ProxyFilters:
    owner: str = ""
    employee: str = ""
    date_from: date | None = None
    date_to: date | None = None

    def as_args(self) -> dict:
        args = {"owner": self.owner, "employee": self.employee,
                "date_from": self.date_from.isoformat() if self.date_from else "",
                "date_to": self.date_to.isoformat() if self.date_to else ""}
        return {key: value for key, value in args.items() if value}


@dataclass
class ProxyRow:
    proxy: ProxySession
    owner: Account
    employee: Account | None


def proxy_page(filters: ProxyFilters, page: int) -> Page:
    """Proxy sessions, newest first, 50 a page, with their owner and employee (two
    statements; the changes are a column of the session)."""
    conditions = _in_period(ProxySession.started_at, filters.date_from, filters.date_to)
    if filters.owner:
        conditions.append(ProxySession.owner_id.in_(_accounts_by(filters.owner)))
    if filters.employee:
        conditions.append(ProxySession.actor_id.in_(_accounts_by(filters.employee)))
    total = db.session.scalar(select(func.count()).select_from(ProxySession)
                              .where(*conditions)) or 0
    page = min(max(1, min(page, MAX_PAGE)), max(1, -(-total // PER_PAGE)))
    employee = aliased(Account)
    rows = db.session.execute(
        select(ProxySession, Account, employee)
        .join(Account, Account.id == ProxySession.owner_id)
        .outerjoin(employee, employee.id == ProxySession.actor_id)
        .where(*conditions)
        .order_by(ProxySession.started_at.desc(), ProxySession.id.desc())
        .limit(PER_PAGE).offset((page - 1) * PER_PAGE)).all()
    return Page(items=[ProxyRow(*row) for row in rows], total=total, page=page,
                per_page=PER_PAGE)


def change_time(change: dict) -> datetime | None:
    """When a recorded change (`proxy.record_change`: at, endpoint, path) happened."""
    try:
        return datetime.fromisoformat(change.get("at", ""))
    except (TypeError, ValueError):
        return None


def audit_csv_lines(filters: AuditFilters):
    """The CSV lines of every matching row, newest first: batches of CSV_BATCH rows
    (read with `yield_per`), each turned into lines in its own short transaction that
    ends before the lines are written out; the next batch continues after the last row
    seen (keyset, not OFFSET). Memory stays bounded whatever the length, and a slow
    download holds no transaction open (on SQLite a transaction holds the write lock)."""
    after: tuple | None = None
    while True:
        statement = _rows(filters).limit(CSV_BATCH)
        if after is not None:
            at, event_id = after
            statement = statement.where(or_(AuditEvent.at < at,
                                            and_(AuditEvent.at == at, AuditEvent.id < event_id)))
        lines, count = [], 0
        for row in db.session.execute(statement.execution_options(yield_per=CSV_BATCH)):
            audit_row = AuditRow(*row)
            lines.append(csv_line(audit_row))
            after, count = (audit_row.event.at, audit_row.event.id), count + 1
        db.session.rollback()  # nothing was written; ends the read transaction
        yield from lines
        if count < CSV_BATCH:
            return
