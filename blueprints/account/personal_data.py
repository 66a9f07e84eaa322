"""What the ID keeps about an account, for 個人データのダウンロード: the profile (and the
company of a commercial account), phones, consents, sign-in sessions, browsers, second
sign-in steps and the audit rows the account made or is about.

Never a password hash, a key or code hash, a TOTP secret or a passkey's public key: only
that they exist and when they were used."""
from __future__ import annotations

import json

from sqlalchemy import func, or_, select

from blueprints.account.data_export import Table, iso, streamed
from models import db
from models.account import Account, AccountConsent, AccountPhone, LoginSession
from models.audit import AuditEvent
from models.trust import AccountPasskey, AccountTotp, KnownBrowser, RecoveryCode

PROFILE = ("email", "customer_number", "family_name", "given_name", "family_kana",
           "given_kana", "account_type", "language", "postal_code", "prefecture", "city",
           "street", "building", "department", "position", "company_role", "newsletter",
           "created_at", "activated_at", "last_login_at", "password_changed_at")
COMPANY = ("name", "kind", "registration_number", "postal_code", "prefecture", "city",
           "street", "building", "email", "website", "phone", "created_at")


def _plain(value):
    if hasattr(value, "isoformat"):
        return iso(value)
    if hasattr(value, "value"):  # an enum
        return value.value
    return value


def _profile(account: Account) -> Table:
    return Table(PROFILE, [{name: _plain(getattr(account, name)) for name in PROFILE}])


def _company(account: Account) -> Table:
    company = account.company
    rows = [] if company is None else [{name: _plain(getattr(company, name))
                                        for name in COMPANY}]
    return Table(COMPANY, rows)


def _phones(account: Account) -> Table:
    phones = db.session.scalars(select(AccountPhone).where(AccountPhone.account_id == account.id)
                                .order_by(AccountPhone.position))
    return Table(("position", "kind", "number"),
                 [{"position": phone.position, "kind": phone.kind, "number": phone.number}
                  for phone in phones])


def _consents(account: Account) -> Table:
    rows = [{"document": "enelink_terms", "accepted_at": iso(account.terms_accepted_at)},
            {"document": "enelink_privacy", "accepted_at": iso(account.privacy_accepted_at)}]
    rows += [{"document": consent.document, "accepted_at": iso(consent.accepted_at)}
             for consent in db.session.scalars(
                 select(AccountConsent).where(AccountConsent.account_id == account.id)
                 .order_by(AccountConsent.accepted_at))]
    return Table(("document", "accepted_at"), rows)


SESSION_COLUMNS = ("device", "created_at", "last_seen_at", "expires_at", "signed_out_at",
                   "ip", "remember", "second_step_method")


def _sessions(account: Account) -> Table:
    statement = (select(LoginSession.user_agent, LoginSession.created_at,
                        LoginSession.last_seen_at, LoginSession.expires_at,
                        LoginSession.revoked_at, LoginSession.ip, LoginSession.remember,
                        LoginSession.second_step_method)
                 .where(LoginSession.account_id == account.id).order_by(LoginSession.id))
    return Table(SESSION_COLUMNS, streamed(statement, lambda row: {
        "device": row.user_agent, "created_at": iso(row.created_at),
        "last_seen_at": iso(row.last_seen_at), "expires_at": iso(row.expires_at),
        "signed_out_at": iso(row.revoked_at), "ip": row.ip, "remember": row.remember,
        "second_step_method": row.second_step_method}))


def _browsers(account: Account) -> Table:
    statement = (select(KnownBrowser.first_seen_at, KnownBrowser.last_seen_at)
                 .where(KnownBrowser.account_id == account.id).order_by(KnownBrowser.id))
    return Table(("first_seen_at", "last_seen_at"), [
        {"first_seen_at": iso(row.first_seen_at), "last_seen_at": iso(row.last_seen_at)}
        for row in db.session.execute(statement)])


STEP_COLUMNS = ("method", "name", "created_at", "confirmed_at", "last_used_at",
                "recovery_codes_remaining")


