"""Domain operations of the ID. Views call one of these; each commits its own work."""
from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from blueprints.account import legacy_hashes
from blueprints.account import join_requests
from blueprints.core import audit, registry
from blueprints.core.links import LinkCheck, LinkState, check_link, issue_link, spend_link
from blueprints.core.security import open_login_session, revoke_login_sessions
from blueprints.core.wizard import forget_address
from forms.fields import address_data, store_address
from mail import mailed_since, messages, request_mail
from models import db, utcnow
from models.account import Account, AccountPhone, AccountType, Company, CompanyRole
from models.audit import AuditEvent
from models.link import MailLink
from models.mail import OutboxMail

ACTIVATION = "activation"
PASSWORD_RESET = "password_reset"
INVITATION = "invitation"

# Verifies any argon2 hash: each hash names its own parameters, so hashes made under
# other ARGON2_* settings still verify.
_hasher = PasswordHasher()
# Stands for "no such account" (unknown address): verify_password checks it as a dummy
# hash made by the app's own hasher, so that the time taken does not tell whether an
# account exists.
_DUMMY_HASH = "<dummy>"


def password_hasher() -> PasswordHasher:
    """The hasher new hashes are made with: argon2id with the current app's
    ARGON2_TIME_COST, ARGON2_MEMORY_COST (KiB) and ARGON2_PARALLELISM."""
    config = current_app.config
    return _hasher_with(config["ARGON2_TIME_COST"], config["ARGON2_MEMORY_COST"],
                        config["ARGON2_PARALLELISM"])


@functools.cache
def _hasher_with(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost,
                          parallelism=parallelism)


def dummy_hash() -> str:
    """A hash of a password nobody has, of the same algorithm and cost as a real one: to
    verify when there is no real hash (an unknown address or gateway ID), so that the
    time taken does not tell."""
    return _dummy_hash_by(password_hasher())


@functools.cache
def _dummy_hash_by(hasher: PasswordHasher) -> str:
    return hasher.hash("not-a-real-password-0A!")


def hash_password(password: str) -> str:
    return password_hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    if password_hash is _DUMMY_HASH:
        password_hash = dummy_hash()
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def find_account(email: str) -> Account | None:
    if not email:
        return None
    return db.session.scalar(select(Account).where(func.lower(Account.email) == email.lower()))


def email_registered(email: str) -> bool:
    return find_account(email) is not None


# -- sign-up ---------------------------------------------------------------------------
ACCOUNT_EXISTS = "account_exists"


def _phones_from(entries) -> list[AccountPhone]:
    return [AccountPhone(position=i, kind=e["kind"], number=e["number"])
            for i, e in enumerate(entries) if e.get("number")]


def create_account(name: dict, account_type: str, details: dict,
                   password_hash: str, opened: bool = False,
                   join_company: Company | None = None) -> Account | None:
    """Create an unopened account from the three sign-up steps and mail its activation
    link, in one transaction (the sign-up wizard commits it with the end of its draft).
    With `opened`, for a flow whose mailed link already proved the address (the club's
    dealer sign-up), the account is opened at once and no activation mail is sent.

    When the address already has an ID (or gets one meanwhile from a concurrent
    sign-up), no second account is made and no activation mail is sent: the owner of the
    address is told by mail that they already have an ID, with the ways to sign in and
    to reset the password, and None is returned. The person signing up sees the same
    pages either way, so the sign-up does not tell who has an account.

    With `join_company` (a company found by 会社の検索), a commercial account is created
    without a company and with a pending request to join that one; its administrators
    are told once the address is confirmed (join_requests.announce_requests)."""
    existing = find_account(name["email"])
    if existing is not None:
        _tell_owner_of_existing_id(existing)
        return None
    now = utcnow()
    account = Account(
        email=name["email"], password_hash=password_hash,
        family_name=name["family_name"], given_name=name["given_name"],
        family_kana=name.get("family_kana") or None, given_kana=name.get("given_kana") or None,
        account_type=AccountType(account_type), newsletter=bool(details.get("newsletter")),
        terms_accepted_at=now, privacy_accepted_at=now, activated_at=now if opened else None,
    )
    if account.account_type is AccountType.COMMERCIAL:
        if join_company is None:
            account.company = _company_from(details, Company())
            account.company_role = CompanyRole.ADMIN
        account.department = details["department"]
        account.position = details["position"]
        account.phones = _phones_from(details["phones"])
    else:
        store_address(account, details["address"])
        account.phones = [AccountPhone(position=0, kind="mobile", number=details["phone"])]
    try:
        with db.session.begin_nested():  # only this insert is undone if it loses a race
            db.session.add(account)
    except IntegrityError:  # the unique index caught a concurrent sign-up
        existing = find_account(name["email"])
        if existing is None:
            raise
        _tell_owner_of_existing_id(existing)
        return None
    if join_company is not None and account.is_commercial:
        join_requests.add_request(account, join_company, details.get("join_message"))
    if not opened:
        _send_activation(account)
    audit.record("account.signup", actor_id=account.id, subject_id=account.id,
                 account_type=account.account_type.value, opened=opened)
    return account


