"""Demo data of the owners club for `make run`."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from blueprints.account.services import find_account
from blueprints.gateways import catalogue
from models import db, utcnow
from models.club import Product, ProductSubscription


# -- products --
DEMO_WATCH_DAYS_AGO = 10
DEMO_MANUAL_SERIAL = "HC-A10001WN1"


def seed_demo_products() -> list[str]:
    """owner@example.com: the demo gateway's product with 見守りサービス subscribed 10
    days ago (電力データを見る is open), and one product registered by hand."""
    from blueprints.club import products

    owner = find_account("owner@example.com")
    if owner is None:
        return []
    products.sync_gateway_products(owner)
    gateway_product = db.session.scalar(select(Product).where(
        Product.owner_id == owner.id, Product.gateway_id.is_not(None)).order_by(Product.id))
    if gateway_product is not None and not db.session.scalar(
            select(ProductSubscription.id).where(
                ProductSubscription.product_id == gateway_product.id,
                ProductSubscription.service == "watch")):
        db.session.add(ProductSubscription(
            product_id=gateway_product.id, service="watch", subscribed=True,
            since=utcnow() - timedelta(days=DEMO_WATCH_DAYS_AGO)))
    model = catalogue.model_for_code("GW-M002")
    if model is not None and not db.session.scalar(select(Product.id).where(
            Product.owner_id == owner.id, Product.system_serial == DEMO_MANUAL_SERIAL)):
        db.session.add(Product(owner_id=owner.id, model_id=model.id,
                               system_serial=DEMO_MANUAL_SERIAL, remote_serial="RC-0012345",
                               postal_code="1030026",
                               installed_on=date.today() - timedelta(days=60),
                               registered_at=utcnow() - timedelta(days=30)))
    db.session.commit()
    return ["Demo products: owner@example.com's gateway (見守りサービス 加入) and "
            f"{DEMO_MANUAL_SERIAL} registered by hand"]


# -- permissions --
def seed_demo_permissions() -> list[str]:
    """The demo owner has approved the demo dealer (so that its 登録ユーザー一覧 is not
    empty) and has one permission waiting for a dealer's answer."""
    from sqlalchemy import select

    from blueprints.account.services import find_account
    from blueprints.club.permissions import dealer_of
    from models import db, utcnow
    from models.club import LoginPermission, PermissionState

    owner, admin = find_account("owner@example.com"), find_account("dealer@example.com")
    dealer = dealer_of(admin) if admin is not None else None
    if owner is None or dealer is None:
        return []
    wanted = [(admin.email, PermissionState.APPROVED, dealer.id),
              ("info@installer.example", PermissionState.PENDING, None)]
    for email, state, dealer_id in wanted:
        exists = db.session.scalar(select(LoginPermission.id).where(
            LoginPermission.owner_id == owner.id, LoginPermission.email == email))
        if exists is None:
            now = utcnow()
            db.session.add(LoginPermission(
                owner_id=owner.id, email=email, state=state, dealer_id=dealer_id,
                requested_at=now, decided_at=now if state == PermissionState.APPROVED else None,
                decided_by_id=admin.id if state == PermissionState.APPROVED else None))
    db.session.commit()
    return [f"Demo login permissions: {owner.email} → {admin.email} (許可済み), "
            "info@installer.example (承認待ち)"]
# -- end permissions --
