"""Simulated gateway readings for development and demos: what a gateway on a Tokyo roof
would report, fed through `telemetry.ingest` like the readings of a real device.

The model, per 5-minute slot:

- generation follows the sun (its elevation and its angle to a 30° south-facing panel at
  Tokyo's latitude on that day of the year), scaled to a system of 4–7 kW derived from the
  gateway ID, times the day's weather (sunny, partly cloudy, cloudy or rainy, in a mix that
  follows the seasons; one sky for every gateway) and the clouds passing during the day;
- consumption is a household's: a base load, morning and evening peaks, air conditioning
  in summer and heating in winter, a heat-pump water heater at night, appliance spikes;
- a 9.8 kWh battery (at most 3 kW, 10 % reserve) obeys the gateway's remote settings
  (運転モード, 充電する時間帯, 放電下限, 売電; see battery_step): with the factory settings
  it charges from the surplus and covers any deficit down to the reserve; what remains
  is sold or bought. In watts, pv + buy + discharge = load + sell + charge holds exactly.
  A feed reads the settings like a gateway (settings.fetch), runs by them, and
  acknowledges them once its readings are stored, so that a change shows 反映待ち and
  then 反映済み, and the charts change.

Everything random comes from `random.Random(f"{gateway_id}:{day}")` (the weather from the
day alone), and the only state carried from one slot to the next (besides the
settings) is what a reading stores (the whole-percent SOC, rounded with a per-slot dither so that small flows still
add up, and the units in error). The same gateway, newest reading and timestamps
therefore always give the same readings, whether fed as one back-fill or slot by slot,
and feeding again stores nothing twice."""
from __future__ import annotations

import enum
import json
import math
import os
import random
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path

from sqlalchemy import select

from blueprints.gateways.credentials import may_report
from blueprints.monitoring import telemetry
from blueprints.monitoring.telemetry import ERROR_CODE, JST, MAX_BATCH, local_day
from models import db, utcnow
from models.gateway import Gateway, GatewayStatus
from models.telemetry import SLOT, BatteryState, Reading, UnitStatus

LATITUDE = 35.68              # Tokyo
LONGITUDE = 139.69
PANEL_TILT = 30.0             # degrees, facing south
SOLAR_CONSTANT = 1361.0       # W/m² above the atmosphere
PERFORMANCE_RATIO = 0.84      # wiring, inverter and soiling losses
BATTERY_WH = 9800
BATTERY_MAX_W = 3000
RESERVE_SOC = 10              # % kept for outages; never discharged below
EFFICIENCY = 0.95             # each way, charging and discharging
MIN_BATTERY_W = 50            # a smaller flow leaves the battery on standby
SLOTS_PER_DAY = 288
SLOT_SECONDS = int(SLOT.total_seconds())
SLOT_HOURS = SLOT_SECONDS / 3600
DEFAULT_DAYS = 30
MAX_DAYS = 365                # telemetry refuses readings older than 400 days


class Weather(str, enum.Enum):
    SUNNY = "sunny"                  # 晴れ
    PARTLY_CLOUDY = "partly_cloudy"  # 晴れ時々曇り
    CLOUDY = "cloudy"                # 曇り
    RAINY = "rainy"                  # 雨


# Chances of sunny, partly cloudy, cloudy and rainy days: dry sunny winters, the rainy
# season (梅雨) in June, typhoons and autumn rain in September and October.
_WEATHER_MIX = {
    "dry": (0.55, 0.23, 0.14, 0.08),
    "spring": (0.38, 0.27, 0.20, 0.15),
    "tsuyu": (0.14, 0.24, 0.32, 0.30),
    "summer": (0.42, 0.30, 0.16, 0.12),
    "autumn": (0.34, 0.26, 0.20, 0.20),
}
_SEASON = {1: "dry", 2: "dry", 3: "spring", 4: "spring", 5: "spring", 6: "tsuyu",
           7: "summer", 8: "summer", 9: "autumn", 10: "autumn", 11: "dry", 12: "dry"}

