"""登録製品 and their service subscriptions (seed 003 my page, seed 000-77 warranty).

An owner registers a product by hand (`register_product`), or gets one without typing for
each of their registered gateways (`sync_gateway_products`, run whenever their products
are read): the `Product` row then points to the gateway (unique), takes its model from
the catalogue (`catalogue.model_for_code`), its システム製造番号 from the first power
conditioner, its postal code from the site, its registered_at from the gateway's; its
設置日/運転開始日 *is* the gateway's 運転開始日 (`Gateway.operation_start`), and editing it
on the product edits `Gateway.operation_started_on`.

Which gateway products an owner sees: only those whose gateway is ACTIVE and still
theirs. A gateway exchanged moves its product to the new gateway (the "exchanged" hook);
one disposed of or released turns its product into a plain, hand-registered one that
keeps its 設置日 (the "retired" / "released" hooks). A gateway that somehow came to
another owner without those hooks is not shown to the old owner; the new owner's next
visit takes the row over (unique gateway_id), without the old owner's subscriptions.

Subscriptions (`ProductSubscription`, one row per product and service): 見守りサービス
(`watch`), and three control services — 気象警報自動制御 (`weather`), 早期注意情報自動制御
(`early_warning`), AI自動制御 (`ai`). The control ones are the owner's preferences: they
reach the gateway as settings once remote settings exist (issue 13); today they change
nothing on the gateway. No subscription ever takes the monitoring page away: the my
page's 電力データを見る link is offered from 7:00 (JST) on the day after 見守りサービス
started (`power_data_from`), but the monitoring page stays the owner's either way.

Every function that changes data commits and writes an audit row; none reads `request`.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from blueprints.club.warranty import Warranty, warranty_for
from blueprints.core import audit
from blueprints.gateways import catalogue
from models import JST, db, utcnow
from models.account import Account
from models.club import Product, ProductSubscription
from models.gateway import Gateway, GatewayStatus, SystemModel

SERVICES = {
    "watch": _l("見守りサービス"),
    "weather": _l("気象警報自動制御"),
    "early_warning": _l("早期注意情報自動制御"),
    "ai": _l("AI自動制御"),
}
POWER_DATA_HOUR = 7  # 電力データを見る: from 7:00 JST the day after 見守りサービス started


# -- reading ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Subscription:
    service: str
    label: Any  # lazy: rendered in the reader's language
    subscribed: bool
    since: datetime | None  # when it came to this state; None: never subscribed


class PowerData(enum.Enum):
    AVAILABLE = "available"
    FROM = "from"                  # subscribed; the link appears at `power_data_from`
    NOT_SUBSCRIBED = "not_subscribed"
    NO_GATEWAY = "no_gateway"      # a product registered by hand: nothing reports


@dataclass(frozen=True)
class OwnerProduct:
    """A product as the pages (the owner's my page, the dealer's detail) show it."""

    id: int
    model: SystemModel | None
    model_code: str | None      # the gateway's code when the model is not in the catalogue
    system_serial: str
    remote_serial: str | None
    postal_code: str
    installed_on: date | None
    registered_at: datetime
    gateway_id: str | None      # ゲートウェイID of a gateway product
    warranty: Warranty | None
    subscriptions: list[Subscription]
    power_data: PowerData
    power_data_from: datetime | None

    @property
    def model_name(self) -> str | None:
        return self.model.name if self.model else None

    @property
    def from_gateway(self) -> bool:
        return self.gateway_id is not None


def power_data_from(since: datetime) -> datetime:
    """7:00 JST on the (Japanese) day after `since` (seed 003: 「見守りサービス」への加入後、
    翌日の午前7時よりご利用いただけます)."""
    day = since.astimezone(JST).date() + timedelta(days=1)
    return datetime.combine(day, time(POWER_DATA_HOUR), tzinfo=JST)


def _visible(owner_id: int):
    """Products the owner sees: by hand, or of an ACTIVE gateway that is still theirs."""
    return (select(Product).outerjoin(Gateway, Product.gateway_id == Gateway.id)
            .where(Product.owner_id == owner_id)
            .where((Product.gateway_id.is_(None))
                   | ((Gateway.owner_id == owner_id)
                      & (Gateway.status == GatewayStatus.ACTIVE.value))))


def owner_products(owner: Account, now: datetime | None = None) -> list[OwnerProduct]:
    """The owner's products (gateway products first, then by registration) with model,
    serials, postal code, 設置日, warranty and subscriptions: the my page's list and the
    read-only list a dealer approved by the owner sees (templates/club/_products.html)."""
    sync_gateway_products(owner)
    now = now or utcnow()
    products = db.session.scalars(
        _visible(owner.id).order_by(Product.gateway_id.is_(None), Product.registered_at,
                                    Product.id)
        .options(selectinload(Product.model), selectinload(Product.gateway),
                 selectinload(Product.subscriptions))).all()
    return [_shown(product, now) for product in products]


def owned_product(owner: Account, product_id) -> Product | None:
    """One product of the owner's (visible as in `owner_products`), or None: unknown ids,
    another owner's and hidden ones all look the same (404)."""
    if not isinstance(product_id, int):
        return None
    sync_gateway_products(owner)
    return db.session.scalar(_visible(owner.id).where(Product.id == product_id))