def _tell_owner_of_existing_id(account: Account) -> None:
    """Someone signed up with the address of an existing ID: mail its owner (at most
    once per ACCOUNT_EXISTS_MAIL_INTERVAL, so that repeated sign-ups cannot flood the
    address) and audit the attempt."""
    since = utcnow() - current_app.config["ACCOUNT_EXISTS_MAIL_INTERVAL"]
    recent = mailed_since(ACCOUNT_EXISTS, account.email, since)
    if not recent:
        messages.send_account_exists_mail(account)
    audit.record("account.signup_existing", subject_id=account.id, mailed=not recent)


def personal_form_data(account: Account) -> dict:
    """個人情報 as stored, for its form."""
    return {
        "family_name": account.family_name, "given_name": account.given_name,
        "family_kana": account.family_kana or "", "given_kana": account.given_kana or "",
        "department": account.department, "position": account.position,
        "language": account.language,
        "phones": _phone_data(account) or [{}],
        "address": address_data(account),
    }


def _phone_data(account: Account) -> list[dict]:
    """Each phone's kind and number, in order: from the loaded collection when there is
    one, else the two columns alone (the page shows them; loading the rows as objects
    of the collection cost more than the rest of the form's data)."""
    if "phones" in vars(account):  # loaded (a collection never loaded is not there)
        return [{"kind": phone.kind, "number": phone.number} for phone in account.phones]
    rows = db.session.connection().execute(_phones_query(), {"account_id": account.id})
    return [{"kind": kind, "number": number} for kind, number in rows]


@functools.cache
def _phones_query():
    """The phones' two columns, built once per process: building the statement and its
    cache key on each request cost more than running it (the 個人情報 page)."""
    return (select(AccountPhone.kind, AccountPhone.number)
            .where(AccountPhone.account_id == bindparam("account_id"))
            .order_by(AccountPhone.position))


def _company_from(data: dict, company: Company) -> Company:
    company.name = data["company_name"]
    company.kind = data["company_kind"]
    company.registration_number = data.get("registration_number") or None
    store_address(company, data["company_address"])
    company.email = data["company_email"]
    company.website = data.get("website") or None
    company.phone = data["company_phone"]
    return company


def _send_activation(account: Account) -> None:
    ttl = current_app.config["ACTIVATION_LINK_TTL"]
    token = issue_link(ACTIVATION, account.email, ttl, account=account)
    messages.send_activation_mail(account, token, utcnow() + ttl)


class ActivationResult(enum.Enum):
    OPENED = "opened"
    ALREADY_OPEN = "already_open"


def activate(token: str) -> tuple[LinkCheck, ActivationResult | None]:
    """Open the account behind an activation link; the link is spent."""
    checked = check_link(ACTIVATION, token)
    if not checked.ok:
        # A second tap on a used link (or a mail scanner that opened it first) is no
        # problem once the account is open: say so instead of offering a new link.
        if checked.state is LinkState.SPENT and checked.link is not None:
            account = db.session.get(Account, checked.link.account_id)
            if account is not None and account.activated_at is not None:
                return checked, ActivationResult.ALREADY_OPEN
        return checked, None
    account = db.session.get(Account, checked.link.account_id)
    if account is None or not spend_link(checked.link):
        db.session.rollback()
        return LinkCheck(LinkState.SPENT, checked.link), None
    if account.activated_at is not None:
        db.session.commit()
        return checked, ActivationResult.ALREADY_OPEN
    account.activated_at = utcnow()
    join_requests.announce_requests(account)
    audit.record("account.activate", actor_id=account.id, subject_id=account.id)
    db.session.commit()
    return checked, ActivationResult.OPENED


