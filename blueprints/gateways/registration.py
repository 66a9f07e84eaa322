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
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from blueprints.account.services import dummy_hash, find_account, hash_password, verify_password
from blueprints.core import audit
from blueprints.core.attempts import Guess, Requester, check_guess
from blueprints.core.links import LinkCheck, LinkState, check_link, issue_link, spend_link
from blueprints.core.security import open_login_session
from forms.fields import store_address
from forms.validators import normalize_phone
from mail import messages
from models import db, utcnow
from models.account import (
    Account,
    AccountConsent,
    AccountPhone,
    AccountType,
    Company,
    CompanyRole,
)
from models.gateway import Gateway, GatewayStatus

REGISTRATION_LINK = "monitoring_registration"
def _link_ttl() -> timedelta:
    """SPEC "Links sent by mail": the date shown in the mail (config, 7 days by default)."""
    return current_app.config["MONITORING_REGISTRATION_LINK_TTL"]


# The monitoring service's own 利用規約, recorded per account (AccountConsent.document).
MONITORING_TERMS = "monitoring_terms"

class RegistrationError(Exception):
    """A registration cannot go on; `field` says where the message belongs."""

    def __init__(self, field: str, kind: str):
        super().__init__(kind)
        self.field, self.kind = field, kind


# -- slips -----------------------------------------------------------------------------
# Who checks a slip password, and what came of it: the counting of guesses is core's
# (blueprints/core/attempts.py), shared with the points sign-up's ゲートウェイID + PCS pair.
SlipRequester = Requester
SlipGuess = Guess


def check_slip_password(requester: SlipRequester, password_hash: str | None,
                        password: str, gateway_id: str) -> SlipGuess:
    """Check a slip password against its gateway's hash (None: the ID is unknown, and a
    dummy hash takes as long). Counted per client and account (`check_guess`); commits,
    so the caller's rollback cannot undo a failure."""
    def is_right() -> bool:
        return verify_password(password_hash or dummy_hash(), password or "") \
            and password_hash is not None

    return check_guess(requester, is_right, "gateway.slip", gateway=gateway_id)


@dataclass(frozen=True)
class SlipCheck:
    ok: bool
    limited: bool = False
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


def verify_slip(gateway_id: str, password: str, requester: SlipRequester) -> SlipCheck:
    """Check a slip (ID + password) of an unregistered gateway for `requester`.
    Unknown ID, wrong password and an already registered gateway look the same; a
    requester who failed too often is refused without a check (`limited`)."""
    gateway = _find_gateway(gateway_id)
    guess = check_slip_password(requester, gateway.slip_password_hash if gateway else None,
                                password, gateway_id)
    if guess is SlipGuess.LIMITED:
        return SlipCheck(ok=False, limited=True)
    if guess is SlipGuess.WRONG or gateway.status != GatewayStatus.UNREGISTERED:
        return SlipCheck(ok=False)
    return SlipCheck(ok=True, proof=_slip_proof(gateway))


def _checked_gateway(proof: str | None) -> Gateway:
    """The gateway a proof from `verify_slip` stands for, if it is still claimable."""
    gateway_id = (proof or "").partition(":")[0]
    gateway = _find_gateway(gateway_id) if gateway_id else None
    if gateway is None or not hmac.compare_digest(_slip_proof(gateway), proof or ""):
        raise RegistrationError("gateway_password", "rejected")
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
                building=address["building"] or None, registered_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise RegistrationError("gateway_password", "rejected")
    db.session.expire(gateway)
    audit.record("gateway.claimed", actor_id=owner.id, subject_id=owner.id,
                 gateway=gateway.gateway_id, status=status.value)


