"""The points service (seed 001 §2): members earn points from the environmental value
of the self-consumed solar power of their eco-programme gateway, and exchange them.

The balance is a ledger (`PointsEntry`): accruals, exchanges and staff corrections are
rows that are added, never changed; the balance is their sum."""
from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from models import Base, UTCDateTime, utcnow


class PointsMember(Base):
    """One ID's membership of the points service, for one eco-programme gateway.

    The database holds the rules: one membership per ID ever (`account_id` unique: an ID
    that left cannot join again), and one running membership per gateway (partial unique
    index: after a house is sold, the gateway may join again under its new owner).
    `gateway_id` follows the gateway through an exchange. When the ID is deleted,
    `account_id` becomes NULL and the row and its ledger stay, with no name, e-mail or
    address: the operator's record of the credits it reported."""

    __tablename__ = "points_member"
    __table_args__ = (
        UniqueConstraint("account_id"),
        Index("uq_points_member_running_gateway", "gateway_id", unique=True,
              sqlite_where=text("left_at IS NULL"),
              postgresql_where=text("left_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    gateway_id: Mapped[int | None] = mapped_column(
        ForeignKey("gateway.id", ondelete="SET NULL"), index=True)
    # The eco membership whose ゲートウェイID + PCS製造番号 were given at STEP3.
    eco_membership_id: Mapped[int | None] = mapped_column(
        ForeignKey("eco_membership.id", ondelete="SET NULL"), index=True)
    service: Mapped[str] = mapped_column(String(20))  # STEP1: the monitoring service used
    # STEP4 太陽光発電設備/蓄電池設置先住所 when 「お客様住所と異なる」 (all NULL: the same
    # as the customer's address, which is the ID's own).
    install_postal_code: Mapped[str | None] = mapped_column(String(7))
    install_prefecture: Mapped[str | None] = mapped_column(String(10))
    install_city: Mapped[str | None] = mapped_column(String(60))
    install_street: Mapped[str | None] = mapped_column(String(100))
    install_building: Mapped[str | None] = mapped_column(String(100))
    terms_accepted_at: Mapped[datetime] = mapped_column(UTCDateTime)    # 利用規約
    privacy_accepted_at: Mapped[datetime] = mapped_column(UTCDateTime)  # 個人情報の取扱
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the ID was deleted: the member is kept under this row's id alone.
    pseudonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EntryKind(str, enum.Enum):
    ACCRUAL = "accrual"        # a month's self-consumed kWh × factor (the monthly job)
    EXCHANGE = "exchange"      # points exchanged for an item of the catalogue (negative)
    CORRECTION = "correction"  # added or taken by staff, with a reason


class PointsEntry(Base):
    """One line of a member's ledger. An accrual is unique per member and month, so
    running the monthly job twice adds nothing (exchanges and corrections have no
    month, and NULLs never collide)."""

    __tablename__ = "points_entry"
    __table_args__ = (UniqueConstraint("member_id", "kind", "month"),
                      UniqueConstraint("request_key", "member_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("points_member.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    points: Mapped[int]                                 # signed: + earned, − spent
    month: Mapped[date | None]                          # accrual: the month's first day
    kwh: Mapped[Decimal | None] = mapped_column(Numeric(12, 3))     # accrual: 自家消費 kWh
    factor: Mapped[Decimal | None] = mapped_column(Numeric(8, 3))   # accrual: points per kWh
    item: Mapped[str | None] = mapped_column(String(20))  # exchange: catalogue code
    # exchange: the key its confirmation page carried; unique per member, so a double
    # submit (two tabs, a retry) can add one entry only
    request_key: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(String(200))  # correction: the reason
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"))     # correction: the staff member
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