def resend_activation(email: str) -> None:
    """Ask for a fresh activation link for the address. Only a mail request is written,
    the same for every address (same statements, same time); the relay decides off the
    request path (`activation_requested`). The caller shows the same page for every
    address."""
    request_mail(ACTIVATION, email)
    db.session.commit()


def activation_requested(email: str) -> None:
    """The relay's decision on a requested activation mail: a fresh link when the address
    has an unopened account, nothing otherwise. Runs in the relay's transaction."""
    account = find_account(email)
    if account is not None and account.activated_at is None:
        _send_activation(account)
        audit.record("account.activation_resent", subject_id=account.id)


# -- sign-in ---------------------------------------------------------------------------
class LoginOutcome(enum.Enum):
    OK = "ok"
    INVALID = "invalid"
    NOT_ACTIVATED = "not_activated"
    # An account imported from the old portal, right password, one-time step not done:
    # no session is opened; the view starts the migration step (legacy_views).
    MIGRATE = "migrate"


@dataclass
class LoginResult:
    outcome: LoginOutcome
    account: Account | None = None
    session_key: str | None = None


def sign_in(email: str, password: str, remember: bool, user_agent: str | None) -> LoginResult:
    """Check the password and open a sign-in session.

    No account is ever locked here (a lock would let anyone shut its owner out): failed
    attempts are limited per client address and per address + e-mail by the caller.
    Unknown addresses and wrong passwords look the same and cost the same: an unknown
    address is verified against a hash of the same algorithm and cost, and both write one
    audit row."""
    config = current_app.config
    # The e-mail, or the user name of an account imported from the old portal.
    account, legacy = legacy_hashes.find_for_sign_in(email)
    account_id = account.id if account is not None else None
    password_hash = account.password_hash if account is not None else _DUMMY_HASH
    old_hash = (legacy.hash_format, legacy.old_hash) if legacy is not None else None
    migrating = legacy is not None and legacy.migrated_at is None
    # End the read before the deliberately slow hash check: on SQLite every transaction
    # holds the write lock, and other sign-ins should not wait for our argon2.
    db.session.rollback()
    if old_hash is not None and old_hash[1] is not None:
        password_ok = legacy_hashes.verify_old_hash(*old_hash, password)
    else:
        password_ok = verify_password(password_hash, password)
    if account is None or not password_ok:
        # Read from what was loaded before the rollback: reloading the account here
        # would be one statement more for a known address.
        audit.record("account.login_failed", subject_id=account_id,
                     reason="unknown" if account is None else "wrong_password")
        db.session.commit()
        return LoginResult(LoginOutcome.INVALID)
    if account.activated_at is None:
        db.session.rollback()
        return LoginResult(LoginOutcome.NOT_ACTIVATED, account)
    if migrating:
        db.session.rollback()
        return LoginResult(LoginOutcome.MIGRATE, account)
    account.last_login_at = utcnow()
    lifetime = config["REMEMBER_COOKIE_DURATION"] if remember else config["SESSION_LIFETIME"]
    key = open_login_session(account, remember, lifetime, user_agent)
    audit.record("account.login", actor_id=account.id, subject_id=account.id,
                 remember=remember)
    db.session.commit()
    return LoginResult(LoginOutcome.OK, account, key)


def sign_out(account: Account) -> None:
    """End this browser's sign-in session: its cookie no longer opens anything. The
    services' sign-out hooks run in the same transaction (a proxy login ends the dealer's
    own session too)."""
    from blueprints.core.security import hash_key
    from models.account import LoginSession

    if account.login_session_key:
        db.session.execute(
            update(LoginSession)
            .where(LoginSession.key_hash == hash_key(account.login_session_key))
            .values(revoked_at=utcnow())
        )
    registry.signed_out(account)
    audit.record("account.logout", actor_id=account.id, subject_id=account.id)
    db.session.commit()


# -- passwords -------------------------------------------------------------------------
def request_password_reset(email: str) -> None:
    """Ask for a one-hour reset link for the address. Only a mail request is written, the
    same for every address (same statements, same time); the relay decides off the
    request path (`password_reset_requested`). The caller shows the same answer for
    every address."""
    request_mail(PASSWORD_RESET, email)
    db.session.commit()


