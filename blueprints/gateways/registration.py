"""Domain operations of gateway registration: checking a paper slip, claiming its gateway
for an owner, the provisional account of a first-time owner and its activation.

Views call one of these. `register_first_gateway` runs inside the registration wizard's
transaction and does not commit; the others commit their own work."""
from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from blueprints.account.services import (
    email_registered,
    hash_password,
    verify_password,
)
from blueprints.core import audit
from blueprints.core.links import LinkCheck, LinkState, check_link, issue_link, spend_link
from blueprints.core.security import open_login_session
from forms.validators import normalize_phone
from mail import messages
from models import db, utcnow
from models.account import Account, AccountPhone, AccountType
from models.gateway import Gateway, GatewayStatus

REGISTRATION_LINK = "monitoring_registration"
# SPEC "Links sent by mail": the date shown in the mail, 7 days by default. (config.py
# belongs to others; move this to MONITORING_REGISTRATION_LINK_TTL there when it is free.)
REGISTRATION_LINK_TTL = timedelta(days=7)
SLIP_LOCK_THRESHOLD = 5
SLIP_LOCK_DURATION = timedelta(minutes=15)

# Verified when the gateway ID is unknown, so that the time taken does not tell.
_DUMMY_SLIP_HASH = hash_password("not-a-real-slip-password")


class RegistrationError(Exception):
    """A registration cannot go on; `field` says where the message belongs."""

    def __init__(self, field: str, kind: str):
        super().__init__(kind)
        self.field, self.kind = field, kind


# -- slips -----------------------------------------------------------------------------
@dataclass(frozen=True)
class SlipCheck:
    ok: bool
    locked: bool = False
    proof: str | None = None


def _slip_proof(gateway: Gateway) -> str:
    """Stands for "this slip was checked": bound to the gateway and its current slip hash,
    keyed with the app's secret, so the wizard never has to keep the slip password."""
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, f"{gateway.gateway_id}:{gateway.slip_password_hash}".encode(),
                      hashlib.sha256).hexdigest()
    return f"{gateway.gateway_id}:{digest}"


def _find_gateway(gateway_id: str) -> Gateway | None:
    return db.session.scalar(select(Gateway).where(Gateway.gateway_id == gateway_id))


def _is_locked(gateway: Gateway) -> bool:
    return gateway.slip_locked_until is not None and gateway.slip_locked_until > utcnow()


def verify_slip(gateway_id: str, password: str) -> SlipCheck:
    """Check a slip (ID + password) of an unregistered gateway. A wrong password counts
    against the gateway: after 5 the slip is locked for 15 minutes. Failures are
    committed at once: the caller's rollback of an invalid form must not undo them.
    Unknown ID, wrong password and an already registered gateway look the same."""
    gateway = _find_gateway(gateway_id)
    if gateway is None:
        verify_password(_DUMMY_SLIP_HASH, password)
        return SlipCheck(ok=False)
    if _is_locked(gateway):
        return SlipCheck(ok=False, locked=True)
    if not verify_password(gateway.slip_password_hash, password):
        _count_slip_failure(gateway)
        db.session.refresh(gateway)
        return SlipCheck(ok=False, locked=_is_locked(gateway))
    if gateway.status != GatewayStatus.UNREGISTERED:
        return SlipCheck(ok=False)
    return SlipCheck(ok=True, proof=_slip_proof(gateway))


def _count_slip_failure(gateway: Gateway) -> None:
    # Counted in SQL so that concurrent failures all count.
    db.session.execute(update(Gateway).where(Gateway.id == gateway.id)
                       .values(failed_slip_attempts=Gateway.failed_slip_attempts + 1))
    db.session.refresh(gateway)
    locked = gateway.failed_slip_attempts >= SLIP_LOCK_THRESHOLD
    if locked:
        gateway.slip_locked_until = utcnow() + SLIP_LOCK_DURATION
        gateway.failed_slip_attempts = 0
    audit.record("gateway.slip_failed", subject_id=None, gateway=gateway.gateway_id,
                 locked=locked)
    db.session.commit()