def shown_product(owner: Account, product: Product, now: datetime | None = None):
    return _shown(product, now or utcnow())


def _installed_on(product: Product) -> date | None:
    if product.gateway_id is not None and product.gateway is not None:
        return product.gateway.operation_start
    return product.installed_on


def _shown(product: Product, now: datetime) -> OwnerProduct:
    model = product.model
    installed = _installed_on(product)
    warranty = warranty_for(installed, product.registered_at.astimezone(JST).date(),
                            model.warranty_years if model else None,
                            model.extension_years if model else None,
                            current_app.config["WARRANTY_EXTENSION_MONTHS"])
    rows = {row.service: row for row in product.subscriptions}
    subscriptions = [Subscription(service, label, bool(rows.get(service)
                                                            and rows[service].subscribed),
                                  rows[service].since if service in rows else None)
                     for service, label in SERVICES.items()]
    watch = rows.get("watch")
    available_from = None
    if product.gateway_id is None:
        state = PowerData.NO_GATEWAY
    elif watch is None or not watch.subscribed:
        state = PowerData.NOT_SUBSCRIBED
    else:
        available_from = power_data_from(watch.since)
        state = PowerData.AVAILABLE if now >= available_from else PowerData.FROM
    gateway = product.gateway if product.gateway_id is not None else None
    return OwnerProduct(
        id=product.id, model=model, model_code=gateway.model if gateway else None,
        system_serial=product.system_serial, remote_serial=product.remote_serial,
        postal_code=product.postal_code, installed_on=installed,
        registered_at=product.registered_at,
        gateway_id=gateway.gateway_id if gateway else None, warranty=warranty,
        subscriptions=subscriptions, power_data=state, power_data_from=available_from)


