"""Gateways and their power-conditioner units, from the paper slip to retirement."""
from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import JST, Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from models.account import Company


class GatewayStatus(str, enum.Enum):
    UNREGISTERED = "unregistered"  # issued on a slip, nobody owns it yet
    PROVISIONAL = "provisional"    # claimed at STEP2; the owner has not set a password yet
    ACTIVE = "active"              # owned and reporting
    RETIRED = "retired"            # exchanged or disposed of: can no longer report


class Gateway(Base):
    """One gateway, as printed on its slip (ゲートウェイID + ゲートウェイパスワード).

    The owner and the site (案件, installation address) belong to the registration; an
    exchange moves them to the new gateway."""

    __tablename__ = "gateway"
    __table_args__ = (
        # The dealer console's substring search (ゲートウェイID, 案件) on PostgreSQL:
        # pg_trgm GIN indexes serve ILIKE '%…%' (migration 0012).
        Index("ix_gateway_gateway_id_trgm", "gateway_id", postgresql_using="gin",
              postgresql_ops={"gateway_id": "gin_trgm_ops"}).ddl_if(dialect="postgresql"),
        Index("ix_gateway_site_name_trgm", "site_name", postgresql_using="gin",
              postgresql_ops={"site_name": "gin_trgm_ops"}).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    gateway_id: Mapped[str] = mapped_column(String(12), unique=True)
    slip_password_hash: Mapped[str] = mapped_column(String(255))
    model: Mapped[str] = mapped_column(String(20))
    status: Mapped[GatewayStatus] = mapped_column(String(12), default=GatewayStatus.UNREGISTERED,
                                                  index=True)
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), index=True)

    site_name: Mapped[str | None] = mapped_column(String(60))
    postal_code: Mapped[str | None] = mapped_column(String(7))
    prefecture: Mapped[str | None] = mapped_column(String(10))
    city: Mapped[str | None] = mapped_column(String(60))
    street: Mapped[str | None] = mapped_column(String(100))
    building: Mapped[str | None] = mapped_column(String(100))

    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_report_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # 初回通信日時
    # The newest reading's timestamp: what the status line and the silence check read.
    # Not indexed: every reading updates it, and an update of an unindexed column is HOT.
    last_reading_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The device's credential for the gateway API (issued with the slip), stored hashed.
    api_key_hash: Mapped[str | None] = mapped_column(String(64))
    api_key_issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replaced_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("gateway.id", ondelete="SET NULL"))
    # 運転開始日 as set by staff or by the owner's product registration; when unset, the
    # day of the first reading (`operation_start` answers either).
    operation_started_on: Mapped[date | None]
    # The start of what the current owner may see (readings, rollups, alerts): set when
    # the gateway is handed to the next owner of the house (ゲートウェイの譲渡).
    history_from: Mapped[datetime | None] = mapped_column(UTCDateTime)

    units: Mapped[list[PcsUnit]] = relationship(
        back_populates="gateway", cascade="all, delete-orphan", passive_deletes=True,
        order_by="PcsUnit.unit_no")
    dealer_links: Mapped[list[DealerLink]] = relationship(
        back_populates="gateway", cascade="all, delete-orphan", passive_deletes=True,
        order_by="DealerLink.linked_at")

    @property
    def operation_start(self) -> date | None:
        """運転開始日: the date set for it, else the (Japanese) day of the first reading."""
        if self.operation_started_on is not None:
            return self.operation_started_on
        if self.first_report_at is None:
            return None
        return self.first_report_at.astimezone(JST).date()

    @property
    def address(self) -> str:
        parts = [self.prefecture, self.city, self.street, self.building]
        return " ".join(part for part in parts if part)


class SlipAttempt(Base):
    """A check of a slip password (registration, adding a gateway, an exchange), kept
    when it failed: failures are counted per client address and per account, never per
    gateway, so that nobody can lock a gateway for the holder of its slip. A check in
    progress has its row too (removed when the slip was right): concurrent guesses
    all count."""

    __tablename__ = "slip_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    client: Mapped[str | None] = mapped_column(String(45), index=True)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True)


