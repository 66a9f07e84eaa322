"""What the dealers service keeps about an account, for 個人データのダウンロード: the
dealers it trusted with the maintenance of its gateways (the dealer company's name and
販売店ID; never the dealer's employees or contact addresses)."""
from __future__ import annotations

from sqlalchemy import select

from blueprints.account.data_export import Table, iso
from models import db
from models.account import Company
from models.gateway import Dealer, DealerLink, Gateway


def dealer_tables(account) -> dict:
    rows = db.session.execute(
        select(Gateway.gateway_id, Dealer.dealer_code, Company.name, DealerLink.linked_at,
               DealerLink.linked_by_id)
        .join(DealerLink, DealerLink.gateway_id == Gateway.id)
        .join(Dealer, Dealer.id == DealerLink.dealer_id)
        .join(Company, Company.id == Dealer.company_id)
        .where(Gateway.owner_id == account.id).order_by(DealerLink.linked_at, DealerLink.id))
    return {"links": Table(
        ("gateway_id", "dealer_code", "dealer_name", "linked_at", "linked_by_you"),
        [{"gateway_id": row.gateway_id, "dealer_code": row.dealer_code,
          "dealer_name": row.name, "linked_at": iso(row.linked_at),
          "linked_by_you": row.linked_by_id == account.id} for row in rows])}
