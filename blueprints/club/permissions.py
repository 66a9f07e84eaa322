"""Login permissions: an owner names a dealer's address, the dealer approves or rejects,
the owner may withdraw. A dealer company sees an owner's registration and may open a
proxy login only while a permission of that owner for that dealer is approved.

The owner's request is recorded whatever the address is, with the same work for every
address: one `LoginPermission` row (pending) and one mail request. Whether a mail goes
out is decided off the request path (`permission_requested`, run by the relay): when the
address is a member of a dealer company, the permission gets that dealer and the member
gets the approval mail with a link valid until decided; otherwise nothing happens, and the
owner's page looks the same (承認待ち). Nothing here tells the owner whether an address is
a dealer's until the dealer decided.

The approval link is bound to the dealer company it was mailed for: only a member of that
company may use it (someone who left the company no longer can). A decision is taken
once: the permission row is locked and the link spent in the same transaction."""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import datetime

from flask import current_app, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select, update

from blueprints.core import audit
from blueprints.core.links import LinkState, check_link, issue_link, spend_link
from blueprints.core.paging import Page
from blueprints.core.registry import AccessLine
from blueprints.dealers.services import dealer_for_account
from mail import messages, request_mail
from models import db, utcnow
from models.account import Account, AccountType, Company
from models.club import LoginPermission, PermissionState, Product
from models.gateway import Dealer, DealerLink, Gateway
from models.link import MailLink

APPROVAL = "club_approval"              # the dealer's approval link (MailLink.purpose)
PERMISSION_REQUEST = "club_permission"  # the mail request the relay decides
PER_PAGE = 20
MAX_PAGE = 100_000
STATE_LABELS = {
    PermissionState.PENDING: _l("承認待ち"),
    PermissionState.APPROVED: _l("許可済み"),
    PermissionState.REJECTED: _l("拒否"),
    PermissionState.WITHDRAWN: _l("取消し済み"),
}


def approved_permission(owner_id: int, dealer_id: int) -> LoginPermission | None:
    """The owner's approved permission for the dealer company, or None."""
    return db.session.scalar(
        select(LoginPermission).where(LoginPermission.owner_id == owner_id,
                                      LoginPermission.dealer_id == dealer_id,
                                      LoginPermission.state == PermissionState.APPROVED)
        .order_by(LoginPermission.decided_at, LoginPermission.id)
        .limit(1))


def state_label(state) -> str:
    return STATE_LABELS[PermissionState(state)]


# -- look-ups ------------------------------------------------------------------------------
def dealer_of(account: Account | None) -> Dealer | None:
    """The dealer of the account's company (every member of a dealer company acts for it):
    the dealers service's one look-up, kept for the request."""
    return dealer_for_account(account)


def _member_by_address(address: str) -> Account | None:
    return db.session.scalar(select(Account).where(
        func.lower(Account.email) == address.lower(),
        Account.account_type == AccountType.COMMERCIAL,
        Account.company_id.is_not(None)))


def _find(owner: Account, address: str, lock: bool = False) -> LoginPermission | None:
    statement = select(LoginPermission).where(
        LoginPermission.owner_id == owner.id,
        func.lower(LoginPermission.email) == address.lower())
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return db.session.scalar(statement.order_by(LoginPermission.id).limit(1))


def owner_permissions(owner: Account) -> list[LoginPermission]:
    """The owner's permissions that are not withdrawn, newest request first."""
    return list(db.session.scalars(
        select(LoginPermission)
        .where(LoginPermission.owner_id == owner.id,
               LoginPermission.state != PermissionState.WITHDRAWN)
        .order_by(LoginPermission.requested_at.desc(), LoginPermission.id.desc())))


def owner_permission(owner: Account, permission_id) -> LoginPermission | None:
    """One of the owner's permissions that is not withdrawn (None for anything else)."""
    if not isinstance(permission_id, int):
        return None
    return db.session.scalar(select(LoginPermission).where(
        LoginPermission.id == permission_id, LoginPermission.owner_id == owner.id,
        LoginPermission.state != PermissionState.WITHDRAWN))


def decided_company(permission: LoginPermission) -> Company | None:
    """The dealer company, once it decided (before that the owner is not told whose
    address it is)."""
    if permission.dealer_id is None or permission.state not in (PermissionState.APPROVED,
                                                                PermissionState.REJECTED):
        return None
    return db.session.scalar(select(Company).join(Dealer, Dealer.company_id == Company.id)
                             .where(Dealer.id == permission.dealer_id))


# -- the owner asks --------------------------------------------------------------------------
class GrantProblem(enum.Enum):
    OWN_ADDRESS = "own_address"
    OWN_COMPANY = "own_company"
    ALREADY_APPROVED = "already_approved"
    TOO_MANY_PENDING = "too_many_pending"


