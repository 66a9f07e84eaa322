"""Domain operations of ゲートウェイの管理 for an owner: look up one of their gateways,
edit its site (案件, 設置先住所), exchange it for a new slip's gateway, dispose of it.

Views call one of these; each commits its own work and writes an audit row."""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update

from blueprints.account.services import hash_password, verify_password
from blueprints.core import audit
from blueprints.dealers.services import LinkedDealer, dealer_addresses, linked_dealers
from blueprints.monitoring import telemetry
from mail import messages
from models import db, utcnow
from models.account import Account
from models.gateway import DealerLink, Gateway, GatewayStatus

MANAGEABLE_STATUSES = (GatewayStatus.ACTIVE, GatewayStatus.PROVISIONAL)
SLIP_LOCK_THRESHOLD = 5
SLIP_LOCK_MINUTES = 15
_SITE_FIELDS = ("site_name", "postal_code", "prefecture", "city", "street", "building")
_dummy_hash: str | None = None


def _dummy_slip_hash() -> str:
    """Checked when the entered ID is unknown, so that every answer takes as long."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hash_password("not-a-real-slip-password")
    return _dummy_hash


def _owned(owner: Account, gateway_id: str, lock: bool = False):
    statement = (select(Gateway)
                 .where(Gateway.gateway_id == gateway_id, Gateway.owner_id == owner.id,
                        Gateway.status.in_([s.value for s in MANAGEABLE_STATUSES]))
                 .execution_options(populate_existing=True))
    if lock:
        statement = statement.with_for_update()
    return db.session.scalar(statement)


def owned_gateway(owner: Account, gateway_id: str) -> Gateway | None:
    """The owner's gateway in service (not retired), or None: unknown, someone else's
    and retired gateways all look the same to the views (404)."""
    if not isinstance(gateway_id, str) or len(gateway_id) > 12:
        return None
    return _owned(owner, gateway_id)


def gateway_dealers(gateway: Gateway) -> list[LinkedDealer]:
    return linked_dealers(gateway)


def site_form_data(gateway: Gateway) -> dict:
    return {"site_name": gateway.site_name or "", "address": {
        "postal_code": gateway.postal_code or "", "prefecture": gateway.prefecture or "",
        "city": gateway.city or "", "street": gateway.street or "",
        "building": gateway.building or ""}}


# -- 照会・編集 --------------------------------------------------------------------------
def update_site(owner: Account, gateway_id: str, data: dict) -> bool:
    """Save 案件 and 設置先住所. False when the gateway is no longer the owner's."""
    gateway = _owned(owner, gateway_id, lock=True)
    if gateway is None:
        db.session.rollback()
        return False
    address = data["address"]
    gateway.site_name = data["site_name"]
    gateway.postal_code = address["postal_code"]
    gateway.prefecture = address["prefecture"]
    gateway.city = address["city"]
    gateway.street = address["street"]
    gateway.building = address.get("building") or None
    audit.record("gateway.update", actor_id=owner.id, subject_id=owner.id,
                 gateway_id=gateway.gateway_id)
    db.session.commit()
    return True


# -- 交換 ------------------------------------------------------------------------------
class SlipCheck(enum.Enum):
    OK = "ok"
    INVALID = "invalid"    # unknown ID, wrong password or already registered: one answer
    LOCKED = "locked"      # too many failures from this gateway's exchange page
    NOT_FOUND = "not_found"


def check_exchange_slip(owner: Account, gateway_id: str, new_gateway_id: str,
                        password: str) -> SlipCheck:
    """Step 1 of an exchange: does the new slip's ID + password open an unregistered
    gateway? Failures are counted on the gateway being exchanged (whose owner is the
    one typing); SLIP_LOCK_THRESHOLD of them lock its exchange for SLIP_LOCK_MINUTES."""
    now = utcnow()
    old = _owned(owner, gateway_id)
    if old is None:
        db.session.rollback()
        return SlipCheck.NOT_FOUND
    if old.slip_locked_until is not None and old.slip_locked_until > now:
        db.session.rollback()
        return SlipCheck.LOCKED
    old_id = old.id
    target = db.session.scalar(select(Gateway).where(Gateway.gateway_id == new_gateway_id))
    password_hash = target.slip_password_hash if target is not None else _dummy_slip_hash()
    available = (target is not None and target.id != old_id and target.owner_id is None
                 and target.status == GatewayStatus.UNREGISTERED)
    # End the read before the deliberately slow hash check (SQLite: the write lock).
    db.session.rollback()
    password_ok = verify_password(password_hash, password or "")
    if password_ok and available:
        db.session.execute(update(Gateway).where(Gateway.id == old_id)
                           .values(failed_slip_attempts=0, slip_locked_until=None))
        db.session.commit()
        return SlipCheck.OK
    # Counted in SQL so that concurrent failures all count.
    db.session.execute(update(Gateway).where(Gateway.id == old_id)
                       .values(failed_slip_attempts=Gateway.failed_slip_attempts + 1))
    failures = db.session.scalar(select(Gateway.failed_slip_attempts)
                                 .where(Gateway.id == old_id))
    locked = failures >= SLIP_LOCK_THRESHOLD
    if locked:
        db.session.execute(update(Gateway).where(Gateway.id == old_id).values(
            failed_slip_attempts=0,
            slip_locked_until=now + timedelta(minutes=SLIP_LOCK_MINUTES)))
    audit.record("gateway.exchange_slip_failed", actor_id=owner.id, subject_id=owner.id,
                 gateway_id=gateway_id, locked=locked)
    db.session.commit()
    return SlipCheck.LOCKED if locked else SlipCheck.INVALID