def password_reset_requested(email: str) -> None:
    """The relay's decision on a requested reset mail: a one-hour link when the address
    has an account, nothing otherwise. Runs in the relay's transaction."""
    account = find_account(email)
    if account is not None:
        ttl = current_app.config["PASSWORD_RESET_LINK_TTL"]
        token = issue_link(PASSWORD_RESET, account.email, ttl, account=account)
        messages.send_password_reset_mail(account, token, utcnow() + ttl)
        audit.record("account.password_reset_requested", subject_id=account.id)


def check_reset_link(token: str) -> LinkCheck:
    return check_link(PASSWORD_RESET, token)


def _set_password(account: Account, password: str, keep_session_key: str | None) -> None:
    now = utcnow()
    account.password_hash = hash_password(password)
    account.password_changed_at = now
    revoke_login_sessions(account.id, keep_key=keep_session_key)
    messages.send_password_changed_mail(account, now)
    legacy_hashes.forget_old_hash(account)  # an imported account's old hash goes


def reset_password(token: str, password: str) -> LinkCheck:
    """Set a new password from a reset link; every signed-in browser is signed out.
    A reset also opens an unopened account: the link proved the address."""
    checked = check_reset_link(token)
    if not checked.ok:
        return checked
    account = db.session.get(Account, checked.link.account_id)
    if account is None or not spend_link(checked.link):
        db.session.rollback()
        return LinkCheck(LinkState.SPENT, checked.link)
    _set_password(account, password, keep_session_key=None)
    if account.activated_at is None:
        account.activated_at = utcnow()
        join_requests.announce_requests(account)
    audit.record("account.password_reset", actor_id=account.id, subject_id=account.id)
    db.session.commit()
    return checked


def change_password(account: Account, current_password: str, new_password: str) -> bool:
    """Change the password when the current one is right; other browsers are signed out
    and the change is mailed to the account."""
    if not verify_password(account.password_hash, current_password):
        return False
    _set_password(account, new_password, keep_session_key=account.login_session_key)
    audit.record("account.password_change", actor_id=account.id, subject_id=account.id)
    db.session.commit()
    return True


# -- settings --------------------------------------------------------------------------
def update_personal_info(account: Account, data: dict) -> None:
    """個人情報: name and its フリガナ, phones, department/position, language, and the
    address of a personal account (a commercial account's address is its company's)."""
    apply_personal_info(account, data)
    db.session.commit()


def apply_personal_info(account: Account, data: dict) -> None:
    """`update_personal_info` without the commit, for a flow that changes the ID together
    with its own records in one transaction (the points sign-up's お客様情報)."""
    account.family_name = data["family_name"]
    account.given_name = data["given_name"]
    account.family_kana = data.get("family_kana") or None
    account.given_kana = data.get("given_kana") or None
    if "address" in data:
        store_address(account, data["address"])
    account.department = data.get("department") or None
    account.position = data.get("position") or None
    account.language = data["language"]
    account.phones = _phones_from(data["phones"])
    audit.record("account.update", actor_id=account.id, subject_id=account.id,
                 section="personal")


def update_company(account: Account, data: dict) -> None:
    _company_from(data, account.company)
    audit.record("company.update", actor_id=account.id, subject_id=account.id,
                 company_id=account.company_id)
    db.session.commit()


def company_form_data(company: Company) -> dict:
    return {
        "company_name": company.name, "company_kind": company.kind,
        "registration_number": company.registration_number or "",
        "company_address": address_data(company),
        "company_email": company.email, "website": company.website or "",
        "company_phone": company.phone,
    }


# -- employees -------------------------------------------------------------------------
def search_employees(company_id: int, query: str | None) -> list[Account]:
    statement = select(Account).where(Account.company_id == company_id)
    if query:
        like = f"%{query.replace('%', '').replace('_', '')}%"
        statement = statement.where(or_(
            Account.email.ilike(like), Account.family_name.like(like),
            Account.given_name.like(like),
            (Account.family_name + Account.given_name).like(like),
        ))
    return list(db.session.scalars(statement.order_by(Account.family_name, Account.id)))


