"""What the gateways service keeps about an account, for 個人データのダウンロード: the
gateways it owns with their site, their power conditioners, and the gateways it handed to
the next owner of the house. Never the slip password's hash nor the API key's."""
from __future__ import annotations

from sqlalchemy import select

from blueprints.account.data_export import Table, iso
from models import db
from models.gateway import Gateway, PcsUnit
from models.trust import GatewayHandover

GATEWAY_COLUMNS = ("gateway_id", "model", "status", "site_name", "postal_code", "prefecture",
                   "city", "street", "building", "registered_at", "first_report_at",
                   "last_reading_at", "operation_started_on", "retired_at")


def _gateways(account) -> Table:
    gateways = db.session.scalars(select(Gateway).where(Gateway.owner_id == account.id)
                                  .order_by(Gateway.id))
    return Table(GATEWAY_COLUMNS, [{
        "gateway_id": gateway.gateway_id, "model": gateway.model,
        "status": getattr(gateway.status, "value", gateway.status),
        "site_name": gateway.site_name, "postal_code": gateway.postal_code,
        "prefecture": gateway.prefecture, "city": gateway.city, "street": gateway.street,
        "building": gateway.building, "registered_at": iso(gateway.registered_at),
        "first_report_at": iso(gateway.first_report_at),
        "last_reading_at": iso(gateway.last_reading_at),
        "operation_started_on": iso(gateway.operation_started_on),
        "retired_at": iso(gateway.retired_at)} for gateway in gateways])


def _units(account) -> Table:
    rows = db.session.execute(
        select(Gateway.gateway_id, PcsUnit.unit_no, PcsUnit.model, PcsUnit.serial)
        .join(PcsUnit, PcsUnit.gateway_id == Gateway.id)
        .where(Gateway.owner_id == account.id).order_by(Gateway.id, PcsUnit.unit_no))
    return Table(("gateway_id", "unit_no", "model", "serial"),
                 [{"gateway_id": row.gateway_id, "unit_no": row.unit_no, "model": row.model,
                   "serial": row.serial} for row in rows])


def _handovers(account) -> Table:
    rows = db.session.execute(
        select(Gateway.gateway_id, GatewayHandover.site_name, GatewayHandover.owned_from,
               GatewayHandover.handed_over_at)
        .join(Gateway, Gateway.id == GatewayHandover.gateway_id)
        .where(GatewayHandover.previous_owner_id == account.id)
        .order_by(GatewayHandover.handed_over_at))
    return Table(("gateway_id", "site_name", "owned_from", "handed_over_at"),
                 [{"gateway_id": row.gateway_id, "site_name": row.site_name,
                   "owned_from": iso(row.owned_from),
                   "handed_over_at": iso(row.handed_over_at)} for row in rows])


def gateway_tables(account) -> dict:
    return {"gateways": _gateways(account), "units": _units(account),
            "handovers": _handovers(account)}
