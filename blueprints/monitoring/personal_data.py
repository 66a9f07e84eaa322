"""What remote monitoring keeps about an account, for 個人データのダウンロード: a summary of
its gateways' readings, one row per gateway and day from the daily rollups (in kWh), and
their alerts. For a gateway it owns now, from `Gateway.history_from` (what the owner
sees); for one it handed over, the days it owned it. Only whole days of ownership: the
day of a hand-over mixes both owners' energy and is in neither archive (alerts, which
have a time, go by their start). The raw 5-minute readings are not
exported (a year is 100 000 rows per gateway); the rollups hold their sums.

The days are read `yield_per` at a time: a year of history never sits in memory."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

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


def _first_whole_day(start: datetime) -> date:
    """The first day (Japan time) wholly after `start`: the day of a hand-over mixes
    both owners' energy, so it belongs to neither archive."""
    local = start.astimezone(JST)
    whole = local.hour == local.minute == local.second == local.microsecond == 0
    return local.date() if whole else local.date() + timedelta(days=1)


@dataclass(frozen=True)
class Period:
    """What of one gateway the account may see: from `start` until `end` (None: open),
    and the whole days in between (for the daily rollups)."""

    gateway_pk: int
    start: datetime | None
    end: datetime | None

    @property
    def first_day(self) -> date | None:
        return _first_whole_day(self.start) if self.start else None

    @property
    def last_day(self) -> date | None:
        return _day(self.end) - timedelta(days=1) if self.end else None

    def holds(self, at: datetime) -> bool:
        return (self.start is None or at >= self.start) and (self.end is None or at < self.end)


def _periods(account) -> list[Period]:
    """The gateways the account owns (from their `history_from`) and those it handed to
    the next owner (from when it owned them until the hand-over)."""
    periods = [Period(row.id, row.history_from, None)
               for row in db.session.execute(select(Gateway.id, Gateway.history_from)
                                             .where(Gateway.owner_id == account.id))]
    periods += [Period(row.gateway_id, row.owned_from, row.handed_over_at)
                for row in db.session.execute(
                    select(GatewayHandover.gateway_id, GatewayHandover.owned_from,
                           GatewayHandover.handed_over_at)
                    .where(GatewayHandover.previous_owner_id == account.id))]
    return periods


def _within(periods: list[Period]):
    clauses = []
    for period in periods:
        parts = [DailyEnergy.gateway_id == period.gateway_pk]
        if period.first_day is not None:
            parts.append(DailyEnergy.day >= period.first_day)
        if period.last_day is not None:
            parts.append(DailyEnergy.day <= period.last_day)
        clauses.append(and_(*parts))
    return or_(*clauses) if clauses else false()


def _daily(account, periods) -> Table:
    statement = (select(Gateway.gateway_id.label("code"), DailyEnergy.day, DailyEnergy.slots,
                        *(getattr(DailyEnergy, column) for _name, column in ENERGY))
                 .join(Gateway, Gateway.id == DailyEnergy.gateway_id)
                 .where(_within(periods))
                 .order_by(DailyEnergy.gateway_id, DailyEnergy.day))

    def convert(row) -> dict:
        values = {"gateway_id": row.code, "day": row.day.isoformat(), "slots": row.slots}
        values.update({name: round(energy_kwh(getattr(row, column)), 3)
                       for name, column in ENERGY})
        return values

    return Table(DAY_COLUMNS, streamed(statement, convert))


def _alerts(account, periods: list[Period]) -> Table:
    pks = sorted({period.gateway_pk for period in periods})
    statement = (select(Gateway.gateway_id.label("code"), GatewayAlert.kind,
                        GatewayAlert.started_at, GatewayAlert.ended_at, GatewayAlert.error_codes,
                        GatewayAlert.ended_by, GatewayAlert.gateway_id.label("pk"))
                 .join(Gateway, Gateway.id == GatewayAlert.gateway_id)
                 .where(GatewayAlert.gateway_id.in_(pks) if pks else false())
                 .order_by(GatewayAlert.started_at, GatewayAlert.id))
    rows = [row for row in db.session.execute(statement)
            if any(period.gateway_pk == row.pk and period.holds(row.started_at)
                   for period in periods)]
    return Table(("gateway_id", "kind", "started_at", "ended_at", "error_codes", "ended_by"),
                 [{"gateway_id": row.code, "kind": row.kind, "started_at": iso(row.started_at),
                   "ended_at": iso(row.ended_at), "error_codes": row.error_codes,
                   "ended_by": row.ended_by} for row in rows])


# >>> remote: the settings versions of the account's gateways (while it owned them) and
# those the account made itself (e.g. as a linked dealer's employee)
SETTINGS_COLUMNS = ("gateway_id", "version", "operation_mode", "charge_start", "charge_end",
                    "discharge_floor", "sell_when_discharging", "islanding", "made_by_you",
                    "by_dealer", "created_at", "delivered_at", "acked_at")


def _settings(account, periods: list[Period]) -> Table:
    from blueprints.monitoring.settings import time_label
    from models.remote import GatewaySettings

    pks = sorted({period.gateway_pk for period in periods})
    statement = (select(Gateway.gateway_id.label("code"), GatewaySettings)
                 .join(Gateway, Gateway.id == GatewaySettings.gateway_id)
                 .where(or_(GatewaySettings.gateway_id.in_(pks) if pks else false(),
                            GatewaySettings.changed_by_id == account.id))
                 .order_by(GatewaySettings.gateway_id, GatewaySettings.version))
    rows = [(code, row) for code, row in db.session.execute(statement)
            if row.changed_by_id == account.id
            or any(period.gateway_pk == row.gateway_id and period.holds(row.created_at)
                   for period in periods)]
    return Table(SETTINGS_COLUMNS, [
        {"gateway_id": code, "version": row.version, "operation_mode": row.operation_mode,
         "charge_start": time_label(row.charge_start), "charge_end": time_label(row.charge_end),
         "discharge_floor": row.discharge_floor,
         "sell_when_discharging": row.sell_when_discharging, "islanding": row.islanding,
         "made_by_you": row.changed_by_id == account.id, "by_dealer": row.dealer_id is not None,
         "created_at": iso(row.created_at), "delivered_at": iso(row.delivered_at),
         "acked_at": iso(row.acked_at)} for code, row in rows])
# <<< remote


def monitoring_tables(account) -> dict:
    periods = _periods(account)
    return {"daily_energy": _daily(account, periods), "alerts": _alerts(account, periods),
            "settings": _settings(account, periods)}
