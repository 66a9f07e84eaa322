"""Demo data for `make run`: three unregistered slips to try the registration with, and
owner@example.com's gateway in service (linked to the demo dealer), which the monitoring
service's simulator feeds."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from blueprints.account.services import find_account
from blueprints.dealers.services import dealer_for_account
from blueprints.gateways.slips import new_gateway, random_slip_password
from models import db, utcnow
from models.account import Account
from models.gateway import DealerLink, Gateway, GatewayStatus

# Fixed slips so that the README can name them; typed from "paper" at /monitoring/register.
DEMO_SLIPS = [
    dict(gateway_id="01AB12345678", password="demoslip0001", model="GW-M001",
         serials=("DM000001",)),
    dict(gateway_id="01AB12345679", password="demoslip0002", model="GW-M001",
         serials=("DM000002", "DM000003")),
    dict(gateway_id="01AB12345680", password="demoslip0003", model="GW-M002",
         serials=("DM000004",)),
]


def seed_demo_slips() -> list[str]:
    """Create the demo slips' gateways that are missing (unowned) and describe them."""
    existing = set(db.session.scalars(select(Gateway.gateway_id).where(
        Gateway.gateway_id.in_([spec["gateway_id"] for spec in DEMO_SLIPS]))))
    lines = ["Demo slips (ゲートウェイID / パスワード / 機種 / PCS製造番号):"]
    for spec in DEMO_SLIPS:
        if spec["gateway_id"] not in existing:
            new_gateway(spec["gateway_id"], spec["password"], spec["model"], spec["serials"])
        lines.append(f"  {spec['gateway_id']}  {spec['password']}  {spec['model']}  "
                     + " ".join(spec["serials"]))
    db.session.commit()
    return lines


# The owner's gateway in service, fed by `flask --app app gateways simulate` (run by
# `make run`); its device key is fixed so that the README can show a request of the API.
DEMO_MONITORED_GATEWAY = dict(
    gateway_id="01AB00000001", model="GW-M001", serials=("DM000101", "DM000102"),
    api_key="gwk_demo_01AB00000001",
)
DEMO_MONITORED_SITE = dict(
    site_name="山田様邸", postal_code="1540017", prefecture="東京都", city="世田谷区",
    street="世田谷4-21-1", building=None,
)
DEMO_MONITORED_IDS = (DEMO_MONITORED_GATEWAY["gateway_id"],)
DEMO_REGISTERED_DAYS_AGO = 40


def seed_demo_monitored_gateway() -> list[str]:
    """owner@example.com's gateway, ACTIVE since 40 days ago and linked to the demo
    dealer. Created when missing, and claimed again when an account deletion released it
    (its slip password is random: nobody else registers it)."""
    owner = find_account("owner@example.com")
    if owner is None:
        return []
    spec = DEMO_MONITORED_GATEWAY
    gateway = db.session.scalar(select(Gateway).where(Gateway.gateway_id == spec["gateway_id"]))
    if gateway is None:
        gateway = new_gateway(spec["gateway_id"], random_slip_password(), spec["model"],
                              spec["serials"], spec["api_key"])
    if gateway.status == GatewayStatus.UNREGISTERED and gateway.owner_id is None:
        gateway.owner_id, gateway.status = owner.id, GatewayStatus.ACTIVE
        gateway.registered_at = utcnow() - timedelta(days=DEMO_REGISTERED_DAYS_AGO)
        for name, value in DEMO_MONITORED_SITE.items():
            setattr(gateway, name, value)
        db.session.flush()
    if gateway.owner_id == owner.id:
        _link_demo_dealer(gateway, owner)
    db.session.commit()
    return [f"Demo monitored gateway: {spec['gateway_id']} ({DEMO_MONITORED_SITE['site_name']}, "
            f"owner@example.com, API key {spec['api_key']}), fed by `gateways simulate`"]


def _link_demo_dealer(gateway: Gateway, owner: Account) -> None:
    """Entrust the gateway to the demo dealer, unless it is already (no mail: seeding)."""
    admin = find_account("dealer@example.com")
    dealer = dealer_for_account(admin) if admin is not None else None
    if dealer is None or db.session.scalar(select(DealerLink.id).where(
            DealerLink.gateway_id == gateway.id, DealerLink.dealer_id == dealer.id)):
        return
    db.session.add(DealerLink(gateway_id=gateway.id, dealer_id=dealer.id,
                              linked_by_id=owner.id,
                              linked_at=gateway.registered_at or utcnow()))