# -- first registration (the wizard) ----------------------------------------------------
def register_first_gateway(details: dict, slip_proof: str | None) -> datetime:
    """The end of the registration wizard, in its transaction (no commit). Returns the
    date the page states as the mailed link's expiry.

    The slip is checked first. Then a first-time registrant gets an unopened account (no
    usable password yet; personal, or commercial with its company when 法人名 was given),
    the gateway claimed PROVISIONAL for it, and 【アカウント仮登録のお知らせ】 with a 7-day
    link. An address that already has an ID gets nothing new but a mail saying how to add
    the gateway to that ID: the page, its status and the number of mails are the same
    either way, so the registration does not tell whether an address has an ID."""
    gateway = _checked_gateway(slip_proof)
    now = utcnow()
    expires_at = now + _link_ttl()
    # Hashed on both ways, so that the time taken does not tell either.
    unusable_hash = hash_password(secrets.token_urlsafe(32))  # nobody knows it
    existing = find_account(details["email"])
    if existing is None:
        account = _provisional_account(details, unusable_hash, now)
        try:
            with db.session.begin_nested():
                db.session.add(account)
        except IntegrityError:  # the unique index caught a concurrent registration
            existing = find_account(details["email"])
            if existing is None:
                raise
    if existing is not None:
        messages.send_registration_has_id_mail(existing, gateway)
        audit.record("gateways.registration_has_id", subject_id=existing.id,
                     gateway=gateway.gateway_id)
        return expires_at
    db.session.add(AccountConsent(account_id=account.id, document=MONITORING_TERMS,
                                  accepted_at=now))
    claim_gateway(gateway, account, details, GatewayStatus.PROVISIONAL)
    token = issue_link(REGISTRATION_LINK, account.email, _link_ttl(),
                       account=account, payload={"gateway_id": gateway.id})
    messages.send_provisional_registration_mail(account, gateway, token, expires_at)
    audit.record("gateways.provisional_registration", actor_id=account.id,
                 subject_id=account.id, gateway=gateway.gateway_id,
                 account_type=account.account_type.value)
    return expires_at


def _provisional_account(details: dict, password_hash: str, now: datetime) -> Account:
    """The account STEP2 describes. STEP1 had both consents of the ID (利用規約 and
    プライバシーポリシー) given. With a 法人名 it is a commercial account, administrator of
    a company made from what STEP2 asks (the company's other fields wait for 会社情報)."""
    account = Account(
        email=details["email"], password_hash=password_hash,
        family_name=details["family_name"], given_name=details["given_name"],
        family_kana=details["family_kana"], given_kana=details["given_kana"],
        terms_accepted_at=now, privacy_accepted_at=now,
    )
    account.phones = [AccountPhone(position=0, kind="mobile", number=details["phone"])]
    if details.get("company_name"):
        account.account_type = AccountType.COMMERCIAL
        account.company = Company(name=details["company_name"], email=details["email"],
                                  phone=details["phone"])
        store_address(account.company, details["address"])
        account.company_role = CompanyRole.ADMIN
        account.department = details.get("department") or None
    else:
        account.account_type = AccountType.PERSONAL
        store_address(account, details["address"])
    return account


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
    expires_at = utcnow() + _link_ttl()
    new_token = issue_link(REGISTRATION_LINK, account.email, _link_ttl(),
                           account=account, payload={"gateway_id": gateway.id})
    messages.send_provisional_registration_mail(account, gateway, new_token, expires_at)
    audit.record("gateways.registration_link_renewed", subject_id=account.id)
    db.session.commit()
    return expires_at


# -- signed-in owners ---------------------------------------------------------------------
def add_gateway(owner: Account, data: dict) -> Gateway:
    """A signed-in owner registers one more gateway from its slip: ACTIVE at once. The
    account keeps its type. `data["gateway_password"]` is the proof left by the form's
    slip check; `data["accept_monitoring_terms"]` the consent of an owner who has not
    agreed to the monitoring service's terms yet (an ID made by the sign-up)."""
    gateway = _checked_gateway(data["gateway_password"])
    try:
        claim_gateway(gateway, owner, data, GatewayStatus.ACTIVE)
    except RegistrationError:
        db.session.rollback()
        raise
    if data.get("accept_monitoring_terms") and not accepted_monitoring_terms(owner):
        db.session.add(AccountConsent(account_id=owner.id, document=MONITORING_TERMS,
                                      accepted_at=utcnow()))
    db.session.commit()
    return gateway


def accepted_monitoring_terms(account: Account) -> bool:
    return db.session.scalar(
        select(AccountConsent.id).where(AccountConsent.account_id == account.id,
                                        AccountConsent.document == MONITORING_TERMS)
    ) is not None


def owned_gateways(owner: Account) -> list[Gateway]:
    """The owner's gateways (never anyone else's), retired ones left out."""
    return list(db.session.scalars(
        select(Gateway).where(Gateway.owner_id == owner.id,
                              Gateway.status != GatewayStatus.RETIRED)
        .order_by(Gateway.registered_at, Gateway.id)))

