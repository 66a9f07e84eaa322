"""E-mail change: the new address proves itself by a link, the old one may undo.

How it holds together:

- `request_change` (the page, with the current password): whatever the new address is,
  the request writes the same rows — a request marker (a `MailLink` of purpose
  `email_change_request` naming the account and its present address; its token is thrown
  away) and a *mail request* for the new address — so that neither the page, its time nor
  its statements tell whether the address has an ID. The relay decides off the request
  path (`email_change_requested`): an address with an ID is told so (「このメールアドレスは
  すでにEnelink IDに登録されています」) and nothing changes; any other gets the
  confirmation link (EMAIL_CHANGE_LINK_TTL).
- `confirm_change` (the link's page, signed in or not: the link proves the new address)
  changes the address under the account's row lock, once (the link is spent in the same
  transaction), unless the address was taken meanwhile. The old address gets
  【メールアドレス変更のお知らせ】 with an undo link (EMAIL_CHANGE_UNDO_TTL); the new one a
  confirmation. Other sessions stay signed in: the change was asked for with the current
  password from a signed-in browser and confirmed from the new mailbox, so it is the
  owner's own; whoever it was not gets the undo link, which signs everyone out.
- `undo_change` puts the old address back (unless the account moved on to another
  address since), signs out every session of the account (proxy logins riding on them
  end on their next request), ends pending changes and mails the old address with the
  way to a new password."""
from __future__ import annotations

import enum

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from blueprints.account.services import find_account, verify_password
from blueprints.core import audit
from blueprints.core.links import LinkCheck, LinkState, check_link, issue_link, spend_link
from blueprints.core.security import revoke_login_sessions
from mail import mailed_since, messages, request_mail
from models import db, utcnow
from models.account import Account
from models.link import MailLink

EMAIL_CHANGE = "email_change"
EMAIL_CHANGE_REQUEST = "email_change_request"
EMAIL_CHANGE_UNDO = "email_change_undo"
IN_USE_MAIL = "email_change_in_use"


class RequestOutcome(enum.Enum):
    SENT = "sent"
    SAME_ADDRESS = "same_address"
    WRONG_PASSWORD = "wrong_password"


def request_change(account: Account, new_email: str, password: str) -> RequestOutcome:
    """Ask to move the ID to `new_email` (checked with the current password). The same
    work for every address; the relay decides what is mailed. Earlier pending changes
    of the account stop working. Commits."""
    if new_email.lower() == account.email.lower():
        return RequestOutcome.SAME_ADDRESS
    if not verify_password(account.password_hash, password):
        return RequestOutcome.WRONG_PASSWORD
    now = utcnow()
    _end_pending_changes(account.id, now)
    issue_link(EMAIL_CHANGE_REQUEST, new_email, current_app.config["EMAIL_CHANGE_LINK_TTL"],
               account=account, payload={"from": account.email}, replace=False)
    request_mail(EMAIL_CHANGE_REQUEST, new_email)
    audit.record("account.email_change_requested", actor_id=account.id,
                 subject_id=account.id)
    db.session.commit()
    return RequestOutcome.SENT


def _end_pending_changes(account_id: int, now) -> None:
    db.session.execute(
        update(MailLink)
        .where(MailLink.account_id == account_id,
               MailLink.purpose.in_((EMAIL_CHANGE, EMAIL_CHANGE_REQUEST)),
               MailLink.used_at.is_(None), MailLink.expires_at > now)
        .values(expires_at=now))


def email_change_requested(address: str) -> None:
    """The relay's decision on an e-mail change request for `address` (runs in its
    transaction): the confirmation link, or — when the address has an ID — a mail saying
    so (at most once per ACCOUNT_EXISTS_MAIL_INTERVAL) and nothing else."""
    now = utcnow()
    ttl = current_app.config["EMAIL_CHANGE_LINK_TTL"]
    pending = db.session.scalars(select(MailLink).where(
        MailLink.purpose == EMAIL_CHANGE_REQUEST, MailLink.email == address,
        MailLink.used_at.is_(None), MailLink.expires_at > now).order_by(MailLink.id)).all()
    for marker in pending:
        if not spend_link(marker):
            continue
        account = db.session.get(Account, marker.account_id) if marker.account_id else None
        if account is None or account.email != (marker.payload or {}).get("from"):
            continue  # the account went, or changed its address since
        if find_account(address) is not None:
            since = now - current_app.config["ACCOUNT_EXISTS_MAIL_INTERVAL"]
            recent = mailed_since(IN_USE_MAIL, address, since)
            if not recent:
                messages.send_email_change_in_use_mail(address, account.language)
            audit.record("account.email_change_in_use", subject_id=account.id,
                         mailed=not recent)
            continue
        token = issue_link(EMAIL_CHANGE, address, ttl, account=account,
                           payload={"from": account.email})
        messages.send_email_change_mail(account, address, token, now + ttl)
        audit.record("account.email_change_link_sent", subject_id=account.id)


