"""ゲートウェイの譲渡: the owner hands a gateway over with the house to its next owner.

What a hand-over does, in one transaction under the gateway's row lock (a second post,
or two at once, finds the gateway no longer the owner's and changes nothing):

- nothing happens while another service says it must not (`registry.handover_blockers`:
  open support cases about the gateway, a running proxy login for the owner);
- a new slip password (shown once to the owner and mailed as a printable slip) replaces
  the old one, which stops working; the gateway goes back to UNREGISTERED without owner,
  site and registration date, keeps its API key, units and readings, and
  `Gateway.history_from` is set to now: its next owner, who registers with the new slip
  as a first-time owner, sees nothing before that (`energy.history_start`);
- a `GatewayHandover` row keeps what the previous owner may still read: their period
  (`owned_from` up to `handed_over_at`) and its readings as CSV (`handover_csv_rows`);
- the dealer links end (each dealer is mailed, as when the owner unlinks it) and the
  services end what they gave for the gateway through the "handed_over" gateway event
  (programme memberships, product registrations, open alerts, login permissions);
- audited with the gateway's ID.

Views call `handover_preview`, `hand_over`, `owner_handovers`, `owner_handover` and
`handover_csv_rows`; none reads the request."""
from __future__ import annotations

import csv
import enum
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select

from blueprints.account.services import hash_password, verify_password
from blueprints.core import audit, registry
from blueprints.dealers.services import dealer_addresses, linked_dealers
from blueprints.gateways.management import MANAGEABLE_STATUSES, owned_gateway
from blueprints.gateways.slips import random_slip_password, registration_url
from mail import messages
from models import JST, db, utcnow
from models.account import Account
from models.gateway import DealerLink, Gateway, GatewayStatus
from models.telemetry import Reading
from models.trust import GatewayHandover

GATEWAY_ID = re.compile(r"[0-9A-Z]{12}")
CSV_BATCH = 500  # readings read per query while a CSV streams (bounded memory)
# The monitoring CSV's words for the battery (gateways never import monitoring: the
# history it reads here is the models' and belongs to the previous owner).
_BATTERY_LABELS = {"charging": _l("充電"), "discharging": _l("放電"), "standby": _l("待機")}


class HandoverResult(enum.Enum):
    HANDED_OVER = "handed_over"
    NOT_FOUND = "not_found"          # not the owner's gateway in service (any more)
    ALREADY = "already"              # this owner handed it over a moment ago (double submit)
    BLOCKED = "blocked"              # another service says not now (reasons given)
    WRONG_PASSWORD = "wrong_password"


@dataclass
class Handover:
    result: HandoverResult
    reasons: list = field(default_factory=list)
    gateway_id: str | None = None
    slip_password: str | None = None  # the new slip password: shown once, never stored
    handover: GatewayHandover | None = None
    model: str | None = None
    pcs_serials: list[str] = field(default_factory=list)


def blockers(gateway: Gateway) -> list:
    """Why this gateway cannot be handed over now (messages for its owner), or []."""
    return registry.handover_blockers(gateway)


def _well_formed(gateway_id) -> bool:
    """A ゲートウェイID as printed (12 capitals and digits): anything else (NUL bytes,
    which PostgreSQL refuses in text, included) is nobody's gateway."""
    return isinstance(gateway_id, str) and GATEWAY_ID.fullmatch(gateway_id) is not None


def _owned_locked(owner: Account, gateway_id: str) -> Gateway | None:
    if not _well_formed(gateway_id):
        return None
    return db.session.scalar(
        select(Gateway)
        .where(Gateway.gateway_id == gateway_id, Gateway.owner_id == owner.id,
               Gateway.status.in_([s.value for s in MANAGEABLE_STATUSES]))
        .with_for_update().execution_options(populate_existing=True))