class PcsUnit(Base):
    """A power conditioner (パワーコンディショナ) connected to a gateway."""

    __tablename__ = "pcs_unit"
    __table_args__ = (UniqueConstraint("gateway_id", "unit_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    gateway_id: Mapped[int] = mapped_column(ForeignKey("gateway.id", ondelete="CASCADE"),
                                            index=True)
    unit_no: Mapped[int]
    model: Mapped[str] = mapped_column(String(20))
    serial: Mapped[str] = mapped_column(String(8), index=True)  # 製造番号

    gateway: Mapped[Gateway] = relationship(back_populates="units")


class Dealer(Base):
    """A company that maintains owners' systems: known to owners by its 販売店ID and
    registered phone number, both of which an owner must give to link it."""

    __tablename__ = "dealer"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"),
                                            unique=True)
    dealer_code: Mapped[str] = mapped_column(String(10), unique=True)  # 販売店ID
    phone: Mapped[str] = mapped_column(String(15))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # How many links the dealer has (the console's 全N件 without counting thousands of
    # index entries per page): kept by database triggers on dealer_link (migration 0014);
    # the application never writes it.
    link_count: Mapped[int] = mapped_column(default=0, server_default="0")

    # the dealer's company (its name heads the console; dealer_for_account loads it
    # with the dealer)
    company: Mapped[Company] = relationship(viewonly=True)
    contacts: Mapped[list[DealerContact]] = relationship(
        back_populates="dealer", cascade="all, delete-orphan", passive_deletes=True,
        order_by="DealerContact.id")
    links: Mapped[list[DealerLink]] = relationship(
        back_populates="dealer", cascade="all, delete-orphan", passive_deletes=True)


class DealerContact(Base):
    """A maintenance contact address of a dealer (alert and link mails go here)."""

    __tablename__ = "dealer_contact"
    __table_args__ = (UniqueConstraint("dealer_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealer.id", ondelete="CASCADE"),
                                           index=True)
    email: Mapped[str] = mapped_column(String(254))

    dealer: Mapped[Dealer] = relationship(back_populates="contacts")


class DealerLink(Base):
    """An owner trusts a dealer with the maintenance of one gateway (at most 5 per gateway)."""

    __tablename__ = "dealer_link"
    __table_args__ = (
        UniqueConstraint("gateway_id", "dealer_id"),
        # The dealer console: a dealer's links in their order (in alert first, then
        # newest link first: read backwards), with the gateway, so that a page's links
        # and a deep page's offset are read from this index alone (migrations 0012,
        # 0015). Its first column also serves what the former index on dealer_id did.
        Index("ix_dealer_link_console_order", "dealer_id", "alerting", "linked_at", "id",
              "gateway_id"),
        # The console's substring search on PostgreSQL, scoped to the dealer: one GIN
        # index of the dealer (btree_gin) and the trigrams of the copies below
        # (migration 0014). SQLite has an FTS5 trigram table instead (dealer_link_fts).
        Index("ix_dealer_link_search_trgm", "dealer_id", "search_email", "search_gateway_id",
              "search_site_name", postgresql_using="gin",
              postgresql_ops={"search_email": "gin_trgm_ops",
                              "search_gateway_id": "gin_trgm_ops",
                              "search_site_name": "gin_trgm_ops"}).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    gateway_id: Mapped[int] = mapped_column(ForeignKey("gateway.id", ondelete="CASCADE"),
                                            index=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealer.id", ondelete="CASCADE"))
    linked_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"))
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # What the console's search looks at, copied onto the link so that the search is an
    # index lookup among the dealer's links: the owner's e-mail, the gateway's ID and
    # site name (案件). Database triggers (migration 0014) write them when a link is made
    # and when the account's e-mail or the gateway's ID, site or owner changes, whoever
    # changes them; the application never writes them.
    search_email: Mapped[str | None] = mapped_column(String(254))
    search_gateway_id: Mapped[str | None] = mapped_column(String(12))
    search_site_name: Mapped[str | None] = mapped_column(String(60))
    # Whether the gateway has an open 異常 or 通信途絶 alert (the console lists those
    # first). Database triggers (migration 0015) keep it as alerts open, end or go away
    # and when a link is made; the application never writes it.
    alerting: Mapped[bool] = mapped_column(Boolean, server_default=false())

    gateway: Mapped[Gateway] = relationship(back_populates="dealer_links")
    dealer: Mapped[Dealer] = relationship(back_populates="links")


MAX_DEALERS_PER_GATEWAY = 5


class SystemModel(Base):
    """The catalogue of storage-system models (システム機種), kept by staff and seeded from
    config. `code` is the model printed on a gateway's slip (`Gateway.model`). The eco
    programme reads `eco_eligible`, product registration the warranty years (standard,
    and the extension for registering in time), the help pages `manual_url`. A model
    no longer sold stays (products refer to it) but is no longer offered (`offered`)."""

    __tablename__ = "system_model"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    storage_kwh: Mapped[float | None]
    eco_eligible: Mapped[bool] = mapped_column(default=False)
    warranty_years: Mapped[int] = mapped_column(default=10)
    extension_years: Mapped[int] = mapped_column(default=0)
    manual_url: Mapped[str | None] = mapped_column(String(255))
    offered: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
