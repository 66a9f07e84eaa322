"""What gateways report: 5-minute readings, the daily and monthly energy kept as they
arrive (so that no page ever sums raw readings over a month or a year), and alerts.

Power is stored in watts (integers). A reading is the average power over the 5 minutes
ending at its timestamp, so its energy is `watts × 5 min`; the rollups keep the sums of
those watts per day and month (`*_wsum`), exact integers whatever the order readings
arrive in, and `energy_kwh()` turns a sum into kWh."""
from __future__ import annotations

import enum
from datetime import date, datetime, timedelta

from sqlalchemy import (JSON, BigInteger, Boolean, Date, ForeignKey, Index, Integer,
                        SmallInteger, String, text)
from sqlalchemy.orm import Mapped, mapped_column

from models import Base, UTCDateTime, utcnow

SLOT = timedelta(minutes=5)
SLOT_HOURS = SLOT.total_seconds() / 3600


def energy_kwh(watt_sum: int | None) -> float:
    """kWh of a sum of 5-minute average watts."""
    return (watt_sum or 0) * SLOT_HOURS / 1000


class BatteryState(str, enum.Enum):
    CHARGING = "charging"        # 充電
    DISCHARGING = "discharging"  # 放電
    STANDBY = "standby"          # 待機


class UnitStatus(str, enum.Enum):
    NORMAL = "normal"
    STANDBY = "standby"
    ERROR = "error"


class Reading(Base):
    """One 5-minute report of a gateway: averages over the 5 minutes ending at `ts`.
    The primary key (gateway, ts) makes a resent reading a duplicate, not a double."""

    __tablename__ = "gateway_reading"

    gateway_id: Mapped[int] = mapped_column(
        ForeignKey("gateway.id", ondelete="CASCADE"), primary_key=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    pv_w: Mapped[int] = mapped_column(Integer)        # 発電
    load_w: Mapped[int] = mapped_column(Integer)      # 消費
    battery_w: Mapped[int] = mapped_column(Integer)   # 蓄電池 (magnitude; see battery_state)
    battery_state: Mapped[str] = mapped_column(String(12))
    soc: Mapped[int] = mapped_column(SmallInteger)    # 蓄電残量 %
    sell_w: Mapped[int] = mapped_column(Integer)      # 売電
    buy_w: Mapped[int] = mapped_column(Integer)       # 買電
    # [{"unit": 1, "status": "normal" | "standby" | "error", "error_code": None | "E201"}]
    units: Mapped[list] = mapped_column(JSON)
    has_error: Mapped[bool] = mapped_column(Boolean, default=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def error_codes(self) -> list[str]:
        return [f"{u['unit']}:{u['error_code']}" for u in self.units or ()
                if u.get("error_code")]


def not_a_reading_partition(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's autogenerate (`flask db check`): the monthly partitions of
    gateway_reading on PostgreSQL (migration 0013) are not tables of the models."""
    return not (type_ == "table" and reflected and compare_to is None and name
                and name.startswith("gateway_reading_"))


class EnergySums:
    """The columns every rollup has: sums of 5-minute average watts, and the count."""

    slots: Mapped[int] = mapped_column(Integer, default=0)
    pv_wsum: Mapped[int] = mapped_column(BigInteger, default=0)         # 発電
    load_wsum: Mapped[int] = mapped_column(BigInteger, default=0)       # 消費
    self_wsum: Mapped[int] = mapped_column(BigInteger, default=0)       # 自家消費 (発電 − 売電)
    supplied_wsum: Mapped[int] = mapped_column(BigInteger, default=0)   # 自給 (消費 − 買電)
    sell_wsum: Mapped[int] = mapped_column(BigInteger, default=0)       # 売電
    buy_wsum: Mapped[int] = mapped_column(BigInteger, default=0)        # 買電
    charge_wsum: Mapped[int] = mapped_column(BigInteger, default=0)     # 充電
    discharge_wsum: Mapped[int] = mapped_column(BigInteger, default=0)  # 放電


SUM_COLUMNS = ("slots", "pv_wsum", "load_wsum", "self_wsum", "supplied_wsum", "sell_wsum",
               "buy_wsum", "charge_wsum", "discharge_wsum")


class DailyEnergy(EnergySums, Base):
    """A gateway's energy of one day (Japan time), kept up to date by every reading."""

    __tablename__ = "gateway_daily_energy"

    gateway_id: Mapped[int] = mapped_column(
        ForeignKey("gateway.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)


class MonthlyEnergy(EnergySums, Base):
    """A gateway's energy of one month (Japan time); `month` is its first day."""

    __tablename__ = "gateway_monthly_energy"

    gateway_id: Mapped[int] = mapped_column(
        ForeignKey("gateway.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)


class AlertKind(str, enum.Enum):
    ERROR = "error"    # a unit reported an error code
    SILENT = "silent"  # no reading for longer than the silence threshold (通信途絶)
    # remote settings saved but not acknowledged by the gateway within
    # SETTINGS_ACK_TIMEOUT_MINUTES (反映されていません)
    UNAPPLIED = "unapplied"


class GatewayAlert(Base):
    """One incident of a gateway, from its start to its recovery. While it is open
    (`ended_at` is NULL) there is at most one per gateway and kind: the owner and the
    linked dealers get one mail when it opens and one when it ends."""

    __tablename__ = "gateway_alert"
    __table_args__ = (
        Index("uq_gateway_alert_open", "gateway_id", "kind", unique=True,
              sqlite_where=text("ended_at IS NULL"),
              postgresql_where=text("ended_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    gateway_id: Mapped[int] = mapped_column(
        ForeignKey("gateway.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)   # when it was seen first
    error_codes: Mapped[str | None] = mapped_column(String(200))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_by: Mapped[str | None] = mapped_column(String(12))  # recovered / replaced / released