# Appliances switched on during the day: (watts, slots it runs, hours it may start in).
_APPLIANCES = (
    ((1200, 1400), (1, 1), (6, 22)),    # kettle
    ((900, 1300), (1, 1), (6, 22)),     # microwave
    ((300, 500), (8, 12), (7, 21)),     # washing machine
    ((1000, 1300), (10, 18), (8, 22)),  # dryer
    ((1500, 2500), (3, 6), (17, 20)),   # IH cooking
    ((600, 1000), (2, 4), (9, 18)),     # vacuum cleaner
    ((1000, 1200), (1, 2), (6, 8)),     # hair dryer
)


# -- slots -----------------------------------------------------------------------------------
def floor_slot(moment: datetime) -> datetime:
    """The 5-minute boundary at or before `moment` (aware), in UTC."""
    seconds = math.floor(moment.timestamp()) // SLOT_SECONDS * SLOT_SECONDS
    return datetime.fromtimestamp(seconds, timezone.utc)


def ceil_slot(moment: datetime) -> datetime:
    """The 5-minute boundary at or after `moment` (aware), in UTC."""
    seconds = math.ceil(moment.timestamp() / SLOT_SECONDS) * SLOT_SECONDS
    return datetime.fromtimestamp(seconds, timezone.utc)


def slot_index(ts: datetime) -> int:
    """Which of its day's 288 slots the reading at `ts` (the slot's end) covers."""
    start = (ts - SLOT).astimezone(JST)
    return (start.hour * 60 + start.minute) // 5


# -- the sun ---------------------------------------------------------------------------------
def sun_position(moment: datetime) -> tuple[float, float]:
    """(sine of the sun's elevation, cosine of its angle of incidence on the panel) in
    Tokyo at `moment`, from the NOAA approximations of declination and equation of time."""
    utc = moment.astimezone(timezone.utc)
    hours = utc.hour + utc.minute / 60 + utc.second / 3600
    g = 2 * math.pi / 365 * (utc.timetuple().tm_yday - 1 + (hours - 12) / 24)
    declination = (0.006918 - 0.399912 * math.cos(g) + 0.070257 * math.sin(g)
                   - 0.006758 * math.cos(2 * g) + 0.000907 * math.sin(2 * g)
                   - 0.002697 * math.cos(3 * g) + 0.00148 * math.sin(3 * g))
    equation_of_time = 229.18 * (0.000075 + 0.001868 * math.cos(g) - 0.032077 * math.sin(g)
                                 - 0.014615 * math.cos(2 * g) - 0.040849 * math.sin(2 * g))
    hour_angle = math.radians((hours * 60 + equation_of_time + 4 * LONGITUDE) / 4 - 180)
    latitude, tilted = math.radians(LATITUDE), math.radians(LATITUDE - PANEL_TILT)
    sin_elevation = (math.sin(latitude) * math.sin(declination)
                     + math.cos(latitude) * math.cos(declination) * math.cos(hour_angle))
    cos_incidence = (math.sin(tilted) * math.sin(declination)
                     + math.cos(tilted) * math.cos(declination) * math.cos(hour_angle))
    return sin_elevation, cos_incidence


def clear_sky_irradiance(moment: datetime) -> float:
    """W/m² on the panel under a clear sky (0 while the sun is down)."""
    sin_elevation, cos_incidence = sun_position(moment)
    if sin_elevation <= 0.01:
        return 0.0
    elevation = math.degrees(math.asin(sin_elevation))
    air_mass = 1 / (sin_elevation + 0.50572 * (elevation + 6.07995) ** -1.6364)
    direct = SOLAR_CONSTANT * 0.7 ** (air_mass ** 0.678)
    diffuse = 0.12 * direct * sin_elevation
    return direct * max(0.0, cos_incidence) + diffuse


def _heat_loss(day: date) -> float:
    """Hot panels yield less: up to 7 % at the start of August."""
    return 0.07 * max(0.0, math.cos(2 * math.pi * (day.timetuple().tm_yday - 213) / 365))


