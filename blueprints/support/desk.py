"""The staff desk's services (`/staff/support`): the queue with its filters and search, a
case's state and assignee, staff replies and internal notes, the サポート内容/詳細
categories and the knowledge-base articles.

- The queue is one query (the case, who filed it, who works on it) and one count, however
  many cases there are; the oldest activity comes first (who waited longest).
- Every change is audited (`support.state_changed`, `support.assigned`, `support.category_*`,
  `support.detail_*`, `support.article_*`) with what it was before and after; replies and
  notes are audited by `cases.add_message`.
- Categories and details are never deleted, only deactivated: the cases filed under them
  keep the names as chosen (`category_name`, `detail_name`), and a rename does not touch
  them either.
- Staff replies go through `cases.add_message` (which mails the customer); internal notes
  never reach the customer: no mail, and the customer's pages skip them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, selectinload

from blueprints.core import audit
from blueprints.core.paging import Page
from blueprints.core.staff import ADMIN, SUPPORT, has_staff_role
from blueprints.support import cases
from blueprints.support import files as support_files
from models import db, utcnow
from models.account import Account, Role
from models.trust import StaffGrant
from models.gateway import Gateway
from models.support import (CaseState, KbArticle, SupportCase, SupportCategory,
                            SupportDetail, SupportFile, SupportMessage)

PER_PAGE = 30
ARTICLES_PER_PAGE = 50

# The queue's 状態 filter (forms/support_staff.py labels them): one state, or "active"
# (still being worked on: the default), or every state.
STATE_FILTERS = {
    "active": cases.OPEN_STATES,
    "new": (CaseState.NEW,),
    "open": (CaseState.OPEN,),
    "waiting": (CaseState.WAITING,),
    "resolved": (CaseState.RESOLVED,),
    "closed": (CaseState.CLOSED,),
    "all": tuple(CaseState),
}
# What a staff reply leaves the case in (the first is the default).
REPLY_STATES = (CaseState.WAITING, CaseState.OPEN, CaseState.RESOLVED, CaseState.CLOSED)

CASE_NUMBER = re.compile(r"^\d{9}$")


class DuplicateName(Exception):
    """Another category (or another detail of the same category, or another article)
    has this name."""


@dataclass
class QueueFilters:
    """The queue's filters as the form parsed them (defaults: every case still being
    worked on, anybody's, any category and age, no search)."""

    state: str = "active"
    category_id: int | None = None
    age_days: int | None = None
    assignee: str = "all"
    q: str = ""
    page: int = 1


@dataclass
class QueueRow:
    case: SupportCase
    filer: Account | None
    assignee: Account | None

    @property
    def age(self) -> timedelta:
        """Since the last activity (経過)."""
        return utcnow() - self.case.updated_at


def _search(statement, filer, q: str):
    """ケース番号 (exactly 9 digits), e-mail (contains, any case), 件名 (contains) or
    製造番号 (contains, which includes exact)."""
    q = q.strip()
    if not q:
        return statement
    if CASE_NUMBER.match(q):
        return statement.where(SupportCase.number == q)
    lowered = q.lower()
    return statement.where(or_(
        func.lower(filer.email).contains(lowered, autoescape=True),
        func.lower(SupportCase.subject).contains(lowered, autoescape=True),
        func.upper(SupportCase.serial).contains(q.upper(), autoescape=True),
    ))


