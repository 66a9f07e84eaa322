"""The Enelink ID: accounts, companies of commercial accounts, phones and sign-in sessions."""
from __future__ import annotations

import enum
import secrets
from datetime import datetime
from typing import ClassVar

from flask_login import UserMixin
from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import Base, UTCDateTime, utcnow


class AccountType(str, enum.Enum):
    PERSONAL = "personal"
    COMMERCIAL = "commercial"


class Role(str, enum.Enum):
    USER = "user"
    STAFF = "staff"


class CompanyRole(str, enum.Enum):
    ADMIN = "admin"
    MEMBER = "member"


class Company(Base):
    """The company behind one or more commercial accounts (its employees).

    A company made from the monitoring registration (a first-time owner who gave a
    法人名) starts without what that form does not ask: 会社種類 stays empty until the
    administrator completes 会社情報, which asks for it."""

    __tablename__ = "company"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str | None] = mapped_column(String(40))
    registration_number: Mapped[str | None] = mapped_column(String(14))
    postal_code: Mapped[str] = mapped_column(String(7))
    prefecture: Mapped[str] = mapped_column(String(10))
    city: Mapped[str] = mapped_column(String(60))
    street: Mapped[str] = mapped_column(String(100))
    building: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254))
    website: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str] = mapped_column(String(15))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # 会社の検索: whether people signing up may find this company and ask to join it
    # (a setting of 会社情報; dealers are findable, other companies not unless they say so).
    findable: Mapped[bool] = mapped_column(default=False)

    members: Mapped[list[Account]] = relationship(back_populates="company")


def new_customer_number() -> str:
    """A お客様番号: 10 random digits, not starting with 0 (a public number, not a
    sequence: nobody learns from theirs how many customers there are or who came next)."""
    return str(secrets.randbelow(9 * 10**9) + 10**9)


class Account(UserMixin, Base):
    """One Enelink ID: one e-mail and one password for every service."""

    __tablename__ = "account"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    # お客様番号: shown on the owner's マイページ; what a dealer searches for. Every
    # account has one (the default here, and migration 0006 for older accounts); the
    # column stays nullable because SQLite cannot add a NOT NULL column in place.
    customer_number: Mapped[str | None] = mapped_column(String(10),
                                                        default=new_customer_number)
    password_hash: Mapped[str] = mapped_column(String(255))
    family_name: Mapped[str] = mapped_column(String(14))
    given_name: Mapped[str] = mapped_column(String(14))
    # フリガナ (full-width katakana): asked by the monitoring registration (required) and
    # by the sign-up (optional); the eco and points services need it.
    family_kana: Mapped[str | None] = mapped_column(String(30))
    given_kana: Mapped[str | None] = mapped_column(String(30))
    account_type: Mapped[AccountType] = mapped_column(String(12), default=AccountType.PERSONAL)
    role: Mapped[Role] = mapped_column(String(8), default=Role.USER)
    language: Mapped[str] = mapped_column(String(5), default="ja")

    postal_code: Mapped[str | None] = mapped_column(String(7))
    prefecture: Mapped[str | None] = mapped_column(String(10))
    city: Mapped[str | None] = mapped_column(String(60))
    street: Mapped[str | None] = mapped_column(String(100))
    building: Mapped[str | None] = mapped_column(String(100))

    department: Mapped[str | None] = mapped_column(String(60))
    position: Mapped[str | None] = mapped_column(String(60))

    company_id: Mapped[int | None] = mapped_column(ForeignKey("company.id", ondelete="SET NULL"))
    company_role: Mapped[CompanyRole | None] = mapped_column(String(8))

    newsletter: Mapped[bool] = mapped_column(default=False)
    terms_accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    privacy_accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    company: Mapped[Company | None] = relationship(back_populates="members")
    phones: Mapped[list[AccountPhone]] = relationship(
        back_populates="account",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="AccountPhone.position",
    )
    login_sessions: Mapped[list[LoginSession]] = relationship(
        back_populates="account", cascade="all, delete-orphan", passive_deletes=True
    )

    # Set by the user loader: the sign-in session this request belongs to.
    # The raw key of the sign-in session this request came with (never stored).
    login_session_key: ClassVar[str | None] = None

    @property
    def is_active(self) -> bool:  # Flask-Login: only opened accounts may sign in
        return self.activated_at is not None

    @property
    def is_commercial(self) -> bool:
        return self.account_type == AccountType.COMMERCIAL

    @property
    def is_staff(self) -> bool:
        return self.role == Role.STAFF

    @property
    def is_company_admin(self) -> bool:
        return self.company_id is not None and self.company_role == CompanyRole.ADMIN

    @property
    def full_name(self) -> str:
        return f"{self.family_name} {self.given_name}"

    @property
    def full_kana(self) -> str:
        return " ".join(part for part in (self.family_kana, self.given_kana) if part)

    @property
    def primary_phone(self) -> AccountPhone | None:
        return self.phones[0] if self.phones else None

    def get_id(self) -> str:
        """Flask-Login stores the sign-in session key, never the account id alone,
        so that signing out or changing the password refuses a replayed cookie."""
        if not self.login_session_key:
            raise RuntimeError("account has no sign-in session")
        return self.login_session_key


