"""Demo data: owner@example.com's monitored gateway (01AB00000001, model GW-M001,
eco-eligible) has accepted the 会員規約 and is in the programme, so that the points
service can seed a member on top (order 80)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from blueprints.account.services import find_account
from blueprints.eco.services import TERMS, first_pcs_serial
from blueprints.gateways.demo import DEMO_MONITORED_GATEWAY
from models import db, utcnow
from models.account import AccountConsent
from models.eco import EcoMembership
from models.gateway import Gateway

DEMO_APPLIED_DAYS_AGO = 30


def seed_demo_eco() -> list[str]:
    """Idempotent: creates only what is missing (a second `seed demo` changes nothing)."""
    owner = find_account("owner@example.com")
    gateway_id = DEMO_MONITORED_GATEWAY["gateway_id"]
    gateway = db.session.scalar(select(Gateway).where(Gateway.gateway_id == gateway_id))
    if owner is None or gateway is None or gateway.owner_id != owner.id:
        return []
    applied_at = utcnow() - timedelta(days=DEMO_APPLIED_DAYS_AGO)
    if db.session.scalar(select(AccountConsent.id).where(
            AccountConsent.account_id == owner.id, AccountConsent.document == TERMS)) is None:
        db.session.add(AccountConsent(account_id=owner.id, document=TERMS,
                                      accepted_at=applied_at))
    if db.session.scalar(select(EcoMembership.id).where(
            EcoMembership.gateway_id == gateway.id, EcoMembership.ended_at.is_(None))) is None:
        db.session.add(EcoMembership(gateway_id=gateway.id, account_id=owner.id,
                                     gateway_code=gateway.gateway_id,
                                     pcs_serial=first_pcs_serial(gateway),
                                     no_private_generator=True, no_other_scheme=True,
                                     applied_at=applied_at))
    db.session.commit()
    return [f"Eco programme: {gateway_id} (owner@example.com) is a member "
            f"(PCS {first_pcs_serial(gateway)})"]