def _second_steps(account: Account) -> Table:
    rows = []
    totp = db.session.execute(select(AccountTotp.created_at, AccountTotp.confirmed_at,
                                     AccountTotp.last_used_at)
                              .where(AccountTotp.account_id == account.id)).first()
    if totp is not None:
        rows.append({"method": "totp", "name": None, "created_at": iso(totp.created_at),
                     "confirmed_at": iso(totp.confirmed_at),
                     "last_used_at": iso(totp.last_used_at), "recovery_codes_remaining": None})
    for passkey in db.session.execute(
            select(AccountPasskey.name, AccountPasskey.created_at, AccountPasskey.last_used_at)
            .where(AccountPasskey.account_id == account.id).order_by(AccountPasskey.id)):
        rows.append({"method": "passkey", "name": passkey.name,
                     "created_at": iso(passkey.created_at), "confirmed_at": None,
                     "last_used_at": iso(passkey.last_used_at),
                     "recovery_codes_remaining": None})
    codes = db.session.execute(
        select(func.count(), func.count(RecoveryCode.used_at), func.min(RecoveryCode.created_at),
               func.max(RecoveryCode.used_at))
        .where(RecoveryCode.account_id == account.id)).one()
    if codes[0]:
        rows.append({"method": "recovery_codes", "name": None, "created_at": iso(codes[2]),
                     "confirmed_at": None, "last_used_at": iso(codes[3]),
                     "recovery_codes_remaining": codes[0] - codes[1]})
    return Table(STEP_COLUMNS, rows)


AUDIT_COLUMNS = ("at", "action", "by_you", "about_you", "gateway_id", "ip", "detail")
# Staff's own work on a customer's case that the customer never sees (an internal note, who
# handles it): as the notes themselves, not in the archive.
STAFF_INTERNAL_ACTIONS = ("support.note_added", "support.assigned")


def _audit(account: Account) -> Table:
    """Rows the account made or that are about it: what, when, from where; the other
    party is never named by its id (the detail says what the service recorded). Staff's
    internal work on the account's cases stays out."""
    account_id = account.id  # the job commits between batches: no reload per row
    statement = (select(AuditEvent.at, AuditEvent.action, AuditEvent.actor_id,
                        AuditEvent.subject_id, AuditEvent.gateway_id, AuditEvent.ip,
                        AuditEvent.detail)
                 .where(or_(AuditEvent.actor_id == account_id,
                            AuditEvent.subject_id == account_id),
                        AuditEvent.action.not_in(STAFF_INTERNAL_ACTIONS))
                 .order_by(AuditEvent.at, AuditEvent.id))
    return Table(AUDIT_COLUMNS, streamed(statement, lambda row: {
        "at": iso(row.at), "action": row.action, "by_you": row.actor_id == account_id,
        "about_you": row.subject_id == account_id, "gateway_id": row.gateway_id,
        "ip": row.ip,
        "detail": json.dumps(row.detail or {}, ensure_ascii=False, sort_keys=True, default=str)}))


def account_tables(account: Account) -> dict:
    return {"profile": _profile(account), "company": _company(account),
            "phones": _phones(account), "consents": _consents(account),
            "sessions": _sessions(account), "browsers": _browsers(account),
            "second_steps": _second_steps(account), "audit": _audit(account),
            "company_join_requests": _join_requests(account),
            **_legacy_login(account)}


LEGACY_COLUMNS = ("username", "imported_at", "migrated_at")


def _legacy_login(account: Account) -> dict:
    """An account imported from the old portal: its old user name (still a way to sign
    in) and when it was imported and migrated, never the old hash. Other accounts: no
    such table."""
    from models.account import LegacyLogin

    row = db.session.execute(select(LegacyLogin.username, LegacyLogin.imported_at,
                                    LegacyLogin.migrated_at)
                             .where(LegacyLogin.account_id == account.id)).first()
    if row is None:
        return {}
    return {"legacy_login": Table(LEGACY_COLUMNS, [{
        "username": row.username, "imported_at": iso(row.imported_at),
        "migrated_at": iso(row.migrated_at)}])}


# >>> join
JOIN_REQUEST_COLUMNS = ("company", "status", "message", "created_at", "decided_at")


def _join_requests(account: Account) -> Table:
    """The account's own requests to join a company (会社の検索): which company, the
    message, when, and how it ended (who decided is not named)."""
    from models.account import Company, CompanyJoinRequest

    rows = db.session.execute(
        select(Company.name, CompanyJoinRequest.status, CompanyJoinRequest.message,
               CompanyJoinRequest.created_at, CompanyJoinRequest.decided_at)
        .join(Company, Company.id == CompanyJoinRequest.company_id)
        .where(CompanyJoinRequest.account_id == account.id)
        .order_by(CompanyJoinRequest.created_at, CompanyJoinRequest.id))
    return Table(JOIN_REQUEST_COLUMNS, [
        {"company": row.name, "status": _plain(row.status), "message": row.message,
         "created_at": iso(row.created_at), "decided_at": iso(row.decided_at)}
        for row in rows])
# <<< join