# -- the gateway's system and household ------------------------------------------------------
def _digest(gateway_id: str) -> int:
    return zlib.crc32(gateway_id.encode())


def system_watts(gateway_id: str) -> int:
    """The rated PV power of the gateway's (simulated) system: 4.0–7.0 kW."""
    return 4000 + _digest(gateway_id) % 31 * 100


def _base_load_watts(gateway_id: str) -> int:
    """Fridge, standby and ventilation of the household: 160–300 W."""
    return 160 + (_digest(gateway_id) >> 8) % 15 * 10


def initial_soc(gateway_id: str, day: date) -> int:
    """The battery of a gateway that has no reading yet: 30–70 %."""
    return 30 + zlib.crc32(f"{gateway_id}:{day.isoformat()}:soc".encode()) % 41


# -- one day -------------------------------------------------------------------------------
@dataclass(frozen=True)
class DayPlan:
    """One gateway's day before the battery decides anything: the weather and, per slot
    (index 0 ends at 00:05 JST), generation and consumption in watts, and the dither
    that rounds the battery's SOC to whole percent."""

    day: date
    weather: Weather
    pv_w: tuple[int, ...]
    load_w: tuple[int, ...]
    dither: tuple[float, ...]

    @property
    def pv_kwh(self) -> float:
        return sum(self.pv_w) * SLOT_HOURS / 1000

    @property
    def load_kwh(self) -> float:
        return sum(self.load_w) * SLOT_HOURS / 1000


def weather_of(day: date) -> Weather:
    """The day's weather, the same for every gateway (they share Tokyo's sky)."""
    rng = random.Random(f"weather:{day.isoformat()}")
    return rng.choices(list(Weather), weights=_WEATHER_MIX[_SEASON[day.month]])[0]


def _random_walk(rng: random.Random, low: float, high: float, step: float) -> list[float]:
    level, values = rng.uniform(low, high), []
    for _ in range(SLOTS_PER_DAY):
        level = min(high, max(low, level + rng.uniform(-step, step)))
        values.append(level)
    return values


def _clearness(weather: Weather, rng: random.Random) -> list[float]:
    """Per slot, the share of the clear-sky generation that gets through."""
    if weather is Weather.SUNNY:
        haze = rng.uniform(0.93, 1.0)
        return [haze * rng.uniform(0.97, 1.0) for _ in range(SLOTS_PER_DAY)]
    if weather is Weather.PARTLY_CLOUDY:
        values, shaded = [], False
        for _ in range(SLOTS_PER_DAY):  # a cloud passes in ~20 minutes, comes back in ~35
            shaded = rng.random() < (0.75 if shaded else 0.14)
            values.append(rng.uniform(0.25, 0.5) if shaded else rng.uniform(0.85, 1.0))
        return values
    if weather is Weather.CLOUDY:
        return _random_walk(rng, 0.15, 0.5, 0.03)
    return _random_walk(rng, 0.04, 0.16, 0.015)


def _bump(hour: float, center: float, width: float) -> float:
    return math.exp(-0.5 * ((hour - center) / width) ** 2)