# -- confirm -----------------------------------------------------------------------------
class ChangeOutcome(enum.Enum):
    DONE = "done"
    TAKEN = "taken"                  # the address got an ID meanwhile: nothing changed
    STALE = "stale"                  # the account changed its address since (or is gone)
    OTHER_ACCOUNT = "other_account"  # the browser is signed in as someone else


def check_change_link(token: str) -> LinkCheck:
    return check_link(EMAIL_CHANGE, token)


def check_undo_link(token: str) -> LinkCheck:
    return check_link(EMAIL_CHANGE_UNDO, token)


def _locked_account(account_id: int | None) -> Account | None:
    if account_id is None:
        return None
    return db.session.scalar(select(Account).where(Account.id == account_id)
                             .with_for_update().execution_options(populate_existing=True))


def _address_taken(email: str, account_id: int) -> bool:
    return bool(db.session.scalar(select(func.count()).select_from(Account).where(
        func.lower(Account.email) == email.lower(), Account.id != account_id)))


def confirm_change(token: str, signed_in_id: int | None) -> tuple[LinkCheck, ChangeOutcome | None]:
    """Make the link's address the account's (once). The outcome is None when the link
    cannot be used (expired, spent — e.g. by a second confirm at the same moment —
    altered): the first value says which. Commits."""
    checked = check_change_link(token)
    if not checked.ok:
        return checked, None
    link = checked.link
    account = _locked_account(link.account_id)
    if account is not None and signed_in_id is not None and signed_in_id != account.id:
        db.session.rollback()
        return checked, ChangeOutcome.OTHER_ACCOUNT
    if not spend_link(link):
        db.session.rollback()
        return LinkCheck(LinkState.SPENT, link), None
    if account is None or account.email != (link.payload or {}).get("from"):
        db.session.rollback()
        return checked, ChangeOutcome.STALE
    if _address_taken(link.email, account.id):
        db.session.rollback()
        return checked, ChangeOutcome.TAKEN
    old, now = account.email, utcnow()
    account.email = link.email
    try:
        db.session.flush()
    except IntegrityError:  # taken at this very moment (the unique index on the address)
        db.session.rollback()
        return checked, ChangeOutcome.TAKEN
    ttl = current_app.config["EMAIL_CHANGE_UNDO_TTL"]
    undo = issue_link(EMAIL_CHANGE_UNDO, old, ttl, account=account,
                      payload={"old": old, "new": link.email})
    messages.send_email_changed_old_mail(account, old, now, undo, now + ttl)
    messages.send_email_changed_new_mail(account, now)
    audit.record("account.email_change", actor_id=account.id, subject_id=account.id)
    db.session.commit()
    return checked, ChangeOutcome.DONE


# -- undo --------------------------------------------------------------------------------
class UndoOutcome(enum.Enum):
    DONE = "done"
    CHANGED_AGAIN = "changed_again"  # the account has another address since: nothing done
    TAKEN = "taken"                  # the old address has another ID now: nothing done


def undo_change(token: str) -> tuple[LinkCheck, UndoOutcome | None, str | None]:
    """Put the old address back, sign out every session of the account, end pending
    changes; the old address is mailed. Answers the restored address too. Commits."""
    checked = check_undo_link(token)
    if not checked.ok:
        return checked, None, None
    link = checked.link
    payload = link.payload or {}
    account = _locked_account(link.account_id)
    if not spend_link(link):
        db.session.rollback()
        return LinkCheck(LinkState.SPENT, link), None, None
    old = payload.get("old") or link.email
    if account is None or account.email != payload.get("new"):
        db.session.rollback()
        return checked, UndoOutcome.CHANGED_AGAIN, None
    if _address_taken(old, account.id):
        db.session.rollback()
        return checked, UndoOutcome.TAKEN, None
    now = utcnow()
    account.email = old
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return checked, UndoOutcome.TAKEN, None
    revoke_login_sessions(account.id)
    _end_pending_changes(account.id, now)
    messages.send_email_change_undone_mail(account, now)
    audit.record("account.email_change_undone", actor_id=account.id, subject_id=account.id)
    db.session.commit()
    return checked, UndoOutcome.DONE, old
