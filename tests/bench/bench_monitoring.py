"""`make bench`, second part: the monitoring page costs the same with a day and with a year
of history, and how fast the gateway API takes readings in.

For each database (a file SQLite database, then PostgreSQL) one owner gets two gateways:
"1 day" with the last 24 hours of 5-minute readings (288) and "1 year" with the last
365 days (105,120). Everything goes through a live threaded server on 127.0.0.1:

* ingest: the year is posted in batches (readings/s, and the first batches' time against
  the last ones'), its newest readings one per request (the live case), then some batches
  again (all duplicates);
* pages: /healthz (the baseline, measured in the same run: these machines are shared and
  noisy, so only ratios mean something), then the day, month and year pages, the status
  partial and the day CSV of both gateways side by side, with their year/day ratio. The
  two gateways are asked in turn, request by request. One client by default: with more,
  the times are mostly queueing (on SQLite every request holds the database lock), not
  the page's cost.

Every answer is checked (a 200 with the right content; once in full: the rows and bars
each page must show for the readings sent), so the bench cannot time error pages. The
PostgreSQL database is the bench's own, emptied at the start. Every loop is bounded.

    python tests/bench/bench_monitoring.py [--requests 100] [--workers 1] [--rounds 5]
        [--ingest-clients 1] [--batch 2016] [--live 200] [--resend 10]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/enelink_bench | --no-postgres]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_requests import CSRF, PASSWORD, Browser  # noqa: E402 (adds the repo root)

from werkzeug.serving import make_server  # noqa: E402

from app import create_app  # noqa: E402
from config import TestConfig  # noqa: E402

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/enelink_bench"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
OWNER_EMAIL = "bench@example.com"
SLOT = timedelta(minutes=5)
DAY_SLOTS = 288
# year/day above this is flagged: the page would grow with history. The month and year
# pages of "1 year" draw more bars than those of "1 day" (24 days against 2, 11 months
# against 1: bounded by 31 and 12), which alone costs them up to about 1.3x.
MAX_GROWTH = 1.5


class BenchError(RuntimeError):
    """The bench cannot go on (a server unreachable, a wrong answer)."""


@dataclass(frozen=True)
class BenchGateway:
    label: str       # "1 day", "1 year"
    gateway_id: str
    api_key: str
    days: int


GATEWAYS = (BenchGateway("1 day", "90BE00000001", "gwk_bench-one-day-0001", 1),
            BenchGateway("1 year", "90BE00000365", "gwk_bench-one-year-0365", 365))


# -- readings ------------------------------------------------------------------------------
JST = timezone(timedelta(hours=9))


def slot_end(now: datetime) -> datetime:
    """The newest 5-minute boundary at or before `now` (a valid reading timestamp)."""
    now = now.astimezone(timezone.utc).replace(second=0, microsecond=0)
    return now - timedelta(minutes=now.minute % 5)


def generate(end: datetime, count: int) -> list[dict]:
    """`count` readings up to `end`, oldest first: a deterministic, plausible house with
    4.5 kW of panels, a morning and an evening load peak and a 9.8 kWh battery that
    stores the surplus and covers the evening. The same `end` always gives the same data."""
    capacity_kwh, battery_max_kw = 9.8, 3.0
    soc = 50.0
    readings = []
    weather: dict[date, float] = {}
    for step in range(count - 1, -1, -1):
        ts = end - step * SLOT
        local = (ts - SLOT / 2).astimezone(JST)  # the middle of the 5 minutes
        day = local.date()
        if day not in weather:
            weather[day] = random.Random(day.toordinal()).uniform(0.25, 1.0)
        season = math.cos(2 * math.pi * (day.timetuple().tm_yday - 172) / 365)
        hour = local.hour + local.minute / 60
        length = 12 + 2.3 * season
        rise = 11.75 - length / 2
        daylight = (hour - rise) / length
        pv = (4.5 * (0.8 + 0.2 * season) * weather[day] * math.sin(math.pi * daylight) ** 1.5
              if 0 < daylight < 1 else 0.0)
        jitter = random.Random(int(ts.timestamp()) // 300)
        load = (0.35 + 0.9 * math.exp(-((hour - 7.5) / 1.0) ** 2)
                + 1.4 * math.exp(-((hour - 19.5) / 1.8) ** 2) + jitter.uniform(0, 0.25))
        surplus = pv - load
        charge = discharge = 0.0
        if surplus > 0 and soc < 100:
            charge = min(surplus, battery_max_kw, (100 - soc) / 100 * capacity_kwh * 12)
        elif surplus < 0 and soc > 10:
            discharge = min(-surplus, battery_max_kw, (soc - 10) / 100 * capacity_kwh * 12)
        soc = min(100.0, max(0.0, soc + (charge - discharge) / 12 / capacity_kwh * 100))
        state = "charging" if charge > 0.005 else "discharging" if discharge > 0.005 else "standby"
        readings.append({
            "timestamp": ts.astimezone(JST).isoformat(),
            "pv_kw": round(pv, 3), "load_kw": round(load, 3),
            "battery_kw": round(charge or discharge, 3), "battery_state": state,
            "soc": round(soc), "sell_kw": round(max(0.0, surplus - charge), 3),
            "buy_kw": round(max(0.0, -surplus - discharge), 3),
            "units": [{"unit": 1, "status": "normal", "error_code": None},
                      {"unit": 2, "status": "normal", "error_code": None}]})
    return readings


def reading_day(reading: dict) -> date:
    """The Japan-time day a reading counts for: the day its 5 minutes began in."""
    return (datetime.fromisoformat(reading["timestamp"]) - SLOT).astimezone(JST).date()


# -- the database and the app ----------------------------------------------------------------
def check_loopback(uri: str) -> None:
    from sqlalchemy.engine import make_url

    host = make_url(uri).host
    if host not in LOOPBACK:
        raise SystemExit(f"refusing {host!r}: benchmarks only ever target loopback addresses")


def reset_postgres(uri: str) -> None:
    """Create the bench database if it is missing and empty its schema."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(uri).set(drivername="postgresql")
    if not url.database or url.database in {"postgres", "test"}:
        raise SystemExit("use a database of the bench's own (e.g. enelink_bench), "
                         "never postgres or the test suite's test")
    plain = url.render_as_string(hide_password=False)
    admin = url.set(database="postgres").render_as_string(hide_password=False)
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as connection:
            exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                        (url.database,)).fetchone()
            if not exists:
                connection.execute(f'CREATE DATABASE "{url.database}"')
        with psycopg.connect(plain, autocommit=True, connect_timeout=5) as connection:
            connection.execute("DROP SCHEMA public CASCADE")
            connection.execute("CREATE SCHEMA public")
    except psycopg.OperationalError as error:
        raise BenchError(f"PostgreSQL at {url.host}:{url.port or 5432} cannot be reached: "
                         f"{str(error).strip().splitlines()[0]}") from None


