"""Remote settings of a storage system (遠隔設定): every change is a new numbered
version of the whole set, kept for the history list. The gateway reads the newest
version over the gateway API, applies it and acknowledges its number; a version is
反映待ち until then, 反映済み after (`acked_at`)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models import Base, UTCDateTime, utcnow


class GatewaySettings(Base):
    """One version of a gateway's settings. (gateway_id, version) is unique: two people
    saving at once both try to write version n+1, and one of them is told the other was
    first (never a silent overwrite)."""

    __tablename__ = "gateway_settings"
    __table_args__ = (UniqueConstraint("gateway_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    gateway_id: Mapped[int] = mapped_column(ForeignKey("gateway.id", ondelete="CASCADE"),
                                            index=True)
    version: Mapped[int]
    # 運転モード: "economy" (経済優先) / "green" (環境優先・自家消費) / "backup" (安心・蓄電優先)
    operation_mode: Mapped[str] = mapped_column(String(12))
    # 充電する時間帯: minutes after midnight (JST), in 30-minute steps; end may be < start
    # (a window over midnight).
    charge_start: Mapped[int] = mapped_column(SmallInteger)
    charge_end: Mapped[int] = mapped_column(SmallInteger)
    discharge_floor: Mapped[int] = mapped_column(SmallInteger)  # 放電下限の蓄電残量 %
    sell_when_discharging: Mapped[bool] = mapped_column(default=False)
    islanding: Mapped[str] = mapped_column(String(8))  # 停電時の自立運転: "auto" / "manual"
    # Who made it: an account (owner or a linked dealer's employee, with the dealer), or
    # nobody (the factory defaults written at the first read).
    changed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"))
    dealer_id: Mapped[int | None] = mapped_column(ForeignKey("dealer.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the gateway first fetched this version, and when it said it applied it.
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
