"""会社の検索 and 従業員からのリクエスト: a commercial account finds the company it works for
and asks to join it, instead of creating a second company; the company's administrators
approve or decline.

- Only companies that chose to be found (`Company.findable`: 会社情報's 「会社の検索に表示
  する」; dealers are findable, others not unless they say so) are found, by a part of
  their name (at least 2 characters, any width or case) or by their exact 法人番号. A
  result is the name and the prefecture, nothing else.
- A request made at sign-up is stored with the new, unopened account; the administrators
  are mailed (【従業員からのリクエスト】) only once the requester has confirmed the address
  (`announce_requests`, from the activation). A request from 会社情報 of an opened
  account is mailed at once. Administrators only ever see requests of opened accounts.
- At most one request per account and company is pending (also a unique index); nobody
  asks to join a company they already belong to, and an account in a company asks none.
- Approving makes the account a MEMBER of the company under the company's and the
  account's row locks (refused when the account meanwhile belongs to a company);
  declining closes the request. The requester is mailed either way, and may withdraw a
  pending request. Every decision is audited.

Each operation commits its own work, except those named for a caller's transaction
(`add_request`, `announce_requests`)."""
from __future__ import annotations

import enum
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from blueprints.core import audit
from forms.validators import corporate_number_query, normalize_company_query
from mail import messages
from models import db, utcnow
from models.account import (
    Account,
    AccountType,
    Company,
    CompanyJoinRequest,
    CompanyRole,
    JoinRequestStatus,
)

HISTORY_SIZE = 50


# -- 会社の検索 ----------------------------------------------------------------------------
@dataclass(frozen=True)
class FoundCompany:
    """What a search shows of a company: its name and prefecture (and the id to choose)."""

    id: int
    name: str
    prefecture: str


@dataclass(frozen=True)
class SearchResult:
    companies: list[FoundCompany]
    more: bool  # more companies matched than are shown: 「絞り込んでください」


def _like_escaped(text: str) -> str:
    return "".join("\\" + char if char in "\\%_" else char for char in text)


def _width_variants(query: str) -> set[str]:
    """The query as names may be stored: half-width (what normalising gives) and
    full-width letters and digits, each lower- and upper-case (SQLite's lower() knows ASCII
    only), and its katakana half-width too."""
    import jaconv

    variants = set()
    for text in (query, jaconv.h2z(query, kana=False, ascii=True, digit=True),
                 jaconv.z2h(query, kana=True, ascii=False, digit=False)):
        variants |= {text.lower(), text.upper()}
    return variants


def _comparable(text: str) -> str:
    return normalize_company_query(text).casefold()


def search_companies(query: str) -> SearchResult:
    """Findable companies whose name contains `query` (any width, any case) or whose
    法人番号 is `query` (13 digits, with or without its T), by name, at most
    COMPANY_SEARCH_MAX_RESULTS. `query` is a valid search (forms.validators.CompanyQuery)."""
    limit = current_app.config["COMPANY_SEARCH_MAX_RESULTS"]
    statement = select(Company.id, Company.name, Company.prefecture).where(
        Company.findable.is_(True))
    number = corporate_number_query(query)
    if number is not None:
        statement = statement.where(Company.registration_number.in_((number, "T" + number)))
        rows = db.session.execute(statement.order_by(Company.name, Company.id)
                                  .limit(limit + 1)).all()
    else:
        patterns = [f"%{_like_escaped(v)}%" for v in sorted(_width_variants(query))]
        statement = statement.where(or_(*(func.lower(Company.name).like(p, escape="\\")
                                          for p in patterns)))
        wanted = _comparable(query)
        # The database's match is a little wider than ours (widths mixed within one
        # name): check each candidate as normalised text.
        rows = [row for row in db.session.execute(
            statement.order_by(Company.name, Company.id).limit(4 * (limit + 1)))
            if wanted in _comparable(row.name)][:limit + 1]
    return SearchResult([FoundCompany(row.id, row.name, row.prefecture)
                         for row in rows[:limit]], more=len(rows) > limit)


def findable_company(company_id) -> Company | None:
    """The findable company `company_id` (as a page sent it), or None."""
    if isinstance(company_id, str):
        company_id = int(company_id) if company_id.isascii() and company_id.isdigit() \
            and len(company_id) <= 12 else None
    if not isinstance(company_id, int) or not 0 < company_id < 2**31:
        return None
    company = db.session.get(Company, company_id)
    return company if company is not None and company.findable else None


# -- requests ---------------------------------------------------------------------------
class RequestOutcome(enum.Enum):
    SENT = "sent"
    ALREADY_MEMBER = "already_member"    # the account belongs to this company already
    HAS_COMPANY = "has_company"          # … or to another one
    DUPLICATE = "duplicate"              # a request to this company is pending
    NOT_FOUND = "not_found"              # the company is gone or no longer findable