# One ID per address, whatever the case of its letters.
Index("uq_account_email_lower", func.lower(Account.email), unique=True)
Index("uq_account_customer_number", Account.customer_number, unique=True)
# The dealer console's search by the owner's e-mail (any part of it) on PostgreSQL: a
# pg_trgm GIN index serves ILIKE '%…%' (migration 0012).
Index("ix_account_email_trgm", Account.email, postgresql_using="gin",
      postgresql_ops={"email": "gin_trgm_ops"}).ddl_if(dialect="postgresql")


class AccountPhone(Base):
    """A phone number of an account; the first (position 0) is the main one."""

    __tablename__ = "account_phone"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(default=0)
    kind: Mapped[str] = mapped_column(String(12))
    number: Mapped[str] = mapped_column(String(15))

    account: Mapped[Account] = relationship(back_populates="phones")


class AccountConsent(Base):
    """A service's own terms accepted by an account (e.g. the monitoring service's
    利用規約 at its registration STEP1). The ID's 利用規約 and プライバシーポリシー are the
    account's `terms_accepted_at` and `privacy_accepted_at`."""

    __tablename__ = "account_consent"
    __table_args__ = (UniqueConstraint("account_id", "document"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    document: Mapped[str] = mapped_column(String(40))
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LoginSession(Base):
    """One signed-in browser. The cookie holds a random key; only its hash is stored."""

    __tablename__ = "login_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    remember: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    user_agent: Mapped[str | None] = mapped_column(String(200))
    # ログイン中の端末: the client address of the last use and when it was (updated at
    # most every SESSION_SEEN_INTERVAL), and when this browser passed the second sign-in
    # step (TOTP, passkey or recovery code) and how; NULL = the password alone.
    ip: Mapped[str | None] = mapped_column(String(45))
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    second_step_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    second_step_method: Mapped[str | None] = mapped_column(String(12))

    account: Mapped[Account] = relationship(back_populates="login_sessions")


class JoinRequestStatus(str, enum.Enum):
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


class CompanyJoinRequest(Base):
    """従業員からのリクエスト: a commercial account asks to join a company it found with
    会社の検索 instead of creating a second one; the company's administrators approve or
    decline. At most one request per account and company is pending."""

    __tablename__ = "company_join_request"
    __table_args__ = (
        Index("uq_company_join_request_pending", "company_id", "account_id", unique=True,
              sqlite_where=text("status = 'pending'"),
              postgresql_where=text("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"),
                                            index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"),
                                            index=True)
    status: Mapped[JoinRequestStatus] = mapped_column(String(10),
                                                      default=JoinRequestStatus.PENDING)
    message: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"))

    company: Mapped[Company] = relationship()
    account: Mapped[Account] = relationship(foreign_keys=[account_id])


class LegacyLogin(Base):
    """An account imported from the old portal (`flask accounts import`): its old user
    name, which stays a way to sign in, and until the one-time migration step is done the
    old password hash (`hash_format` names its scheme, e.g. "bcrypt", "pbkdf2_sha256").
    The step verifies the old hash once, asks for a new password under today's rule and
    deletes the old hash (`old_hash` NULL, `migrated_at` set)."""

    __tablename__ = "legacy_login"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"),
                                            unique=True)
    username: Mapped[str] = mapped_column(String(64))
    hash_format: Mapped[str | None] = mapped_column(String(20))
    old_hash: Mapped[str | None] = mapped_column(String(255))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    migrated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    account: Mapped[Account] = relationship()


# A user name signs in whatever the case of its letters, like an e-mail address.
Index("uq_legacy_login_username_lower", func.lower(LegacyLogin.username), unique=True)
