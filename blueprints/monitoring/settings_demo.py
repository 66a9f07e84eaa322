"""Demo data for `make run`: the demo gateway's remote settings have a short history —
the factory defaults, a change by the owner and one by the demo dealer's administrator —
each acknowledged by the gateway, so the 設定 tab shows versions, who and 反映済み."""
from __future__ import annotations

from dataclasses import asdict, replace
from datetime import timedelta

from sqlalchemy import select

from blueprints.account.services import find_account
from blueprints.dealers.services import dealer_for_account
from blueprints.gateways.demo import DEMO_MONITORED_IDS
from blueprints.monitoring import settings
from models import db, utcnow
from models.gateway import Gateway
from models.remote import GatewaySettings


def seed_demo_settings() -> list[str]:
    """Versions 2 (owner: 充電 09:00–16:00, 放電下限 20 %) and 3 (the demo dealer:
    放電下限 30 %) of the demo gateway, when it has no change yet (idempotent)."""
    owner = find_account("owner@example.com")
    dealer_admin = find_account("dealer@example.com")
    dealer = dealer_for_account(dealer_admin) if dealer_admin is not None else None
    lines = []
    for gateway_id in DEMO_MONITORED_IDS:
        gateway = db.session.scalar(select(Gateway).where(Gateway.gateway_id == gateway_id))
        if gateway is None or owner is None or gateway.owner_id != owner.id:
            continue
        first = settings.ensure_settings(gateway)
        if first.version > 1:
            continue
        now = utcnow()
        factory = settings.Values.of(first)
        by_owner = replace(factory, charge_start=9 * 60, charge_end=16 * 60, discharge_floor=20)
        steps = [(by_owner, owner, None, now - timedelta(days=20))]
        if dealer is not None:
            steps.append((replace(by_owner, discharge_floor=30), dealer_admin, dealer,
                          now - timedelta(days=10)))
        first.created_at = first.delivered_at = first.acked_at = (
            gateway.registered_at or now - timedelta(days=30))
        for version, (values, account, by_dealer, at) in enumerate(steps, start=2):
            db.session.add(GatewaySettings(
                gateway_id=gateway.id, version=version, changed_by_id=account.id,
                dealer_id=by_dealer.id if by_dealer else None, created_at=at,
                delivered_at=at + timedelta(minutes=3), acked_at=at + timedelta(minutes=5),
                **asdict(values)))
        db.session.commit()
        lines.append(f"Demo settings: {gateway_id} has {len(steps) + 1} versions "
                     "(設定 tab of the monitoring page)")
    return lines
