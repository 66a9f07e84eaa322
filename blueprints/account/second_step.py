"""Two-step sign-in: the rules (views in second_step_views.py, the gate of every request
in blueprints/core/second_step.py).

- TOTP (RFC 6238, 6 digits, 30 s, ±TOTP_VALID_WINDOW steps). The seed is kept encrypted
  (Fernet, key derived from SECRET_KEY with HKDF). The time step of an accepted code is
  stored in `last_step`; no code of that step or an earlier one is accepted again, so a
  code works once, even when two requests bring it at the same moment (a conditional
  UPDATE decides).
- Recovery codes: RECOVERY_CODE_COUNT codes `xxxx-xxxx`, shown once, stored as sha256,
  each used once (a conditional UPDATE again); a new set replaces every old code.
- Passkeys (WebAuthn, py_webauthn): rp id = PUBLIC_HOST without its port, origin =
  PREFERRED_URL_SCHEME://PUBLIC_HOST. The challenge lives in the Flask session (the
  caller keeps it); a credential counts only for the account that registered it.
- Wrong codes are counted per client address and per account (audit rows
  `account.second_step_failed` in the last SECOND_STEP_WINDOW_MINUTES); over either
  limit nothing is checked. A wrong code never says anything about the password.
- An account that must have a second step (`registry.second_step_due`) cannot remove
  its last one. Every change is audited and mailed to the account.

Services never import `request`: the client address comes from the caller."""
from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pyotp
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import delete, func, or_, select, text, update
from webauthn import (generate_authentication_options, generate_registration_options,
                      options_to_json, verify_authentication_response,
                      verify_registration_response)
from webauthn.helpers import (base64url_to_bytes, bytes_to_base64url,
                              parse_authentication_credential_json)
from webauthn.helpers.exceptions import InvalidCBORData, WebAuthnException
from webauthn.helpers.structs import (AuthenticatorSelectionCriteria,
                                      PublicKeyCredentialDescriptor, ResidentKeyRequirement,
                                      UserVerificationRequirement)

from blueprints.core import audit, registry
from blueprints.core.second_step import has_second_step
from blueprints.core.security import hash_key, revoke_login_sessions
from forms.validators import RECOVERY_ALPHABET, is_recovery_code, is_totp_code
from models import db, utcnow
from models.account import Account, LoginSession
from models.audit import AuditEvent
from models.trust import AccountPasskey, AccountTotp, RecoveryCode

TOTP_PERIOD = 30
FAILED = "account.second_step_failed"


