"""Alerts of a gateway: an error code reported by a power conditioner, or silence (no
reading for longer than GATEWAY_SILENCE_MINUTES, 通信途絶).

An alert is one incident from its start to its recovery: the owner and the maintenance
contacts of every linked dealer get one mail when it opens and one when it ends, however
many readings come in between. At most one alert of a kind is open per gateway (a partial
unique index says so too), and every change happens while the gateway row is locked."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, select
from sqlalchemy.exc import IntegrityError

from blueprints.core import audit, registry
from blueprints.dealers.services import dealer_addresses, linked_dealers
from mail import messages
from models import db, utcnow
from models.account import Account
from models.gateway import Gateway, GatewayStatus
from models.telemetry import AlertKind, GatewayAlert


def silence_threshold() -> timedelta:
    return timedelta(minutes=current_app.config["GATEWAY_SILENCE_MINUTES"])


def open_alerts(gateway_pk: int) -> dict[str, GatewayAlert]:
    rows = db.session.scalars(select(GatewayAlert).where(
        GatewayAlert.gateway_id == gateway_pk, GatewayAlert.ended_at.is_(None)))
    return {alert.kind: alert for alert in rows}


def _notify(gateway: Gateway, alert: GatewayAlert, recovered: bool, now: datetime) -> None:
    """Queue the mails of an opened or ended alert (in the caller's transaction)."""
    owner = db.session.get(Account, gateway.owner_id) if gateway.owner_id else None
    actions = registry.alert_actions_for(gateway, alert)
    if owner is not None and owner.is_active:
        messages.send_gateway_alert_mail(owner.email, owner.language, gateway, alert,
                                         recovered, now, owner, actions=actions)
    for linked in linked_dealers(gateway):
        for address in dealer_addresses(linked.dealer):
            messages.send_gateway_alert_mail(address, "ja", gateway, alert, recovered, now,
                                             owner, company=linked.company, actions=actions)
    # >>> recipients: every confirmed extra recipient, one mail each, with its stop link
    from blueprints.monitoring import recipients
    recipients.notify(gateway, alert, recovered, now, owner)
    # <<< recipients
    audit.record("gateway.alert_ended" if recovered else "gateway.alert_opened",
                 gateway_id=gateway.gateway_id, kind=alert.kind,
                 error_codes=alert.error_codes)


def _open(gateway: Gateway, kind: AlertKind, started_at: datetime, codes: str | None,
          now: datetime) -> GatewayAlert:
    alert = GatewayAlert(gateway_id=gateway.id, kind=kind.value, started_at=started_at,
                         error_codes=codes or None)
    db.session.add(alert)
    db.session.flush()
    _notify(gateway, alert, False, now)
    return alert


def _close(gateway: Gateway, alert: GatewayAlert, now: datetime) -> None:
    alert.ended_at = now
    alert.ended_by = "recovered"
    _notify(gateway, alert, True, now)


def observe_newest(gateway: Gateway, has_error: bool, codes: str, now: datetime,
                   since: datetime | None = None) -> None:
    """After `gateway` (locked by the caller) got a reading newer than any before: open
    an error alert for an error code (begun at `since`, the first reading of the run of
    errors), end it when the units are back to normal, and end a silence alert once the
    readings are current again. The caller commits."""
    if GatewayStatus(gateway.status) != GatewayStatus.ACTIVE:
        return
    current = open_alerts(gateway.id)
    error = current.get(AlertKind.ERROR.value)
    if has_error and error is None:
        _open(gateway, AlertKind.ERROR, since or gateway.last_reading_at, codes, now)
    elif has_error and error is not None and codes and codes != error.error_codes:
        error.error_codes = codes[:200]
    elif not has_error and error is not None:
        _close(gateway, error, now)
    silent = current.get(AlertKind.SILENT.value)
    if silent is not None and gateway.last_reading_at >= now - silence_threshold():
        _close(gateway, silent, now)


def open_where_due(candidates: list[int], kind: AlertKind,
                   due_since: Callable[[Gateway], datetime | None], now: datetime) -> list[str]:
    """Open a `kind` alert (and its mails) for each of the `candidates` (gateway ids) that
    is still in service and still due under its row lock: `due_since(gateway)` says
    since when, or None when it no longer is (a reading or an acknowledgement came
    meanwhile). Each gateway in its own transaction, so that a second watcher running
    alongside never makes a second alert. The gateway IDs of the alerts opened."""
    opened = []
    for gateway_pk in candidates:
        gateway = db.session.scalar(select(Gateway).where(Gateway.id == gateway_pk)
                                    .with_for_update()
                                    .execution_options(populate_existing=True))
        started_at = (due_since(gateway) if gateway is not None
                      and GatewayStatus(gateway.status) == GatewayStatus.ACTIVE else None)
        if started_at is None:
            db.session.rollback()
            continue
        try:
            _open(gateway, kind, started_at, None, now)
            db.session.commit()
        except IntegrityError:  # another watcher opened it first
            db.session.rollback()
            continue
        opened.append(gateway.gateway_id)
    return opened


@dataclass
class WatchResult:
    opened: list[str]
    checked: int


def check_silence(now: datetime | None = None) -> WatchResult:
    """`flask --app app gateways watch`: open a silence alert (and mail) for every gateway
    in service that has reported before but not within the threshold. Each gateway is
    handled in its own transaction, under its row lock, so that a reading arriving at the
    same moment or a second watcher running alongside never makes a second alert.

    The candidates come from one pass over the gateways in service, once per round:
    `last_reading_at` has no index, because every reading updates it and an update of
    an indexed column is never HOT (a new index entry for each of 400 readings a second,
    to save this one scan a minute)."""
    now = now or utcnow()
    cutoff = now - silence_threshold()
    candidates = list(db.session.scalars(
        select(Gateway.id)
        .outerjoin(GatewayAlert, and_(GatewayAlert.gateway_id == Gateway.id,
                                      GatewayAlert.kind == AlertKind.SILENT.value,
                                      GatewayAlert.ended_at.is_(None)))
        .where(Gateway.status == GatewayStatus.ACTIVE.value,
               Gateway.first_report_at.is_not(None),
               Gateway.last_reading_at < cutoff,
               GatewayAlert.id.is_(None))
        .order_by(Gateway.id)))
    db.session.rollback()

    def still_silent(gateway: Gateway) -> datetime | None:
        if (gateway.last_reading_at is not None and gateway.last_reading_at < cutoff
                and AlertKind.SILENT.value not in open_alerts(gateway.id)):
            return gateway.last_reading_at
        return None

    opened = open_where_due(candidates, AlertKind.SILENT, still_silent, now)
    return WatchResult(opened=opened, checked=len(candidates))


# >>> remote: settings not applied by the gateway within SETTINGS_ACK_TIMEOUT_MINUTES
def end_unapplied(gateway: Gateway, now: datetime) -> None:
    """The newest settings were acknowledged: end an open 反映されていません alert (with
    its recovery mail). `gateway` is locked by the caller, who commits."""
    alert = open_alerts(gateway.id).get(AlertKind.UNAPPLIED.value)
    if alert is not None:
        _close(gateway, alert, now)
# <<< remote
