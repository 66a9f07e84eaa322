"""Cases: filing one, who sees it, its thread. The rules every page of the support
center (customer and staff) goes through.

- A case number (ケース番号) is 9 digits starting with 4 (seed 000-48), drawn at random
  and checked for uniqueness by the database (a clash draws again): nobody learns from
  theirs how many cases there are, nor guesses another's.
- A case is stored with its first message and its files in one transaction, or not at
  all. A form carries a one-time key: the same form submitted twice finds the first
  case (or message), it never makes a second.
- Who sees a case: the account that filed it and, for a company member's case, every
  member of that company (the shared organisation view); staff, on the staff desk.
  Anyone else gets the same 404 as for a number that does not exist.
- Replies: the customer's reopen a case that was waiting for them or resolved; a closed
  case takes no more replies (a new question is a new case). A staff reply (not an
  internal note) mails the customer a link to the case, with no content beyond its
  subject; the link needs sign-in.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError

from blueprints.core import audit
from blueprints.support import files as support_files
from models import db, utcnow
from models.account import Account
from models.support import (CaseState, SupportCase, SupportCategory, SupportDetail,
                            SupportMessage)

NUMBER_PATTERN = re.compile(r"^4\d{8}$")
NUMBER_ATTEMPTS = 20

STATE_LABELS = {
    CaseState.NEW: _l("新規"),
    CaseState.OPEN: _l("対応中"),
    CaseState.WAITING: _l("お客様回答待ち"),
    CaseState.RESOLVED: _l("解決"),
    CaseState.CLOSED: _l("クローズ"),
}
# A case in these states is still being worked on (the duplicate hint, the queue).
OPEN_STATES = (CaseState.NEW, CaseState.OPEN, CaseState.WAITING)


class CaseClosed(Exception):
    """The case is closed: it takes no more replies."""


@dataclass
class CaseFields:
    """What the case form asks for, already validated by the form."""

    subject: str
    body: str
    site_name: str
    category_id: int
    detail_id: int | None = None
    gateway_id: int | None = None
    device_type: str | None = None
    serial: str | None = None
    error_code: str | None = None
    error_started_at: datetime | None = None


def new_case_number() -> str:
    """"4" and 8 random digits."""
    return "4" + f"{secrets.randbelow(10**8):08d}"


def state_label(state) -> str:
    return str(STATE_LABELS.get(CaseState(state), state))


# -- who sees what ------------------------------------------------------------------------
def visible_cases(account: Account):
    """A select of the cases `account` may see as a customer (newest activity first)."""
    mine = SupportCase.account_id == account.id
    if account.company_id is not None:
        mine = or_(mine, and_(SupportCase.company_id.is_not(None),
                              SupportCase.company_id == account.company_id))
    return select(SupportCase).where(mine).order_by(SupportCase.updated_at.desc(),
                                                    SupportCase.id.desc())


def find_case(account: Account, number: str | None) -> SupportCase | None:
    """The case with this number if `account` may see it, else None (a 404 either way)."""
    if not number or not NUMBER_PATTERN.match(number):
        return None
    return db.session.scalar(visible_cases(account).where(SupportCase.number == number))


def staff_case(number: str | None) -> SupportCase | None:
    if not number or not NUMBER_PATTERN.match(number):
        return None
    return db.session.scalar(select(SupportCase).where(SupportCase.number == number))


def open_case_for_gateway(account: Account, gateway_id: int | None) -> SupportCase | None:
    """The newest case still being worked on for this gateway that `account` sees (the
    form's duplicate hint)."""
    if gateway_id is None:
        return None
    return db.session.scalar(visible_cases(account).where(
        SupportCase.gateway_id == gateway_id, SupportCase.state.in_(OPEN_STATES)).limit(1))


def customer_thread(case: SupportCase) -> list[SupportMessage]:
    """The messages a customer sees: every one but staff's internal notes."""
    return [message for message in case.messages if not message.internal]


# -- categories (サポート内容 and 詳細) ------------------------------------------------------
def ensure_default_categories() -> None:
    """Fill the categories from SUPPORT_CATEGORIES when there are none yet (a new
    installation), so that the case form can be used before staff edit them. Safe when
    two requests do it at once (the names are unique)."""
    if db.session.scalar(select(SupportCategory.id).limit(1)) is not None:
        return
    try:
        for position, (name, details) in enumerate(current_app.config["SUPPORT_CATEGORIES"]):
            category = SupportCategory(name=name, position=position)
            category.details = [SupportDetail(name=detail, position=index)
                                for index, detail in enumerate(details)]
            db.session.add(category)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()


def active_categories() -> list[SupportCategory]:
    return list(db.session.scalars(select(SupportCategory).where(SupportCategory.active)
                                   .order_by(SupportCategory.position, SupportCategory.id)))


def active_details(category_id: int | None) -> list[SupportDetail]:
    if category_id is None:
        return []
    return list(db.session.scalars(
        select(SupportDetail).join(SupportCategory)
        .where(SupportDetail.category_id == category_id, SupportDetail.active,
               SupportCategory.active)
        .order_by(SupportDetail.position, SupportDetail.id)))


# -- filing and replying --------------------------------------------------------------------
def file_case(account: Account, fields: CaseFields, uploads: list, request_key: str | None
              ) -> tuple[SupportCase, bool]:
    """Store a new case with its first message (お問い合わせ内容) and files, audit it and
    queue the confirmation mail, in one commit. Answers (case, created): the same
    `request_key` again answers the first case and False."""
    from mail import messages

    if request_key:
        earlier = db.session.scalar(select(SupportCase).where(
            SupportCase.account_id == account.id, SupportCase.request_key == request_key))
        if earlier is not None:
            _close(uploads)
            return earlier, False
    category = db.session.get(SupportCategory, fields.category_id)
    detail = db.session.get(SupportDetail, fields.detail_id) if fields.detail_id else None
    now = utcnow()
    case = None
    for _attempt in range(NUMBER_ATTEMPTS):
        candidate = SupportCase(
            number=new_case_number(), account_id=account.id, company_id=account.company_id,
            request_key=request_key, subject=fields.subject, site_name=fields.site_name,
            gateway_id=fields.gateway_id, device_type=fields.device_type,
            serial=fields.serial, error_code=fields.error_code,
            error_started_at=fields.error_started_at, category_id=category.id,
            category_name=category.name, detail_id=detail.id if detail else None,
            detail_name=detail.name if detail else None, state=CaseState.NEW,
            created_at=now, updated_at=now)
        try:
            with db.session.begin_nested():
                db.session.add(candidate)
            case = candidate
            break
        except IntegrityError:
            if request_key:
                earlier = db.session.scalar(select(SupportCase).where(
                    SupportCase.account_id == account.id,
                    SupportCase.request_key == request_key))
                if earlier is not None:  # the same form, submitted at the same moment
                    _close(uploads)
                    return earlier, False
            continue  # the number was taken: draw again
    if case is None:
        raise RuntimeError("no free case number after several draws")
    message = SupportMessage(case=case, author_id=account.id, body=fields.body, created_at=now)
    db.session.add(message)
    db.session.flush()
    for upload in uploads:
        support_files.store(upload, case.id, message)
    audit.record("support.case_filed", actor_id=account.id, subject_id=account.id,
                 case=case.number, files=len(uploads))
    messages.send_support_case_filed_mail(account, case)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        if request_key:
            earlier = db.session.scalar(select(SupportCase).where(
                SupportCase.account_id == account.id, SupportCase.request_key == request_key))
            if earlier is not None:
                return earlier, False
        raise
    return case, True


def add_message(case: SupportCase, author: Account, body: str, uploads: list,
                request_key: str | None, *, from_staff: bool = False, internal: bool = False,
                new_state: CaseState | None = None) -> SupportMessage:
    """Add a reply (or, for staff, an internal note) with its files, in one commit.

    A customer's reply reopens a waiting or resolved case (a closed one raises
    CaseClosed). A staff reply sets `new_state` (default お客様回答待ち) and mails the
    customer; a note changes nothing the customer sees. The same `request_key` again
    answers the first message."""
    from mail import messages

    if request_key:
        earlier = db.session.scalar(select(SupportMessage).where(
            SupportMessage.case_id == case.id, SupportMessage.request_key == request_key))
        if earlier is not None:
            _close(uploads)
            return earlier
    if case.state == CaseState.CLOSED and not from_staff:
        _close(uploads)
        raise CaseClosed()
    now = utcnow()
    message = SupportMessage(case=case, author_id=author.id, body=body,
                             from_staff=from_staff, internal=internal and from_staff,
                             request_key=request_key, created_at=now)
    db.session.add(message)
    try:
        db.session.flush()
    except IntegrityError:  # the same form at the same moment
        db.session.rollback()
        _close(uploads)
        earlier = db.session.scalar(select(SupportMessage).where(
            SupportMessage.case_id == case.id, SupportMessage.request_key == request_key))
        if earlier is None:
            raise
        return earlier
    for upload in uploads:
        support_files.store(upload, case.id, message)
    previous = case.state
    if message.internal:
        action = "support.note_added"
    elif from_staff:
        action = "support.staff_replied"
        case.state = new_state or CaseState.WAITING
        case.updated_at = now
        customer = db.session.get(Account, case.account_id) if case.account_id else None
        if customer is not None:
            messages.send_support_reply_mail(customer, case)
    else:
        action = "support.customer_replied"
        if case.state in (CaseState.WAITING, CaseState.RESOLVED):
            case.state = CaseState.OPEN
        case.updated_at = now
    audit.record(action, actor_id=author.id, subject_id=case.account_id, case=case.number,
                 files=len(uploads), state_from=str(CaseState(previous).value),
                 state_to=str(CaseState(case.state).value))
    db.session.commit()
    return message


def _close(uploads: list) -> None:
    for upload in uploads:
        upload.close()