def pending_invitations(company_id: int) -> list[MailLink]:
    return list(db.session.scalars(
        select(MailLink).where(MailLink.purpose == INVITATION,
                               MailLink.company_id == company_id,
                               MailLink.used_at.is_(None),
                               MailLink.expires_at > utcnow())
        .order_by(MailLink.created_at.desc())
    ))


class InviteOutcome(enum.Enum):
    SENT = "sent"
    ALREADY_MEMBER = "already_member"
    DAILY_LIMIT = "daily_limit"


def invitations_in_last_day(company_id: int) -> int:
    """Invitations the company sent over the last 24 hours (spent or not)."""
    return db.session.scalar(
        select(func.count()).select_from(MailLink)
        .where(MailLink.purpose == INVITATION, MailLink.company_id == company_id,
               MailLink.created_at > utcnow() - timedelta(days=1))
    )


def invite_employee(inviter: Account, family_name: str, given_name: str,
                    email: str) -> InviteOutcome:
    """Mail an invitation (7 days) to join the inviter's company account, at most
    INVITATIONS_PER_DAY per company over the last 24 hours: a company is anyone who
    signed up as one, and each invitation is a mail to any address."""
    company = inviter.company
    existing = find_account(email)
    if existing is not None and existing.company_id == company.id:
        return InviteOutcome.ALREADY_MEMBER
    # Count under the company's row lock, so that parallel invitations cannot pass the
    # cap together (SQLite write transactions are serial anyway).
    db.session.execute(select(Company.id).where(Company.id == company.id).with_for_update())
    if invitations_in_last_day(company.id) >= current_app.config["INVITATIONS_PER_DAY"]:
        db.session.rollback()
        return InviteOutcome.DAILY_LIMIT
    ttl = current_app.config["INVITATION_LINK_TTL"]
    token = issue_link(INVITATION, email, ttl, company_id=company.id,
                       payload={"family_name": family_name, "given_name": given_name,
                                "inviter_id": inviter.id})
    messages.send_invitation_mail(email, family_name, given_name, inviter, company, token,
                                  utcnow() + ttl)
    audit.record("company.invite", actor_id=inviter.id, company_id=company.id)
    db.session.commit()
    return InviteOutcome.SENT


def check_invitation(token: str) -> LinkCheck:
    checked = check_link(INVITATION, token)
    if checked.link is not None and db.session.get(Company, checked.link.company_id) is None:
        return LinkCheck(LinkState.INVALID)
    return checked


class JoinOutcome(enum.Enum):
    JOINED = "joined"
    OTHER_COMPANY_ADMIN = "other_company_admin"
    WRONG_ACCOUNT = "wrong_account"


def join_company_as_new(token: str, family_name: str, given_name: str,
                        password: str) -> tuple[LinkCheck, Account | None]:
    """The invitee has no ID yet: create an opened commercial account in the company."""
    checked = check_invitation(token)
    if not checked.ok:
        return checked, None
    link = checked.link
    if email_registered(link.email) or not spend_link(link):
        db.session.rollback()
        return LinkCheck(LinkState.SPENT, link), None
    now = utcnow()
    account = Account(
        email=link.email, password_hash=hash_password(password),
        family_name=family_name, given_name=given_name,
        account_type=AccountType.COMMERCIAL, company_id=link.company_id,
        company_role=CompanyRole.MEMBER, activated_at=now,
        terms_accepted_at=now, privacy_accepted_at=now,
    )
    db.session.add(account)
    db.session.flush()
    audit.record("company.join", actor_id=account.id, subject_id=account.id,
                 company_id=link.company_id, new_account=True)
    db.session.commit()
    return checked, account


def join_company_as_existing(token: str, account: Account) -> tuple[LinkCheck, JoinOutcome | None]:
    """The invitee signed in with an existing ID: it is merged into the company."""
    checked = check_invitation(token)
    if not checked.ok:
        return checked, None
    link = checked.link
    if link.email.lower() != account.email.lower():
        return checked, JoinOutcome.WRONG_ACCOUNT
    if account.company_id not in (None, link.company_id) and account.is_company_admin and (
        len(account.company.members) > 1
    ):
        return checked, JoinOutcome.OTHER_COMPANY_ADMIN
    if not spend_link(link):
        db.session.rollback()
        return LinkCheck(LinkState.SPENT, link), None
    old_company = account.company if account.company_id != link.company_id else None
    account.account_type = AccountType.COMMERCIAL
    account.company_id = link.company_id
    account.company_role = CompanyRole.MEMBER
    if old_company is not None and len(old_company.members) <= 1:
        db.session.delete(old_company)
    audit.record("company.join", actor_id=account.id, subject_id=account.id,
                 company_id=link.company_id, new_account=False)
    db.session.commit()
    return checked, JoinOutcome.JOINED


