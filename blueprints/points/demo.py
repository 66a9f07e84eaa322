"""Demo data of the points ledger for `make run`: the demo owner is a points member of
the demo gateway (its accruals come from `flask points accrue --history` after the
simulated readings)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from models import db, utcnow
from models.eco import EcoMembership
from models.gateway import Gateway
from models.points import PointsMember

DEMO_GATEWAY_ID = "01AB00000001"  # the demo monitored gateway (gateways' demo data)
DEMO_SERIAL = "DM000101"
DEMO_DAYS_AGO = 40


def seed_demo_points_member() -> list[str]:
    """owner@example.com joins the points service with the demo gateway, once its eco
    membership runs (made here when the eco programme's demo data did not)."""
    from blueprints.account.services import find_account

    owner = find_account("owner@example.com")
    gateway = db.session.scalar(select(Gateway).where(Gateway.gateway_id == DEMO_GATEWAY_ID))
    if owner is None or gateway is None or gateway.owner_id != owner.id:
        return []
    since = utcnow() - timedelta(days=DEMO_DAYS_AGO)
    eco = db.session.scalar(select(EcoMembership).where(
        EcoMembership.gateway_id == gateway.id, EcoMembership.ended_at.is_(None)))
    if eco is None:
        eco = EcoMembership(gateway_id=gateway.id, account_id=owner.id,
                            gateway_code=gateway.gateway_id, pcs_serial=DEMO_SERIAL,
                            no_private_generator=True, no_other_scheme=True, applied_at=since)
        db.session.add(eco)
        db.session.flush()
    if db.session.scalar(select(PointsMember.id).where(PointsMember.account_id == owner.id)):
        db.session.commit()
        return ["Demo points member: owner@example.com (already)"]
    joined = eco.applied_at + timedelta(minutes=20)  # right after the eco completion page
    db.session.add(PointsMember(account_id=owner.id, gateway_id=gateway.id,
                                eco_membership_id=eco.id, service="monitoring",
                                terms_accepted_at=joined, privacy_accepted_at=joined,
                                joined_at=joined))
    db.session.commit()
    return [f"Demo points member: owner@example.com with {DEMO_GATEWAY_ID} "
            "(accruals: `flask points accrue --history`)"]