def exchange_preview(owner: Account, gateway_id: str, new_gateway_id: str):
    """(old, new) for the confirmation page, or None when the exchange can no longer
    happen (the old one is gone or the new one was registered meanwhile)."""
    old = owned_gateway(owner, gateway_id)
    new = db.session.scalar(select(Gateway).where(Gateway.gateway_id == new_gateway_id))
    if (old is None or new is None or new.id == old.id or new.owner_id is not None
            or new.status != GatewayStatus.UNREGISTERED):
        return None
    return old, new


class ExchangeResult(enum.Enum):
    EXCHANGED = "exchanged"
    NOT_FOUND = "not_found"   # the old gateway is not the owner's (any more)
    TAKEN = "taken"           # the new gateway was registered by someone else first


@dataclass
class Exchange:
    result: ExchangeResult
    new_gateway_id: str | None = None


def exchange_gateway(owner: Account, gateway_id: str, new_gateway_id: str) -> Exchange:
    """The new gateway (checked by check_exchange_slip) takes over the old one's owner,
    site, installation address, registration date, dealer links and history (readings
    and energy); the old one is retired and points to its replacement. Each linked dealer
    is told by mail that its link moved to the new gateway. One transaction: the new
    gateway is claimed by a conditional UPDATE, so of two concurrent exchanges onto it
    only one succeeds, and the mails exist exactly when the exchange does."""
    now = utcnow()
    old = _owned(owner, gateway_id, lock=True)
    if old is None:
        db.session.rollback()
        return Exchange(ExchangeResult.NOT_FOUND)
    claimed = db.session.execute(
        update(Gateway)
        .where(Gateway.gateway_id == new_gateway_id, Gateway.id != old.id,
               Gateway.status == GatewayStatus.UNREGISTERED.value,
               Gateway.owner_id.is_(None))
        .values(status=GatewayStatus(old.status).value, owner_id=owner.id,
                registered_at=old.registered_at or now, failed_slip_attempts=0,
                slip_locked_until=None,
                **{name: getattr(old, name) for name in _SITE_FIELDS}),
        execution_options={"synchronize_session": False})
    if claimed.rowcount != 1:
        db.session.rollback()
        return Exchange(ExchangeResult.TAKEN)
    new = db.session.scalar(select(Gateway).where(Gateway.gateway_id == new_gateway_id)
                            .execution_options(populate_existing=True))
    new_id = new.id
    dealers = linked_dealers(old)
    # An unregistered gateway has no links; clear any stray one before moving them over.
    db.session.execute(delete(DealerLink).where(DealerLink.gateway_id == new_id),
                       execution_options={"synchronize_session": False})
    moved = db.session.execute(
        update(DealerLink).where(DealerLink.gateway_id == old.id).values(gateway_id=new_id),
        execution_options={"synchronize_session": False}).rowcount
    telemetry.move_history(old.id, new_id, now)
    old.status = GatewayStatus.RETIRED
    old.retired_at = now
    old.replaced_by_id = new_id
    for linked in dealers:
        messages.send_dealer_gateway_exchanged_mail(
            dealer_addresses(linked.dealer), linked.dealer, linked.company, owner, old, new, now)
    audit.record("gateway.exchange", actor_id=owner.id, subject_id=owner.id,
                 gateway_id=old.gateway_id, new_gateway_id=new_gateway_id, dealer_links=moved)
    db.session.commit()
    db.session.expire_all()
    return Exchange(ExchangeResult.EXCHANGED, new_gateway_id)


# -- 廃棄 ------------------------------------------------------------------------------
def dispose_gateway(owner: Account, gateway_id: str) -> bool:
    """Retire the gateway for good: it can no longer report, loses its site, address,
    dealer links, history (readings and energy) and owner (so it leaves the owner's list).
    Each linked dealer is told by mail, in the same transaction. False when it is not the
    owner's gateway in service (already disposed of, for one)."""
    now = utcnow()
    gateway = _owned(owner, gateway_id, lock=True)
    if gateway is None:
        db.session.rollback()
        return False
    # The mails name the site and address, so they are written before those are cleared.
    for linked in linked_dealers(gateway):
        messages.send_dealer_gateway_disposed_mail(
            dealer_addresses(linked.dealer), linked.dealer, linked.company, owner, gateway, now)
    removed = db.session.execute(
        delete(DealerLink).where(DealerLink.gateway_id == gateway.id),
        execution_options={"synchronize_session": False}).rowcount
    telemetry.purge_history([gateway.id], now, "disposed")
    gateway.status = GatewayStatus.RETIRED
    gateway.retired_at = now
    gateway.owner_id = None
    for name in _SITE_FIELDS:
        setattr(gateway, name, None)
    audit.record("gateway.dispose", actor_id=owner.id, subject_id=owner.id,
                 gateway_id=gateway.gateway_id, dealer_links=removed)
    db.session.commit()
    db.session.expire_all()
    return True