# -- employees who leave, invitations withdrawn, the admin role handed over --------------
# Company access is read from the account on every request (its company and role), so a
# change here takes effect on the person's next request, in every browser they are
# signed in with. Each operation is for an administrator of the same company only; an
# ID of another company is not found. A repeated submit finds its work done and says so.
class EmployeeOutcome(enum.Enum):
    DONE = "done"
    ALREADY_DONE = "already_done"  # e.g. the second of two submits
    LAST_ADMIN = "last_admin"      # the company would be left without an administrator
    FORBIDDEN = "forbidden"        # the actor is an employee, not the administrator
    NOT_FOUND = "not_found"        # not of the actor's company


def company_employee(actor: Account, account_id: int) -> Account | None:
    """The employee `account_id` of the actor's company, or None."""
    if actor.company_id is None:
        return None
    employee = db.session.get(Account, account_id)
    if employee is None or employee.company_id != actor.company_id:
        return None
    return employee


def is_last_admin(employee: Account) -> bool:
    """Whether the employee is the only administrator of their company."""
    if employee.company_role != CompanyRole.ADMIN or employee.company_id is None:
        return False
    admins = db.session.scalar(select(func.count()).select_from(Account).where(
        Account.company_id == employee.company_id,
        Account.company_role == CompanyRole.ADMIN))
    return admins <= 1


def _lock_company(actor: Account) -> int | None:
    """Serialise changes of one company's employees (PostgreSQL; SQLite writes are
    serial already), so that two administrators cannot remove each other at once, and
    read the actor's own company and role again under that lock. Returns the company."""
    if actor.company_id is None:
        return None
    db.session.execute(select(Company.id).where(Company.id == actor.company_id)
                       .with_for_update())
    db.session.refresh(actor)
    return actor.company_id


def _locked_employee(actor: Account, account_id: int) -> tuple[int | None, Account | None]:
    """The actor's company (locked, see _lock_company) and its employee `account_id`;
    (None, None) when the actor has no company, (company, None) for anyone else."""
    company_id = _lock_company(actor)
    if company_id is None:
        return None, None
    return company_id, company_employee(actor, account_id)


def _was_removed_from(company_id: int, account_id: int) -> bool:
    events = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "company.member_remove", AuditEvent.subject_id == account_id))
    return any(event.detail.get("company_id") == company_id for event in events)


def remove_employee(actor: Account, account_id: int) -> EmployeeOutcome:
    """従業員の削除: the employee leaves the actor's company. Their ID stays, as a personal
    account without a company (their own gateways stay theirs); they lose the company's
    pages and the dealer console from their next request on, and are told by mail.
    An administrator may remove themselves only while another administrator remains."""
    company_id, employee = _locked_employee(actor, account_id)
    if employee is None:
        done = company_id is not None and _was_removed_from(company_id, account_id)
        db.session.rollback()
        return EmployeeOutcome.ALREADY_DONE if done else EmployeeOutcome.NOT_FOUND
    if not actor.is_company_admin:
        db.session.rollback()
        return EmployeeOutcome.FORBIDDEN
    if is_last_admin(employee):
        db.session.rollback()
        return EmployeeOutcome.LAST_ADMIN
    company = employee.company
    registry.membership_ended(employee, company)
    employee.company = None
    employee.company_role = None
    employee.account_type = AccountType.PERSONAL
    employee.department = None
    employee.position = None
    now = utcnow()
    messages.send_removed_from_company_mail(employee, company, now)
    audit.record("company.member_remove", actor_id=actor.id, subject_id=employee.id,
                 company_id=company_id)
    db.session.commit()
    return EmployeeOutcome.DONE


