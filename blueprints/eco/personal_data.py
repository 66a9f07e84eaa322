"""What the eco programme keeps about an account, for 個人データのダウンロード: its
memberships (running and ended) with the declarations made at 申込."""
from __future__ import annotations

from sqlalchemy import select

from blueprints.account.data_export import Table, iso
from models import db
from models.eco import EcoMembership


def eco_tables(account) -> dict:
    memberships = db.session.scalars(select(EcoMembership)
                                     .where(EcoMembership.account_id == account.id)
                                     .order_by(EcoMembership.applied_at))
    return {"memberships": Table(
        ("gateway_id", "pcs_serial", "no_private_generator", "no_other_scheme", "applied_at",
         "ended_at", "end_reason"),
        [{"gateway_id": m.gateway_code, "pcs_serial": m.pcs_serial,
          "no_private_generator": m.no_private_generator, "no_other_scheme": m.no_other_scheme,
          "applied_at": iso(m.applied_at), "ended_at": iso(m.ended_at),
          "end_reason": m.end_reason} for m in memberships])}