# -- the seed, encrypted at rest ---------------------------------------------------------
def _fernet() -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"enelink totp secret").derive(current_app.config["SECRET_KEY"].encode())
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt_secret(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def decrypt_secret(token: str) -> str | None:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:  # SECRET_KEY changed: the app must be set up again
        return None


# -- what an account has ---------------------------------------------------------------
@dataclass
class SecondStepState:
    totp: AccountTotp | None
    passkeys: list[AccountPasskey] = field(default_factory=list)
    recovery_left: int = 0
    due: bool = False

    @property
    def configured(self) -> bool:
        return self.totp is not None or bool(self.passkeys)

    @property
    def count(self) -> int:
        return (1 if self.totp is not None else 0) + len(self.passkeys)


def state_of(account: Account) -> SecondStepState:
    totp = db.session.scalar(select(AccountTotp).where(
        AccountTotp.account_id == account.id, AccountTotp.confirmed_at.is_not(None)))
    passkeys = list(db.session.scalars(select(AccountPasskey).where(
        AccountPasskey.account_id == account.id).order_by(AccountPasskey.created_at,
                                                         AccountPasskey.id)))
    left = db.session.scalar(select(func.count()).select_from(RecoveryCode).where(
        RecoveryCode.account_id == account.id, RecoveryCode.used_at.is_(None)))
    return SecondStepState(totp, passkeys, left or 0, registry.second_step_due(account))


def setup_due(account: Account) -> bool:
    """After the password: the account must have a second step, has none, and its new
    session (`account.login_session_key`) has not passed one; the sign-in then leads to
    the set-up page."""
    if not registry.second_step_due(account):
        return False
    passed = db.session.scalar(select(LoginSession.second_step_at).where(
        LoginSession.key_hash == hash_key(account.login_session_key or "")))
    return passed is None


def mark_passed(login_session: LoginSession | None, method: str, now: datetime) -> None:
    """This browser passed the second step (the caller commits)."""
    if login_session is not None:
        db.session.execute(update(LoginSession).where(LoginSession.id == login_session.id)
                           .values(second_step_at=now, second_step_method=method))


# -- TOTP ------------------------------------------------------------------------------
def time_step(now: datetime) -> int:
    return int(now.timestamp()) // TOTP_PERIOD


def totp_code(secret: str, step: int) -> str:
    return pyotp.TOTP(secret).at(step * TOTP_PERIOD)


def matching_step(secret: str, code: str, now: datetime, last_step: int | None) -> int | None:
    """The time step within the window whose code is `code` and that is later than
    `last_step` (a step used once is never accepted again), or None."""
    window = current_app.config["TOTP_VALID_WINDOW"]
    current = time_step(now)
    for step in range(current - window, current + window + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp_code(secret, step), code):
            return step
    return None


def pending_totp(account: Account) -> tuple[AccountTotp, str]:
    """The unconfirmed authenticator of the set-up page (made once, kept until confirmed
    or replaced), and its seed."""
    row = db.session.scalar(select(AccountTotp).where(AccountTotp.account_id == account.id))
    secret = decrypt_secret(row.secret) if row is not None else None
    if row is None or secret is None:
        secret = pyotp.random_base32()
        if row is None:
            row = AccountTotp(account_id=account.id, secret=encrypt_secret(secret))
            db.session.add(row)
        else:
            row.secret = encrypt_secret(secret)
            row.confirmed_at = None
            row.last_step = None
        db.session.commit()
    return row, secret


def provisioning_uri(account: Account, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(
        name=account.email, issuer_name=current_app.config["TOTP_ISSUER"])


def grouped(secret: str) -> str:
    """The seed in groups of 4 for typing: "ABCD EFGH …"."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def confirm_totp(account: Account, code: str, login_session: LoginSession | None,
                 now: datetime | None = None) -> list[str] | None:
    """Confirm the set-up with a right code: the app counts from now on, this browser has
    passed the step, and a fresh set of recovery codes is answered (to show once).
    None for a wrong code, or when the app is already set up."""
    now = now or utcnow()
    row = db.session.scalar(select(AccountTotp).where(AccountTotp.account_id == account.id))
    if row is None or row.confirmed_at is not None or not is_totp_code(code or ""):
        return None
    secret = decrypt_secret(row.secret)
    step = matching_step(secret, code, now, None) if secret else None
    if step is None:
        audit.record("account.totp_setup_failed", actor_id=account.id, subject_id=account.id)
        db.session.commit()
        return None
    row.confirmed_at = now
    row.last_step = step
    row.last_used_at = now
    mark_passed(login_session, "totp", now)
    codes = _new_recovery_codes(account, now)
    audit.record("account.totp_enabled", actor_id=account.id, subject_id=account.id)
    from mail.messages import send_second_step_added_mail
    send_second_step_added_mail(account, "totp", now)
    db.session.commit()
    return codes


# -- recovery codes -------------------------------------------------------------------
def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def generate_recovery_code() -> str:
    raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def _new_recovery_codes(account: Account, now: datetime) -> list[str]:
    """Replace every recovery code of the account (the caller commits)."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account.id))
    codes: list[str] = []
    while len(codes) < current_app.config["RECOVERY_CODE_COUNT"]:
        code = generate_recovery_code()
        if code not in codes:
            codes.append(code)
    db.session.add_all(RecoveryCode(account_id=account.id, created_at=now,
                                    code_hash=hash_code(code.replace("-", "")))
                       for code in codes)
    return codes


def regenerate_recovery_codes(account: Account, now: datetime | None = None) -> list[str] | None:
    """A new set for an account with a second step; the old codes stop working."""
    now = now or utcnow()
    if not has_second_step(account.id):
        return None
    codes = _new_recovery_codes(account, now)
    audit.record("account.recovery_codes_new", actor_id=account.id, subject_id=account.id)
    from mail.messages import send_second_step_codes_mail
    send_second_step_codes_mail(account, now)
    db.session.commit()
    return codes


# -- the second step itself --------------------------------------------------------------
class StepOutcome(enum.Enum):
    PASSED = "passed"
    WRONG = "wrong"
    LIMITED = "limited"


def _one_guess_at_a_time(client: str | None, account_id: int) -> None:
    """Concurrent guesses of one client or for one account queue here until the guess is
    counted and committed, so that no burst checks more codes than the limit allows.
    PostgreSQL: transaction-scoped advisory locks, in a fixed order (SQLite runs one
    writing transaction at a time anyway)."""
    if db.engine.dialect.name != "postgresql":
        return
    keys = [f"second-step-account:{account_id}"]
    if client is not None:
        keys.append(f"second-step-client:{client}")
    for key in keys:
        db.session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})


