"""Staff accounts and their roles (/staff/people and `flask --app app staff create`).

A staff account is an Enelink ID with `role = staff` and one `StaffGrant` row per role
(`blueprints.core.staff.STAFF_ROLES`). Rules kept here, for the pages and the CLI alike:

- only an existing, opened ID becomes staff (by its e-mail address);
- a staff member keeps at least one role; 「スタッフ権限を外す」 makes them a user again
  and deletes their grants;
- nobody removes their own admin role (nor themselves), and the last admin keeps the
  admin role: a change first locks the admin grants (`SELECT … FOR UPDATE`, before any
  other row, so that two changes queue there instead of deadlocking; SQLite's write
  transactions are serial anyway) and counts them, so two admins removing each other at
  the same moment leave one;
- every change is audited with the roles before and after, and mailed to the person
  (【スタッフ権限の変更のお知らせ】) in the same transaction."""
from __future__ import annotations

import secrets
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import delete, func, select

from blueprints.account.services import find_account, hash_password
from blueprints.core import audit
from blueprints.core.links import issue_link
from blueprints.core.paging import Page
from blueprints.core.staff import ADMIN, STAFF_ROLES
from mail import messages
from models import db, utcnow
from models.account import Account, AccountType, Role
from models.trust import StaffGrant

PER_PAGE = 50


