"""Phone-support requests (seed 000 注意事項 条件1-3, 000-54 … 000-58): the calendar rules,
and asking for, listing and deciding requests.

The calendar, all in Japan time (`models.JST`; slots are stored in UTC):

- A business day (営業日) is not a Saturday or Sunday, not a Japanese public holiday
  (`jpholiday`) and not one of SUPPORT_CLOSED_DAYS ("MM-DD", the year-end closing).
- Slots start every SUPPORT_PHONE_SLOT_MINUTES from SUPPORT_PHONE_OPENS on business days;
  the last one ends at SUPPORT_PHONE_CLOSES (9:00 … 17:00 for 30 minutes, closing 17:30).
- 条件1, "requested by 16:00 two business days before": a request made at local time t on
  day D may take slots from the LEAD-th business day after D when D is a business day
  and t < SUPPORT_PHONE_CUTOFF, otherwise (at or after the cutoff, or on a non-business
  day) from the (LEAD+1)-th. Monday 15:59 → Wednesday; Monday 16:00 → Thursday;
  Saturday → Wednesday. Slots are offered up to the SUPPORT_PHONE_BOOKING_DAYS-th
  business day after D.

`allowed_slots(now)` is what the form offers when it is shown; `request_phone_support`
checks the posted slot again with the time of the POST (the clock may have passed 16:00
meanwhile). Every service takes `now`: the views pass the current time, tests a fixed one.

A request belongs to a case the account can see that is not closed, at most
MAX_OPEN_PER_CASE waiting ones per case; a form's one-time key makes a double submit one
request. Staff confirm or decline each once (a decline says why); the customer is mailed
either way, and every change is audited.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import jpholiday
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import pgettext
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from blueprints.core import audit
from blueprints.core.paging import Page
from models import JST, db
from models.account import Account
from models.support import CaseState, PhoneRequest, PhoneRequestState, SupportCase

MAX_OPEN_PER_CASE = 3
PER_PAGE = 50
SLOT_VALUE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2})$")

STATE_LABELS = {
    PhoneRequestState.REQUESTED: _l("受付済み"),
    PhoneRequestState.CONFIRMED: _l("確定"),
    PhoneRequestState.DECLINED: _l("お受けできません"),
}
# The staff list's filter: its values in the URL and what each shows.
FILTERS = {
    "requested": (_l("受付済み"), (PhoneRequestState.REQUESTED,)),
    "confirmed": (_l("確定"), (PhoneRequestState.CONFIRMED,)),
    "declined": (_l("お受けできません"), (PhoneRequestState.DECLINED,)),
    "all": (_l("すべて"), tuple(PhoneRequestState)),
}
DEFAULT_FILTER = "requested"


class PhoneRequestRefused(Exception):
    """The request cannot be taken; `message` says why (in Japanese), `field` where."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class AlreadyDecided(Exception):
    """Staff already confirmed or declined this request."""


# -- the calendar ---------------------------------------------------------------------------
def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def is_business_day(day: date) -> bool:
    """Not a weekend, not a Japanese public holiday, not a closing day of the config."""
    if day.weekday() >= 5 or jpholiday.is_holiday(day):
        return False
    return day.strftime("%m-%d") not in current_app.config["SUPPORT_CLOSED_DAYS"]


def nth_business_day_after(day: date, n: int) -> date:
    """The n-th business day after `day` (n ≥ 1; `day` itself never counts)."""
    found = 0
    while True:
        day += timedelta(days=1)
        if is_business_day(day):
            found += 1
            if found >= n:
                return day


def local(moment: datetime) -> datetime:
    """A moment in Japan time (a naive one is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(JST)


def earliest_day(now: datetime) -> date:
    """The first day whose slots a request made at `now` may take (条件1)."""
    config = current_app.config
    moment = local(now)
    lead = config["SUPPORT_PHONE_LEAD_DAYS"]
    in_time = (is_business_day(moment.date())
               and moment.time() < _clock(config["SUPPORT_PHONE_CUTOFF"]))
    return nth_business_day_after(moment.date(), lead if in_time else lead + 1)


def last_day(now: datetime) -> date:
    """The last day offered (SUPPORT_PHONE_BOOKING_DAYS business days ahead)."""
    return nth_business_day_after(local(now).date(),
                                  current_app.config["SUPPORT_PHONE_BOOKING_DAYS"])


def slot_times() -> list[time]:
    """The start of every slot of a business day (条件2): the last one ends at closing."""
    config = current_app.config
    step = timedelta(minutes=config["SUPPORT_PHONE_SLOT_MINUTES"])
    start = datetime.combine(date(2000, 1, 1), _clock(config["SUPPORT_PHONE_OPENS"]))
    closes = datetime.combine(date(2000, 1, 1), _clock(config["SUPPORT_PHONE_CLOSES"]))
    starts = []
    while start + step <= closes:
        starts.append(start.time())
        start += step
    return starts


def _slots_of(day: date) -> list[datetime]:
    return [datetime.combine(day, start, tzinfo=JST).astimezone(timezone.utc)
            for start in slot_times()]


@dataclass
class SlotDay:
    """One day of the form's choices: its label and its slots (UTC)."""

    day: date
    slots: list[datetime]

    @property
    def label(self) -> str:
        return day_label(self.day)