def _over_limit(client: str | None, account_id: int, _now: datetime) -> bool:
    """Whether the client or the account failed too often lately (counted on the audit
    rows' own clock, not the one codes are checked against). Holds the guess lock until
    the caller commits."""
    import models

    _one_guess_at_a_time(client, account_id)
    config = current_app.config
    since = models.utcnow() - timedelta(minutes=config["SECOND_STEP_WINDOW_MINUTES"])
    failures = select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == FAILED, AuditEvent.at >= since)
    if client is not None and db.session.scalar(failures.where(AuditEvent.ip == client)) \
            >= config["SECOND_STEP_FAILURES_PER_ADDRESS"]:
        return True
    return db.session.scalar(failures.where(AuditEvent.subject_id == account_id)) \
        >= config["SECOND_STEP_FAILURES_PER_ACCOUNT"]


def _accept_totp(account: Account, code: str, now: datetime) -> bool:
    row = db.session.scalar(select(AccountTotp).where(
        AccountTotp.account_id == account.id, AccountTotp.confirmed_at.is_not(None)))
    secret = decrypt_secret(row.secret) if row is not None else None
    if secret is None:
        return False
    step = matching_step(secret, code, now, row.last_step)
    if step is None:
        return False
    # Two requests with one code: only one moves last_step past it.
    taken = db.session.execute(
        update(AccountTotp).where(AccountTotp.id == row.id,
                                  or_(AccountTotp.last_step.is_(None),
                                      AccountTotp.last_step < step))
        .values(last_step=step, last_used_at=now)
        .execution_options(synchronize_session=False))
    return taken.rowcount == 1


def _accept_recovery_code(account: Account, code: str, now: datetime) -> bool:
    spent = db.session.execute(
        update(RecoveryCode).where(RecoveryCode.account_id == account.id,
                                   RecoveryCode.code_hash == hash_code(code),
                                   RecoveryCode.used_at.is_(None))
        .values(used_at=now).execution_options(synchronize_session=False))
    return spent.rowcount == 1


def verify_code(account: Account, login_session: LoginSession, code: str,
                client: str | None, now: datetime | None = None) -> StepOutcome:
    """The second step with a code from the app or a recovery code. Commits."""
    now = now or utcnow()
    if _over_limit(client, account.id, now):
        audit.record("account.second_step_limited", actor_id=account.id,
                     subject_id=account.id)
        db.session.commit()
        return StepOutcome.LIMITED
    code = code or ""
    method = None
    if is_totp_code(code) and _accept_totp(account, code, now):
        method = "totp"
    elif is_recovery_code(code) and _accept_recovery_code(account, code, now):
        method = "recovery"
    if method is None:  # nothing was changed: the failure is written under the lock
        audit.record(FAILED, actor_id=account.id, subject_id=account.id)
        db.session.commit()
        return StepOutcome.WRONG
    mark_passed(login_session, method, now)
    audit.record("account.second_step_passed", actor_id=account.id, subject_id=account.id,
                 method=method)
    db.session.commit()
    return StepOutcome.PASSED


# -- passkeys ---------------------------------------------------------------------------
def rp_id() -> str:
    host = current_app.config["PUBLIC_HOST"]
    if host.startswith("["):
        return host[1:host.index("]")]
    return host.rsplit(":", 1)[0] if ":" in host else host


def expected_origin() -> str:
    return f"{current_app.config['PREFERRED_URL_SCHEME']}://{current_app.config['PUBLIC_HOST']}"


def _user_handle(account: Account) -> bytes:
    """A stable handle that is not the database id (authenticators may show or keep it)."""
    return hmac.new(current_app.config["SECRET_KEY"].encode(), f"passkey:{account.id}".encode(),
                    hashlib.sha256).digest()