def _checked_gateway(proof: str | None) -> Gateway:
    """The gateway a proof from `verify_slip` stands for, if it is still claimable."""
    gateway_id = (proof or "").partition(":")[0]
    gateway = _find_gateway(gateway_id) if gateway_id else None
    if gateway is None or not hmac.compare_digest(_slip_proof(gateway), proof or ""):
        raise RegistrationError("gateway_password", "rejected")
    if _is_locked(gateway):
        raise RegistrationError("gateway_password", "locked")
    if gateway.status != GatewayStatus.UNREGISTERED:
        raise RegistrationError("gateway_password", "rejected")
    return gateway


def claim_gateway(gateway: Gateway, owner: Account, site: dict, status: GatewayStatus) -> None:
    """Make `owner` the owner of an unregistered gateway, atomically: of two people
    claiming one gateway at the same moment exactly one gets it (the UPDATE only
    matches while the gateway is unregistered); the other gets RegistrationError."""
    address = site["site_address"]
    result = db.session.execute(
        update(Gateway)
        .where(Gateway.id == gateway.id, Gateway.status == GatewayStatus.UNREGISTERED,
               Gateway.slip_password_hash == gateway.slip_password_hash)
        .values(status=status, owner_id=owner.id, site_name=site["site_name"],
                postal_code=address["postal_code"], prefecture=address["prefecture"],
                city=address["city"], street=address["street"],
                building=address["building"] or None, registered_at=utcnow(),
                failed_slip_attempts=0, slip_locked_until=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise RegistrationError("gateway_password", "rejected")
    db.session.expire(gateway)
    audit.record("gateway.claimed", actor_id=owner.id, subject_id=owner.id,
                 gateway=gateway.gateway_id, status=status.value)


# -- first registration (the wizard) ----------------------------------------------------
def register_first_gateway(details: dict, slip_proof: str | None):
    """The end of the registration wizard, in its transaction (no commit): an unopened
    personal account (no usable password yet), the gateway claimed PROVISIONAL for it,
    and 【アカウント仮登録のお知らせ】 with a 7-day link. Returns the link's expiry.

    フリガナ and 法人名 have no column in the account model: they are not stored."""
    gateway = _checked_gateway(slip_proof)
    if email_registered(details["email"]):
        raise RegistrationError("email", "email_taken")
    now = utcnow()
    address = details["address"]
    account = Account(
        email=details["email"],
        password_hash=hash_password(secrets.token_urlsafe(32)),  # nobody knows it
        family_name=details["family_name"], given_name=details["given_name"],
        account_type=AccountType.PERSONAL, terms_accepted_at=now, privacy_accepted_at=now,
        postal_code=address["postal_code"], prefecture=address["prefecture"],
        city=address["city"], street=address["street"], building=address["building"] or None,
        department=details.get("department") or None,
    )
    account.phones = [AccountPhone(position=0, kind="mobile", number=details["phone"])]
    db.session.add(account)
    try:
        db.session.flush()
    except Exception as error:  # the unique index caught a concurrent registration
        db.session.rollback()  # the wizard rolls back anyway when it gets the error
        if email_registered(details["email"]):
            raise RegistrationError("email", "email_taken") from error
        raise
    claim_gateway(gateway, account, details, GatewayStatus.PROVISIONAL)
    expires_at = now + REGISTRATION_LINK_TTL
    token = issue_link(REGISTRATION_LINK, account.email, REGISTRATION_LINK_TTL,
                       account=account, payload={"gateway_id": gateway.id})
    messages.send_provisional_registration_mail(account, gateway, token, expires_at)
    audit.record("gateways.provisional_registration", actor_id=account.id,
                 subject_id=account.id, gateway=gateway.gateway_id)
    return expires_at


# -- the provisional link ----------------------------------------------------------------
def check_registration_link(token: str) -> LinkCheck:
    return check_link(REGISTRATION_LINK, token)


def registration_context(link) -> tuple[Account | None, Gateway | None]:
    account = db.session.get(Account, link.account_id) if link.account_id else None
    gateway = db.session.get(Gateway, (link.payload or {}).get("gateway_id"))
    return account, gateway


class CompleteOutcome(enum.Enum):
    DONE = "done"
    WRONG_PHONE = "wrong_phone"
    LINK_PROBLEM = "link_problem"


@dataclass
class CompleteResult:
    outcome: CompleteOutcome
    state: LinkState = LinkState.VALID
    account: Account | None = None


def complete_registration(token: str, password: str, phone: str,
                          user_agent: str | None) -> CompleteResult:
    """本登録: the phone typed at STEP2 must match; then the password is set, the account
    opened, the gateway made ACTIVE, the link spent and a sign-in session opened."""
    checked = check_registration_link(token)
    if not checked.ok:
        return CompleteResult(CompleteOutcome.LINK_PROBLEM, checked.state)
    account, gateway = registration_context(checked.link)
    if account is None:
        db.session.rollback()
        return CompleteResult(CompleteOutcome.LINK_PROBLEM, LinkState.INVALID)
    stored = account.phones[0].number if account.phones else None
    if stored is None or normalize_phone(phone) != stored:
        audit.record("gateways.registration_phone_mismatch", subject_id=account.id)
        db.session.commit()
        return CompleteResult(CompleteOutcome.WRONG_PHONE)
    if not spend_link(checked.link):
        db.session.rollback()
        return CompleteResult(CompleteOutcome.LINK_PROBLEM, LinkState.SPENT)
    now = utcnow()
    account.password_hash = hash_password(password)
    account.password_changed_at = now
    account.activated_at = account.activated_at or now
    account.last_login_at = now
    if gateway is not None and gateway.owner_id == account.id \
            and gateway.status == GatewayStatus.PROVISIONAL:
        gateway.status = GatewayStatus.ACTIVE
    config = current_app.config
    open_login_session(account, False, config["SESSION_LIFETIME"], user_agent)
    audit.record("gateways.registration_completed", actor_id=account.id,
                 subject_id=account.id, gateway=gateway.gateway_id if gateway else None)
    db.session.commit()
    return CompleteResult(CompleteOutcome.DONE, checked.state, account)


def renew_registration_link(token: str):
    """From the page of an expired link: mail a fresh 7-day link to the same address,
    while the account is still unopened. Returns the new expiry, or None."""
    checked = check_registration_link(token)
    if checked.state is not LinkState.EXPIRED:
        return None
    account, gateway = registration_context(checked.link)
    if account is None or account.activated_at is not None or gateway is None \
            or gateway.owner_id != account.id:
        return None
    expires_at = utcnow() + REGISTRATION_LINK_TTL
    new_token = issue_link(REGISTRATION_LINK, account.email, REGISTRATION_LINK_TTL,
                           account=account, payload={"gateway_id": gateway.id})
    messages.send_provisional_registration_mail(account, gateway, new_token, expires_at)
    audit.record("gateways.registration_link_renewed", subject_id=account.id)
    db.session.commit()
    return expires_at


# -- signed-in owners ---------------------------------------------------------------------
def add_gateway(owner: Account, data: dict) -> Gateway:
    """A signed-in owner registers one more gateway from its slip: ACTIVE at once.
    `data["gateway_password"]` is the proof left by the form's slip check."""
    gateway = _checked_gateway(data["gateway_password"])
    try:
        claim_gateway(gateway, owner, data, GatewayStatus.ACTIVE)
    except RegistrationError:
        db.session.rollback()
        raise
    db.session.commit()
    return gateway


def owned_gateways(owner: Account) -> list[Gateway]:
    """The owner's gateways (never anyone else's), retired ones left out."""
    return list(db.session.scalars(
        select(Gateway).where(Gateway.owner_id == owner.id,
                              Gateway.status != GatewayStatus.RETIRED)
        .order_by(Gateway.registered_at, Gateway.id)))