GRANT_MESSAGES = {
    GrantProblem.OWN_ADDRESS: _l("ご自身のメールアドレスは指定できません。販売店・業者様のメールアドレスを入力してください"),
    GrantProblem.OWN_COMPANY: _l("ご自身が所属する会社のメールアドレスは指定できません"),
    GrantProblem.ALREADY_APPROVED: _l("このメールアドレスの販売店・業者様にはすでにログインを許可しています"),
    GrantProblem.TOO_MANY_PENDING: _l("承認待ちの許可が多すぎます。販売店・業者様の承認をお待ちいただくか、不要な許可を取り消してください"),
}


def grant_problem(owner: Account, address: str) -> GrantProblem | None:
    """Why the owner cannot name this address, or None. Only what the owner knows anyway
    (their own address, their own company, their own permissions) is looked at."""
    if address.lower() == owner.email.lower():
        return GrantProblem.OWN_ADDRESS
    if owner.company_id is not None:
        member = _member_by_address(address)
        if (member is not None and member.company_id == owner.company_id
                and dealer_of(owner) is not None):
            return GrantProblem.OWN_COMPANY
    existing = _find(owner, address)
    if existing is not None and existing.state == PermissionState.APPROVED:
        return GrantProblem.ALREADY_APPROVED
    pending = db.session.scalar(
        select(func.count()).select_from(LoginPermission)
        .where(LoginPermission.owner_id == owner.id,
               LoginPermission.state == PermissionState.PENDING,
               LoginPermission.id != (existing.id if existing is not None else -1)))
    if pending >= current_app.config["CLUB_PENDING_PERMISSIONS_MAX"]:
        return GrantProblem.TOO_MANY_PENDING
    return None


def _end_approval_links(permission: LoginPermission) -> None:
    """The unused approval links of a permission stop working (renewed or withdrawn)."""
    db.session.execute(
        update(MailLink)
        .where(MailLink.purpose == APPROVAL, MailLink.account_id == permission.owner_id,
               func.lower(MailLink.email) == permission.email.lower(),
               MailLink.used_at.is_(None), MailLink.expires_at > utcnow())
        .values(expires_at=utcnow()),
        execution_options={"synchronize_session": False})


def request_permission(owner: Account, address: str) -> GrantProblem | None:
    """Record (or renew) the owner's permission for the address, pending, and ask the
    relay to mail the dealer behind it, if any. The caller commits (so that the owner's
    other changes of the same form are one transaction). Renewing a pending, rejected or
    withdrawn permission asks again with a new link; the earlier link stops working."""
    problem = grant_problem(owner, address)
    if problem is not None:
        return problem
    permission = _find(owner, address, lock=True)
    now = utcnow()
    if permission is None:
        permission = LoginPermission(owner_id=owner.id, email=address, requested_at=now)
        db.session.add(permission)
    else:
        _end_approval_links(permission)
        permission.state = PermissionState.PENDING
        permission.dealer_id = None
        permission.requested_at = now
        permission.decided_at = permission.decided_by_id = permission.withdrawn_at = None
    db.session.flush()
    request_mail(PERMISSION_REQUEST, address)
    audit.record("club.permission_request", actor_id=owner.id, subject_id=owner.id,
                 permission_id=permission.id)
    return None


def owner_system(owner: Account) -> tuple[str | None, str | None]:
    """システム機種名 and システム製造番号 of the owner's first registered product (or, without
    one, first registered gateway: its catalogue model and its first power conditioner's
    製造番号)."""
    from blueprints.gateways.catalogue import model_for_code

    product = db.session.scalar(select(Product).where(Product.owner_id == owner.id)
                                .order_by(Product.registered_at, Product.id).limit(1))
    if product is not None:
        return product.model.name, product.system_serial
    gateway = db.session.scalar(select(Gateway).where(Gateway.owner_id == owner.id)
                                .order_by(Gateway.registered_at, Gateway.id).limit(1))
    if gateway is None:
        return None, None
    model = model_for_code(gateway.model)
    serial = gateway.units[0].serial if getattr(gateway, "units", None) else None
    return (model.name if model else gateway.model), serial


