"""Remote settings of a storage system (遠隔設定): the rules, the allowed ranges, the
versions, their delivery to the gateway and its acknowledgement, and the timeout alert.

- Every change is a new numbered version of the whole set (models/remote.py). Version 1
  is the factory defaults (config SETTINGS_DEFAULTS), written at the first read; the
  gateway has them from the factory, so version 1 is never 反映待ち.
- The owner and every employee of a linked dealer may change them (who may is
  energy.viewable_gateway's answer); a change names the version it was based on, and a
  base that is not the newest any more changes nothing (someone else saved meanwhile).
  Two saves of the same base race for the unique (gateway_id, version): one wins, the
  other is told the settings changed, never a 500 and never a silent overwrite.
- A version is 反映待ち until the gateway acknowledges it, 反映済み after, and
  反映されていません when not acknowledged within SETTINGS_ACK_TIMEOUT_MINUTES: the periodic
  check then opens an alert of kind "unapplied" (mailed like silence), which the
  acknowledgement of the newest version ends.
- A gateway handed over to a new owner keeps its current values, but the new owner's
  history list starts at the hand-over (Gateway.history_from)."""
from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from types import SimpleNamespace

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError

from blueprints.core import audit
from blueprints.core.paging import Page
from models import db, utcnow
from models.account import Account, Company
from models.gateway import Dealer, Gateway, GatewayStatus
from models.remote import GatewaySettings
from models.telemetry import AlertKind, GatewayAlert

# -- the rules of each setting --------------------------------------------------------------
MODES = {
    "economy": _l("経済優先"),
    "green": _l("環境優先（自家消費）"),
    "backup": _l("安心（蓄電優先）"),
}
MODE_HELP = {
    "economy": _l("電気料金の安い時間帯（充電する時間帯）に電力会社からも充電し、それ以外の時間帯に放電して買電を減らします。"),
    "green": _l("太陽光の余った電力を充電する時間帯に蓄え、足りないときに放電して自家消費を増やします。"),
    "backup": _l("停電に備えて蓄電池を満充電に保ちます。充電する時間帯に太陽光と電力会社から充電し、通常時は放電しません。"),
}
ISLANDING = {"auto": _l("自動で切り替える"), "manual": _l("手動で切り替える")}
SELLING = {True: _l("売電する"), False: _l("売電しない")}
STEP_MINUTES = 30
DAY_MINUTES = 24 * 60
FLOOR_MIN, FLOOR_MAX = 10, 90
FIELD_LABELS = {
    "operation_mode": _l("運転モード"),
    "charge_start": _l("充電開始時刻"),
    "charge_end": _l("充電終了時刻"),
    "discharge_floor": _l("放電下限の蓄電残量"),
    "sell_when_discharging": _l("放電時の売電"),
    "islanding": _l("停電時の自立運転"),
}


def time_label(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_time(value) -> int | None:
    """Minutes after midnight from "HH:MM" (or a number of minutes as text), if it is a
    time of the day on a 30-minute step; None otherwise."""
    if not isinstance(value, str) or len(value) > 5:
        return None
    text = value.strip()
    if ":" in text:
        hours, _sep, minutes = text.partition(":")
        if not (hours.isascii() and hours.isdigit() and minutes.isascii()
                and minutes.isdigit() and len(minutes) == 2):
            return None
        total = int(hours) * 60 + int(minutes)
    elif text.isascii() and text.isdigit():
        total = int(text)
    else:
        return None
    if not 0 <= total < DAY_MINUTES or total % STEP_MINUTES:
        return None
    return total


@dataclass(frozen=True)
class Values:
    """One whole set of settings (what a version holds)."""

    operation_mode: str
    charge_start: int
    charge_end: int
    discharge_floor: int
    sell_when_discharging: bool
    islanding: str

    @classmethod
    def of(cls, row: GatewaySettings) -> Values:
        return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})

    @classmethod
    def defaults(cls) -> Values:
        return cls(**current_app.config["SETTINGS_DEFAULTS"])

    def problems(self) -> dict[str, str]:
        """Field → why it is outside its rule (the form checks the same, field by field;
        this is the service's own guard)."""
        found = {}
        if self.operation_mode not in MODES:
            found["operation_mode"] = "unknown mode"
        for name in ("charge_start", "charge_end"):
            value = getattr(self, name)
            if (not isinstance(value, int) or isinstance(value, bool)
                    or not 0 <= value < DAY_MINUTES or value % STEP_MINUTES):
                found[name] = "not a time on a 30-minute step"
        floor = self.discharge_floor
        if not isinstance(floor, int) or isinstance(floor, bool) \
                or not FLOOR_MIN <= floor <= FLOOR_MAX:
            found["discharge_floor"] = f"not {FLOOR_MIN}-{FLOOR_MAX}"
        if not isinstance(self.sell_when_discharging, bool):
            found["sell_when_discharging"] = "not a boolean"
        if self.islanding not in ISLANDING:
            found["islanding"] = "unknown islanding"
        return found

    def shown(self, name: str):
        """A value as the page and the mails show it (translated when rendered)."""
        value = getattr(self, name)
        if name == "operation_mode":
            return MODES.get(value, value)
        if name in ("charge_start", "charge_end"):
            return time_label(value)
        if name == "discharge_floor":
            return f"{value}%"
        if name == "sell_when_discharging":
            return SELLING[bool(value)]
        return ISLANDING.get(value, value)

    def api(self) -> dict:
        data = asdict(self)
        data["charge_start"] = time_label(self.charge_start)
        data["charge_end"] = time_label(self.charge_end)
        return data


