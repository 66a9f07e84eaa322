"""What the points service keeps about an account, for 個人データのダウンロード: its
membership (with the STEP4 installation address) and its ledger, entry by entry (read
`yield_per` at a time). The staff member behind a correction is not named."""
from __future__ import annotations

from sqlalchemy import select

from blueprints.account.data_export import Table, iso, streamed
from models import db
from models.gateway import Gateway
from models.points import PointsEntry, PointsMember

MEMBER_COLUMNS = ("gateway_id", "service", "install_postal_code", "install_prefecture",
                  "install_city", "install_street", "install_building", "terms_accepted_at",
                  "privacy_accepted_at", "joined_at", "left_at")
ENTRY_COLUMNS = ("created_at", "kind", "points", "month", "kwh", "factor", "item", "note")


def points_tables(account) -> dict:
    member = db.session.scalar(select(PointsMember).where(PointsMember.account_id == account.id))
    members = []
    if member is not None:
        code = db.session.scalar(select(Gateway.gateway_id)
                                 .where(Gateway.id == member.gateway_id)) \
            if member.gateway_id else None
        members.append({
            "gateway_id": code, "service": member.service,
            "install_postal_code": member.install_postal_code,
            "install_prefecture": member.install_prefecture,
            "install_city": member.install_city, "install_street": member.install_street,
            "install_building": member.install_building,
            "terms_accepted_at": iso(member.terms_accepted_at),
            "privacy_accepted_at": iso(member.privacy_accepted_at),
            "joined_at": iso(member.joined_at), "left_at": iso(member.left_at)})
    member_id = member.id if member is not None else None
    statement = (select(PointsEntry.created_at, PointsEntry.kind, PointsEntry.points,
                        PointsEntry.month, PointsEntry.kwh, PointsEntry.factor, PointsEntry.item,
                        PointsEntry.note)
                 .where(PointsEntry.member_id == member_id)
                 .order_by(PointsEntry.created_at, PointsEntry.id))
    entries = streamed(statement, lambda row: {
        "created_at": iso(row.created_at), "kind": row.kind, "points": row.points,
        "month": iso(row.month), "kwh": None if row.kwh is None else str(row.kwh),
        "factor": None if row.factor is None else str(row.factor), "item": row.item,
        "note": row.note}) if member_id is not None else []
    return {"members": Table(MEMBER_COLUMNS, members), "entries": Table(ENTRY_COLUMNS, entries)}
