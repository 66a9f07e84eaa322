"""Domain operations of ゲートウェイの管理 for an owner: look up one of their gateways,
edit its site (案件, 設置先住所), exchange it for a new slip's gateway, dispose of it.

Views call one of these; each commits its own work and writes an audit row."""
from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update

from blueprints.core import audit, registry
from blueprints.dealers.services import LinkedDealer, dealer_addresses, linked_dealers
from blueprints.gateways.catalogue import GATEWAY_ID
from blueprints.gateways.registration import SlipGuess, SlipRequester, check_slip_password
from forms.fields import address_data, store_address
from mail import messages
from models import db, utcnow
from models.account import Account
from models.gateway import DealerLink, Gateway, GatewayStatus
from models.wizard import WizardDraft

MANAGEABLE_STATUSES = (GatewayStatus.ACTIVE, GatewayStatus.PROVISIONAL)
_SITE_FIELDS = ("site_name", "postal_code", "prefecture", "city", "street", "building")
# A successful slip check of an exchange is kept server-side (a draft row, as the
# wizards keep theirs) and may be confirmed for this long.
EXCHANGE_CHECK = "gateway_exchange"
EXCHANGE_CHECK_LIFETIME = timedelta(minutes=15)


def _owned(owner: Account, gateway_id: str, lock: bool = False):
    """The owner's gateway in service, or None. An ID that cannot be one (a NUL byte,
    another script, any length but 12) is never sent to the database: PostgreSQL refuses
    a NUL in a parameter with an error, where SQLite simply finds nothing."""
    if not isinstance(gateway_id, str) or not GATEWAY_ID.fullmatch(gateway_id):
        return None
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
    return _owned(owner, gateway_id)


def gateway_dealers(gateway: Gateway) -> list[LinkedDealer]:
    return linked_dealers(gateway)


def site_form_data(gateway: Gateway) -> dict:
    return {"site_name": gateway.site_name or "", "address": address_data(gateway)}


# -- 照会・編集 --------------------------------------------------------------------------
def update_site(owner: Account, gateway_id: str, data: dict) -> bool:
    """Save 案件 and 設置先住所. False when the gateway is no longer the owner's."""
    gateway = _owned(owner, gateway_id, lock=True)
    if gateway is None:
        db.session.rollback()
        return False
    gateway.site_name = data["site_name"]
    store_address(gateway, data["address"])
    audit.record("gateway.update", actor_id=owner.id, subject_id=owner.id,
                 gateway_id=gateway.gateway_id)
    db.session.commit()
    return True


# -- 交換 ------------------------------------------------------------------------------
class ExchangeResult(enum.Enum):
    EXCHANGED = "exchanged"
    NOT_FOUND = "not_found"   # the old gateway is not the owner's (any more)
    EXPIRED = "expired"       # no slip check of this owner for it, or one too old
    TAKEN = "taken"           # the new gateway was registered (or its slip re-issued)


class SlipCheck(enum.Enum):
    OK = "ok"
    INVALID = "invalid"    # unknown ID, wrong password or already registered: one answer
    LIMITED = "limited"    # this address or account failed too often lately
    NOT_FOUND = "not_found"


@dataclass
class ExchangeCheck:
    result: SlipCheck
    check_id: str | None = None  # the server-side record of a successful check


def check_exchange_slip(owner: Account, gateway_id: str, new_gateway_id: str,
                        password: str, requester: SlipRequester) -> ExchangeCheck:
    """Step 1 of an exchange: does the new slip's ID + password open an unregistered
    gateway? Wrong passwords count against the owner's address and account (as every
    slip check does). A right one is recorded server-side, bound to the owner, both
    gateways and the new slip as it is now; the browser keeps only the record's id
    (`check_id`), and the confirmation (`exchange_gateway`) trusts nothing else."""
    old = _owned(owner, gateway_id)
    if old is None:
        db.session.rollback()
        return ExchangeCheck(SlipCheck.NOT_FOUND)
    old_id = old.id
    target = db.session.scalar(select(Gateway).where(Gateway.gateway_id == new_gateway_id))
    guess = check_slip_password(requester, target.slip_password_hash if target else None,
                                password, new_gateway_id)
    if guess is SlipGuess.LIMITED:
        return ExchangeCheck(SlipCheck.LIMITED)
    if guess is SlipGuess.WRONG:
        return ExchangeCheck(SlipCheck.INVALID)
    target = db.session.get(Gateway, target.id, populate_existing=True)
    if target.id == old_id or not _claimable(target):
        db.session.rollback()
        return ExchangeCheck(SlipCheck.INVALID)
    check_id = secrets.token_urlsafe(32)
    db.session.add(WizardDraft(id=check_id, wizard=EXCHANGE_CHECK,
                               data={"owner_id": owner.id, "from": gateway_id,
                                     "to": new_gateway_id, "slip": _slip_digest(target)}))
    db.session.commit()
    return ExchangeCheck(SlipCheck.OK, check_id)


def _claimable(gateway: Gateway) -> bool:
    return gateway.owner_id is None and gateway.status == GatewayStatus.UNREGISTERED


def _slip_digest(gateway: Gateway) -> str:
    """Stands for the slip as it was checked: a re-issued slip no longer matches."""
    return hashlib.sha256(gateway.slip_password_hash.encode()).hexdigest()