def queue(staff: Account, filters: QueueFilters) -> Page:
    """One page of the queue: QueueRows, oldest activity first. Two queries."""
    filer = aliased(Account)
    assignee = aliased(Account)
    states = STATE_FILTERS.get(filters.state, STATE_FILTERS["active"])
    conditions = [SupportCase.state.in_([state.value for state in states])]
    if filters.category_id is not None:
        conditions.append(SupportCase.category_id == filters.category_id)
    if filters.age_days:
        conditions.append(SupportCase.updated_at <= utcnow() - timedelta(days=filters.age_days))
    if filters.assignee == "me":
        conditions.append(SupportCase.assignee_id == staff.id)
    elif filters.assignee == "none":
        conditions.append(SupportCase.assignee_id.is_(None))

    base = (select(SupportCase.id).outerjoin(filer, filer.id == SupportCase.account_id)
            .where(*conditions))
    base = _search(base, filer, filters.q)
    total = db.session.scalar(select(func.count()).select_from(base.subquery())) or 0
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(1, filters.page), pages)

    statement = (select(SupportCase, filer, assignee)
                 .outerjoin(filer, filer.id == SupportCase.account_id)
                 .outerjoin(assignee, assignee.id == SupportCase.assignee_id)
                 .where(*conditions))
    statement = _search(statement, filer, filters.q)
    rows = db.session.execute(statement.order_by(SupportCase.updated_at, SupportCase.id)
                              .limit(PER_PAGE).offset((page - 1) * PER_PAGE)).all()
    return Page(items=[QueueRow(case, who, worker) for case, who, worker in rows],
                total=total, page=page, per_page=PER_PAGE)


def staff_accounts() -> list[Account]:
    """Who a case may be assigned to: staff with the support role (or staff admins)."""
    with_role = select(StaffGrant.account_id).where(StaffGrant.role.in_((SUPPORT, ADMIN)))
    return list(db.session.scalars(select(Account).where(Account.role == Role.STAFF,
                                                         Account.id.in_(with_role))
                                   .order_by(Account.family_name, Account.given_name,
                                             Account.id)))


# -- one case ------------------------------------------------------------------------------
@dataclass
class CaseView:
    """Everything the staff case page shows: the case, who filed it (None once the
    account is deleted) and who works on it, the whole thread (notes included) with
    each message's author and files."""

    case: SupportCase
    filer: Account | None
    assignee: Account | None
    messages: list[SupportMessage]
    authors: dict[int, Account]
    gateway_code: str | None


def case_view(number: str | None) -> CaseView | None:
    """The case with this number for staff (None: no such case, a 404)."""
    case = cases.staff_case(number)
    if case is None:
        return None
    messages = list(db.session.scalars(
        select(SupportMessage).where(SupportMessage.case_id == case.id)
        .options(selectinload(SupportMessage.files)).order_by(SupportMessage.id)))
    ids = {m.author_id for m in messages if m.author_id} | {
        i for i in (case.account_id, case.assignee_id) if i}
    people = {account.id: account for account in db.session.scalars(
        select(Account).where(Account.id.in_(ids)).options(
            selectinload(Account.company), selectinload(Account.phones)))} if ids else {}
    gateway_code = db.session.scalar(select(Gateway.gateway_id).where(
        Gateway.id == case.gateway_id)) if case.gateway_id else None
    return CaseView(case=case, filer=people.get(case.account_id),
                    assignee=people.get(case.assignee_id), messages=messages, authors=people,
                    gateway_code=gateway_code)


def case_file(number: str | None, file_id: int) -> SupportFile | None:
    """A file of the case (None when the number or the file is not that case's)."""
    case = cases.staff_case(number)
    if case is None:
        return None
    return db.session.scalar(select(SupportFile).where(SupportFile.id == file_id,
                                                       SupportFile.case_id == case.id))


def _checked(case: SupportCase, file_storages) -> list:
    """The submission's files, checked (raises files.FileRefused: nothing is stored)."""
    return support_files.inspect_all(file_storages, support_files.stored_bytes(case.id))


def reply(case: SupportCase, staff: Account, body: str, file_storages,
          request_key: str | None, new_state: CaseState) -> SupportMessage:
    """A staff reply with its files: the case goes to `new_state` and the customer is
    mailed a link (a closed case takes it too). The same key again: the first reply.
    Raises files.FileRefused for a file that may not be attached."""
    return cases.add_message(case, staff, body, _checked(case, file_storages), request_key,
                             from_staff=True, new_state=new_state)


def add_note(case: SupportCase, staff: Account, body: str, file_storages,
             request_key: str | None) -> SupportMessage:
    """An internal note (社内メモ): nothing changes for the customer, nobody is mailed."""
    return cases.add_message(case, staff, body, _checked(case, file_storages), request_key,
                             from_staff=True, internal=True)