def _recent_handover(owner: Account, gateway_id: str) -> GatewayHandover | None:
    """This owner's newest hand-over of this gateway, if it is the gateway's latest."""
    if not _well_formed(gateway_id):
        return None
    return db.session.scalar(
        select(GatewayHandover).join(Gateway, Gateway.id == GatewayHandover.gateway_id)
        .where(Gateway.gateway_id == gateway_id,
               GatewayHandover.previous_owner_id == owner.id,
               GatewayHandover.handed_over_at == Gateway.history_from)
        .order_by(GatewayHandover.handed_over_at.desc()).limit(1))


def _owned_from(gateway: Gateway, now: datetime) -> datetime:
    """Where the owner's history begins: the hand-over to them when there was one, else
    what they could see from the start (registration, or the first report if earlier)."""
    if gateway.history_from is not None:
        return gateway.history_from
    candidates = [t for t in (gateway.registered_at, gateway.first_report_at) if t]
    return min(candidates) if candidates else now


def hand_over(owner: Account, gateway_id: str, password: str,
              now: datetime | None = None) -> Handover:
    """Hand the owner's gateway over (see the module's docstring). `password` is the
    owner's current password. Commits on success; changes nothing otherwise."""
    now = now or utcnow()
    gateway = _owned_locked(owner, gateway_id)
    if gateway is None:
        db.session.rollback()
        if _recent_handover(owner, gateway_id) is not None:
            return Handover(HandoverResult.ALREADY, gateway_id=gateway_id)
        return Handover(HandoverResult.NOT_FOUND)
    reasons = blockers(gateway)
    if reasons:
        db.session.rollback()
        return Handover(HandoverResult.BLOCKED, reasons=reasons)
    if not isinstance(password, str) or not verify_password(owner.password_hash, password):
        audit.record("gateway.handover_failed", actor_id=owner.id, subject_id=owner.id,
                     gateway_id=gateway.gateway_id, reason="wrong_password")
        db.session.commit()
        return Handover(HandoverResult.WRONG_PASSWORD)

    slip_password = random_slip_password()
    record = GatewayHandover(gateway_id=gateway.id, previous_owner_id=owner.id,
                             site_name=gateway.site_name, owned_from=_owned_from(gateway, now),
                             handed_over_at=now)
    db.session.add(record)
    # Mails name the site and address: written before those are cleared.
    dealers = linked_dealers(gateway)
    for linked in dealers:
        messages.send_dealer_unlinked_mail(dealer_addresses(linked.dealer), linked.dealer,
                                           linked.company, owner, gateway, now)
    # The services end what they gave for this gateway while it still has its owner.
    registry.gateway_event("handed_over", [gateway.id], now, "handed_over")
    removed = db.session.execute(
        delete(DealerLink).where(DealerLink.gateway_id == gateway.id),
        execution_options={"synchronize_session": False}).rowcount
    serials = [unit.serial for unit in gateway.units]
    messages.send_gateway_handover_mail(owner, gateway, record, slip_password, serials,
                                        [linked.company.name for linked in dealers],
                                        registration_url())
    gateway.slip_password_hash = hash_password(slip_password)
    gateway.status = GatewayStatus.UNREGISTERED
    gateway.owner_id = None
    gateway.registered_at = None
    gateway.history_from = now
    for name in ("site_name", "postal_code", "prefecture", "city", "street", "building"):
        setattr(gateway, name, None)
    audit.record("gateway.handover", actor_id=owner.id, subject_id=owner.id,
                 gateway_id=gateway.gateway_id, dealer_links=removed,
                 owned_from=record.owned_from.isoformat())
    db.session.commit()
    return Handover(HandoverResult.HANDED_OVER, gateway_id=gateway.gateway_id,
                    slip_password=slip_password, handover=record, model=gateway.model,
                    pcs_serials=serials)


def handover_preview(owner: Account, gateway_id: str) -> Gateway | None:
    """The owner's gateway in service for the confirmation page, or None (404)."""
    return owned_gateway(owner, gateway_id) if _well_formed(gateway_id) else None


