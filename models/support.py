"""The support center (seed 000 §4-7): cases with their thread and files, phone-support
requests, the categories a case is filed under, knowledge-base articles and device
unlock codes.

A case is never lost: its rows outlive the account that filed it (the account becomes
NULL on deletion) and a case is stored together with its first message and files in one
transaction, or not at all."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (ForeignKey, Integer, LargeBinary, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from models import Base, UTCDateTime, utcnow


class CaseState(str, enum.Enum):
    NEW = "new"            # 新規: nobody at support has answered yet
    OPEN = "open"          # 対応中
    WAITING = "waiting"    # お客様回答待ち
    RESOLVED = "resolved"  # 解決 (the customer may still reply: it reopens)
    CLOSED = "closed"      # クローズ (final: a new question is a new case)


class SupportCategory(Base):
    """サポート内容: a choice of the case form, kept by staff (not code)."""

    __tablename__ = "support_category"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    details: Mapped[list[SupportDetail]] = relationship(
        back_populates="category", cascade="all, delete-orphan", passive_deletes=True,
        order_by="(SupportDetail.position, SupportDetail.id)")


class SupportDetail(Base):
    """詳細: the choices that depend on サポート内容."""

    __tablename__ = "support_detail"
    __table_args__ = (UniqueConstraint("category_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(
        ForeignKey("support_category.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    category: Mapped[SupportCategory] = relationship(back_populates="details")


class SupportCase(Base):
    """One case (ケース). `number` is its public ケース番号: 9 digits starting with 4, drawn at
    random (never a sequence). A company member's case belongs to the company as well:
    every member sees it."""

    __tablename__ = "support_case"
    __table_args__ = (UniqueConstraint("account_id", "request_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(9), unique=True)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), index=True)
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("company.id", ondelete="SET NULL"), index=True)
    # The form's one-time key: a second submission of the same form finds this case.
    request_key: Mapped[str | None] = mapped_column(String(40))

    subject: Mapped[str] = mapped_column(String(100))                  # 件名
    site_name: Mapped[str] = mapped_column(String(60))                 # 発電所名
    gateway_id: Mapped[int | None] = mapped_column(
        ForeignKey("gateway.id", ondelete="SET NULL"), index=True)     # the chosen site
    device_type: Mapped[str | None] = mapped_column(String(40))        # 機器タイプ
    serial: Mapped[str | None] = mapped_column(String(20), index=True)  # 製造番号
    error_code: Mapped[str | None] = mapped_column(String(100))        # エラーコード
    error_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("support_category.id", ondelete="SET NULL"))         # サポート内容
    detail_id: Mapped[int | None] = mapped_column(
        ForeignKey("support_detail.id", ondelete="SET NULL"))           # 詳細
    # The names as chosen, kept should staff later rename or remove a choice.
    category_name: Mapped[str] = mapped_column(String(60))
    detail_name: Mapped[str | None] = mapped_column(String(60))

    state: Mapped[CaseState] = mapped_column(String(10), default=CaseState.NEW, index=True)
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # The last message (staff or customer) or state change: the lists' 最終更新.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    messages: Mapped[list[SupportMessage]] = relationship(
        back_populates="case", cascade="all, delete-orphan", passive_deletes=True,
        order_by="SupportMessage.id")


class SupportMessage(Base):
    """One entry of a case's thread: the customer's inquiry (the first), a reply from
    either side, or an internal note of staff (`internal`, never shown or mailed to
    the customer)."""

    __tablename__ = "support_message"
    __table_args__ = (UniqueConstraint("case_id", "request_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("support_case.id", ondelete="CASCADE"),
                                         index=True)
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"))
    from_staff: Mapped[bool] = mapped_column(default=False)
    internal: Mapped[bool] = mapped_column(default=False)
    body: Mapped[str] = mapped_column(Text, default="")
    request_key: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[SupportCase] = relationship(back_populates="messages")
    files: Mapped[list[SupportFile]] = relationship(
        back_populates="message", order_by="SupportFile.id")


class SupportFile(Base):
    """An attached file. `name` is the user's file name for display and download only
    (cleaned; never a path). The bytes are in `support_file_chunk` (store "db") or in
    the configured directory under `store_key` (store "fs")."""

    __tablename__ = "support_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("support_case.id", ondelete="CASCADE"),
                                         index=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("support_message.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    content_type: Mapped[str] = mapped_column(String(80))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    store: Mapped[str] = mapped_column(String(4), default="db")
    store_key: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    message: Mapped[SupportMessage] = relationship(back_populates="files")


class SupportFileChunk(Base):
    """A piece of a file kept in the database, read one by one when it is downloaded."""

    __tablename__ = "support_file_chunk"

    file_id: Mapped[int] = mapped_column(ForeignKey("support_file.id", ondelete="CASCADE"),
                                         primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))


class PhoneRequestState(str, enum.Enum):
    REQUESTED = "requested"  # 受付済み (waiting for support)
    CONFIRMED = "confirmed"  # 確定
    DECLINED = "declined"    # お受けできません


class PhoneRequest(Base):
    """A request for phone support on a case at a slot (seed 000 注意事項 条件1-3)."""

    __tablename__ = "support_phone_request"
    __table_args__ = (UniqueConstraint("case_id", "request_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("support_case.id", ondelete="CASCADE"),
                                         index=True)
    requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"))
    contact_name: Mapped[str] = mapped_column(String(40))   # ご担当者名
    phone: Mapped[str] = mapped_column(String(15))          # 連絡先
    topic: Mapped[str] = mapped_column(Text)                # 具体的な内容
    slot_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    state: Mapped[PhoneRequestState] = mapped_column(String(10),
                                                     default=PhoneRequestState.REQUESTED,
                                                     index=True)
    staff_note: Mapped[str | None] = mapped_column(String(500))
    decided_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    request_key: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class KbArticle(Base):
    """A knowledge-base article of セルフヘルプ, written by staff. Searched by n-grams:
    SQLite's FTS5 trigram table `kb_article_fts` (kept by triggers) or PostgreSQL's
    pg_trgm GIN indexes, both made by the migration."""

    __tablename__ = "kb_article"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("support_category.id", ondelete="SET NULL"), index=True)
    published: Mapped[bool] = mapped_column(default=False, index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class UnlockCode(Base):
    """A settings-unlock code (the manual's PUK) for one unit of a gateway: issued to a
    linked dealer, shown once, stored hashed, single use, valid until `expires_at`."""

    __tablename__ = "support_unlock_code"
    __table_args__ = (UniqueConstraint("dealer_id", "request_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The dealer company it was issued to: its daily count and its history, whoever of
    # its employees asked (and even after that employee left).
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealer.id", ondelete="CASCADE"),
                                           index=True)
    # The page's one-time key: the same form posted twice issues one code.
    request_key: Mapped[str | None] = mapped_column(String(40))
    gateway_id: Mapped[int] = mapped_column(ForeignKey("gateway.id", ondelete="CASCADE"),
                                            index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("pcs_unit.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