def allowed_slots(now: datetime) -> list[SlotDay]:
    """The slots a request made at `now` may take, grouped by day, soonest first."""
    days, day, end = [], earliest_day(now), last_day(now)
    while day <= end:
        if is_business_day(day):
            days.append(SlotDay(day, _slots_of(day)))
        day += timedelta(days=1)
    return days


def is_slot(slot_at: datetime) -> bool:
    """A slot start of a business day (whenever it is)."""
    moment = local(slot_at)
    return (is_business_day(moment.date()) and moment.second == 0
            and moment.microsecond == 0 and moment.time() in slot_times())


def slot_allowed(now: datetime, slot_at: datetime) -> bool:
    """Whether a request made at `now` may take the slot starting at `slot_at`."""
    return is_slot(slot_at) and earliest_day(now) <= local(slot_at).date() <= last_day(now)


# -- how slots are written ---------------------------------------------------------------------
def slot_value(slot_at: datetime) -> str:
    """The form's value of a slot: its Japan-time start, `2026-12-03T10:00`."""
    return local(slot_at).strftime("%Y-%m-%dT%H:%M")


def parse_slot(value: str | None) -> datetime | None:
    """A form value back to the slot's start in UTC; None for anything malformed."""
    match = SLOT_VALUE.match(value or "")
    if match is None:
        return None
    try:
        moment = datetime(*(int(part) for part in match.groups()), tzinfo=JST)
    except ValueError:  # 2026-02-30, 25:00 …
        return None
    return moment.astimezone(timezone.utc)


def _weekday(number: int) -> str:
    """The day of the week as slots show it (「（水）」), in the reader's language ("月"
    alone is also 'month': hence the context)."""
    return (pgettext("weekday", "月"), pgettext("weekday", "火"), pgettext("weekday", "水"),
            pgettext("weekday", "木"), pgettext("weekday", "金"), pgettext("weekday", "土"),
            pgettext("weekday", "日"))[number]


def day_label(day: date) -> str:
    """`12月3日（水）`."""
    return _("%(month)d月%(day)d日（%(weekday)s）", month=day.month, day=day.day,
             weekday=_weekday(day.weekday()))


def slot_label(slot_at: datetime, with_year: bool = False) -> str:
    """`12月3日（水） 9:30〜10:00` (with the year: `2026年12月3日（水） 9:30〜10:00`)."""
    start = local(slot_at)
    end = start + timedelta(minutes=current_app.config["SUPPORT_PHONE_SLOT_MINUTES"])
    label = f"{day_label(start.date())} {start.hour}:{start:%M}〜{end.hour}:{end:%M}"
    return f"{start.year}年{label}" if with_year else label


def state_label(state) -> str:
    return str(STATE_LABELS.get(PhoneRequestState(state), state))


# -- the customer's request -----------------------------------------------------------------------
@dataclass
class PhoneFields:
    """What the form asks for, validated by the form (the slot is checked here)."""

    contact_name: str
    phone: str
    slot: str
    topic: str


def refusal(case: SupportCase) -> str | None:
    """Why this case cannot get a new request now (shown instead of the form), or None."""
    if case.state == CaseState.CLOSED:
        return _("このケースはクローズされているため、電話サポートをご依頼いただけません。"
                 "新しいケースを作成してください。")
    if open_count(case) >= MAX_OPEN_PER_CASE:
        return _("このケースには受付済みのご依頼が%(n)d件あります。サポートからの連絡をお待ちください。",
                 n=MAX_OPEN_PER_CASE)
    return None


def open_count(case: SupportCase) -> int:
    return db.session.scalar(select(func.count()).select_from(PhoneRequest).where(
        PhoneRequest.case_id == case.id, PhoneRequest.state == PhoneRequestState.REQUESTED))


def _earlier(case: SupportCase, request_key: str | None) -> PhoneRequest | None:
    if not request_key:
        return None
    return db.session.scalar(select(PhoneRequest).where(
        PhoneRequest.case_id == case.id, PhoneRequest.request_key == request_key))


def check_slot(now: datetime, value: str | None) -> datetime:
    """The posted slot as a UTC start, when a request made at `now` may take it; else
    PhoneRequestRefused on field `slot` (a slot the clock has passed names the new
    earliest day)."""
    slot_at = parse_slot(value)
    if slot_at is None or not is_slot(slot_at) or local(slot_at).date() > last_day(now):
        raise PhoneRequestRefused(_("ご希望の日時を一覧から選択してください"), "slot")
    if not slot_allowed(now, slot_at):
        raise PhoneRequestRefused(
            _("この日時は受付期限（2営業日前の%(cutoff)s）を過ぎています。"
              "%(day)s以降の日時を選択してください",
              cutoff=current_app.config["SUPPORT_PHONE_CUTOFF"],
              day=day_label(earliest_day(now))), "slot")
    return slot_at