def permission_requested(address: str) -> None:
    """The relay's decision on a requested approval mail: when the address is a member of
    a dealer company, each owner's pending permission for it that has no dealer yet gets
    that dealer and the member an approval mail; otherwise nothing. Runs in the relay's
    transaction."""
    member = _member_by_address(address)
    dealer = dealer_of(member) if member is not None else None
    if dealer is None or not member.is_active:
        return
    permissions = db.session.scalars(
        select(LoginPermission)
        .where(func.lower(LoginPermission.email) == address.lower(),
               LoginPermission.state == PermissionState.PENDING,
               LoginPermission.dealer_id.is_(None))
        .order_by(LoginPermission.id).with_for_update())
    ttl = current_app.config["CLUB_APPROVAL_LINK_TTL"]
    for permission in permissions:
        owner = permission.owner
        if owner.company_id == dealer.company_id:
            continue  # an owner cannot approve themselves through their own company
        permission.dealer_id = dealer.id
        token = issue_link(APPROVAL, permission.email, ttl, account=owner,
                           company_id=dealer.company_id,
                           payload={"permission_id": permission.id}, replace=False)
        model_name, serial = owner_system(owner)
        messages.send_permission_request_mail(member.email, owner, model_name, serial, token)
        audit.record("club.permission_mailed", subject_id=owner.id,
                     permission_id=permission.id, dealer_code=dealer.dealer_code)


# -- the dealer decides ----------------------------------------------------------------------
class ApprovalState(enum.Enum):
    OPEN = "open"            # may be decided by this viewer
    DECIDED = "decided"      # decided already (approved or rejected)
    WITHDRAWN = "withdrawn"  # the owner withdrew it
    FOREIGN = "foreign"      # the viewer is not a member of the addressed dealer
    PROBLEM = "problem"      # unknown, altered, spent (renewed) or expired link


@dataclass
class Approval:
    state: ApprovalState
    permission: LoginPermission | None = None
    owner: Account | None = None
    company: Company | None = None
    link_state: LinkState | None = None
    model_name: str | None = None
    serial: str | None = None
    decided_now: bool = False  # this request took the decision


def _approval(token: str | None, viewer: Account, lock: bool = False) -> tuple[Approval, MailLink | None]:
    checked = check_link(APPROVAL, token)
    link = checked.link
    if link is None:
        return Approval(ApprovalState.PROBLEM, link_state=checked.state), None
    if viewer.company_id is None or viewer.company_id != link.company_id or dealer_of(viewer) is None:
        return Approval(ApprovalState.FOREIGN), link
    statement = select(LoginPermission).where(
        LoginPermission.id == (link.payload or {}).get("permission_id"),
        LoginPermission.owner_id == link.account_id)
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    permission = db.session.scalar(statement)
    dealer = dealer_of(viewer)
    if permission is None or permission.dealer_id not in (None, dealer.id):
        return Approval(ApprovalState.PROBLEM, link_state=LinkState.INVALID), link
    company = db.session.get(Company, link.company_id)
    found = Approval(ApprovalState.OPEN, permission, permission.owner, company, checked.state)
    if permission.state == PermissionState.WITHDRAWN:
        found.state = ApprovalState.WITHDRAWN
    elif checked.state is LinkState.SPENT and permission.state in (PermissionState.APPROVED,
                                                                   PermissionState.REJECTED):
        found.state = ApprovalState.DECIDED
    elif not checked.ok or permission.state != PermissionState.PENDING:
        found.state = ApprovalState.PROBLEM
    else:
        found.model_name, found.serial = owner_system(permission.owner)
    return found, link


def approval_for(token: str | None, viewer: Account) -> Approval:
    """What the approval link shows this signed-in viewer (read only)."""
    return _approval(token, viewer)[0]


def decide(token: str | None, viewer: Account, approve: bool) -> Approval:
    """連携を許可 / 連携を許可しない, once: the permission row is locked and the link spent
    in one transaction; a second decision (two tabs, a double submit) changes nothing and
    answers the decision already made. A rejection mails the owner."""
    found, link = _approval(token, viewer, lock=True)
    if found.state is not ApprovalState.OPEN or not spend_link(link):
        # Not open, or decided by a concurrent request while this one waited for the
        # lock: answer what there is now, read afresh.
        db.session.rollback()
        return approval_for(token, viewer)
    permission, now = found.permission, utcnow()
    permission.state = PermissionState.APPROVED if approve else PermissionState.REJECTED
    permission.dealer_id = dealer_of(viewer).id
    permission.decided_at, permission.decided_by_id = now, viewer.id
    if not approve:
        messages.send_permission_rejected_mail(found.owner, permission.email, found.company)
    audit.record("club.permission_approve" if approve else "club.permission_reject",
                 actor_id=viewer.id, subject_id=permission.owner_id,
                 permission_id=permission.id, company_id=found.company.id)
    db.session.commit()
    found.state, found.decided_now = ApprovalState.DECIDED, True
    return found