def may_request(account: Account) -> bool:
    """Who asks to join a company: a commercial account that has none."""
    return account.is_commercial and account.company_id is None


def add_request(account: Account, company: Company, message: str | None) -> RequestOutcome:
    """Add a pending request of `account` to join `company`, in the caller's transaction
    (a savepoint: a refused request undoes nothing else). No mail: see
    `announce_requests` and `request_to_join`."""
    if account.company_id == company.id:
        return RequestOutcome.ALREADY_MEMBER
    if account.company_id is not None:
        return RequestOutcome.HAS_COMPANY
    if not company.findable:
        return RequestOutcome.NOT_FOUND
    join_request = CompanyJoinRequest(company_id=company.id, account_id=account.id,
                                      message=message or None)
    try:
        with db.session.begin_nested():
            db.session.add(join_request)
    except IntegrityError:  # the partial unique index: one pending request per company
        return RequestOutcome.DUPLICATE
    audit.record("company.join_request", actor_id=account.id, subject_id=account.id,
                 company_id=company.id, request_id=join_request.id)
    return RequestOutcome.SENT


def request_to_join(account: Account, company_id: int, message: str | None) -> RequestOutcome:
    """参加をリクエスト from 会社情報 (an opened account without a company): the request,
    and 【従業員からのリクエスト】 to the company's administrators. Commits."""
    # The account's row, locked: two requests of one account run one after the other.
    db.session.execute(select(Account.id).where(Account.id == account.id).with_for_update())
    db.session.refresh(account)
    company = findable_company(company_id)
    if company is None:
        db.session.rollback()
        return RequestOutcome.NOT_FOUND
    if pending_request(account, company.id) is not None:
        db.session.rollback()
        return RequestOutcome.DUPLICATE
    outcome = add_request(account, company, message)
    if outcome is not RequestOutcome.SENT:
        db.session.rollback()
        return outcome
    _mail_admins(account, company)
    db.session.commit()
    return outcome


def pending_request(account: Account, company_id: int) -> CompanyJoinRequest | None:
    return db.session.scalar(select(CompanyJoinRequest).where(
        CompanyJoinRequest.account_id == account.id,
        CompanyJoinRequest.company_id == company_id,
        CompanyJoinRequest.status == JoinRequestStatus.PENDING))


def _admins(company_id: int) -> list[Account]:
    return list(db.session.scalars(select(Account).where(
        Account.company_id == company_id, Account.company_role == CompanyRole.ADMIN,
        Account.activated_at.is_not(None)).order_by(Account.id)))


def _mail_admins(account: Account, company: Company) -> None:
    for admin in _admins(company.id):
        messages.send_join_request_mail(admin, account, company)


def announce_requests(account: Account) -> None:
    """The requester confirmed the address (activation): 【従業員からのリクエスト】 to the
    administrators of every company the account asked to join. In the caller's
    transaction."""
    for join_request in db.session.scalars(select(CompanyJoinRequest).where(
            CompanyJoinRequest.account_id == account.id,
            CompanyJoinRequest.status == JoinRequestStatus.PENDING)):
        _mail_admins(account, join_request.company)


def own_requests(account: Account) -> list[CompanyJoinRequest]:
    """The account's requests, newest first (会社情報 without a company)."""
    return list(db.session.scalars(
        select(CompanyJoinRequest).where(CompanyJoinRequest.account_id == account.id)
        .order_by(CompanyJoinRequest.created_at.desc(), CompanyJoinRequest.id.desc())
        .limit(HISTORY_SIZE)))


def withdraw(account: Account, request_id: int) -> bool:
    """取り下げ: the requester's own pending request is closed. False when there is none
    (another's, decided meanwhile, unknown). Commits."""
    if not 0 < request_id < 2**31:
        return False
    withdrawn = db.session.execute(
        update(CompanyJoinRequest)
        .where(CompanyJoinRequest.id == request_id,
               CompanyJoinRequest.account_id == account.id,
               CompanyJoinRequest.status == JoinRequestStatus.PENDING)
        .values(status=JoinRequestStatus.WITHDRAWN, decided_at=utcnow()))
    if withdrawn.rowcount != 1:
        db.session.rollback()
        return False
    audit.record("company.join_request_withdraw", actor_id=account.id, subject_id=account.id,
                 request_id=request_id)
    db.session.commit()
    return True


# -- 従業員からのリクエストの管理 -------------------------------------------------------------
def _visible(company_id: int):
    """Requests to the company from opened accounts (an unconfirmed address is nobody's
    yet: its request waits for the activation)."""
    return (select(CompanyJoinRequest).join(Account, Account.id == CompanyJoinRequest.account_id)
            .where(CompanyJoinRequest.company_id == company_id,
                   Account.activated_at.is_not(None)))


