"""The eco programme's operations: the terms, 申込 / 照会 / 解約 of a gateway's
membership, the guidance mail, and what happens to a membership when its gateway or its
owner goes (exchange, disposal, release, account deletion).

Rules live in `eligibility.py`; the database holds the rest: one running membership per
gateway (partial unique index — two tabs or two people applying at once end with one
row and an "already applied" answer) and one guidance mail per gateway and owner
(unique pair). Operations commit and write an audit row; hooks run inside the caller's
transaction and never commit. Nothing here reads `request`."""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, exists, select, update
from sqlalchemy.exc import IntegrityError

from blueprints.core import audit
from blueprints.core.links import public_url
from blueprints.eco import eligibility
from blueprints.gateways import catalogue
from blueprints.gateways.management import owned_gateway
from blueprints.gateways.registration import owned_gateways
from mail import messages
from models import JST, db, utcnow
from models.account import Account, AccountConsent, AccountType
from models.eco import EcoEnd, EcoGuidance, EcoMembership
from models.gateway import Gateway, GatewayStatus, PcsUnit, SystemModel

TERMS = "eco_terms"  # AccountConsent.document of the 会員規約


def points_signup_url() -> str:
    """The points sign-up (the points service's page; named, never imported)."""
    return public_url("points.signup")


# -- 会員規約 ----------------------------------------------------------------------------
def has_accepted_terms(account: Account) -> bool:
    return db.session.scalar(select(AccountConsent.id).where(
        AccountConsent.account_id == account.id, AccountConsent.document == TERMS)) is not None


def accept_terms(account: Account) -> None:
    """同意する: records the consent once (a second agreement, or two at once, keep the
    first date)."""
    if has_accepted_terms(account):
        db.session.rollback()
        return
    try:
        with db.session.begin_nested():
            db.session.add(AccountConsent(account_id=account.id, document=TERMS))
    except IntegrityError:
        db.session.rollback()
        return
    audit.record("eco.terms_accepted", actor_id=account.id, subject_id=account.id)
    db.session.commit()


# -- 照会 --------------------------------------------------------------------------------
class State(str, enum.Enum):
    OPEN = "open"              # 申込可
    APPLIED = "applied"        # 申込済
    INELIGIBLE = "ineligible"  # 対象外


@dataclass(frozen=True)
class GatewayState:
    gateway: Gateway
    membership: EcoMembership | None
    eligibility: eligibility.Eligibility

    @property
    def state(self) -> State:
        if self.membership is not None:
            return State.APPLIED
        return State.OPEN if self.eligibility.measurable_ok else State.INELIGIBLE


def running_by_gateway(gateway_pks: list[int]) -> dict[int, EcoMembership]:
    """The running membership of each of these gateways that has one, by gateway pk."""
    if not gateway_pks:
        return {}
    return {m.gateway_id: m for m in db.session.scalars(
        select(EcoMembership).where(EcoMembership.gateway_id.in_(gateway_pks),
                                    EcoMembership.ended_at.is_(None)))}


def gateway_states(account: Account) -> list[GatewayState]:
    """申込状態の照会: each of the owner's gateways with its membership or eligibility."""
    gateways = owned_gateways(account)
    checks = eligibility.check_many(gateways, account)
    running = running_by_gateway([g.id for g in gateways])
    return [GatewayState(g, running.get(g.id), checks[g.id]) for g in gateways]


def gateway_state(account: Account, gateway_id: str) -> GatewayState | None:
    """One of the owner's gateways in service, or None (unknown, someone else's and
    retired ones look the same: 404)."""
    gateway = owned_gateway(account, gateway_id)
    if gateway is None:
        return None
    return GatewayState(gateway, running_by_gateway([gateway.id]).get(gateway.id),
                        eligibility.check(gateway, account))


def first_pcs_serial(gateway: Gateway) -> str:
    """パワーコンディショナ製造番号: the serial of the first power conditioner."""
    return gateway.units[0].serial if gateway.units else ""


def running_memberships(account: Account) -> list[EcoMembership]:
    return list(db.session.scalars(
        select(EcoMembership).where(EcoMembership.account_id == account.id,
                                    EcoMembership.ended_at.is_(None))
        .order_by(EcoMembership.applied_at)))


