"""What the owners club keeps about an account, for 個人データのダウンロード: registered
products and their service subscriptions, the login permissions it gave dealers (the
dealer company's name, never the address of its employee) and the proxy sessions dealers
held for it (as its アクセス履歴 shows them)."""
from __future__ import annotations

from sqlalchemy import select

from blueprints.account.data_export import Table, iso
from models import db
from models.account import Company
from models.club import LoginPermission, Product, ProductSubscription, ProxySession
from models.gateway import Dealer, Gateway, SystemModel


def _products(account) -> Table:
    rows = db.session.execute(
        select(Product.id, Gateway.gateway_id, SystemModel.name, Product.system_serial,
               Product.remote_serial, Product.postal_code, Product.installed_on,
               Product.registered_at, Product.updated_at)
        .outerjoin(Gateway, Gateway.id == Product.gateway_id)
        .outerjoin(SystemModel, SystemModel.id == Product.model_id)
        .where(Product.owner_id == account.id).order_by(Product.id))
    return Table(("product", "gateway_id", "model", "system_serial", "remote_serial",
                  "postal_code", "installed_on", "registered_at", "updated_at"),
                 [{"product": number, "gateway_id": row.gateway_id, "model": row.name,
                   "system_serial": row.system_serial, "remote_serial": row.remote_serial,
                   "postal_code": row.postal_code, "installed_on": iso(row.installed_on),
                   "registered_at": iso(row.registered_at), "updated_at": iso(row.updated_at)}
                  for number, row in enumerate(rows, start=1)])


def _subscriptions(account) -> Table:
    products = {pk: number for number, pk in enumerate(db.session.scalars(
        select(Product.id).where(Product.owner_id == account.id).order_by(Product.id)), start=1)}
    rows = db.session.execute(
        select(ProductSubscription.product_id, ProductSubscription.service,
               ProductSubscription.subscribed, ProductSubscription.since)
        .join(Product, Product.id == ProductSubscription.product_id)
        .where(Product.owner_id == account.id).order_by(Product.id, ProductSubscription.id))
    return Table(("product", "service", "subscribed", "since"),
                 [{"product": products.get(row.product_id), "service": row.service,
                   "subscribed": row.subscribed, "since": iso(row.since)} for row in rows])


def _permissions(account) -> Table:
    rows = db.session.execute(
        select(LoginPermission.state, LoginPermission.requested_at, LoginPermission.decided_at,
               LoginPermission.withdrawn_at, Company.name)
        .outerjoin(Dealer, Dealer.id == LoginPermission.dealer_id)
        .outerjoin(Company, Company.id == Dealer.company_id)
        .where(LoginPermission.owner_id == account.id).order_by(LoginPermission.id))
    return Table(("dealer_name", "state", "requested_at", "decided_at", "withdrawn_at"),
                 [{"dealer_name": row.name, "state": getattr(row.state, "value", row.state),
                   "requested_at": iso(row.requested_at), "decided_at": iso(row.decided_at),
                   "withdrawn_at": iso(row.withdrawn_at)} for row in rows])


def _proxy_sessions(account) -> Table:
    sessions = db.session.scalars(select(ProxySession).where(ProxySession.owner_id == account.id)
                                  .order_by(ProxySession.started_at))
    return Table(("dealer_name", "actor_name", "reason", "started_at", "expires_at", "ended_at",
                  "end_reason", "changes"),
                 [{"dealer_name": proxy.dealer_name, "actor_name": proxy.actor_name,
                   "reason": proxy.reason, "started_at": iso(proxy.started_at),
                   "expires_at": iso(proxy.expires_at), "ended_at": iso(proxy.ended_at),
                   "end_reason": proxy.end_reason, "changes": proxy.changes or []}
                  for proxy in sessions])


def club_tables(account) -> dict:
    return {"products": _products(account), "subscriptions": _subscriptions(account),
            "login_permissions": _permissions(account),
            "proxy_sessions": _proxy_sessions(account)}