def hand_over_admin(actor: Account, account_id: int) -> EmployeeOutcome:
    """管理者の引き継ぎ: the employee becomes the company's administrator and the actor
    an ordinary employee."""
    company_id, employee = _locked_employee(actor, account_id)
    if employee is None:
        db.session.rollback()
        return EmployeeOutcome.NOT_FOUND
    if employee.company_role == CompanyRole.ADMIN:
        db.session.rollback()
        return EmployeeOutcome.ALREADY_DONE
    if not actor.is_company_admin:
        db.session.rollback()
        return EmployeeOutcome.FORBIDDEN
    employee.company_role = CompanyRole.ADMIN
    actor.company_role = CompanyRole.MEMBER
    audit.record("company.admin_hand_over", actor_id=actor.id, subject_id=employee.id,
                 company_id=company_id)
    db.session.commit()
    return EmployeeOutcome.DONE


def company_invitation(actor: Account, invitation_id: int) -> MailLink | None:
    """An invitation (pending or not) sent on behalf of the actor's company, or None."""
    link = db.session.get(MailLink, invitation_id)
    if (link is None or link.purpose != INVITATION or actor.company_id is None
            or link.company_id != actor.company_id):
        return None
    return link


def is_pending(invitation: MailLink) -> bool:
    return invitation.used_at is None and invitation.expires_at > utcnow()


def cancel_invitation(actor: Account, invitation_id: int) -> EmployeeOutcome:
    """招待の取り消し: the invitation's link stops working (it then shows the page of an
    expired link); an invitation already used, expired or withdrawn is left as it is."""
    invitation = company_invitation(actor, invitation_id)
    if invitation is None:
        return EmployeeOutcome.NOT_FOUND
    if not is_pending(invitation):
        return EmployeeOutcome.ALREADY_DONE
    if not actor.is_company_admin:
        return EmployeeOutcome.FORBIDDEN
    # Only a link nobody has used or withdrawn meanwhile is changed (two submits at once).
    withdrawn = db.session.execute(
        MailLink.__table__.update()
        .where(MailLink.id == invitation.id, MailLink.used_at.is_(None),
               MailLink.expires_at > utcnow())
        .values(expires_at=utcnow()))
    if withdrawn.rowcount != 1:
        db.session.rollback()
        return EmployeeOutcome.ALREADY_DONE
    audit.record("company.invitation_cancel", actor_id=actor.id,
                 company_id=actor.company_id, invitation_id=invitation.id)
    db.session.commit()
    return EmployeeOutcome.DONE


# -- deletion --------------------------------------------------------------------------
def delete_account(account: Account, password: str) -> bool:
    """Remove the account and everything of it, everywhere, in one transaction.

    Its company stays while other employees remain (the longest-serving one becomes its
    administrator); a company left without employees is removed. Audit rows lose their
    reference to the account, and mail to its address is dropped from the outbox."""
    if not verify_password(account.password_hash, password):
        return False
    account_id, email, company = account.id, account.email, account.company
    if company is not None:
        others = [m for m in company.members if m.id != account_id]
        if not others:
            db.session.delete(company)
        elif account.company_role == CompanyRole.ADMIN and not any(
            m.company_role == CompanyRole.ADMIN for m in others
        ):
            min(others, key=lambda m: (m.created_at, m.id)).company_role = CompanyRole.ADMIN
    db.session.execute(
        update(AuditEvent).where(AuditEvent.actor_id == account_id).values(actor_id=None)
    )
    db.session.execute(
        update(AuditEvent).where(AuditEvent.subject_id == account_id).values(subject_id=None)
    )
    db.session.execute(delete(MailLink).where(
        or_(MailLink.account_id == account_id, func.lower(MailLink.email) == email.lower())
    ))
    db.session.execute(delete(OutboxMail).where(func.lower(OutboxMail.recipient) == email.lower()))
    forget_address(email)
    registry.account_deleted(account)
    db.session.delete(account)
    audit.record("account.delete")
    db.session.commit()
    return True


def invited_company(link: MailLink) -> Company:
    return db.session.get(Company, link.company_id)


def renew_link(purpose: str, token: str) -> str | None:
    """From the page of an expired or spent link: send a fresh link of the same purpose
    to the same address. Returns the address, or None for an unknown token."""
    checked = check_link(purpose, token)
    if checked.link is None or purpose not in (ACTIVATION, PASSWORD_RESET):
        return None
    if purpose == ACTIVATION:
        resend_activation(checked.link.email)
    else:
        request_password_reset(checked.link.email)
    return checked.link.email