class StaffChangeRefused(Exception):
    """A change the rules forbid; `reason` is one of the constants below."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


NOT_FOUND = "not_found"          # no opened ID with that address (or not staff)
ALREADY_STAFF = "already_staff"
NO_ROLE = "no_role"
OWN_ADMIN = "own_admin"
LAST_ADMIN = "last_admin"


def ordered(roles) -> list[str]:
    """Roles in the order of STAFF_ROLES, unknown ones dropped."""
    roles = set(roles)
    return [role for role in STAFF_ROLES if role in roles]


@dataclass
class StaffRow:
    account: Account
    roles: list[str]


def staff_page(page: int) -> Page:
    """The staff accounts with their roles, by name; two queries whatever the length."""
    total = db.session.scalar(select(func.count()).select_from(Account)
                              .where(Account.role == Role.STAFF)) or 0
    page = min(max(page, 1), max(1, -(-total // PER_PAGE)))
    accounts = list(db.session.scalars(
        select(Account).where(Account.role == Role.STAFF)
        .order_by(Account.family_kana, Account.family_name, Account.given_name, Account.id)
        .limit(PER_PAGE).offset((page - 1) * PER_PAGE)))
    grants: dict[int, set[str]] = {}
    if accounts:
        for account_id, role in db.session.execute(
                select(StaffGrant.account_id, StaffGrant.role)
                .where(StaffGrant.account_id.in_([a.id for a in accounts]))):
            grants.setdefault(account_id, set()).add(role)
    return Page(items=[StaffRow(a, ordered(grants.get(a.id, ()))) for a in accounts],
                total=total, page=page, per_page=PER_PAGE)


def staff_member(account_id: int) -> StaffRow | None:
    account = db.session.get(Account, account_id)
    if account is None or account.role != Role.STAFF:
        return None
    return StaffRow(account, _roles_of(account.id))


def _roles_of(account_id: int) -> list[str]:
    return ordered(db.session.scalars(select(StaffGrant.role)
                                      .where(StaffGrant.account_id == account_id)))


def _locked_account(account_id: int) -> Account | None:
    return db.session.scalar(select(Account).where(Account.id == account_id)
                             .with_for_update().execution_options(populate_existing=True))


def _locked_admin_ids() -> set[int]:
    """The accounts holding the admin role, their grants locked until the commit."""
    return set(db.session.scalars(select(StaffGrant.account_id)
                                  .where(StaffGrant.role == ADMIN).with_for_update()))


def _set_grants(account: Account, before: list[str], after: list[str],
                granted_by: Account | None) -> None:
    gone = set(before) - set(after)
    if gone:
        db.session.execute(delete(StaffGrant).where(StaffGrant.account_id == account.id,
                                                    StaffGrant.role.in_(gone)))
    for role in ordered(set(after) - set(before)):
        db.session.add(StaffGrant(account_id=account.id, role=role,
                                  granted_by_id=granted_by.id if granted_by else None))


def _check_admin_loss(actor: Account | None, account: Account, before: list[str],
                      after: list[str], admins: set[int]) -> None:
    if ADMIN in before and ADMIN not in after:
        if actor is not None and actor.id == account.id:
            raise StaffChangeRefused(OWN_ADMIN)
        if not admins - {account.id}:
            raise StaffChangeRefused(LAST_ADMIN)


def _changed(actor: Account | None, account: Account, action: str, before: list[str],
             after: list[str], via: str) -> None:
    audit.record(action, actor_id=actor.id if actor else None, subject_id=account.id,
                 roles_from=before, roles_to=after, via=via)
    messages.send_staff_roles_changed_mail(account, before, after, actor, utcnow())


def add_staff(actor: Account, email: str, roles) -> Account:
    """An existing, opened ID becomes staff with `roles`. Commits; raises
    StaffChangeRefused (NOT_FOUND, ALREADY_STAFF, NO_ROLE)."""
    roles = ordered(roles)
    if not roles:
        raise StaffChangeRefused(NO_ROLE)
    found = find_account(email)
    account = _locked_account(found.id) if found is not None else None
    if account is None or account.activated_at is None:
        db.session.rollback()
        raise StaffChangeRefused(NOT_FOUND)
    if account.role == Role.STAFF:
        db.session.rollback()
        raise StaffChangeRefused(ALREADY_STAFF)
    account.role = Role.STAFF
    before = _roles_of(account.id)  # none; a user keeps no grants, but be exact
    _set_grants(account, before, roles, actor)
    _changed(actor, account, "staff.added", before, roles, "people")
    db.session.commit()
    return account


def change_roles(actor: Account, account_id: int, roles) -> bool:
    """Set a staff member's roles. False when nothing changed; refused by
    StaffChangeRefused (NOT_FOUND, NO_ROLE, OWN_ADMIN, LAST_ADMIN). Commits."""
    roles = ordered(roles)
    admins = _locked_admin_ids()  # first: every change of roles queues here, in one order
    account = _locked_account(account_id)
    if account is None or account.role != Role.STAFF:
        db.session.rollback()
        raise StaffChangeRefused(NOT_FOUND)
    if not roles:
        db.session.rollback()
        raise StaffChangeRefused(NO_ROLE)
    before = _roles_of(account.id)
    if before == roles:
        db.session.rollback()
        return False
    try:
        _check_admin_loss(actor, account, before, roles, admins)
    except StaffChangeRefused:
        db.session.rollback()
        raise
    _set_grants(account, before, roles, actor)
    _changed(actor, account, "staff.roles_changed", before, roles, "people")
    db.session.commit()
    return True


def remove_staff(actor: Account, account_id: int) -> bool:
    """「スタッフ権限を外す」: back to a user, every grant deleted. False when the account
    is no longer staff (a double submit). Raises StaffChangeRefused (OWN_ADMIN for
    oneself, LAST_ADMIN). Commits."""
    admins = _locked_admin_ids()
    account = _locked_account(account_id)
    if account is None or account.role != Role.STAFF:
        db.session.rollback()
        return False
    before = _roles_of(account.id)
    if actor.id == account.id:
        db.session.rollback()
        raise StaffChangeRefused(OWN_ADMIN)
    try:
        _check_admin_loss(actor, account, before, [], admins)
    except StaffChangeRefused:
        db.session.rollback()
        raise
    db.session.execute(delete(StaffGrant).where(StaffGrant.account_id == account.id))
    account.role = Role.USER
    _changed(actor, account, "staff.removed", before, [], "people")
    db.session.commit()
    return True


# -- the command line ------------------------------------------------------------------
@dataclass
class CreateOutcome:
    account: Account
    created: bool            # a new ID was made (and a password-setting mail queued)
    roles_before: list[str]
    roles_after: list[str]

    @property
    def changed(self) -> bool:
        return self.created or self.roles_before != self.roles_after


def create_staff(email: str, roles, family_name: str, given_name: str) -> CreateOutcome:
    """`flask --app app staff create`: the ID of `email` (made when missing: opened, an
    unusable random password, and a password reset link mailed so that the person sets
    their own; an existing unopened ID gets that link too) becomes staff and gets `roles` on top of those it has. Idempotent:
    running it again changes nothing and mails nothing. Audited; commits."""
    roles = ordered(roles)
    if not roles:
        raise StaffChangeRefused(NO_ROLE)
    found = find_account(email)
    account = _locked_account(found.id) if found is not None else None
    created = account is None
    now = utcnow()
    if created:
        account = Account(email=email, password_hash=hash_password(secrets.token_urlsafe(32)),
                          family_name=family_name, given_name=given_name,
                          account_type=AccountType.PERSONAL, role=Role.STAFF,
                          activated_at=now)
        db.session.add(account)
        db.session.flush()
        audit.record("staff.account_created", subject_id=account.id, via="cli")
    before = _roles_of(account.id) if account.role == Role.STAFF else []
    after = ordered(set(before) | set(roles))
    if not created and account.role == Role.STAFF and before == after:
        db.session.rollback()
        return CreateOutcome(account, False, before, after)
    account.role = Role.STAFF
    _set_grants(account, before, after, None)
    _changed(None, account, "staff.added" if not before else "staff.roles_changed",
             before, after, "cli")
    if created or account.activated_at is None:
        # The person sets their own password; the link also opens an unopened ID (it
        # proves the address, which the command line does not).
        _send_password_setting_mail(account)
    db.session.commit()
    return CreateOutcome(account, created, before, after)


def _send_password_setting_mail(account: Account) -> None:
    from blueprints.account.services import PASSWORD_RESET

    ttl = current_app.config["PASSWORD_RESET_LINK_TTL"]
    token = issue_link(PASSWORD_RESET, account.email, ttl, account=account)
    messages.send_password_reset_mail(account, token, utcnow() + ttl)