def build_app(uri: str):
    """The app on `uri`, migrated, with the owner and the two (empty) gateways."""
    app = create_app({
        **{k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()},
        "SQLALCHEMY_DATABASE_URI": uri,
        "RATELIMIT_ENABLED": False,
        "TESTING": False,
    })
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        from blueprints.account.services import hash_password
        from blueprints.gateways.slips import new_gateway
        from models import db, utcnow
        from models.account import Account, AccountType
        from models.gateway import GatewayStatus

        owner = Account(email=OWNER_EMAIL, password_hash=hash_password(PASSWORD),
                        family_name="試験", given_name="太郎",
                        account_type=AccountType.PERSONAL, activated_at=utcnow())
        db.session.add(owner)
        db.session.flush()
        for number, bench in enumerate(GATEWAYS, start=1):
            gateway = new_gateway(bench.gateway_id, "benchslip234", "GW-M001",
                                  [f"BENCH{number}A1", f"BENCH{number}A2"],
                                  api_key=bench.api_key)
            gateway.status = GatewayStatus.ACTIVE
            gateway.owner_id = owner.id
            gateway.site_name = f"ベンチ {bench.label}"
            gateway.registered_at = utcnow()
        db.session.commit()
    return app


def stored_counts(app, bench: BenchGateway) -> tuple[int, int, int, int, int]:
    """Readings, slots in the daily and in the monthly energy, and the generation summed
    from the readings and from the daily energy (what the rollups must agree on)."""
    from sqlalchemy import func, select

    from models import db
    from models.gateway import Gateway
    from models.telemetry import DailyEnergy, MonthlyEnergy, Reading

    with app.app_context():
        pk = db.session.scalar(select(Gateway.id).where(Gateway.gateway_id == bench.gateway_id))
        readings, pv = db.session.execute(
            select(func.count(), func.coalesce(func.sum(Reading.pv_w), 0))
            .where(Reading.gateway_id == pk)).one()
        daily, daily_pv = db.session.execute(
            select(func.coalesce(func.sum(DailyEnergy.slots), 0),
                   func.coalesce(func.sum(DailyEnergy.pv_wsum), 0))
            .where(DailyEnergy.gateway_id == pk)).one()
        monthly = db.session.scalar(select(func.coalesce(func.sum(MonthlyEnergy.slots), 0))
                                    .where(MonthlyEnergy.gateway_id == pk))
        db.session.remove()
    return int(readings), int(daily), int(monthly), int(pv), int(daily_pv)


