"""What remote monitoring keeps about an account, for 個人データのダウンロード: a summary of
its gateways' readings, one row per gateway and day from the daily rollups (in kWh), and
their alerts. For a gateway it owns now, from `Gateway.history_from` (what the owner
sees); for one it handed over, the days it owned it. The raw 5-minute readings are not
exported (a year is 100 000 rows per gateway); the rollups hold their sums.

The days are read `yield_per` at a time: a year of history never sits in memory."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import and_, false, or_, select

from blueprints.account.data_export import Table, iso, streamed
from models import JST, db
from models.gateway import Gateway
from models.telemetry import DailyEnergy, GatewayAlert, energy_kwh
from models.trust import GatewayHandover

ENERGY = (("pv_kwh", "pv_wsum"), ("load_kwh", "load_wsum"), ("self_kwh", "self_wsum"),
          ("supplied_kwh", "supplied_wsum"), ("sell_kwh", "sell_wsum"),
          ("buy_kwh", "buy_wsum"), ("charge_kwh", "charge_wsum"),
          ("discharge_kwh", "discharge_wsum"))
DAY_COLUMNS = ("gateway_id", "day", "slots") + tuple(name for name, _column in ENERGY)


def _day(value: datetime) -> date:
    return value.astimezone(JST).date()


def _periods(account):
    """[(gateway pk, first day or None, last day or None)] the account may see."""
    periods = [(row.id, _day(row.history_from) if row.history_from else None, None)
               for row in db.session.execute(select(Gateway.id, Gateway.history_from)
                                             .where(Gateway.owner_id == account.id))]
    periods += [(row.gateway_id, _day(row.owned_from), _day(row.handed_over_at))
                for row in db.session.execute(
                    select(GatewayHandover.gateway_id, GatewayHandover.owned_from,
                           GatewayHandover.handed_over_at)
                    .where(GatewayHandover.previous_owner_id == account.id))]
    return periods


def _within(column, periods):
    clauses = []
    for gateway_pk, first, last in periods:
        parts = [DailyEnergy.gateway_id == gateway_pk]
        if first is not None:
            parts.append(column >= first)
        if last is not None:
            parts.append(column <= last)
        clauses.append(and_(*parts))
    return or_(*clauses) if clauses else false()


def _daily(account, periods) -> Table:
    statement = (select(Gateway.gateway_id.label("code"), DailyEnergy.day, DailyEnergy.slots,
                        *(getattr(DailyEnergy, column) for _name, column in ENERGY))
                 .join(Gateway, Gateway.id == DailyEnergy.gateway_id)
                 .where(_within(DailyEnergy.day, periods))
                 .order_by(DailyEnergy.gateway_id, DailyEnergy.day))

    def convert(row) -> dict:
        values = {"gateway_id": row.code, "day": row.day.isoformat(), "slots": row.slots}
        values.update({name: round(energy_kwh(getattr(row, column)), 3)
                       for name, column in ENERGY})
        return values

    return Table(DAY_COLUMNS, streamed(statement, convert))


def _alerts(account, periods) -> Table:
    clauses = [GatewayAlert.gateway_id == gateway_pk for gateway_pk, _first, _last in periods]
    statement = (select(Gateway.gateway_id.label("code"), GatewayAlert.kind,
                        GatewayAlert.started_at, GatewayAlert.ended_at, GatewayAlert.error_codes,
                        GatewayAlert.ended_by, GatewayAlert.gateway_id.label("pk"))
                 .join(Gateway, Gateway.id == GatewayAlert.gateway_id)
                 .where(or_(*clauses) if clauses else false())
                 .order_by(GatewayAlert.started_at, GatewayAlert.id))
    bounds = {}
    for gateway_pk, first, last in periods:
        bounds.setdefault(gateway_pk, []).append((first, last))

    def seen(row) -> bool:
        day = _day(row.started_at)
        return any((first is None or day >= first) and (last is None or day <= last)
                   for first, last in bounds[row.pk])

    rows = (row for row in db.session.execute(statement) if seen(row))
    return Table(("gateway_id", "kind", "started_at", "ended_at", "error_codes", "ended_by"),
                 [{"gateway_id": row.code, "kind": row.kind, "started_at": iso(row.started_at),
                   "ended_at": iso(row.ended_at), "error_codes": row.error_codes,
                   "ended_by": row.ended_by} for row in rows])


def monitoring_tables(account) -> dict:
    periods = _periods(account)
    return {"daily_energy": _daily(account, periods), "alerts": _alerts(account, periods)}