def change_state(case: SupportCase, staff: Account, state: CaseState) -> bool:
    """Set the case's state (audited with from/to). False when it already was."""
    previous = CaseState(case.state)
    if previous == state:
        return False
    case.state = state
    case.updated_at = utcnow()
    audit.record("support.state_changed", actor_id=staff.id, subject_id=case.account_id,
                 case=case.number, state_from=previous.value, state_to=state.value)
    db.session.commit()
    return True


def assign(case: SupportCase, staff: Account, assignee_id: int | None) -> bool:
    """Give the case to a staff member (None: nobody). Audited with from/to; False when
    nothing changed. Raises LookupError for an account that is not staff."""
    if assignee_id is not None:
        assignee = db.session.get(Account, assignee_id)
        if assignee is None or not has_staff_role(assignee, SUPPORT):
            raise LookupError(assignee_id)
    if case.assignee_id == assignee_id:
        return False
    previous = case.assignee_id
    case.assignee_id = assignee_id
    audit.record("support.assigned", actor_id=staff.id, subject_id=case.account_id,
                 case=case.number, assignee_from=previous, assignee_to=assignee_id)
    db.session.commit()
    return True


# -- categories -----------------------------------------------------------------------------
def categories() -> list[SupportCategory]:
    """Every category (active or not) with its details, in their order: two queries.
    Seeds the defaults on a new installation first."""
    cases.ensure_default_categories()
    return list(db.session.scalars(
        select(SupportCategory).options(selectinload(SupportCategory.details))
        .order_by(SupportCategory.position, SupportCategory.id)))


def _category_name_taken(name: str, except_id: int | None = None) -> bool:
    statement = select(SupportCategory.id).where(SupportCategory.name == name)
    if except_id is not None:
        statement = statement.where(SupportCategory.id != except_id)
    return db.session.scalar(statement.limit(1)) is not None


def _detail_name_taken(category_id: int, name: str, except_id: int | None = None) -> bool:
    statement = select(SupportDetail.id).where(SupportDetail.category_id == category_id,
                                               SupportDetail.name == name)
    if except_id is not None:
        statement = statement.where(SupportDetail.id != except_id)
    return db.session.scalar(statement.limit(1)) is not None


def _commit_unique() -> None:
    """Commit; a name taken meanwhile by another request (the unique constraint) is the
    same DuplicateName as one found beforehand."""
    try:
        db.session.commit()
    except IntegrityError as error:
        db.session.rollback()
        raise DuplicateName() from error


def add_category(staff: Account, name: str, position: int) -> SupportCategory:
    if _category_name_taken(name):
        raise DuplicateName()
    category = SupportCategory(name=name, position=position, active=True)
    db.session.add(category)
    db.session.flush()
    audit.record("support.category_added", actor_id=staff.id, category=category.id, name=name,
                 position=position)
    _commit_unique()
    return category


def update_category(staff: Account, category_id: int, name: str, position: int,
                    active: bool) -> SupportCategory | None:
    """Rename, move or (de)activate a category; None when there is no such category."""
    category = db.session.get(SupportCategory, category_id)
    if category is None:
        return None
    if _category_name_taken(name, except_id=category.id):
        raise DuplicateName()
    _change_choice(staff, category, name, position, active, "support.category_changed",
                   category=category.id)
    return category


def add_detail(staff: Account, category_id: int, name: str, position: int
               ) -> SupportDetail | None:
    """A new 詳細 of a category; None when there is no such category."""
    category = db.session.get(SupportCategory, category_id)
    if category is None:
        return None
    if _detail_name_taken(category.id, name):
        raise DuplicateName()
    detail = SupportDetail(category_id=category.id, name=name, position=position, active=True)
    db.session.add(detail)
    db.session.flush()
    audit.record("support.detail_added", actor_id=staff.id, category=category.id,
                 detail=detail.id, name=name, position=position)
    _commit_unique()
    return detail


def update_detail(staff: Account, detail_id: int, name: str, position: int, active: bool
                  ) -> SupportDetail | None:
    """Rename, move or (de)activate a 詳細; None when there is no such detail."""
    detail = db.session.get(SupportDetail, detail_id)
    if detail is None:
        return None
    if _detail_name_taken(detail.category_id, name, except_id=detail.id):
        raise DuplicateName()
    _change_choice(staff, detail, name, position, active, "support.detail_changed",
                   category=detail.category_id, detail=detail.id)
    return detail