@dataclass(frozen=True)
class Change:
    """One setting changed: its label and both values, as lazy strings (rendered in the
    reader's language)."""

    name: str
    label: object
    before: object
    after: object


def changes(before: Values | None, after: Values) -> list[Change]:
    if before is None:
        return []
    return [Change(f.name, FIELD_LABELS[f.name], before.shown(f.name), after.shown(f.name))
            for f in fields(Values) if getattr(before, f.name) != getattr(after, f.name)]


# -- versions --------------------------------------------------------------------------------
def newest(gateway_pk: int) -> GatewaySettings | None:
    return db.session.scalar(select(GatewaySettings).where(
        GatewaySettings.gateway_id == gateway_pk)
        .order_by(GatewaySettings.version.desc()).limit(1))


def ensure_settings(gateway: Gateway) -> GatewaySettings:
    """The newest version of `gateway`'s settings, writing version 1 (the factory
    defaults) when there is none yet. Commits when it wrote one."""
    row = newest(gateway.id)
    if row is not None:
        return row
    try:
        with db.session.begin_nested():
            db.session.add(GatewaySettings(gateway_id=gateway.id, version=1,
                                           **asdict(Values.defaults())))
    except IntegrityError:  # written by a concurrent first read
        pass
    db.session.commit()
    return newest(gateway.id)


class State(str, enum.Enum):
    FACTORY = "factory"      # version 1: what the gateway has from the factory
    PENDING = "pending"      # 反映待ち
    APPLIED = "applied"      # 反映済み
    UNAPPLIED = "unapplied"  # 反映されていません (past the timeout)


def ack_timeout() -> timedelta:
    return timedelta(minutes=current_app.config["SETTINGS_ACK_TIMEOUT_MINUTES"])


def state_of(row: GatewaySettings, now: datetime | None = None) -> State:
    if row.acked_at is not None:
        return State.APPLIED
    if row.version == 1 and row.changed_by_id is None and row.dealer_id is None:
        return State.FACTORY
    now = now or utcnow()
    return State.UNAPPLIED if row.created_at < now - ack_timeout() else State.PENDING


@dataclass
class HistoryEntry:
    row: GatewaySettings
    who: str
    changes: list[Change]


