"""The owners club: registered products and their service subscriptions, the login
permissions owners give dealers, and the proxy sessions dealers open with them."""
from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import Base, UTCDateTime, utcnow
from models.account import Account
from models.gateway import Dealer, Gateway, SystemModel


class Product(Base):
    """A storage system an owner registered (登録製品). A product that is one of the
    owner's registered gateways points to it: its 運転開始日 is then the gateway's
    (`Gateway.operation_started_on`), not `installed_on`."""

    __tablename__ = "product"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"),
                                          index=True)
    gateway_id: Mapped[int | None] = mapped_column(
        ForeignKey("gateway.id", ondelete="SET NULL"), unique=True)
    # None only for a gateway product whose model code is not in the catalogue (0007).
    model_id: Mapped[int | None] = mapped_column(ForeignKey("system_model.id"), index=True)
    system_serial: Mapped[str] = mapped_column(String(20))       # システム製造番号
    remote_serial: Mapped[str | None] = mapped_column(String(20))  # 室内リモコン製造番号
    postal_code: Mapped[str] = mapped_column(String(7))          # 設置場所郵便番号
    installed_on: Mapped[date | None]                            # 設置日/運転開始日
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    owner: Mapped[Account] = relationship()
    gateway: Mapped[Gateway | None] = relationship()
    model: Mapped[SystemModel | None] = relationship()
    subscriptions: Mapped[list[ProductSubscription]] = relationship(
        back_populates="product", cascade="all, delete-orphan", passive_deletes=True,
        order_by="ProductSubscription.id")


class ProductSubscription(Base):
    """Whether a product is subscribed to one service (見守りサービス, 気象警報自動制御,
    早期注意情報自動制御, AI自動制御), and since when it is in that state."""

    __tablename__ = "product_subscription"
    __table_args__ = (UniqueConstraint("product_id", "service"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id", ondelete="CASCADE"))
    service: Mapped[str] = mapped_column(String(20))
    subscribed: Mapped[bool] = mapped_column(default=False)
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    product: Mapped[Product] = relationship(back_populates="subscriptions")


class PermissionState(str, enum.Enum):
    PENDING = "pending"      # 承認待ち
    APPROVED = "approved"    # 許可済み
    REJECTED = "rejected"    # 拒否
    WITHDRAWN = "withdrawn"  # the owner took it back


class LoginPermission(Base):
    """An owner lets the dealer behind an address see their registration and log in for
    them (proxy login), once the dealer approved. The address is kept as the owner typed
    it (lower-cased); `dealer_id` is the dealer company it belonged to when asked, or
    None when it belonged to none (nobody is mailed then, and the owner is not told)."""

    __tablename__ = "login_permission"
    __table_args__ = (UniqueConstraint("owner_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"),
                                          index=True)
    email: Mapped[str] = mapped_column(String(254))
    dealer_id: Mapped[int | None] = mapped_column(ForeignKey("dealer.id", ondelete="CASCADE"),
                                                  index=True)
    state: Mapped[PermissionState] = mapped_column(String(10), default=PermissionState.PENDING,
                                                   index=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    owner: Mapped[Account] = relationship(foreign_keys=[owner_id])
    dealer: Mapped[Dealer | None] = relationship()


class ProxySession(Base):
    """A dealer employee acting as an owner (代理ログイン). The owner-side sign-in
    session (`login_session_id`) lives at most PROXY_SESSION_MINUTES; the dealer's own
    session (`parent_session_id`) is where the return button goes. Names are kept as
    they were, so that the owner's アクセス履歴 still says who it was after the dealer
    or its employee is gone. `changes` lists the requests that changed data."""

    __tablename__ = "proxy_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"),
                                          index=True)
    permission_id: Mapped[int | None] = mapped_column(
        ForeignKey("login_permission.id", ondelete="SET NULL"), index=True)
    dealer_id: Mapped[int | None] = mapped_column(ForeignKey("dealer.id", ondelete="SET NULL"),
                                                  index=True)
    dealer_name: Mapped[str] = mapped_column(String(100))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"),
                                                 index=True)
    actor_name: Mapped[str] = mapped_column(String(60))
    reason: Mapped[str] = mapped_column(String(200))
    login_session_id: Mapped[int | None] = mapped_column(
        ForeignKey("login_session.id", ondelete="SET NULL"), unique=True)
    parent_session_id: Mapped[int | None] = mapped_column(
        ForeignKey("login_session.id", ondelete="SET NULL"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(20))
    changes: Mapped[list] = mapped_column(JSON, default=list)

    owner: Mapped[Account] = relationship(foreign_keys=[owner_id])
