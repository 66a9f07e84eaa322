"""The customer's side of cases (seed 000 「SMAサポートからの回答について」): マイケース, a
case page with its thread and files, a reply, a download. Built on the rules of
`cases.py` (who sees what, filing, replying) and `files.py` (checks, storage).

- マイケース lists `cases.visible_cases(account)`: one query for the page's rows (with
  the filer's name for company members) and one for the count, however many rows.
- Someone else's case, or a file that is not the case's (or sits on an internal note),
  is None here and a 404 for the view: the same answer as for a number that does not
  exist.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import aliased, selectinload

from blueprints.core.paging import Page
from blueprints.support import cases
from blueprints.support import files as support_files
from models import db
from models.account import Account
from models.support import CaseState, SupportCase, SupportFile, SupportMessage

PER_PAGE = 20
# The filter of マイケース: すべて, 対応中のもの (new + open + waiting), or one state.
ACTIVE = "active"
STATE_FILTERS = (ACTIVE,) + tuple(state.value for state in CaseState)


@dataclass
class ListedCase:
    case: SupportCase
    filer: Account | None
    filer_deleted: bool


@dataclass
class ThreadEntry:
    message: SupportMessage
    author: str
    files: list[SupportFile] = field(default_factory=list)


@dataclass
class CaseView:
    case: SupportCase
    thread: list[ThreadEntry]
    closed: bool


def state_filter(value: str | None) -> str:
    return value if value in STATE_FILTERS else ""


def my_cases(account: Account, state: str = "", page: int = 1) -> Page:
    """One page of the cases `account` sees, newest activity first, with who filed them."""
    page = max(1, page)
    statement = cases.visible_cases(account)
    if state == ACTIVE:
        statement = statement.where(SupportCase.state.in_([s.value for s in cases.OPEN_STATES]))
    elif state:
        statement = statement.where(SupportCase.state == state)
    total = db.session.scalar(select(func.count()).select_from(
        statement.order_by(None).subquery()))
    filer = aliased(Account)
    rows = db.session.execute(
        statement.add_columns(filer).outerjoin(filer, filer.id == SupportCase.account_id)
        .limit(PER_PAGE).offset((page - 1) * PER_PAGE))
    items = [ListedCase(case, person, person is None) for case, person in rows]
    return Page(items, total or 0, page, PER_PAGE)


def case_view(account: Account, number: str) -> CaseView | None:
    """A case the account sees, with the thread as the customer sees it (no internal
    notes; staff answers are 「サポート」), or None."""
    case = cases.find_case(account, number)
    if case is None:
        return None
    return CaseView(case=case, thread=thread_of(case),
                    closed=CaseState(case.state) == CaseState.CLOSED)


def thread_of(case: SupportCase) -> list[ThreadEntry]:
    messages = list(db.session.scalars(
        select(SupportMessage).where(SupportMessage.case_id == case.id,
                                     SupportMessage.internal.is_(False))
        .options(selectinload(SupportMessage.files)).order_by(SupportMessage.id)))
    author_ids = {m.author_id for m in messages if m.author_id and not m.from_staff}
    authors = {a.id: a for a in db.session.scalars(
        select(Account).where(Account.id.in_(author_ids)))} if author_ids else {}
    entries = []
    for message in messages:
        if message.from_staff:
            name = str(_l("サポート"))
        elif message.author_id in authors:
            name = authors[message.author_id].full_name
        else:
            name = str(_l("削除されたアカウント"))
        entries.append(ThreadEntry(message=message, author=name, files=list(message.files)))
    return entries


def reply(account: Account, case: SupportCase, comment: str, uploads: list,
          request_key: str | None) -> SupportMessage:
    """The customer's reply with its files (CaseClosed when the case is closed)."""
    return cases.add_message(case, account, comment, uploads, request_key)


def inspect_reply_files(case: SupportCase, storages) -> list:
    """The reply's files checked, with what the case holds already (FileRefused)."""
    return support_files.inspect_all(storages, support_files.stored_bytes(case.id))


def case_file(account: Account, number: str, file_id: int) -> SupportFile | None:
    """A file of a case the account sees, on a message the customer sees, or None."""
    case = cases.find_case(account, number)
    if case is None:
        return None
    return db.session.scalar(
        select(SupportFile).join(SupportMessage, SupportMessage.id == SupportFile.message_id)
        .where(SupportFile.id == file_id, SupportFile.case_id == case.id,
               SupportMessage.case_id == case.id, SupportMessage.internal.is_(False)))


def file_new_case(account: Account, fields: cases.CaseFields, uploads: list,
                  request_key: str | None) -> SupportCase:
    """File the case (see cases.file_case): the same form twice is the same case."""
    case, _created = cases.file_case(account, fields, uploads, request_key)
    return case