def _descriptors(account: Account) -> list[PublicKeyCredentialDescriptor]:
    return [PublicKeyCredentialDescriptor(id=base64url_to_bytes(credential_id))
            for credential_id in db.session.scalars(select(AccountPasskey.credential_id).where(
                AccountPasskey.account_id == account.id))]


def registration_options(account: Account) -> tuple[str, str]:
    """(options JSON for navigator.credentials.create, the challenge to keep)."""
    options = generate_registration_options(
        rp_id=rp_id(), rp_name=current_app.config["WEBAUTHN_RP_NAME"],
        user_id=_user_handle(account), user_name=account.email,
        user_display_name=account.full_name or account.email,
        exclude_credentials=_descriptors(account),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED))
    return options_to_json(options), bytes_to_base64url(options.challenge)


def register_passkey(account: Account, credential: str, challenge: str | None, name: str,
                     login_session: LoginSession | None
                     ) -> tuple[AccountPasskey, list[str] | None] | None:
    """Verify the authenticator's answer and keep the passkey; answers it with the new
    recovery codes when it is the account's first second step (else None). None when
    it does not verify (wrong challenge, origin, rp id, garbage) or the credential is
    known."""
    if not challenge or not isinstance(credential, str) or len(credential) > 20000:
        return None
    try:
        verified = verify_registration_response(
            credential=credential, expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=rp_id(), expected_origin=expected_origin())
        transports = json.loads(credential).get("response", {}).get("transports") or []
    except (WebAuthnException, InvalidCBORData, ValueError, TypeError, KeyError,
            AttributeError):
        return None
    credential_id = bytes_to_base64url(verified.credential_id)
    if db.session.scalar(select(AccountPasskey.id).where(
            AccountPasskey.credential_id == credential_id)) is not None:
        return None
    now = utcnow()
    first = not has_second_step(account.id)
    passkey = AccountPasskey(
        account_id=account.id, credential_id=credential_id,
        public_key=verified.credential_public_key, sign_count=verified.sign_count,
        transports=",".join(str(t) for t in transports if isinstance(t, str))[:100] or None,
        name=name, created_at=now)
    db.session.add(passkey)
    mark_passed(login_session, "passkey", now)
    codes = None
    if first:  # the first second step comes with its recovery codes
        codes = _new_recovery_codes(account, now)
    audit.record("account.passkey_added", actor_id=account.id, subject_id=account.id,
                 name=name)
    from mail.messages import send_second_step_added_mail
    send_second_step_added_mail(account, "passkey", now)
    db.session.commit()
    return passkey, codes


def authentication_options(account: Account) -> tuple[str, str]:
    options = generate_authentication_options(
        rp_id=rp_id(), allow_credentials=_descriptors(account),
        user_verification=UserVerificationRequirement.PREFERRED)
    return options_to_json(options), bytes_to_base64url(options.challenge)


def verify_passkey(account: Account, login_session: LoginSession, credential: str,
                   challenge: str | None, client: str | None) -> StepOutcome:
    """The second step with a passkey of this account (another account's passkey, a
    replayed or altered answer: WRONG, counted like a wrong code). Commits."""
    now = utcnow()
    if _over_limit(client, account.id, now):
        audit.record("account.second_step_limited", actor_id=account.id,
                     subject_id=account.id)
        db.session.commit()
        return StepOutcome.LIMITED
    passkey = None
    ok = False
    if challenge and isinstance(credential, str) and len(credential) <= 20000:
        try:
            parsed = parse_authentication_credential_json(credential)
            passkey = db.session.scalar(select(AccountPasskey).where(
                AccountPasskey.account_id == account.id,
                AccountPasskey.credential_id == bytes_to_base64url(parsed.raw_id)))
            if passkey is not None:
                verified = verify_authentication_response(
                    credential=parsed, expected_challenge=base64url_to_bytes(challenge),
                    expected_rp_id=rp_id(), expected_origin=expected_origin(),
                    credential_public_key=passkey.public_key,
                    credential_current_sign_count=passkey.sign_count)
                passkey.sign_count = verified.new_sign_count
                passkey.last_used_at = now
                ok = True
        except (WebAuthnException, InvalidCBORData, ValueError, TypeError, KeyError,
                AttributeError):
            ok = False
    if not ok:  # nothing was changed: the failure is written under the lock
        audit.record(FAILED, actor_id=account.id, subject_id=account.id, method="passkey")
        db.session.commit()
        return StepOutcome.WRONG
    mark_passed(login_session, "passkey", now)
    audit.record("account.second_step_passed", actor_id=account.id, subject_id=account.id,
                 method="passkey")
    db.session.commit()
    return StepOutcome.PASSED