def _change_choice(staff: Account, choice, name: str, position: int, active: bool,
                   action: str, **ids) -> None:
    """Rename, move or (de)activate a category or a detail, audited with before and
    after; nothing (no audit row) when nothing changes."""
    before = {"name": choice.name, "position": choice.position, "active": choice.active}
    after = {"name": name, "position": position, "active": active}
    if before == after:
        return
    choice.name, choice.position, choice.active = name, position, active
    audit.record(action, actor_id=staff.id, before=before, after=after, **ids)
    _commit_unique()


# -- knowledge-base articles --------------------------------------------------------------
@dataclass
class ArticleFields:
    """What the article form asks for, already validated."""

    title: str
    body: str
    category_id: int | None
    published: bool


def articles(page_number: int) -> Page:
    """Every article, the last updated first: (article, category name or None)."""
    total = db.session.scalar(select(func.count()).select_from(KbArticle)) or 0
    pages = max(1, -(-total // ARTICLES_PER_PAGE))
    page = min(max(1, page_number), pages)
    rows = db.session.execute(
        select(KbArticle, SupportCategory.name)
        .outerjoin(SupportCategory, SupportCategory.id == KbArticle.category_id)
        .order_by(KbArticle.updated_at.desc(), KbArticle.id.desc())
        .limit(ARTICLES_PER_PAGE).offset((page - 1) * ARTICLES_PER_PAGE)).all()
    return Page(items=[tuple(row) for row in rows], total=total, page=page,
                per_page=ARTICLES_PER_PAGE)


def article(article_id: int) -> KbArticle | None:
    return db.session.get(KbArticle, article_id)


def _category_or_none(category_id: int | None) -> int | None:
    if category_id is None:
        return None
    return category_id if db.session.get(SupportCategory, category_id) is not None else None


# A second article of the same author with the same title and text within this time is
# the same form submitted twice (KbArticle has no request key).
RESUBMIT_WINDOW = timedelta(minutes=30)


def _title_taken(title: str, except_id: int | None = None) -> KbArticle | None:
    statement = select(KbArticle).where(KbArticle.title == title)
    if except_id is not None:
        statement = statement.where(KbArticle.id != except_id)
    return db.session.scalar(statement.order_by(KbArticle.id).limit(1))


def create_article(staff: Account, fields: ArticleFields) -> KbArticle:
    """A new article. Titles are unique (DuplicateName); the same article sent twice
    by its author (a double submit) answers the first one."""
    same_title = _title_taken(fields.title)
    if same_title is not None:
        if (same_title.author_id == staff.id and same_title.body == fields.body
                and same_title.created_at >= utcnow() - RESUBMIT_WINDOW):
            return same_title
        raise DuplicateName()
    now = utcnow()
    record = KbArticle(title=fields.title, body=fields.body,
                       category_id=_category_or_none(fields.category_id),
                       published=fields.published, author_id=staff.id, created_at=now,
                       updated_at=now)
    db.session.add(record)
    db.session.flush()
    audit.record("support.article_created", actor_id=staff.id, article=record.id,
                 title=record.title, published=record.published)
    db.session.commit()
    return record


def update_article(staff: Account, article_id: int, fields: ArticleFields) -> KbArticle | None:
    """Save the article's new text; None when there is no such article."""
    record = db.session.get(KbArticle, article_id)
    if record is None:
        return None
    if _title_taken(fields.title, except_id=record.id) is not None:
        raise DuplicateName()
    before = {"title": record.title, "category": record.category_id,
              "published": record.published, "body_chars": len(record.body)}
    record.title = fields.title
    record.body = fields.body
    record.category_id = _category_or_none(fields.category_id)
    record.published = fields.published
    record.updated_at = utcnow()
    audit.record("support.article_updated", actor_id=staff.id, article=record.id,
                 before=before, after={"title": record.title, "category": record.category_id,
                                       "published": record.published,
                                       "body_chars": len(record.body)})
    db.session.commit()
    return record