def _checked_exchange(owner: Account, gateway_id: str, check_id: str | None,
                      lock: bool = False):
    """The record of a slip check this owner made for this gateway lately and the new
    gateway it opened, or why there is none: EXPIRED (no such check, someone else's,
    another gateway's or too old) or TAKEN (the new gateway was registered or its slip
    re-issued since)."""
    record = None
    if isinstance(check_id, str) and len(check_id) <= 64:
        record = db.session.get(WizardDraft, check_id, with_for_update=lock)
    if (record is None or record.wizard != EXCHANGE_CHECK
            or record.data.get("owner_id") != owner.id
            or record.data.get("from") != gateway_id
            or record.updated_at < utcnow() - EXCHANGE_CHECK_LIFETIME):
        return ExchangeResult.EXPIRED
    new = db.session.scalar(select(Gateway).where(Gateway.gateway_id == record.data["to"]))
    if new is None or not _claimable(new) \
            or not hmac.compare_digest(_slip_digest(new), record.data.get("slip", "")):
        return ExchangeResult.TAKEN
    return record, new


def exchange_preview(owner: Account, gateway_id: str, check_id: str | None):
    """(old, new) for the confirmation page, or the ExchangeResult saying why there is
    no exchange to confirm (see `_checked_exchange`)."""
    old = owned_gateway(owner, gateway_id)
    if old is None:
        return ExchangeResult.NOT_FOUND
    checked = _checked_exchange(owner, gateway_id, check_id)
    if isinstance(checked, ExchangeResult):
        return checked
    return old, checked[1]


@dataclass
class Exchange:
    result: ExchangeResult
    new_gateway_id: str | None = None


def exchange_gateway(owner: Account, gateway_id: str, check_id: str | None) -> Exchange:
    """The new gateway of a slip check (`check_exchange_slip`) takes over the old one's
    owner, site, installation address, registration date, dealer links and history
    (readings and energy); the old one is retired and points to its replacement. Each
    linked dealer is told by mail that its link moved to the new gateway.

    The check is re-read server-side and spent (a replayed confirmation finds nothing),
    and the new gateway is claimed by a conditional UPDATE on its state and slip, in one
    transaction: of two concurrent exchanges onto it only one succeeds."""
    now = utcnow()
    old = _owned(owner, gateway_id, lock=True)
    if old is None:
        db.session.rollback()
        return Exchange(ExchangeResult.NOT_FOUND)
    checked = _checked_exchange(owner, gateway_id, check_id, lock=True)
    if isinstance(checked, ExchangeResult):
        db.session.rollback()
        return Exchange(checked)
    record, new = checked
    new_gateway_id, new_id, slip_hash = new.gateway_id, new.id, new.slip_password_hash
    db.session.delete(record)
    claimed = db.session.execute(
        update(Gateway)
        .where(Gateway.id == new_id, Gateway.id != old.id,
               Gateway.status == GatewayStatus.UNREGISTERED.value,
               Gateway.owner_id.is_(None), Gateway.slip_password_hash == slip_hash)
        .values(status=GatewayStatus(old.status).value, owner_id=owner.id,
                registered_at=old.registered_at or now,
                **{name: getattr(old, name) for name in _SITE_FIELDS}),
        execution_options={"synchronize_session": False})
    if claimed.rowcount != 1:
        db.session.rollback()
        return Exchange(ExchangeResult.TAKEN)
    new = db.session.scalar(select(Gateway).where(Gateway.id == new_id)
                            .execution_options(populate_existing=True))
    dealers = linked_dealers(old)
    # An unregistered gateway has no links; clear any stray one before moving them over.
    db.session.execute(delete(DealerLink).where(DealerLink.gateway_id == new_id),
                       execution_options={"synchronize_session": False})
    moved = db.session.execute(
        update(DealerLink).where(DealerLink.gateway_id == old.id).values(gateway_id=new_id),
        execution_options={"synchronize_session": False}).rowcount
    registry.gateway_event("exchanged", old.id, new_id, now)
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
    registry.gateway_event("retired", [gateway.id], now, "disposed")
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


# -- account deletion ------------------------------------------------------------------
def release_gateways(account: Account) -> None:
    """Account deletion: the account's gateways lose their owner, site, dealer links and
    history (readings, energy, alerts), and go back to UNREGISTERED so that they can be
    registered again with their slip (a retired gateway stays retired). Each dealer that
    looked after one of them is told that its maintenance link ended, as when the owner
    unlinks it. Runs inside delete_account's transaction."""
    owned = select(Gateway.id).where(Gateway.owner_id == account.id)
    gateways = list(db.session.scalars(select(Gateway).where(Gateway.owner_id == account.id)
                                       .order_by(Gateway.gateway_id)))
    gateway_ids = [gateway.gateway_id for gateway in gateways]
    if not gateway_ids:
        return
    now = utcnow()
    for gateway in gateways:
        for linked in linked_dealers(gateway):
            messages.send_dealer_unlinked_mail(dealer_addresses(linked.dealer), linked.dealer,
                                               linked.company, account, gateway, now)
    db.session.execute(delete(DealerLink).where(DealerLink.gateway_id.in_(owned)),
                       execution_options={"synchronize_session": "fetch"})
    registry.gateway_event("released", list(db.session.scalars(owned)), now, "released")
    cleared = dict(owner_id=None, site_name=None, postal_code=None, prefecture=None,
                   city=None, street=None, building=None)
    db.session.execute(
        update(Gateway).where(Gateway.owner_id == account.id,
                              Gateway.status != GatewayStatus.RETIRED.value)
        .values(status=GatewayStatus.UNREGISTERED.value, registered_at=None, **cleared),
        execution_options={"synchronize_session": "fetch"})
    db.session.execute(update(Gateway).where(Gateway.owner_id == account.id).values(**cleared),
                       execution_options={"synchronize_session": "fetch"})
    audit.record("gateway.release", reason="account_deleted", gateway_ids=gateway_ids)

