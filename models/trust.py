"""Trust controls of the ID: second sign-in steps (TOTP, passkeys, recovery codes), staff
roles, browsers an account signed in from, extra alert recipients, personal-data exports
and the hand-over of a gateway to the next owner of the house."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (BigInteger, ForeignKey, Index, Integer, LargeBinary, String,
                        UniqueConstraint, func)
from sqlalchemy.orm import Mapped, deferred, mapped_column

from models import Base, UTCDateTime, utcnow


class AccountTotp(Base):
    """The authenticator app of an account (one per account). `secret` is the base32 seed,
    encrypted with a key derived from SECRET_KEY; it counts only once `confirmed_at` is
    set (the owner typed a right code at set-up). `last_step` is the TOTP time step of
    the last accepted code: a code is accepted once."""

    __tablename__ = "account_totp"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"),
                                            unique=True)
    secret: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_step: Mapped[int | None] = mapped_column(BigInteger)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AccountPasskey(Base):
    """A WebAuthn credential (パスキー) of an account."""

    __tablename__ = "account_passkey"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"),
                                            index=True)
    # base64url of the credential id (at most 1023 bytes → 1364 characters)
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    transports: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RecoveryCode(Base):
    """One of the 10 one-time recovery codes of an account, stored hashed."""

    __tablename__ = "account_recovery_code"
    __table_args__ = (UniqueConstraint("account_id", "code_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"),
                                            index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StaffGrant(Base):
    """One role of a staff account (see `blueprints.core.staff.STAFF_ROLES`)."""

    __tablename__ = "staff_grant"
    __table_args__ = (UniqueConstraint("account_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"),
                                            index=True)
    role: Mapped[str] = mapped_column(String(20))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    granted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"))


class KnownBrowser(Base):
    """A browser an account signed in from (a random key in a long-lived cookie, stored
    hashed): a sign-in from a browser not known to the account is mailed."""

    __tablename__ = "known_browser"
    __table_args__ = (UniqueConstraint("account_id", "key_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"),
                                            index=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AlertRecipient(Base):
    """An extra address (a family member) that gets a gateway's alert mails once it
    confirmed by a link; at most ALERT_RECIPIENTS_MAX per gateway."""

    __tablename__ = "alert_recipient"

    id: Mapped[int] = mapped_column(primary_key=True)
    gateway_id: Mapped[int] = mapped_column(ForeignKey("gateway.id", ondelete="CASCADE"),
                                            index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"),
                                          index=True)
    email: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


Index("uq_alert_recipient_gateway_email", AlertRecipient.gateway_id,
      func.lower(AlertRecipient.email), unique=True)


class DataExport(Base):
    """A personal-data archive (個人データのダウンロード), built in the background; its bytes
    are kept in `DataExportChunk` pieces until it expires."""

    __tablename__ = "data_export"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"),
                                            index=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    size: Mapped[int | None] = mapped_column(BigInteger)


class DataExportChunk(Base):
    __tablename__ = "data_export_chunk"
    __table_args__ = (UniqueConstraint("export_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    export_id: Mapped[int] = mapped_column(ForeignKey("data_export.id", ondelete="CASCADE"),
                                           index=True)
    position: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = deferred(mapped_column(LargeBinary))


class GatewayHandover(Base):
    """A gateway handed to the next owner of the house (ゲートウェイの譲渡): the previous
    owner keeps its history from `owned_from` up to `handed_over_at` (their CSV); the
    next owner sees nothing before `Gateway.history_from`."""

    __tablename__ = "gateway_handover"

    id: Mapped[int] = mapped_column(primary_key=True)
    gateway_id: Mapped[int] = mapped_column(ForeignKey("gateway.id", ondelete="CASCADE"),
                                            index=True)
    previous_owner_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True)
    site_name: Mapped[str | None] = mapped_column(String(60))
    owned_from: Mapped[datetime] = mapped_column(UTCDateTime)
    handed_over_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