def _household_load(gateway_id: str, day: date, rng: random.Random) -> list[int]:
    """Per slot, the household's consumption in watts."""
    weekend = day.weekday() >= 5
    cooling = day.month in (7, 8) or (day.month in (6, 9) and rng.random() < 0.5)
    heating = day.month in (12, 1, 2) or (day.month in (3, 11) and rng.random() < 0.5)
    wake = rng.gauss(7.6 if weekend else 6.6, 0.3)
    dinner, bedtime = rng.gauss(19.0, 0.4), rng.gauss(23.0, 0.4)
    peaks = [  # (watts, center hour, width in hours)
        (rng.uniform(500, 900), wake + 0.75, 0.6),
        (rng.uniform(400, 800) if weekend else rng.uniform(120, 280), 12.5, 2.0),
        (rng.uniform(600, 1000), dinner, 1.5),
        (rng.uniform(250, 450), bedtime - 1.0, 1.0),
    ]
    if cooling:
        peaks.append((rng.uniform(300, 700), 15.0, 2.5))
    if heating:
        peaks += [(rng.uniform(400, 700), wake + 0.5, 1.0), (rng.uniform(400, 700), 20.0, 1.5)]
    # The heat-pump water heater (エコキュート) runs on cheap night power.
    heater_on = rng.uniform(1.0, 2.0)
    heater_hours = rng.uniform(2.0, 3.0) if heating else rng.uniform(1.5, 2.2)
    heater_w = rng.uniform(1100, 1400) if heating else rng.uniform(900, 1200)
    watts = []
    base = _base_load_watts(gateway_id)
    for index in range(SLOTS_PER_DAY):
        hour = (index + 0.5) * 5 / 60
        value = base * rng.uniform(0.85, 1.15)
        value += sum(w * _bump(hour, center, width) for w, center, width in peaks)
        if cooling and (hour >= bedtime or hour < wake):
            value += 200  # the bedroom's air conditioner
        if heater_on <= hour < heater_on + heater_hours:
            value += heater_w
        watts.append(value * rng.uniform(0.95, 1.05))
    for _ in range(rng.randint(3, 7)):
        (low, high), (shortest, longest), (first, last) = rng.choice(_APPLIANCES)
        start, length, power = (rng.randrange(first * 12, last * 12),
                                rng.randint(shortest, longest), rng.uniform(low, high))
        for index in range(start, min(SLOTS_PER_DAY, start + length)):
            watts[index] += power
    return [round(value) for value in watts]


def _pv_watts(capacity: int, moment: datetime, clearness: float, heat_loss: float) -> int:
    irradiance = clear_sky_irradiance(moment)
    if irradiance <= 0:
        return 0
    watts = capacity * irradiance / 1000 * PERFORMANCE_RATIO * (1 - heat_loss) * clearness
    return round(min(watts, capacity * 0.95))


@lru_cache(maxsize=64)
def day_plan(gateway_id: str, day: date) -> DayPlan:
    """The gateway's day (JST), always the same for the same gateway and day."""
    rng = random.Random(f"{gateway_id}:{day.isoformat()}")
    weather = weather_of(day)
    clearness = _clearness(weather, rng)
    load = _household_load(gateway_id, day, rng)
    capacity, heat_loss = system_watts(gateway_id), _heat_loss(day)
    midnight = datetime.combine(day, time(), JST)
    pv = [_pv_watts(capacity, midnight + SLOT * index + SLOT / 2, clearness[index], heat_loss)
          for index in range(SLOTS_PER_DAY)]
    dither = [rng.random() for _ in range(SLOTS_PER_DAY)]
    return DayPlan(day, weather, tuple(pv), tuple(load), tuple(dither))


# -- the battery and the grid -------------------------------------------------------------
@dataclass(frozen=True)
class Flows:
    """One slot's power flows in watts and the battery after it."""

    pv: int
    load: int
    charge: int
    discharge: int
    sell: int
    buy: int
    soc: int

    @property
    def battery_state(self) -> BatteryState:
        if self.charge:
            return BatteryState.CHARGING
        return BatteryState.DISCHARGING if self.discharge else BatteryState.STANDBY


@dataclass(frozen=True)
class Control:
    """What the battery obeys in a slot: the gateway's remote settings (see
    settings.Values), reduced to what the simulation needs. The default is the factory
    setting: 環境優先, charging all day, down to RESERVE_SOC, no selling from the battery."""

    mode: str = "green"
    charge_start: int = 0
    charge_end: int = 0
    floor: int = RESERVE_SOC
    sell: bool = False

    @classmethod
    def of(cls, values) -> Control:
        return cls(mode=values.operation_mode, charge_start=values.charge_start,
                   charge_end=values.charge_end, floor=values.discharge_floor,
                   sell=values.sell_when_discharging)

    def in_window(self, minute: int) -> bool:
        start, end = self.charge_start, self.charge_end
        if start == end:
            return True
        return start <= minute < end if start < end else minute >= start or minute < end


