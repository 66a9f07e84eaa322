"""The eco programme (みんなでつくるエコ活, seed 001 §1 and seed 002 STEP4): an owner's
gateway joins the programme, whose members hand the environmental value of their
self-consumed solar power to the operator (会員規約 第3条-1)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from models import Base, UTCDateTime, utcnow


class EcoEnd:
    """Why a membership ended (`EcoMembership.end_reason`)."""

    CANCELLED = "cancelled"              # 解約 by the owner
    DISPOSED = "disposed"                # the gateway was disposed of (廃棄)
    RELEASED = "released"                # the owner gave the gateway up (a house sold)
    ACCOUNT_DELETED = "account_deleted"  # the owner deleted their ID


class EcoMembership(Base):
    """One gateway in the eco programme, applied for by its owner.

    At most one membership of a gateway is running (`ended_at` NULL): the partial unique
    index makes two tabs or two people applying at once end with one. A membership
    follows its gateway through an exchange (`gateway_id` and `gateway_code` move to the
    new gateway) and ends when the gateway is disposed of or released. Ended memberships
    stay: they are the operator's record of whose value it received, and when.

    `gateway_code` and `pcs_serial` are what the completion page and mail showed (the
    pair the points sign-up asks for); `account_id` becomes NULL when the ID is deleted."""

    __tablename__ = "eco_membership"
    __table_args__ = (
        Index("uq_eco_membership_running", "gateway_id", unique=True,
              sqlite_where=text("ended_at IS NULL"),
              postgresql_where=text("ended_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    gateway_id: Mapped[int | None] = mapped_column(
        ForeignKey("gateway.id", ondelete="SET NULL"), index=True)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), index=True)
    gateway_code: Mapped[str] = mapped_column(String(12))   # ゲートウェイID
    pcs_serial: Mapped[str] = mapped_column(String(8))      # パワーコンディショナ製造番号
    # The owner's declarations at 申込 (eligibility conditions nobody can measure).
    no_private_generator: Mapped[bool] = mapped_column(default=False)
    no_other_scheme: Mapped[bool] = mapped_column(default=False)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(20))


class EcoGuidance(Base):
    """The guidance mail 【みんなでつくるエコ活サークル お申込みのご案内】 went to this owner
    for this gateway (once: the unique pair makes a second sending impossible, also
    from two workers at once). A new owner of the same gateway gets their own."""

    __tablename__ = "eco_guidance"
    __table_args__ = (UniqueConstraint("gateway_id", "account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    gateway_id: Mapped[int] = mapped_column(ForeignKey("gateway.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
