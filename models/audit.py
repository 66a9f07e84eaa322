"""Audit rows: who did what that matters, and when."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models import Base, UTCDateTime, utcnow


class AuditEvent(Base):
    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    action: Mapped[str] = mapped_column(String(40), index=True)
    # The account that acted and the one acted upon; both are emptied when that
    # account is deleted, so that nothing of a deleted account remains.
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), index=True
    )
    subject_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), index=True
    )
    ip: Mapped[str | None] = mapped_column(String(45))
    # The ゲートウェイID the row is about (lifted from a `gateway_id` detail), for /staff/audit.
    gateway_id: Mapped[str | None] = mapped_column(String(12), index=True)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