# -- removing -------------------------------------------------------------------------
class RemoveOutcome(enum.Enum):
    REMOVED = "removed"
    WRONG_PASSWORD = "wrong_password"
    LAST_REQUIRED = "last_required"  # the account must keep a second step
    NOT_FOUND = "not_found"


def _remove(account: Account, password: str, what, kind: str, **detail) -> RemoveOutcome:
    from blueprints.account.services import verify_password

    state = state_of(account)
    if what is None:
        return RemoveOutcome.NOT_FOUND
    if state.due and state.count <= 1:
        return RemoveOutcome.LAST_REQUIRED
    password_hash = account.password_hash
    db.session.rollback()  # no transaction open during the slow hash check
    if not verify_password(password_hash, password or ""):
        audit.record("account.second_step_remove_failed", actor_id=account.id,
                     subject_id=account.id)
        db.session.commit()
        return RemoveOutcome.WRONG_PASSWORD
    # One change of the account's second steps at a time (PostgreSQL: the account row's
    # lock), so two removals at once cannot both take away the last one it must keep.
    db.session.execute(select(Account.id).where(Account.id == account.id).with_for_update())
    db.session.execute(what)
    if registry.second_step_due(account) and not has_second_step(account.id):
        db.session.rollback()
        return RemoveOutcome.LAST_REQUIRED
    if not has_second_step(account.id):  # nothing left that the codes could stand in for
        db.session.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account.id))
    now = utcnow()
    audit.record(f"account.{kind}_removed", actor_id=account.id, subject_id=account.id,
                 **detail)
    from mail.messages import send_second_step_removed_mail
    send_second_step_removed_mail(account, kind, now)
    db.session.commit()
    return RemoveOutcome.REMOVED


def remove_totp(account: Account, password: str) -> RemoveOutcome:
    has_totp = db.session.scalar(select(AccountTotp.id).where(
        AccountTotp.account_id == account.id, AccountTotp.confirmed_at.is_not(None)))
    statement = delete(AccountTotp).where(AccountTotp.account_id == account.id)
    return _remove(account, password, statement if has_totp else None, "totp")


def account_passkey(account: Account, passkey_id: int) -> AccountPasskey | None:
    return db.session.scalar(select(AccountPasskey).where(
        AccountPasskey.id == passkey_id, AccountPasskey.account_id == account.id))


def remove_passkey(account: Account, passkey_id: int, password: str) -> RemoveOutcome:
    passkey = account_passkey(account, passkey_id)
    statement = (delete(AccountPasskey).where(AccountPasskey.id == passkey_id,
                                              AccountPasskey.account_id == account.id)
                 if passkey is not None else None)
    name = passkey.name if passkey is not None else None
    return _remove(account, password, statement, "passkey", name=name)


# -- staff reset ("losing the device") ----------------------------------------------------
def find_account_for_staff(query: str) -> Account | None:
    """An account by its e-mail (any case) or its お客様番号."""
    query = (query or "").strip()
    if not query or len(query) > 254:
        return None
    if "@" in query:
        return db.session.scalar(select(Account).where(
            func.lower(Account.email) == query.lower()))
    return db.session.scalar(select(Account).where(Account.customer_number == query))


def account_by_customer_number(customer_number: str) -> Account | None:
    if not customer_number or len(customer_number) > 10:
        return None
    return db.session.scalar(select(Account).where(Account.customer_number == customer_number))


def staff_reset(staff: Account, account: Account, reason: str) -> None:
    """Remove the account's authenticator app, passkeys and recovery codes, sign out every
    browser of it, audit with the reason and mail the account. Commits."""
    now = utcnow()
    for model in (AccountTotp, AccountPasskey, RecoveryCode):
        db.session.execute(delete(model).where(model.account_id == account.id))
    revoked = revoke_login_sessions(account.id)
    audit.record("account.second_step_reset", actor_id=staff.id, subject_id=account.id,
                 reason=reason, sessions_revoked=revoked)
    from mail.messages import send_second_step_reset_mail
    send_second_step_reset_mail(account, now)
    db.session.commit()