def pending_for(admin: Account) -> list[CompanyJoinRequest]:
    return list(db.session.scalars(
        _visible(admin.company_id).where(CompanyJoinRequest.status == JoinRequestStatus.PENDING)
        .order_by(CompanyJoinRequest.created_at, CompanyJoinRequest.id)))


def history_for(admin: Account) -> list[CompanyJoinRequest]:
    return list(db.session.scalars(
        _visible(admin.company_id).where(CompanyJoinRequest.status != JoinRequestStatus.PENDING)
        .order_by(CompanyJoinRequest.decided_at.desc(), CompanyJoinRequest.id.desc())
        .limit(HISTORY_SIZE)))


def request_of_company(admin: Account, request_id: int) -> CompanyJoinRequest | None:
    """Request `request_id` to the administrator's company, or None (not an administrator,
    another company's, unknown)."""
    if not admin.is_company_admin or not 0 < request_id < 2**31:
        return None
    return db.session.scalar(_visible(admin.company_id)
                             .where(CompanyJoinRequest.id == request_id))


class DecideOutcome(enum.Enum):
    APPROVED = "approved"
    DECLINED = "declined"
    ALREADY_DECIDED = "already_decided"  # e.g. the second of two submits
    HAS_COMPANY = "has_company"          # the requester joined a company meanwhile
    NOT_FOUND = "not_found"


def decide(admin: Account, request_id: int, approve: bool) -> DecideOutcome:
    """承認 / 拒否 of a pending request by an administrator of its company. Approval makes
    the requester a MEMBER (its other pending requests are withdrawn); the requester is
    mailed either way. Under the company's row lock (two administrators deciding at once
    run one after the other) and the requester's (a concurrent approval elsewhere).
    Commits."""
    if admin.company_id is None:
        return DecideOutcome.NOT_FOUND
    db.session.execute(select(Company.id).where(Company.id == admin.company_id)
                       .with_for_update())
    db.session.refresh(admin)
    join_request = request_of_company(admin, request_id)
    if join_request is None:
        db.session.rollback()
        return DecideOutcome.NOT_FOUND
    db.session.refresh(join_request)
    if join_request.status != JoinRequestStatus.PENDING:
        db.session.rollback()
        return DecideOutcome.ALREADY_DECIDED
    requester = db.session.scalar(select(Account).where(Account.id == join_request.account_id)
                                  .with_for_update())
    db.session.refresh(requester)
    now = utcnow()
    if approve:
        if requester.company_id is not None:
            db.session.rollback()
            return DecideOutcome.HAS_COMPANY
        requester.company_id = admin.company_id
        requester.company_role = CompanyRole.MEMBER
        requester.account_type = AccountType.COMMERCIAL
        db.session.execute(
            update(CompanyJoinRequest)
            .where(CompanyJoinRequest.account_id == requester.id,
                   CompanyJoinRequest.id != join_request.id,
                   CompanyJoinRequest.status == JoinRequestStatus.PENDING)
            .values(status=JoinRequestStatus.WITHDRAWN, decided_at=now))
    join_request.status = JoinRequestStatus.APPROVED if approve else JoinRequestStatus.DECLINED
    join_request.decided_at = now
    join_request.decided_by_id = admin.id
    company = db.session.get(Company, admin.company_id)
    messages.send_join_request_decided_mail(requester, company, approve)
    audit.record("company.join_request_" + ("approve" if approve else "decline"),
                 actor_id=admin.id, subject_id=requester.id, company_id=company.id,
                 request_id=join_request.id)
    db.session.commit()
    return DecideOutcome.APPROVED if approve else DecideOutcome.DECLINED


# -- 会社情報: 会社の検索に表示する -----------------------------------------------------------
def set_findable(admin: Account, findable: bool) -> None:
    """The administrator's choice whether the company is found by 会社の検索. Commits."""
    company = admin.company
    if company.findable != findable:
        company.findable = findable
        audit.record("company.findable", actor_id=admin.id, subject_id=admin.id,
                     company_id=company.id, findable=findable)
    db.session.commit()


# -- deletion -----------------------------------------------------------------------------
def forget_account(account: Account) -> None:
    """The account is being deleted: its requests go, and the requests it decided no
    longer name it (the database does the same on its own: this keeps the session in
    step)."""
    db.session.execute(delete(CompanyJoinRequest)
                       .where(CompanyJoinRequest.account_id == account.id))
    db.session.execute(update(CompanyJoinRequest)
                       .where(CompanyJoinRequest.decided_by_id == account.id)
                       .values(decided_by_id=None))