@contextmanager
def serving(app):
    """The app on a free port of 127.0.0.1; the server's exceptions are printed (the
    migrations' logging setup silences the app's logger)."""
    from flask import got_request_exception

    def print_exception(sender, exception, **_):
        print(f"server error: {exception!r}", file=sys.stderr, flush=True)

    got_request_exception.connect(print_exception, app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        got_request_exception.disconnect(print_exception, app)


# -- ingest ------------------------------------------------------------------------------------
@dataclass
class Posted:
    count: int       # readings sent
    seconds: float   # wall time of all the requests
    timings: list[float]
    problems: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.count / self.seconds

    @property
    def requests_per_second(self) -> float:
        return len(self.timings) / self.seconds


def post_batches(base: str, bench: BenchGateway, batches: list[list[dict]], clients: int,
                 duplicates: bool) -> Posted:
    """Post each batch once (`clients` at a time, oldest first; the bodies are encoded
    before the clock starts) and check every answer: all accepted, or with `duplicates`
    all recognised as stored already."""
    url = f"{base}/api/v1/gateways/{bench.gateway_id}/readings"
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {bench.api_key}"}
    bodies = [(len(batch), json.dumps({"readings": batch}).encode()) for batch in batches]
    problems: list[str] = []

    def send(item: tuple[int, bytes]) -> float:
        size, body = item
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(urllib.request.Request(url, body, headers),
                                        timeout=120) as response:
                status, answer = response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            status, answer = error.code, error.read()[:300]
        except OSError as error:
            status, answer = None, repr(error)
        elapsed = time.perf_counter() - started
        wanted = ({"accepted": 0, "duplicates": size, "rejected": []} if duplicates
                  else {"accepted": size, "duplicates": 0, "rejected": []})
        if status != 200 or answer != wanted:
            problems.append(f"POST {bench.gateway_id} ({size} readings): {status} {answer}")
        return elapsed

    wall = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        timings = list(pool.map(send, bodies))
    wall = time.perf_counter() - wall
    return Posted(sum(size for size, _ in bodies), wall, timings, problems)


@dataclass
class Ingest:
    batches: Posted
    live: Posted
    resend: Posted
    batch_size: int
    first_last_ms: tuple[float, float]  # p50 of the first and of the last quarter of batches


def ingest(base: str, readings: dict[str, list[dict]], args) -> Ingest:
    """"1 day" in one batch; "1 year" in batches but for its newest `--live` readings,
    which then come one per request (the live case); then `--resend` batches again."""
    day, year = GATEWAYS
    first_day = post_batches(base, day, [readings[day.gateway_id]], 1, duplicates=False)
    history = readings[year.gateway_id]
    live_count = min(args.live, len(history) - 1)
    older, newest = history[:len(history) - live_count], history[len(history) - live_count:]
    batches = [older[start:start + args.batch] for start in range(0, len(older), args.batch)]
    loaded = post_batches(base, year, batches, args.ingest_clients, duplicates=False)
    live = post_batches(base, year, [[reading] for reading in newest], args.ingest_clients,
                        duplicates=False)
    again = batches[::max(1, len(batches) // args.resend)][:args.resend]
    resend = post_batches(base, year, again, args.ingest_clients, duplicates=True)
    for posted in (first_day, loaded, live, resend):
        if posted.problems:
            raise BenchError(f"{len(posted.problems)} ingest request(s) failed, first: "
                             f"{posted.problems[0]}")
    # Does a batch cost more with more history? The first quarter of the (full) batches
    # against the last quarter.
    full = loaded.timings[:-1] if len(older) % args.batch and len(batches) > 1 else loaded.timings
    edge = max(1, len(full) // 4)
    first_last = (statistics.median(full[:edge]) * 1000, statistics.median(full[-edge:]) * 1000)
    return Ingest(loaded, live, resend, args.batch, first_last)


# -- pages -------------------------------------------------------------------------------------
PAGES = (  # label, path after /monitoring/gateways/<id>, extra headers
    ("monitor (day)", "/monitor", {}),
    ("monitor (month)", "/monitor?period=month", {}),
    ("monitor (year)", "/monitor?period=year", {}),
    ("status partial (HX)", "/monitor/now", {"HX-Request": "true"}),
    ("day CSV", "/monitor.csv", {}),
)
# What every timed answer must contain besides its 200 (the full check is done once).
MARKERS = {"monitor (day)": 'id="chart"', "monitor (month)": 'id="chart"',
           "monitor (year)": 'id="chart"', "status partial (HX)": "state-normal",
           "day CSV": "\ufeff"}
CHART = re.compile(r'<section id="chart".*?</section>', re.S)


def fetch(browser: Browser, path: str, headers: dict) -> tuple[int | None, str]:
    request = urllib.request.Request(browser.base + path, headers=headers)
    try:
        with browser.opener.open(request, timeout=60) as response:
            if response.geturl() != browser.base + path:  # redirected: not the page asked for
                return None, f"redirected to {response.geturl()}"
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, ""
    except OSError as error:
        return None, repr(error)


def sign_in(base: str) -> Browser:
    browser = Browser(base)
    token = CSRF.search(browser.get("/account/login")).group(1)
    code = browser.post("/account/login", {"csrf_token": token, "email": OWNER_EMAIL,
                                           "password": PASSWORD})
    if code != 200 or fetch(browser, "/monitoring/", {})[0] != 200:
        raise BenchError(f"the owner could not sign in ({code})")
    return browser


def expected_rows(readings: list[dict], kind: str, today: date) -> int:
    """How many points the chart of the current `kind` period has for these readings."""
    days = {reading_day(reading) for reading in readings}
    if kind == "day":
        return sum(1 for reading in readings if reading_day(reading) == today)
    if kind == "month":
        return sum(1 for day in days if (day.year, day.month) == (today.year, today.month))
    return len({day.month for day in days if day.year == today.year})


def check_page(label: str, status: int | None, text: str, readings: list[dict]) -> str | None:
    """What is wrong with one answer (None if nothing): its status, and the rows and bars
    that the chart, the partial or the CSV must show for these readings."""
    if status != 200:
        return f"answered {status} {text[:200]}"
    today = datetime.now(JST).date()
    if label == "day CSV":
        rows, wanted = len(text.strip().splitlines()) - 1, expected_rows(readings, "day", today)
        return None if rows == wanted else f"{rows} CSV rows, expected {wanted}"
    if label.startswith("status"):
        ok = "state-normal" in text and "now-grid" in text and "<html" not in text
        return None if ok else "not the status partial of a reporting gateway"
    kind = label.split("(")[1].rstrip(")")
    chart = CHART.search(text)
    if chart is None or "state-normal" not in text:
        return "no chart section or no status line of a reporting gateway"
    chart = chart.group(0)
    wanted = expected_rows(readings, kind, today)
    rows = chart.count('<th scope="row">')
    shapes = chart.count('<path class="c-' if kind == "day" else '<rect class="c-')
    if rows != wanted:
        return f"{rows} table rows, expected {wanted}"
    if kind != "day" and shapes < wanted:
        return f"{shapes} bars for {wanted} points"
    if kind == "day" and wanted and not shapes:
        return "no area in the day chart"
    return None


@dataclass
class Timed:
    """The response times (seconds) of one page of one gateway, over every round."""

    timings: list[float] = field(default_factory=list)

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.timings) * 1000

    @property
    def p95_ms(self) -> float:
        ordered = sorted(self.timings)
        return ordered[max(0, math.ceil(len(ordered) * 0.95) - 1)] * 1000


def time_block(browsers: list[Browser], targets: list[tuple[str, Timed]], headers: dict,
               marker: str, count: int, failures: list[str]) -> None:
    """`count` requests of each target path, taken in turn (so that both sides of a
    comparison see the machine in the same state), one worker thread per signed-in
    browser; an answer other than a 200 with `marker` in it is a failure."""
    remaining = iter(range(count * len(targets)))
    lock = threading.Lock()

    def work(browser: Browser) -> None:
        while True:
            with lock:
                index = next(remaining, None)
            if index is None:
                return
            path, timed = targets[index % len(targets)]
            started = time.perf_counter()
            status, text = fetch(browser, path, headers)
            elapsed = time.perf_counter() - started
            with lock:
                timed.timings.append(elapsed)
                if status != 200 or marker not in text:
                    failures.append(f"{path}: {status} {text[:120]}")

    threads = [threading.Thread(target=work, args=(browser,)) for browser in browsers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def measure_pages(base: str, readings: dict[str, list[dict]], args) -> dict[str, list]:
    """Every page of both gateways checked in full once (which also warms the templates),
    then timed in rounds: /healthz, then each page of "1 day" and of "1 year" in turn,
    request by request (which one goes first swaps every round)."""
    browsers = [sign_in(base) for _ in range(args.workers)]
    for bench in GATEWAYS:
        for label, suffix, headers in PAGES:
            path = f"/monitoring/gateways/{bench.gateway_id}{suffix}"
            problem = check_page(label, *fetch(browsers[0], path, headers),
                                 readings[bench.gateway_id])
            if problem:
                raise BenchError(f"{bench.label} {label} ({path}): {problem}")

    today = datetime.now(JST).date()
    results = {"healthz": [Timed()], **{label: [Timed(), Timed()] for label, _, _ in PAGES},
               "points": {kind: [expected_rows(readings[bench.gateway_id], kind, today)
                                 for bench in GATEWAYS] for kind in ("day", "month", "year")}}
    failures: list[str] = []
    block = max(1, args.requests // args.rounds)
    for round_no in range(args.rounds):
        time_block(browsers, [("/healthz", results["healthz"][0])], {}, '"ok"', block,
                   failures)
        order = (0, 1) if round_no % 2 == 0 else (1, 0)
        for label, suffix, headers in PAGES:
            targets = [(f"/monitoring/gateways/{GATEWAYS[side].gateway_id}{suffix}",
                        results[label][side]) for side in order]
            time_block(browsers, targets, headers, MARKERS[label], block, failures)
    if failures:
        raise BenchError(f"{len(failures)} measured request(s) failed, first: {failures[0]}")
    return results


# -- one database --------------------------------------------------------------------------------
def run(name: str, uri: str, args) -> list[str]:
    """Load, check and time one database; the report's lines."""
    end = slot_end(datetime.now(timezone.utc))
    readings = {bench.gateway_id: generate(end, bench.days * DAY_SLOTS) for bench in GATEWAYS}
    app = build_app(uri)
    try:
        with serving(app) as base:
            loaded = ingest(base, readings, args)
            for bench in GATEWAYS:
                count = len(readings[bench.gateway_id])
                stored, daily, monthly, pv, daily_pv = stored_counts(app, bench)
                if not stored == daily == monthly == count or pv != daily_pv:
                    raise BenchError(
                        f"{bench.label}: {stored} readings, {daily} daily and {monthly} "
                        f"monthly slots, generation {pv} vs {daily_pv} W; expected {count}")
            pages = measure_pages(base, readings, args)
    finally:
        with app.app_context():
            from models import db

            db.engine.dispose()
    return report(name, loaded, pages, args)


def report(name: str, loaded: Ingest, pages: dict[str, list], args) -> list[str]:
    batches, live, resend = loaded.batches, loaded.live, loaded.resend
    first, last = loaded.first_last_ms
    healthz = pages["healthz"][0]
    lines = [
        f"== {name} ==",
        f"ingest: {batches.count:,} readings in {batches.seconds:.1f} s = "
        f"{batches.per_second:,.0f} readings/s (batches of {loaded.batch_size}, "
        f"{args.ingest_clients} client(s), p50 {statistics.median(batches.timings) * 1000:.0f} ms;"
        f" first/last quarter p50 {first:.0f}/{last:.0f} ms = {last / first:.2f}x)",
        f"live single readings: {live.count} requests, {live.requests_per_second:.0f} req/s = "
        f"{live.per_second:.0f} readings/s (p50 {statistics.median(live.timings) * 1000:.1f} ms)",
        f"resend (all duplicates): {resend.count:,} readings in {len(resend.timings)} batches, "
        f"{resend.per_second:,.0f} readings/s",
        f"pages: {len(healthz.timings)} requests per cell in {args.rounds} rounds, "
        f"{args.workers} concurrent client(s), loopback",
        f"{'page':<22}{'1 day p50/p95 ms':>18}{'1 year p50/p95 ms':>20}{'year/day':>10}"
        f"{'vs /healthz (day, year)':>26}",
        f"{'/healthz':<22}{healthz.p50_ms:>9.1f} / {healthz.p95_ms:<6.1f}",
    ]
    grown = []
    for label, _, _ in PAGES:
        day, year = pages[label]
        growth = year.p50_ms / day.p50_ms
        flag = " !" if growth > args.max_growth else "  "
        if growth > args.max_growth:
            grown.append(f"{label} {growth:.2f}x")
        lines.append(f"{label:<22}{day.p50_ms:>9.1f} / {day.p95_ms:<6.1f}"
                     f"{year.p50_ms:>11.1f} / {year.p95_ms:<6.1f}"
                     f"{growth:>8.2f}x{flag}{day.p50_ms / healthz.p50_ms:>9.1f}x"
                     f"{year.p50_ms / healthz.p50_ms:>6.1f}x")
    points = ", ".join(f"{kind} {day}/{year}" for kind, (day, year) in pages["points"].items())
    lines.append(f"points drawn, 1 day/1 year: {points} (at most 288, 31 and 12 whatever the "
                 f"history)")
    if grown:
        lines.append(f"! year/day above {args.max_growth}x: {', '.join(grown)}")
    else:
        lines.append(f'every page of "1 year" within {args.max_growth}x of "1 day"')
    return lines


# -- main --------------------------------------------------------------------------------
def bounded(value: int, low: int, high: int) -> int:
    return max(low, min(value, high))


def main() -> int:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100, help="per page and gateway")
    parser.add_argument("--workers", type=int, default=1, help="concurrent page clients")
    parser.add_argument("--rounds", type=int, default=5, help="page rounds (day/year in turn)")
    parser.add_argument("--ingest-clients", type=int, default=1,
                        help="concurrent API clients (a gateway posts one batch at a time)")
    parser.add_argument("--batch", type=int, default=2016, help="readings per batch")
    parser.add_argument("--live", type=int, default=200, help="single-reading requests")
    parser.add_argument("--resend", type=int, default=10, help="batches sent again")
    parser.add_argument("--max-growth", type=float, default=MAX_GROWTH)
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES_URL",
                                                             DEFAULT_POSTGRES),
                        help="SQLAlchemy URL of a loopback server (env BENCH_POSTGRES_URL)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args()
    args.requests = bounded(args.requests, 10, 2000)
    args.workers = bounded(args.workers, 1, 16)
    args.rounds = bounded(args.rounds, 1, args.requests)
    args.ingest_clients = bounded(args.ingest_clients, 1, 8)
    args.batch = bounded(args.batch, 1, 2016)
    args.live = bounded(args.live, 1, 1000)
    args.resend = bounded(args.resend, 1, 50)

    databases = []
    with tempfile.TemporaryDirectory() as folder:
        databases.append(("SQLite", f"sqlite:///{Path(folder) / 'bench.sqlite3'}"))
        if not args.no_postgres:
            check_loopback(args.postgres)
            databases.append(("PostgreSQL", args.postgres))
        failed = False
        for name, uri in databases:
            started = time.perf_counter()
            try:
                if name == "PostgreSQL":
                    reset_postgres(uri)
                lines = run(name, uri, args)
            except BenchError as error:
                print(f"== {name} ==  FAILED: {error}", flush=True)
                failed = True
                continue
            print("\n".join(lines), f"({name}: {time.perf_counter() - started:.0f} s)", "",
                  sep="\n", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