# -- the previous owner's history ---------------------------------------------------------
def owner_handovers(owner: Account) -> list[tuple[GatewayHandover, str]]:
    """The owner's hand-overs, newest first, with each gateway's ID."""
    return list(db.session.execute(
        select(GatewayHandover, Gateway.gateway_id)
        .join(Gateway, Gateway.id == GatewayHandover.gateway_id)
        .where(GatewayHandover.previous_owner_id == owner.id)
        .order_by(GatewayHandover.handed_over_at.desc(), GatewayHandover.id.desc())).tuples())


def has_handovers(owner: Account) -> bool:
    return db.session.scalar(select(GatewayHandover.id).where(
        GatewayHandover.previous_owner_id == owner.id).limit(1)) is not None


def owner_handover(owner: Account, handover_id) -> tuple[GatewayHandover, str] | None:
    """One of the owner's hand-overs with its gateway's ID; None for anyone else's."""
    if not isinstance(handover_id, int) or not 0 < handover_id < 2**63:
        return None
    row = db.session.execute(
        select(GatewayHandover, Gateway.gateway_id)
        .join(Gateway, Gateway.id == GatewayHandover.gateway_id)
        .where(GatewayHandover.id == handover_id,
               GatewayHandover.previous_owner_id == owner.id)).first()
    return tuple(row) if row is not None else None


def csv_filename(handover: GatewayHandover, gateway_id: str) -> str:
    start = handover.owned_from.astimezone(JST).strftime("%Y%m%d")
    end = handover.handed_over_at.astimezone(JST).strftime("%Y%m%d")
    return f"enelink_{gateway_id}_{start}-{end}.csv"


def handover_csv_rows(handover: GatewayHandover) -> Iterator[str]:
    """The previous owner's readings, owned_from ≤ t < handed_over_at, as CSV lines with
    the columns of the monitoring page's day CSV (UTF-8 with BOM); read in batches by
    timestamp (each read ends its transaction) so that a year of readings streams in
    bounded memory."""
    unit = "kW"
    header = [_("日時"), f"{_('発電')}({unit})", f"{_('消費')}({unit})",
              f"{_('自家消費')}({unit})", f"{_('自給')}({unit})", f"{_('売電')}({unit})",
              f"{_('買電')}({unit})", _("蓄電残量") + "(%)", _("蓄電池の動作状態")]
    labels = {key: str(value) for key, value in _BATTERY_LABELS.items()}
    gateway_pk, since, until = handover.gateway_id, handover.owned_from, handover.handed_over_at
    return _csv_lines(header, labels, gateway_pk, since, until)


def _csv_line(values) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(values)
    return buffer.getvalue()


def _csv_lines(header, labels, gateway_pk, since, until) -> Iterator[str]:
    yield "\ufeff" + _csv_line(header)
    after = None
    while True:
        statement = select(Reading.ts, Reading.pv_w, Reading.load_w, Reading.sell_w,
                           Reading.buy_w, Reading.soc, Reading.battery_state).where(
            Reading.gateway_id == gateway_pk, Reading.ts >= since, Reading.ts < until)
        if after is not None:
            statement = statement.where(Reading.ts > after)
        batch = db.session.execute(statement.order_by(Reading.ts).limit(CSV_BATCH)).all()
        db.session.commit()  # no transaction stays open while the client reads
        if not batch:
            return
        yield "".join(_csv_line([
            ts.astimezone(JST).strftime("%Y-%m-%d %H:%M"),
            *(f"{value / 1000:.3f}" for value in (
                pv, load, max(0, pv - sell), max(0, load - buy), sell, buy)),
            soc, labels.get(state, "")]) for ts, pv, load, sell, buy, soc, state in batch)
        if len(batch) < CSV_BATCH:
            return
        after = batch[-1][0]