# -- 申込 --------------------------------------------------------------------------------
class ApplyResult(str, enum.Enum):
    APPLIED = "applied"
    ALREADY = "already"            # a running membership exists (double submit, two tabs)
    NOT_ELIGIBLE = "not_eligible"  # a condition failed when the confirmation came
    NO_TERMS = "no_terms"          # the 会員規約 were not accepted
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class Application:
    result: ApplyResult
    membership: EcoMembership | None = None
    eligibility: eligibility.Eligibility | None = None


def apply(account: Account, gateway_id: str, no_private_generator: bool,
          no_other_scheme: bool, now: datetime | None = None) -> Application:
    """申込を確定する: re-checks every condition (the declarations included) server-side,
    then adds the running membership with the ゲートウェイID and the first PCS serial, and
    the completion mail 【お申込み完了のお知らせ】, in one transaction. A second
    application (double submit, another tab, another person at once) meets the partial
    unique index and answers ALREADY, with one row."""
    now = now or utcnow()
    gateway = owned_gateway(account, gateway_id)
    if gateway is None:
        db.session.rollback()
        return Application(ApplyResult.NOT_FOUND)
    if not has_accepted_terms(account):
        db.session.rollback()
        return Application(ApplyResult.NO_TERMS)
    running = running_by_gateway([gateway.id]).get(gateway.id)
    if running is not None:
        db.session.rollback()
        return Application(ApplyResult.ALREADY, running)
    checked = eligibility.check(gateway, account, {
        eligibility.NO_GENERATOR: no_private_generator, eligibility.NO_SCHEME: no_other_scheme},
        now=now)
    if not checked.ok:
        db.session.rollback()
        return Application(ApplyResult.NOT_ELIGIBLE, eligibility=checked)
    membership = EcoMembership(gateway_id=gateway.id, account_id=account.id,
                               gateway_code=gateway.gateway_id,
                               pcs_serial=first_pcs_serial(gateway),
                               no_private_generator=True, no_other_scheme=True, applied_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(membership)
    except IntegrityError:
        db.session.rollback()
        return Application(ApplyResult.ALREADY,
                           running_by_gateway([gateway.id]).get(gateway.id))
    messages.send_eco_applied_mail(account, membership, points_signup_url())
    audit.record("eco.apply", actor_id=account.id, subject_id=account.id,
                 gateway_id=gateway.gateway_id, pcs_serial=membership.pcs_serial)
    db.session.commit()
    return Application(ApplyResult.APPLIED, membership)


def running_membership(account: Account, gateway_id: str) -> EcoMembership | None:
    """The running membership of one of the owner's gateways in service, or None."""
    gateway = owned_gateway(account, gateway_id)
    if gateway is None:
        return None
    membership = running_by_gateway([gateway.id]).get(gateway.id)
    if membership is None or membership.account_id != account.id:
        return None
    return membership


# -- 解約 --------------------------------------------------------------------------------
def cancel(account: Account, gateway_id: str, now: datetime | None = None) -> bool:
    """解約: ends the owner's running membership of this gateway, mails the confirmation,
    audits. False when there is none (already cancelled: a double submit changes nothing).
    The gateway may apply again later (a new row)."""
    now = now or utcnow()
    membership = running_membership(account, gateway_id)
    if membership is None:
        db.session.rollback()
        return False
    ended = db.session.execute(
        update(EcoMembership)
        .where(EcoMembership.id == membership.id, EcoMembership.ended_at.is_(None))
        .values(ended_at=now, end_reason=EcoEnd.CANCELLED),
        execution_options={"synchronize_session": False}).rowcount
    if ended != 1:  # cancelled meanwhile by a concurrent request
        db.session.rollback()
        return False
    db.session.refresh(membership)
    messages.send_eco_cancelled_mail(account, membership)
    audit.record("eco.cancel", actor_id=account.id, subject_id=account.id,
                 gateway_id=membership.gateway_code)
    db.session.commit()
    return True


# -- gateway events and account deletion (inside the caller's transaction) -------------
def move_to_new_gateway(old_pk: int, new_pk: int, now: datetime) -> None:
    """An exchange: the running membership follows the gateway (its ID and first PCS
    serial are the new gateway's from now on)."""
    new = db.session.get(Gateway, new_pk)
    if new is None:
        return
    serial = db.session.scalar(select(PcsUnit.serial).where(PcsUnit.gateway_id == new_pk)
                               .order_by(PcsUnit.unit_no).limit(1)) or ""
    db.session.execute(
        update(EcoMembership)
        .where(EcoMembership.gateway_id == old_pk, EcoMembership.ended_at.is_(None))
        .values(gateway_id=new_pk, gateway_code=new.gateway_id, pcs_serial=serial),
        execution_options={"synchronize_session": False})


def _end_for_gateways(gateway_pks, now: datetime, reason: str) -> None:
    if not gateway_pks:
        return
    db.session.execute(
        update(EcoMembership)
        .where(EcoMembership.gateway_id.in_(list(gateway_pks)),
               EcoMembership.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason),
        execution_options={"synchronize_session": False})


def end_disposed(gateway_pks, now: datetime, reason: str) -> None:
    """廃棄: the gateway's running membership ends (DISPOSED)."""
    _end_for_gateways(gateway_pks, now, EcoEnd.DISPOSED)


def end_released(gateway_pks, now: datetime, reason: str) -> None:
    """The owner gave the gateway up: its running membership ends (RELEASED)."""
    _end_for_gateways(gateway_pks, now, EcoEnd.RELEASED)


def end_for_deleted_account(account: Account) -> None:
    """Account deletion: the account's running memberships end (ACCOUNT_DELETED); the
    rows stay as the operator's record and lose the account by the foreign key."""
    db.session.execute(
        update(EcoMembership)
        .where(EcoMembership.account_id == account.id, EcoMembership.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=EcoEnd.ACCOUNT_DELETED),
        execution_options={"synchronize_session": False})


# -- the guidance mail ------------------------------------------------------------------
def send_guidance(now: datetime | None = None) -> int:
    """【みんなでつくるエコ活サークル お申込みのご案内】 to each owner whose gateway meets
    every measurable condition for the first time: active gateways of opened individual
    accounts, eco-eligible model, online, no running membership, no guidance yet for the
    pair. The candidates, their rollups and their units are read set-based (a constant
    number of queries however many gateways are checked); each mail is written with its
    EcoGuidance row in a savepoint, so that a second run, or a concurrent one, sends
    nothing twice. Answers the number of mails written."""
    now = now or utcnow()
    today = now.astimezone(JST).date()
    cutoff = now - timedelta(hours=current_app.config["ECO_ONLINE_HOURS"])
    catalogue.ensure_catalogue()
    candidates = list(db.session.execute(
        select(Gateway, Account)
        .join(Account, Account.id == Gateway.owner_id)
        .join(SystemModel, and_(SystemModel.code == Gateway.model,
                                SystemModel.eco_eligible.is_(True)))
        .where(Gateway.status == GatewayStatus.ACTIVE.value,
               Account.account_type != AccountType.COMMERCIAL.value,
               Account.activated_at.is_not(None),
               Gateway.last_reading_at >= cutoff,
               ~exists().where(EcoMembership.gateway_id == Gateway.id,
                               EcoMembership.ended_at.is_(None)),
               ~exists().where(EcoGuidance.gateway_id == Gateway.id,
                               EcoGuidance.account_id == Account.id))
        .order_by(Gateway.id)).tuples())
    if not candidates:
        db.session.rollback()
        return 0
    facts = eligibility.facts_for([g for g, _a in candidates], today)
    sent = 0
    for gateway, account in candidates:
        checked = eligibility.evaluate(gateway, False, facts[gateway.id], now, today)
        if not checked.measurable_ok:
            continue
        try:
            with db.session.begin_nested():
                db.session.add(EcoGuidance(gateway_id=gateway.id, account_id=account.id,
                                           sent_at=now))
                db.session.flush()
                messages.send_eco_guidance_mail(account, gateway)
        except IntegrityError:  # another run sent it meanwhile
            continue
        sent += 1
    db.session.commit()
    return sent