FACTORY = Control()


def battery_step(pv: int, load: int, soc: int, dither: float,
                 control: Control = FACTORY, minute: int = 0) -> Flows:
    """One slot starting `minute` after midnight (JST) under `control`:

    - the battery charges only inside the charge window: from the PV surplus in every
      mode, and in 経済優先 (economy) and 安心 (backup) also from the grid, at full rate
      until it is full (cheap night power; a full battery for outages);
    - it discharges into a deficit down to the floor: in 環境優先 (green) at any time, in
      経済優先 only outside the charge window (never while the power is cheap), in 安心
      never (the energy is kept for an outage, which the simulation has none of);
    - when discharging with `sell` on it discharges at full rate and sells what the
      house does not use; without it, only what the house uses;
    - the grid takes or gives the rest.

    The SOC change is rounded to whole percent up or down with the chance of its fraction
    (`dither` in [0, 1)), so that small flows add up."""
    surplus, charge, discharge, change = pv - load, 0, 0, 0.0
    in_window = control.in_window(minute)
    if in_window:
        room_wh = max(0, 100 - soc) / 100 * BATTERY_WH / EFFICIENCY
        wanted = max(0, surplus)
        if control.mode in ("economy", "backup"):
            wanted = BATTERY_MAX_W  # from the surplus first, the grid for the rest
        charge = min(wanted, BATTERY_MAX_W, math.floor(room_wh / SLOT_HOURS))
        charge = charge if charge >= MIN_BATTERY_W else 0
        change = charge * SLOT_HOURS * EFFICIENCY / BATTERY_WH * 100
    may_discharge = (control.mode == "green"
                     or (control.mode == "economy" and not in_window))
    if not charge and may_discharge and (surplus < 0 or control.sell):
        floor = max(control.floor, RESERVE_SOC)
        stored_wh = max(0, soc - floor) / 100 * BATTERY_WH * EFFICIENCY
        wanted = BATTERY_MAX_W if control.sell else max(0, -surplus)
        discharge = min(wanted, BATTERY_MAX_W, math.floor(stored_wh / SLOT_HOURS))
        discharge = discharge if discharge >= MIN_BATTERY_W else 0
        change = -discharge * SLOT_HOURS / EFFICIENCY / BATTERY_WH * 100
    new_soc = min(100, max(0, math.floor(soc + change + dither)))
    if discharge:  # rounding never takes the battery below its floor
        new_soc = max(new_soc, min(soc, max(control.floor, RESERVE_SOC)))
    net = pv + discharge - load - charge
    return Flows(pv=pv, load=load, charge=charge, discharge=discharge,
                 sell=max(0, net), buy=max(0, -net), soc=new_soc)


# -- readings ------------------------------------------------------------------------------
def _units(unit_numbers: Sequence[int], faults: dict[int, str], working: bool) -> list[dict]:
    idle = UnitStatus.NORMAL.value if working else UnitStatus.STANDBY.value
    return [{"unit": number, "status": UnitStatus.ERROR.value, "error_code": faults[number]}
            if number in faults else {"unit": number, "status": idle, "error_code": None}
            for number in sorted(unit_numbers)]


def _reading(ts: datetime, flows: Flows, units: list[dict]) -> dict:
    """A reading as a gateway sends it (see telemetry.check_reading)."""
    battery = flows.charge or flows.discharge
    return {"timestamp": ts.astimezone(JST).isoformat(), "pv_kw": flows.pv / 1000,
            "load_kw": flows.load / 1000, "battery_kw": battery / 1000,
            "battery_state": flows.battery_state.value, "soc": flows.soc,
            "sell_kw": flows.sell / 1000, "buy_kw": flows.buy / 1000, "units": units}