def history(gateway: Gateway, page: int = 1) -> Page:
    """The versions the current owner may see (from Gateway.history_from, the hand-over;
    the current version always), newest first, a page at a time; who made each and what
    it changed against the version before. A constant number of queries per page."""
    per_page = current_app.config["SETTINGS_HISTORY_PER_PAGE"]
    where = [GatewaySettings.gateway_id == gateway.id]
    current = newest(gateway.id)
    if gateway.history_from is not None and current is not None:
        where.append((GatewaySettings.created_at >= gateway.history_from)
                     | (GatewaySettings.version == current.version))
    total = db.session.scalar(select(func.count()).select_from(GatewaySettings).where(*where))
    page = max(1, min(page, max(1, -(-total // per_page))))
    rows = list(db.session.execute(
        select(GatewaySettings, Account, Company)
        .outerjoin(Account, Account.id == GatewaySettings.changed_by_id)
        .outerjoin(Dealer, Dealer.id == GatewaySettings.dealer_id)
        .outerjoin(Company, Company.id == Dealer.company_id)
        .where(*where).order_by(GatewaySettings.version.desc())
        .offset((page - 1) * per_page).limit(per_page)))
    versions = [row.version - 1 for row, _account, _company in rows]
    before = {row.version: row for row in db.session.scalars(select(GatewaySettings).where(
        GatewaySettings.gateway_id == gateway.id, GatewaySettings.version.in_(versions)))}
    items = []
    for row, account, company in rows:
        if gateway.history_from is not None and row.created_at < gateway.history_from:
            # The current values, set before the hand-over: not who, nor what they were.
            items.append(HistoryEntry(row, _l("譲渡前の設定"), []))
            continue
        previous = before.get(row.version - 1)
        items.append(HistoryEntry(row, _who(row, account, company),
                                  changes(Values.of(previous) if previous else None,
                                          Values.of(row))))
    return Page(items=items, total=total, page=page, per_page=per_page)


def _who(row: GatewaySettings, account: Account | None, company: Company | None):
    if row.changed_by_id is None and row.dealer_id is None:
        return _l("工場出荷時の設定")
    name = account.full_name if account is not None else _l("（退会したユーザー）")
    if row.dealer_id is not None:
        return f"{company.name if company else ''} {name}".strip()
    return name


class Outcome(str, enum.Enum):
    SAVED = "saved"
    UNCHANGED = "unchanged"
    STALE = "stale"          # the base version is not the newest any more
    READ_ONLY = "read_only"  # the gateway is not in service (retired)


@dataclass
class ChangeResult:
    outcome: Outcome
    current: GatewaySettings | None = None
    changes: list[Change] | None = None


def may_change(gateway: Gateway) -> bool:
    """Settings of a gateway in service change; a retired one's are history."""
    from blueprints.gateways.credentials import may_report
    return may_report(gateway)


def change(account: Account, gateway: Gateway, owner: Account, as_dealer: bool,
           base_version: int, values: Values, now: datetime | None = None) -> ChangeResult:
    """Save `values` as the next version when `base_version` is still the newest, by
    `account` (the owner, or a linked dealer's employee: `as_dealer`), audited; the owner
    is mailed when a dealer made it. Commits."""
    from blueprints.dealers.services import dealer_for_account
    from mail import messages

    if values.problems():
        raise ValueError(f"settings out of range: {values.problems()}")
    if not may_change(gateway):
        return ChangeResult(Outcome.READ_ONLY, newest(gateway.id))
    now = now or utcnow()
    current = ensure_settings(gateway)
    if current.version != base_version:
        return ChangeResult(Outcome.STALE, current)
    before = Values.of(current)
    if before == values:
        return ChangeResult(Outcome.UNCHANGED, current)
    dealer = dealer_for_account(account) if as_dealer else None
    row = GatewaySettings(gateway_id=gateway.id, version=current.version + 1,
                          changed_by_id=account.id, dealer_id=dealer.id if dealer else None,
                          created_at=now, **asdict(values))
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:  # someone else saved the same base first
        db.session.commit()
        return ChangeResult(Outcome.STALE, newest(gateway.id))
    made = changes(before, values)
    audit.record("gateway.settings_changed", actor_id=account.id, subject_id=owner.id,
                 gateway_id=gateway.gateway_id, version=row.version,
                 dealer_id=dealer.id if dealer else None,
                 changes={c.name: [getattr(before, c.name), getattr(values, c.name)]
                          for c in made})
    if dealer is not None and owner is not None and owner.is_active:
        company = db.session.get(Company, dealer.company_id)
        messages.send_settings_changed_mail(owner, gateway, row, made, company, account)
    db.session.commit()
    return ChangeResult(Outcome.SAVED, row, made)


# -- delivery to the gateway -------------------------------------------------------------------
def fetch(gateway: Gateway, now: datetime | None = None) -> GatewaySettings:
    """What the gateway reads: the newest version (marked delivered at its first fetch).
    Commits."""
    row = ensure_settings(gateway)
    if row.delivered_at is None:
        row.delivered_at = now or utcnow()
        db.session.commit()
    return row


class AckResult(str, enum.Enum):
    ACKED = "acked"
    UNKNOWN = "unknown"              # no such version of this gateway
    NOT_DELIVERED = "not_delivered"  # the gateway never fetched it


def acknowledge(gateway: Gateway, version: int,
                now: datetime | None = None) -> tuple[AckResult, GatewaySettings | None]:
    """The gateway applied `version`: 反映済み from now (the first acknowledgement counts;
    repeating it is harmless). An older version's acknowledgement never marks a newer
    one applied. Acknowledging the newest ends an open 反映されていません alert. Commits."""
    from blueprints.monitoring import alerts

    now = now or utcnow()
    locked = db.session.scalar(select(Gateway).where(Gateway.id == gateway.id)
                               .with_for_update().execution_options(populate_existing=True))
    row = db.session.scalar(select(GatewaySettings).where(
        GatewaySettings.gateway_id == gateway.id, GatewaySettings.version == version))
    if locked is None or row is None:
        db.session.rollback()
        return AckResult.UNKNOWN, newest(gateway.id)
    if row.delivered_at is None:
        db.session.rollback()
        return AckResult.NOT_DELIVERED, newest(gateway.id)
    if row.acked_at is None:
        row.acked_at = now
        if row.version > 1:  # the factory version is no change of anyone's
            audit.record("gateway.settings_applied", gateway_id=locked.gateway_id,
                         version=row.version)
    current = newest(gateway.id)
    if current.version == row.version:
        alerts.end_unapplied(locked, now)
    db.session.commit()
    return AckResult.ACKED, current


def is_pending(row: GatewaySettings) -> bool:
    return state_of(row) in (State.PENDING, State.UNAPPLIED)


def pending_version(gateway_pk: int) -> tuple[int, bool]:
    """(newest version, whether it waits for the gateway) for the readings answer; a
    gateway without any version has the factory defaults (version 1, not pending)."""
    row = newest(gateway_pk)
    if row is None:
        return 1, False
    return row.version, is_pending(row)


# The columns state_of reads, and the same answer from them read along with the gateway
# (the readings POST reads the gateway, its units and this in one statement).
PENDING_COLUMNS = ("version", "acked_at", "changed_by_id", "dealer_id", "created_at")


def with_pending_version(statement, gateway_pk_column):
    """`statement` (a select of gateways) with the newest version's PENDING_COLUMNS
    joined (NULLs for a gateway without any version): see pending_of."""
    newest_version = (select(func.max(GatewaySettings.version))
                      .where(GatewaySettings.gateway_id == gateway_pk_column)
                      .correlate_except(GatewaySettings).scalar_subquery())
    return (statement.outerjoin(GatewaySettings,
                                and_(GatewaySettings.gateway_id == gateway_pk_column,
                                     GatewaySettings.version == newest_version))
            .add_columns(*(getattr(GatewaySettings, name) for name in PENDING_COLUMNS)))


def pending_of(values) -> tuple[int, bool]:
    """pending_version's answer from the PENDING_COLUMNS values read by
    with_pending_version."""
    row = SimpleNamespace(**dict(zip(PENDING_COLUMNS, values)))
    if row.version is None:
        return 1, False
    return row.version, is_pending(row)


# -- the timeout check -----------------------------------------------------------------------
def check_unapplied(now: datetime | None = None) -> list[str]:
    """Open a 反映されていません alert (and mail) for every gateway in service whose newest
    version is unacknowledged past SETTINGS_ACK_TIMEOUT_MINUTES. Each gateway in its own
    transaction under its row lock (see alerts.check_silence). A registry periodic job."""
    from blueprints.monitoring import alerts

    now = now or utcnow()
    cutoff = now - ack_timeout()
    newest_version = (select(GatewaySettings.gateway_id,
                             func.max(GatewaySettings.version).label("version"))
                      .group_by(GatewaySettings.gateway_id).subquery())
    candidates = list(db.session.scalars(
        select(Gateway.id)
        .join(newest_version, newest_version.c.gateway_id == Gateway.id)
        .join(GatewaySettings, and_(GatewaySettings.gateway_id == Gateway.id,
                                    GatewaySettings.version == newest_version.c.version))
        .outerjoin(GatewayAlert, and_(GatewayAlert.gateway_id == Gateway.id,
                                      GatewayAlert.kind == AlertKind.UNAPPLIED.value,
                                      GatewayAlert.ended_at.is_(None)))
        .where(Gateway.status == GatewayStatus.ACTIVE.value,
               GatewaySettings.acked_at.is_(None), GatewaySettings.version > 1,
               GatewaySettings.created_at < cutoff, GatewayAlert.id.is_(None))
        .order_by(Gateway.id)))
    db.session.rollback()

    def still_unapplied(gateway: Gateway) -> datetime | None:
        row = newest(gateway.id)
        if (row is None or state_of(row, now) is not State.UNAPPLIED
                or AlertKind.UNAPPLIED.value in alerts.open_alerts(gateway.id)):
            return None
        return row.created_at

    return alerts.open_where_due(candidates, AlertKind.UNAPPLIED, still_unapplied, now)


def periodic_check() -> None:
    """The registry periodic job (every watch round; `flask --app app jobs run`)."""
    check_unapplied()