def request_phone_support(account: Account, case: SupportCase, fields: PhoneFields,
                          request_key: str | None, now: datetime
                          ) -> tuple[PhoneRequest, bool]:
    """Store a request for phone support on `case` (one `find_case` gave for `account`),
    audit it, bump the case's 最終更新 and queue the mail 【電話サポートのご依頼を受け付けました】,
    in one commit. Answers (request, created): the same `request_key` again answers the
    first request and False. Raises PhoneRequestRefused (closed case, too many waiting
    requests, a slot not allowed at `now`)."""
    from mail import messages

    earlier = _earlier(case, request_key)
    if earlier is not None:
        return earlier, False
    slot_at = check_slot(now, fields.slot)
    # Lock the case (PostgreSQL) so that two requests at once count each other.
    db.session.scalar(select(SupportCase.id).where(SupportCase.id == case.id)
                      .with_for_update())
    earlier = _earlier(case, request_key)  # the same form, committed while we waited
    if earlier is not None:
        return earlier, False
    problem = refusal(case)
    if problem:
        raise PhoneRequestRefused(problem)
    phone_request = PhoneRequest(
        case_id=case.id, requested_by_id=account.id, contact_name=fields.contact_name,
        phone=fields.phone, topic=fields.topic, slot_at=slot_at,
        state=PhoneRequestState.REQUESTED, request_key=request_key, created_at=now)
    db.session.add(phone_request)
    try:
        db.session.flush()
    except IntegrityError:  # the same form, submitted at the same moment
        db.session.rollback()
        earlier = _earlier(case, request_key)
        if earlier is None:
            raise
        return earlier, False
    case.updated_at = now
    audit.record("support.phone_requested", actor_id=account.id, subject_id=case.account_id,
                 case=case.number, request=phone_request.id, slot=slot_at.isoformat())
    messages.send_support_phone_requested_mail(account, case, phone_request)
    db.session.commit()
    return phone_request, True


def case_requests(case: SupportCase) -> list[PhoneRequest]:
    """The case's requests, soonest slot first (the case pages' 電話サポート section)."""
    return list(db.session.scalars(select(PhoneRequest).where(PhoneRequest.case_id == case.id)
                                   .order_by(PhoneRequest.slot_at, PhoneRequest.id)))


# -- the staff side ---------------------------------------------------------------------------
@dataclass
class StaffRow:
    request: PhoneRequest
    case_number: str
    case_subject: str


def staff_requests(filter_name: str | None, page: int = 1) -> tuple[str, Page]:
    """The requests of one filter (default 受付済み), soonest slot first, one page of
    PER_PAGE with their case; answers the filter used and the page. Two queries
    whatever the number of rows."""
    if filter_name not in FILTERS:
        filter_name = DEFAULT_FILTER
    states = [state.value for state in FILTERS[filter_name][1]]
    total = db.session.scalar(select(func.count()).select_from(PhoneRequest)
                              .where(PhoneRequest.state.in_(states)))
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(1, page), pages)
    rows = db.session.execute(
        select(PhoneRequest, SupportCase.number, SupportCase.subject)
        .join(SupportCase, SupportCase.id == PhoneRequest.case_id)
        .where(PhoneRequest.state.in_(states))
        .order_by(PhoneRequest.slot_at, PhoneRequest.id)
        .limit(PER_PAGE).offset((page - 1) * PER_PAGE))
    items = [StaffRow(request, number, subject) for request, number, subject in rows]
    return filter_name, Page(items=items, total=total, page=page, per_page=PER_PAGE)


def staff_request(request_id: int) -> tuple[PhoneRequest, SupportCase] | None:
    found = db.session.get(PhoneRequest, request_id)
    if found is None:
        return None
    return found, db.session.get(SupportCase, found.case_id)


def decide(staff: Account, request_id: int, confirm: bool, note: str | None,
           now: datetime) -> PhoneRequest | None:
    """確定する / お受けできない (with `note`, which a decline needs: the form sees to it),
    once: a request already decided raises AlreadyDecided, also when two staff decide at
    the same moment. Audited; the customer is mailed 【電話サポートのご依頼について】. None
    when there is no such request."""
    from mail import messages

    found = staff_request(request_id)
    if found is None:
        return None
    phone_request, case = found
    state = PhoneRequestState.CONFIRMED if confirm else PhoneRequestState.DECLINED
    changed = db.session.execute(
        update(PhoneRequest)
        .where(PhoneRequest.id == request_id,
               PhoneRequest.state == PhoneRequestState.REQUESTED.value)
        .values(state=state.value, staff_note=note or None, decided_by_id=staff.id,
                decided_at=now)
        .execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        db.session.rollback()
        raise AlreadyDecided()
    db.session.refresh(phone_request)
    audit.record(f"support.phone_{state.value}", actor_id=staff.id,
                 subject_id=phone_request.requested_by_id or case.account_id,
                 case=case.number, request=phone_request.id, note=note or None)
    customer_id = phone_request.requested_by_id or case.account_id
    customer = db.session.get(Account, customer_id) if customer_id else None
    if customer is not None:
        messages.send_support_phone_decided_mail(customer, case, phone_request)
    db.session.commit()
    return phone_request