def simulate(gateway_id: str, unit_numbers: Sequence[int], first: datetime, last: datetime,
             soc: int, faults: dict[int, str] | None = None,
             control: Control = FACTORY) -> Iterator[dict]:
    """The readings of timestamps `first` to `last` (5-minute boundaries, both included),
    the battery starting at `soc` % and obeying `control` (the remote settings). A unit in
    `faults` (unit number → error code) reports that error and its share of the
    generation is lost."""
    if first != floor_slot(first) or last != floor_slot(last):
        raise ValueError("first and last must be on 5-minute boundaries")
    faults = dict(faults or {})
    failed = len(faults.keys() & set(unit_numbers))
    working_share = (len(unit_numbers) - failed) / len(unit_numbers)
    ts = first
    while ts <= last:
        plan = day_plan(gateway_id, local_day(ts))
        index = slot_index(ts)
        pv = round(plan.pv_w[index] * working_share)
        flows = battery_step(pv, plan.load_w[index], soc, plan.dither[index], control,
                             index * 5)
        working = flows.pv > 0 or flows.battery_state is not BatteryState.STANDBY
        yield _reading(ts, flows, _units(unit_numbers, faults, working))
        soc = flows.soc
        ts += SLOT


# -- feeding a gateway ---------------------------------------------------------------------
@dataclass(frozen=True)
class Fault:
    """A simulated error of one power conditioner, e.g. Fault(1, "E201")."""

    unit: int
    code: str


@dataclass
class FeedResult:
    """What one feed stored: counts as telemetry.ingest reports them, the timestamps
    generated (None when the gateway was up to date), the battery and the units in error
    after the last reading."""

    gateway_id: str
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict] = field(default_factory=list)
    first: datetime | None = None
    last: datetime | None = None
    soc: int | None = None
    faults: dict[int, str] = field(default_factory=dict)


def _newest(gateway: Gateway):
    return db.session.execute(
        select(Reading.ts, Reading.soc, Reading.units).where(Reading.gateway_id == gateway.id)
        .order_by(Reading.ts.desc()).limit(1)).first()


def resume_point(gateway: Gateway, now: datetime,
                 days: int = DEFAULT_DAYS) -> tuple[datetime, int, dict[int, str]]:
    """Where feeding continues: the slot after the newest reading, with its SOC and the
    units it reported in error; without one, `days` before `now` with a fresh battery.
    Never before `days` ago, nor before the registration."""
    earliest = floor_slot(now - timedelta(days=days))
    if gateway.registered_at is not None:
        earliest = max(earliest, ceil_slot(gateway.registered_at))
    newest = _newest(gateway)
    if newest is None:
        return earliest, initial_soc(gateway.gateway_id, local_day(earliest)), {}
    faults = {unit["unit"]: unit["error_code"] for unit in newest.units or ()
              if unit.get("status") == UnitStatus.ERROR.value and unit.get("error_code")}
    return max(newest.ts + SLOT, earliest), newest.soc, faults


def check_feedable(gateway: Gateway, fault: Fault | None = None) -> list[int]:
    """The gateway's unit numbers, once it is clear that it may be fed (and `fault` fits
    it); ValueError with the reason if not."""
    if not may_report(gateway):
        status = GatewayStatus(gateway.status).value
        raise ValueError(f"gateway {gateway.gateway_id} is {status}: "
                         "only registered gateways report")
    unit_numbers = [unit.unit_no for unit in gateway.units]
    if not unit_numbers:
        raise ValueError(f"gateway {gateway.gateway_id} has no power conditioner")
    if fault is not None:
        if fault.unit not in unit_numbers:
            raise ValueError(f"gateway {gateway.gateway_id} has no unit {fault.unit}")
        if not ERROR_CODE.fullmatch(fault.code or ""):
            raise ValueError("an error code is 1 to 16 of A-Z, 0-9 and -, e.g. E201")
    return unit_numbers