# -- the owner withdraws ---------------------------------------------------------------------
def withdraw_permission(owner: Account, permission_id: int) -> LoginPermission | None:
    """The owner takes a permission back: the dealer's next request no longer finds the
    owner, and an unused approval link says it was withdrawn. None when it is not the
    owner's or was withdrawn already."""
    permission = db.session.scalar(
        select(LoginPermission)
        .where(LoginPermission.id == permission_id, LoginPermission.owner_id == owner.id,
               LoginPermission.state != PermissionState.WITHDRAWN)
        .with_for_update().execution_options(populate_existing=True))
    if permission is None:
        db.session.rollback()
        return None
    previous = permission.state
    permission.state = PermissionState.WITHDRAWN
    permission.withdrawn_at = utcnow()
    _end_approval_links(permission)
    audit.record("club.permission_withdraw", actor_id=owner.id, subject_id=owner.id,
                 permission_id=permission.id, previous=PermissionState(previous).value)
    db.session.commit()
    return permission


# -- the dealer's registered users -----------------------------------------------------------
@dataclass
class RegisteredUser:
    owner: Account
    approved_at: datetime


def _approved_owners(dealer: Dealer):
    """owner id → first approval date of the owners who approved this dealer (now)."""
    return (select(LoginPermission.owner_id.label("owner_id"),
                   func.min(LoginPermission.decided_at).label("approved_at"))
            .where(LoginPermission.dealer_id == dealer.id,
                   LoginPermission.state == PermissionState.APPROVED)
            .group_by(LoginPermission.owner_id).subquery())


def registered_users(dealer: Dealer, query: str | None = None, page: int = 1,
                     per_page: int = PER_PAGE) -> Page:
    """登録ユーザー一覧: the owners whose permission for this dealer is approved, newest
    approval first; `query` is an exact お客様番号 or part of the e-mail (ignoring case,
    `%` and `_` taken literally). The state is read on every call: a withdrawal takes
    effect on the dealer's next request."""
    page, per_page = max(1, min(int(page), MAX_PAGE)), max(1, int(per_page))
    approved = _approved_owners(dealer)
    statement = (select(Account, approved.c.approved_at)
                 .join(approved, approved.c.owner_id == Account.id))
    query = (query or "").strip(" \u3000\t")
    if query:
        import jaconv

        half = jaconv.z2h(query, kana=False, ascii=True, digit=True)
        statement = statement.where(or_(Account.customer_number == half,
                                        Account.email.icontains(half, autoescape=True)))
    total = db.session.scalar(select(func.count()).select_from(statement.subquery()))
    page = min(page, max(1, math.ceil(total / per_page)))  # past the end: the last page
    rows = db.session.execute(statement.order_by(approved.c.approved_at.desc(),
                                                 Account.id.desc())
                              .limit(per_page).offset((page - 1) * per_page))
    return Page([RegisteredUser(owner, at) for owner, at in rows], total, page, per_page)


def approved_owner(dealer: Dealer, customer_number: str) -> tuple[Account, LoginPermission] | None:
    """The owner with this お客様番号 and their approved permission for the dealer, or None
    (unknown number, or pending, rejected, withdrawn, another dealer's). Read on every
    request: a withdrawal takes effect on the dealer's next one."""
    if (dealer is None or not isinstance(customer_number, str)
            or not customer_number.isascii() or not customer_number.isdigit()
            or len(customer_number) != 10):
        return None
    owner = db.session.scalar(select(Account).where(Account.customer_number == customer_number))
    if owner is None:
        return None
    permission = approved_permission(owner.id, dealer.id)
    return (owner, permission) if permission is not None else None


def maintained_gateways(dealer: Dealer, owner: Account) -> list[Gateway]:
    """The owner's gateways this dealer also maintains (DealerLink)."""
    return list(db.session.scalars(
        select(Gateway).join(DealerLink, DealerLink.gateway_id == Gateway.id)
        .where(DealerLink.dealer_id == dealer.id, Gateway.owner_id == owner.id)
        .order_by(Gateway.gateway_id)))


# -- the owner's access page -----------------------------------------------------------------
def access_lines(owner: Account) -> list[AccessLine]:
    """"Who can see my home": each login permission that is not withdrawn, with its state.
    A pending one names only the address the owner typed."""
    lines = []
    for permission in owner_permissions(owner):
        company = decided_company(permission)
        who = f"{company.name}（{permission.email}）" if company else permission.email
        since = (permission.decided_at if permission.state != PermissionState.PENDING
                 else permission.requested_at)
        lines.append(AccessLine(
            who=who, what=_l("ログインを許可（%(state)s）：登録情報の確認・代理ログイン",
                             state=state_label(permission.state)),
            scope=_l("お客様情報"), since=since,
            manage_url=url_for("club.permission_withdraw", permission_id=permission.id)))
    return lines