# -- gateway products ---------------------------------------------------------------------
def sync_gateway_products(owner: Account) -> None:
    """Make (or take over) the product of each of the owner's ACTIVE gateways and keep
    its model, serial and postal code those of the gateway. Idempotent; two concurrent
    first visits make one row (the unique gateway_id decides, the loser re-reads)."""
    gateways = db.session.scalars(
        select(Gateway).where(Gateway.owner_id == owner.id,
                              Gateway.status == GatewayStatus.ACTIVE.value)
        .order_by(Gateway.id).options(selectinload(Gateway.units))).all()
    # Read at once, so that the my page reads the same at 1 and at 100 gateways.
    existing = {p.gateway_id: p for p in db.session.scalars(
        select(Product).where(Product.gateway_id.in_([g.id for g in gateways]))
        .options(selectinload(Product.subscriptions)))} if gateways else {}
    models = catalogue.models_for_codes(g.model for g in gateways)
    changed = False
    for gateway in gateways:
        product = existing.get(gateway.id)
        model = models.get(gateway.model or "")
        serial = gateway.units[0].serial if gateway.units else gateway.gateway_id
        values = dict(model_id=model.id if model else None, system_serial=serial,
                      postal_code=gateway.postal_code or "")
        if product is None:
            try:
                with db.session.begin_nested():
                    db.session.add(Product(owner_id=owner.id, gateway_id=gateway.id,
                                           registered_at=gateway.registered_at or utcnow(),
                                           **values))
            except IntegrityError:  # made meanwhile by a concurrent request
                continue
            audit.record("product.from_gateway", actor_id=owner.id, subject_id=owner.id,
                         gateway_id=gateway.gateway_id)
            changed = True
            continue
        if product.owner_id != owner.id:
            # The gateway came to this owner without passing the hooks: theirs now, and
            # without the previous owner's subscriptions.
            db.session.execute(delete(ProductSubscription)
                               .where(ProductSubscription.product_id == product.id))
            product.owner_id = owner.id
            product.registered_at = gateway.registered_at or utcnow()
            product.remote_serial = None
            db.session.expire(product, ["subscriptions"])
            audit.record("product.from_gateway", actor_id=owner.id, subject_id=owner.id,
                         gateway_id=gateway.gateway_id, taken_over=True)
            changed = True
        for name, value in values.items():
            if getattr(product, name) != value:
                setattr(product, name, value)
                changed = True
    if changed:
        db.session.commit()


def move_to_new_gateway(old_pk: int, new_pk: int, now: datetime) -> None:
    """"exchanged" hook: the product follows the new gateway (its 運転開始日 too: the
    system did not change, only its gateway). Inside the exchange's transaction."""
    old = db.session.get(Gateway, old_pk)
    started = old.operation_start if old is not None else None
    db.session.execute(update(Product).where(Product.gateway_id == new_pk)
                       .values(gateway_id=None),
                       execution_options={"synchronize_session": False})
    db.session.execute(update(Product).where(Product.gateway_id == old_pk)
                       .values(gateway_id=new_pk),
                       execution_options={"synchronize_session": False})
    if started is not None:
        db.session.execute(update(Gateway).where(Gateway.id == new_pk,
                                                 Gateway.operation_started_on.is_(None))
                           .values(operation_started_on=started),
                           execution_options={"synchronize_session": False})


def detach_from_gateways(gateway_pks: list[int], now: datetime, reason: str) -> None:
    """"retired" / "released" hook: those gateways' products stop being gateway
    products and keep their 設置日 as typed by hand. Inside the caller's transaction."""
    if not gateway_pks:
        return
    products = db.session.scalars(select(Product).where(Product.gateway_id.in_(gateway_pks)))
    for product in products:
        product.installed_on = product.gateway.operation_start if product.gateway else None
        product.gateway_id = None
        if product.model_id is None:  # nothing to show without the gateway's model
            db.session.delete(product)


def delete_owner_products(account: Account) -> None:
    """Account deletion: the account's products and their subscriptions go (also when
    the gateways were released first: the rows are found by owner)."""
    owned = select(Product.id).where(Product.owner_id == account.id)
    db.session.execute(delete(ProductSubscription)
                       .where(ProductSubscription.product_id.in_(owned)),
                       execution_options={"synchronize_session": False})
    db.session.execute(delete(Product).where(Product.owner_id == account.id),
                       execution_options={"synchronize_session": False})


# -- registering, editing, deleting -------------------------------------------------------
def offered_models() -> list[SystemModel]:
    return catalogue.system_models(offered_only=True)


def register_product(owner: Account, data: dict) -> Product | None:
    """Register a product by hand. `data`: model_id, system_serial, remote_serial,
    postal_code, installed_on (a date). None when the model is not offered (any more)."""
    model = catalogue.model_by_id(data["model_id"])
    if model is None or not model.offered:
        db.session.rollback()
        return None
    product = Product(owner_id=owner.id, model_id=model.id,
                      system_serial=data["system_serial"],
                      remote_serial=data["remote_serial"] or None,
                      postal_code=data["postal_code"], installed_on=data["installed_on"],
                      registered_at=utcnow())
    db.session.add(product)
    db.session.flush()
    audit.record("product.register", actor_id=owner.id, subject_id=owner.id,
                 product_id=product.id, model=model.code)
    db.session.commit()
    return product