def feed(gateway: Gateway, days: int = DEFAULT_DAYS, now: datetime | None = None,
         fault: Fault | None = None, recover: bool = False) -> FeedResult:
    """Feed `gateway` simulated readings from where it stands (see resume_point) up to the
    current 5-minute slot, through telemetry.ingest in batches of at most MAX_BATCH (each
    committed). A unit in error stays in error in later feeds until one with
    `recover`; `fault` puts one more unit in error. Raises ValueError for a gateway that
    does not report, has no units, or a fault that does not fit it."""
    if not 0 <= days <= MAX_DAYS:
        raise ValueError(f"days must be between 0 and {MAX_DAYS}")
    now = now or utcnow()
    unit_numbers = check_feedable(gateway, fault)
    first, soc, faults = resume_point(gateway, now, days)
    faults = {} if recover else faults
    if fault is not None:
        faults[fault.unit] = fault.code
    result = FeedResult(gateway.gateway_id, soc=soc, faults=faults)
    last = floor_slot(now)
    if first > last:
        return result
    result.first, result.last = first, last
    # Like a real gateway: read the settings, run by them, report, acknowledge them.
    from blueprints.monitoring import settings
    fetched = settings.fetch(gateway, now)
    version, control = fetched.version, Control.of(settings.Values.of(fetched))
    batch: list[dict] = []
    for reading in simulate(gateway.gateway_id, unit_numbers, first, last, soc, faults,
                            control):
        batch.append(reading)
        if len(batch) == MAX_BATCH:
            _ingest(gateway, batch, now, result)
    _ingest(gateway, batch, now, result)
    if result.accepted:
        settings.acknowledge(gateway, version, now)
    return result


def _ingest(gateway: Gateway, batch: list[dict], now: datetime, result: FeedResult) -> None:
    if not batch:
        return
    stored = telemetry.ingest(gateway, batch, now=now)
    result.accepted += stored.accepted
    result.duplicates += stored.duplicates
    result.rejected += stored.rejected
    result.soc = batch[-1]["soc"]
    batch.clear()


# -- faults asked for, until a slot carries them --------------------------------------------
PENDING_FILE = "simulator-pending.json"


def _pending_path(instance_path: str) -> Path:
    return Path(instance_path) / PENDING_FILE


def _read_pending(instance_path: str) -> dict:
    try:
        return json.loads(_pending_path(instance_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _write_pending(instance_path: str, pending: dict) -> None:
    path = _pending_path(instance_path)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(pending), encoding="utf-8")
    os.replace(temporary, path)


def ask(instance_path: str, gateway_id: str, fault: Fault | None, recover: bool) -> None:
    """Remember a fault (or a recovery) for the next slot fed to `gateway_id`, by whichever
    feeder writes it: `make run`'s in-process one usually gets there before a command
    started by hand. Kept in the instance folder, which both processes share."""
    pending = _read_pending(instance_path)
    pending[gateway_id] = ({"recover": True} if recover
                           else {"unit": fault.unit, "code": fault.code})
    _write_pending(instance_path, pending)


def feed_asked(gateway: Gateway, instance_path: str, days: int = DEFAULT_DAYS,
               now: datetime | None = None) -> FeedResult:
    """feed(), with the fault or recovery asked for the gateway, if any; the request is
    forgotten once a slot carried it (later slots keep the fault, see resume_point)."""
    asked = _read_pending(instance_path).get(gateway.gateway_id) or {}
    fault = Fault(asked["unit"], asked["code"]) if "code" in asked else None
    result = feed(gateway, days=days, now=now, fault=fault, recover=bool(asked.get("recover")))
    if asked and result.first is not None:
        pending = _read_pending(instance_path)
        pending.pop(gateway.gateway_id, None)
        _write_pending(instance_path, pending)
    return result


def active_gateways() -> list[Gateway]:
    """Every gateway in service (ACTIVE), for the development feed."""
    return list(db.session.scalars(select(Gateway).where(
        Gateway.status == GatewayStatus.ACTIVE.value).order_by(Gateway.gateway_id)))