def update_product(owner: Account, product_id: int, data: dict) -> bool:
    """Save a product's edit. A gateway product keeps its gateway's model, serial and
    postal code; its 運転開始日 is written to the gateway. A hand-registered one may move
    to another offered model (or keep its own, even if no longer offered). False when
    it is not the owner's product (any more) or the model is not allowed."""
    product = owned_product(owner, product_id)
    if product is None:
        db.session.rollback()
        return False
    if product.gateway_id is not None:
        product.remote_serial = data["remote_serial"] or None
        product.gateway.operation_started_on = data["installed_on"]
    else:
        model = catalogue.model_by_id(data["model_id"])
        if model is None or (not model.offered and model.id != product.model_id):
            db.session.rollback()
            return False
        product.model_id = model.id
        product.system_serial = data["system_serial"]
        product.remote_serial = data["remote_serial"] or None
        product.postal_code = data["postal_code"]
        product.installed_on = data["installed_on"]
    audit.record("product.update", actor_id=owner.id, subject_id=owner.id,
                 product_id=product.id,
                 gateway_id=product.gateway.gateway_id if product.gateway_id else None)
    db.session.commit()
    return True


def delete_product(owner: Account, product_id: int) -> bool:
    """Delete a hand-registered product (a gateway's goes with the gateway: 廃棄 in
    ゲートウェイの管理). False when there is no such product of the owner's to delete."""
    product = owned_product(owner, product_id)
    if product is None or product.gateway_id is not None:
        db.session.rollback()
        return False
    audit.record("product.delete", actor_id=owner.id, subject_id=owner.id,
                 product_id=product.id, system_serial=product.system_serial)
    db.session.delete(product)
    db.session.commit()
    return True


# -- subscriptions ------------------------------------------------------------------------
class SubscriptionChange(enum.Enum):
    CHANGED = "changed"
    UNCHANGED = "unchanged"  # already in that state: the date stays
    NOT_FOUND = "not_found"


def change_subscription(owner: Account, product_id: int, service: str, subscribed: bool,
                        now: datetime | None = None) -> SubscriptionChange:
    """加入 / 未加入 for one service of one of the owner's products. Posting the state the
    product is already in changes nothing (a double submit keeps the date). The row of a
    first subscription is made in a savepoint: of two concurrent first posts one makes it,
    the other finds it and changes nothing."""
    if service not in SERVICES:
        return SubscriptionChange.NOT_FOUND
    product = owned_product(owner, product_id)
    if product is None:
        db.session.rollback()
        return SubscriptionChange.NOT_FOUND
    now = now or utcnow()
    row = _subscription_row(product.id, service, lock=True)
    if row is None:
        if not subscribed:  # never subscribed: 未加入 already
            db.session.rollback()
            return SubscriptionChange.UNCHANGED
        try:
            with db.session.begin_nested():
                db.session.add(ProductSubscription(product_id=product.id, service=service,
                                                   subscribed=True, since=now))
        except IntegrityError:
            db.session.rollback()
            return SubscriptionChange.UNCHANGED
    elif row.subscribed == subscribed:
        db.session.rollback()
        return SubscriptionChange.UNCHANGED
    else:
        row.subscribed, row.since = subscribed, now
    audit.record("product.subscribe" if subscribed else "product.unsubscribe",
                 actor_id=owner.id, subject_id=owner.id, product_id=product.id,
                 service=service)
    db.session.commit()
    db.session.expire_all()
    return SubscriptionChange.CHANGED


def _subscription_row(product_id: int, service: str, lock: bool = False):
    statement = (select(ProductSubscription)
                 .where(ProductSubscription.product_id == product_id,
                        ProductSubscription.service == service)
                 .execution_options(populate_existing=True))
    if lock:
        statement = statement.with_for_update()
    return db.session.scalar(statement)


def subscription_of(shown: OwnerProduct, service: str) -> Subscription | None:
    return next((item for item in shown.subscriptions if item.service == service), None)
