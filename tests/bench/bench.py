"""`make bench`: what each page of issue 14 costs, at demo scale and at fleet scale, on
SQLite and on PostgreSQL, under gunicorn (2 workers, as production runs it) with wrk
(16 connections, 2 threads).

For each database: a fresh database, `db upgrade`, `seed demo`, `gateways simulate
--days 30` (demo scale), a copy of it; then `seed fleet` on top of the original (fleet
scale: 20,000 gateways and a 5,000-gateway big dealer by default, `--full` for the issue's
fleet). A gunicorn on each, and each page at demo scale and right after at fleet scale.
Signed-in pages use sessions made on each server (owner@example.com; dealer@example.com
and support@example.com through their first two-step set-up, with pyotp).

cost = /healthz req/s ÷ page req/s, each run after the server has worked off the
previous one's queue (these machines are shared and noisy: only ratios mean something,
and the load drifts from second to second). A page is read in `--repeat` turns (default
4, sharing its `--seconds`, default 4): a /healthz run (`--baseline-seconds`, default 1),
then the page at demo scale and at fleet scale back to back, the turn's order
alternating so that a drift favours neither. Both samples of a turn share its /healthz
run (the two servers run the same code; /healthz reads no data), so a turn's fleet/demo
is the ratio of the page's two throughputs. A page's cost is the median of its samples',
fleet/demo the median of the turns': a burst of a neighbour's load during one second
decides nothing. The POST scripts run once. One table per database:

    page | demo cost | fleet cost | fleet/demo | p50 | p99 | budget | verdict

p50/p99 are the fleet run's (the demo run's when a page runs at demo scale only). A page
of the fleet only (a gateway with a year of history) is paired in each turn with its
counterpart at demo scale (the demo gateway's same view). The
budgets are issue 14's item 3; the verdict names each one a page misses. Every page is
checked once before it is timed (a 200 with the content it must show), and wrk's count of
non-2xx answers is reported, so error pages are never timed. Loopback only; every loop
is bounded.

    python tests/bench/bench.py [--only sqlite|postgres] [--full] [--seconds 4]
        [--pages home,console,...] [--postgres URL]
"""
from __future__ import annotations

import argparse
import html
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DEFAULT_POSTGRES = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/enelink_bench")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
PASSWORD = "Demo-Pass-2026!"
DEMO_GATEWAY = "01AB00000001"
JST = timezone(timedelta(hours=9))
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
NEXT_LINK = re.compile(r'<a\b[^>]*\brel="next"[^>]*>')
HREF = re.compile(r'\bhref="([^"]+)"')
BATCH = 2016
WORKERS = 2
CONNECTIONS, THREADS = 16, 2
DEEP_PAGES = 240          # how many "next" links the deep console page is
DEEP_FOLLOW_SECONDS = 120  # … followed for at most this long


class BenchError(RuntimeError):
    """The bench cannot go on (a server that does not start, a wrong answer)."""


# -- budgets (issue 14, item 3) --------------------------------------------------------------
FLAT = 1.3  # fleet cost within 1.3x of demo cost
BUDGETS = {
    "simple": "≤2",
    "monitor": "≤5",
    "console": "≤6, p99≤150ms",
    "api": "≤3, ≥200/s",
    "batch": "≥20000 readings/s",
}


@dataclass
class Page:
    """One row of the table: a name, who asks, how, and which budget applies."""

    name: str
    path: str                 # may hold {placeholders} filled from the phase's context
    role: str = "anon"        # anon, owner, dealer, staff, api
    budget: str | None = None
    headers: dict = field(default_factory=dict)
    expect: str = ""          # a text the answer must contain (checked once)
    script: str | None = None  # a wrk Lua script (POSTs)
    fleet_only: bool = False
    compare: str | None = None  # a fleet-only page's demo counterpart (its demo cost)


PAGES = [
    Page("healthz", "/healthz", expect="ok"),
    Page("login", "/account/login", expect="csrf_token"),
    Page("postal-code", "/postal-code?prefix=address-&address-postal_code=1030026",
         expect="中央区"),
    Page("sign-in POST", "/account/login", script="signin"),
    Page("home", "/", "owner", "simple"),
    Page("menu", "/account/settings", "owner", "simple"),
    Page("settings", "/account/settings/personal", "owner", "simple"),
    Page("monitoring", "/monitoring/", "owner", expect=DEMO_GATEWAY),
    Page("monitor day", "/monitoring/gateways/{gateway}/monitor?period=day&date={yesterday}",
         "owner", "monitor", expect="<svg"),
    Page("monitor month", "/monitoring/gateways/{gateway}/monitor?period=month", "owner",
         "monitor", expect="<svg"),
    Page("monitor year", "/monitoring/gateways/{gateway}/monitor?period=year", "owner",
         "monitor", expect="<svg"),
    Page("monitor chart (htmx)",
         "/monitoring/gateways/{gateway}/monitor?period=day&date={yesterday}", "owner",
         headers={"HX-Request": "true", "HX-Target": "chart"}, expect="<svg"),
    Page("monitor now (htmx)", "/monitoring/gateways/{gateway}/monitor/now", "owner",
         headers={"HX-Request": "true"}),
    Page("monitor CSV day", "/monitoring/gateways/{gateway}/monitor.csv?period=day&date={yesterday}",
         "owner"),
    # a gateway of the fleet's sample: a year of rollups and a week of readings, against
    # the demo gateway's month of history at demo scale (the page must not grow with it)
    Page("monitor day, 1y hist", "/monitoring/gateways/{sample}/monitor?period=day&date="
         "{yesterday}", "sample_owner", "monitor", expect="<svg", fleet_only=True,
         compare="monitor day"),
    Page("monitor month, 1y hist", "/monitoring/gateways/{sample}/monitor?period=month",
         "sample_owner", "monitor", expect="<svg", fleet_only=True, compare="monitor month"),
    Page("monitor year, 1y hist", "/monitoring/gateways/{sample}/monitor?period=year",
         "sample_owner", "monitor", expect="<svg", fleet_only=True, compare="monitor year"),
    Page("console", "/dealers/", "dealer", "console"),
    Page("console q=e-mail", "/dealers/?q={q_email}", "dealer", "console", expect="{gateway_q}"),
    Page("console q=gateway", "/dealers/?q={q_gateway}", "dealer", "console",
         expect="{gateway_q}"),
    Page("console q=site", "/dealers/?q={q_site}", "dealer", "console", expect="{site_first}"),
    Page("console deep", "{deep}", "dealer", "console"),
    Page("staff accounts", "/staff/accounts/?q={q_email}", "staff"),
    Page("staff support", "/staff/support/", "staff"),
    Page("API single POST", "/api/v1/gateways/", "api", "api", script="single",
         fleet_only=True),
    Page("API batch POST", "/api/v1/gateways/", "api", "batch", script="batch",
         fleet_only=True),
    # the same gateways' first batches again: every reading a duplicate (a device that
    # resends after a lost answer)
    Page("API batch resend", "/api/v1/gateways/", "api", None, script="resend",
         fleet_only=True),
]


# -- HTTP without a cookie jar (the production cookies are Secure, the bench plain http) ----
class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Client:
    """A browser of one person: its cookies, redirects followed by hand."""

    def __init__(self, base: str):
        self.base = base
        self.cookies: dict[str, str] = {}
        self.opener = urllib.request.build_opener(_NoRedirect)

    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    def request(self, path: str, data: dict | None = None, headers: dict | None = None,
                follow: int = 5) -> tuple[int, str, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base + path, body, headers=dict(headers or {}))
        if self.cookies:
            request.add_header("Cookie", self.cookie_header())
        try:
            response = self.opener.open(request, timeout=60)
        except urllib.error.HTTPError as error:
            response = error
        text = response.read().decode("utf-8", "replace")
        for header in response.headers.get_all("Set-Cookie") or ():
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if "Max-Age=0" in header or "expires=Thu, 01 Jan 1970" in header:
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value
        status = response.status if hasattr(response, "status") else response.code
        location = response.headers.get("Location")
        if status in (301, 302, 303, 307) and location and follow > 0:
            target = urllib.parse.urlsplit(urllib.parse.urljoin(self.base + path, location))
            local = target.path + (f"?{target.query}" if target.query else "")
            return self.request(local, None, headers, follow - 1)
        return status, path, text


def sign_in(base: str, email: str) -> Client:
    """A signed-in browser; a dealer or staff member sets up TOTP on the way (the first
    sign-in of a fresh database asks for it)."""
    import pyotp

    client = Client(base)
    _status, _path, page = client.request("/account/login")
    status, path, page = client.request("/account/login", {
        "csrf_token": CSRF.search(page).group(1), "email": email, "password": PASSWORD})
    if "totp-secret" not in page and "second-step" in path:
        status, path, page = client.request("/account/settings/second-step/totp")
    match = re.search(r'class="totp-secret"[^>]*>([^<]+)<', page)
    if match:
        secret = match.group(1).replace(" ", "")
        status, path, page = client.request(path, {
            "csrf_token": CSRF.search(page).group(1), "code": pyotp.TOTP(secret).now()})
    if status != 200 or "/account/login" in path:
        raise BenchError(f"sign-in of {email} ended at {path} ({status})")
    return client


# -- databases and processes ------------------------------------------------------------------
def check_loopback(uri: str) -> None:
    from sqlalchemy.engine import make_url

    host = make_url(uri).host
    if host not in LOOPBACK:
        raise SystemExit(f"refusing {host!r}: benchmarks only ever target loopback addresses")


def reset_postgres(uri: str) -> None:
    """Recreate the bench's own database (never postgres or the tests' database)."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(uri).set(drivername="postgresql")
    if not url.database or url.database in {"postgres", "test", "template0", "template1"}:
        raise SystemExit("use a database of the bench's own (e.g. enelink_bench)")
    admin = url.set(database="postgres").render_as_string(hide_password=False)
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{url.database}"')
    except psycopg.OperationalError as error:
        raise BenchError(f"PostgreSQL at {url.host}:{url.port or 5432} cannot be reached: "
                         f"{str(error).strip().splitlines()[0]}") from None


def flask(uri: str, *args: str) -> str:
    """Run `flask --app app …` on the bench database in development mode."""
    env = {**os.environ, "ENELINK_ENV": "development", "DATABASE_URL": uri,
           "MAIL_RELAY_IN_PROCESS": "0", "GATEWAY_WATCH_IN_PROCESS": "0",
           "GATEWAY_SIMULATOR_IN_PROCESS": "0"}
    done = subprocess.run([str(BIN / "flask"), "--app", "app", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=1800)
    if done.returncode:
        raise BenchError(f"flask {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """gunicorn with 2 sync workers on the bench database, production settings except
    the rate limits (a bench of 16 clients from one address is not an attack)."""

    def __init__(self, uri: str, secret_key: str, log: Path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {key: value for key, value in os.environ.items() if key != "ENELINK_ENV"}
        env.update(DATABASE_URL=uri, SECRET_KEY=secret_key, RATELIMIT_ENABLED="0",
                   MAIL_RELAY_IN_PROCESS="0", GATEWAY_WATCH_IN_PROCESS="0",
                   GATEWAY_SIMULATOR_IN_PROCESS="0")
        self.log = log
        self.process = subprocess.Popen(
            [str(BIN / "gunicorn"), "--workers", str(WORKERS), "--bind",
             f"127.0.0.1:{self.port}", "--access-logfile", "/dev/null",
             "--error-logfile", str(log), "--timeout", "120", "app:create_app()"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
            if self.process.poll() is not None:
                break
        self.stop()
        raise BenchError(f"gunicorn did not start:\n{log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# -- wrk ------------------------------------------------------------------------------------
LUA_SIGNIN = """
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
"""

# Each thread posts as its own share of the gateways (thread t takes requests t, t+T, …),
# gateway after gateway, then one 5-minute slot (single) or one week (batch) further
# back: no two requests carry the same gateway and timestamp.
LUA_API = """
local nthreads = %(threads)d
local counter, keys, id = 0, {}, 0
local mode = os.getenv("BENCH_MODE")
local base = tonumber(os.getenv("BENCH_BASE_TS"))
local first, last = tonumber(os.getenv("BENCH_KEY_FIRST")), tonumber(os.getenv("BENCH_KEY_LAST"))
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end
function init(args)
  local n = 0
  for line in io.lines(os.getenv("BENCH_KEYS")) do
    n = n + 1
    if n >= first and n <= last then
      local gid, key = line:match("([^,]+),(.+)")
      keys[#keys + 1] = {gid, key}
    end
  end
end
local units = '[{"unit":1,"status":"normal","error_code":null},{"unit":2,"status":"normal","error_code":null}]'
local function reading(ts, i)
  local pv = (i * 37) %% 4000
  return string.format('{"timestamp":"%%s","pv_kw":%%.3f,"load_kw":0.850,"battery_kw":0.500,' ..
    '"battery_state":"charging","soc":%%d,"sell_kw":0.100,"buy_kw":0.000,"units":%%s}',
    os.date("!%%Y-%%m-%%dT%%H:%%M:%%SZ", ts), pv / 1000, 20 + i %% 70, units)
end
function request()
  local n = counter * nthreads + id
  counter = counter + 1
  local k = (n %% #keys) + 1
  local round = math.floor(n / #keys)
  if mode == "resend" then round = 0 end
  local parts = {}
  if mode == "single" then
    parts[1] = reading(base - round * 300, n)
  else
    local newest = base - round * %(batch)d * 300
    for i = %(batch)d - 1, 0, -1 do
      parts[#parts + 1] = reading(newest - i * 300, i)
    end
  end
  return wrk.format("POST", "/api/v1/gateways/" .. keys[k][1] .. "/readings",
    {["Authorization"] = "Bearer " .. keys[k][2], ["Content-Type"] = "application/json"},
    '{"readings":[' .. table.concat(parts, ",") .. ']}')
end
""" % {"threads": THREADS, "batch": BATCH}

DURATION = re.compile(r"([\d.]+)(us|ms|s)\b")


def _ms(text: str) -> float:
    value, unit = DURATION.match(text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(url: str, seconds: int, headers: dict, script: Path | None = None,
            env: dict | None = None) -> dict:
    command = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency",
               "--timeout", "30s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    if script:
        command += ["-s", str(script)]
    done = subprocess.run([*command, url], capture_output=True, text=True,
                          timeout=seconds + 60, env={**os.environ, **(env or {})})
    out = done.stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if done.returncode or not rps:
        raise BenchError(f"wrk failed: {done.stderr or out}")
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    total = re.search(r"(\d+) requests in", out)
    return {"rps": float(rps.group(1)), "p50": _ms(p50.group(1)), "p99": _ms(p99.group(1)),
            "bad": int(bad.group(1)) if bad else 0, "requests": int(total.group(1)),
            "socket": errors.group(0) if errors else ""}


def settle(base: str, quick: float = 0.25, limit: float = 60.0) -> None:
    """Wait until the server has worked off what wrk left queued: when wrk stops, the
    requests its connections had sent are still processed by gunicorn's sync workers
    (a slow page leaves seconds of them), and would slow down the next measurement.
    Settled: two /healthz in a row answered within `quick` seconds."""
    deadline, quick_ones = time.monotonic() + limit, 0
    while quick_ones < 2 and time.monotonic() < deadline:
        started = time.monotonic()
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=limit) as response:
                response.read()
        except OSError:
            time.sleep(0.1)
            continue
        quick_ones = quick_ones + 1 if time.monotonic() - started < quick else 0


# -- one phase: a server, the pages ------------------------------------------------------------
def context_of(uri: str, scale: str, dealer: Client) -> dict:
    """The values the pages' paths need: the demo gateway, yesterday, the console's
    searches (the e-mail and the ID of the big dealer's newest linked gateway; the site
    name most of its links share, a common surname, and the first gateway that search
    lists) and its deep page."""
    from sqlalchemy import create_engine, text

    big_dealers_links = (
        "FROM dealer_link l JOIN gateway g ON g.id = l.gateway_id "
        "JOIN account a ON a.id = g.owner_id JOIN dealer d ON d.id = l.dealer_id "
        "JOIN account m ON m.company_id = d.company_id WHERE m.email = 'dealer@example.com' ")
    engine = create_engine(uri)
    with engine.connect() as connection:
        row = connection.execute(text(
            "SELECT g.gateway_id, a.email " + big_dealers_links +
            # a fleet gateway when there is one: the demo owner's address would match
            # every fleet owner's (ownerNNNNNN@…)
            "ORDER BY CASE WHEN g.gateway_id LIKE '02FL%' THEN 0 ELSE 1 END, "
            "l.linked_at DESC LIMIT 1")).first()
        site = connection.execute(text(
            "SELECT g.site_name " + big_dealers_links + "AND g.site_name IS NOT NULL "
            "GROUP BY g.site_name ORDER BY count(*) DESC, g.site_name LIMIT 1")).scalar()
        site_first = connection.execute(text(
            "SELECT g.gateway_id " + big_dealers_links + "AND g.site_name = :site "
            "ORDER BY l.alerting DESC, l.linked_at DESC, l.id DESC LIMIT 1"),
            {"site": site}).scalar()
        sample = connection.execute(text(
            "SELECT g.gateway_id, a.email FROM gateway g JOIN account a ON a.id = g.owner_id "
            "WHERE g.gateway_id LIKE '02FL%' AND EXISTS (SELECT 1 FROM gateway_reading r "
            "WHERE r.gateway_id = g.id) ORDER BY g.id LIMIT 1")).first()
    engine.dispose()
    gateway_id, email = row if row else (DEMO_GATEWAY, "owner@example.com")
    site, site_first = (site, site_first) if site else ("山田様邸", DEMO_GATEWAY)
    sample_gateway, sample_owner = sample if sample else (DEMO_GATEWAY, "owner@example.com")
    yesterday = (datetime.now(JST) - timedelta(days=1)).date().isoformat()
    return {"gateway": DEMO_GATEWAY, "yesterday": yesterday, "gateway_q": gateway_id,
            "q_email": urllib.parse.quote(email.split("@")[0]),
            "q_gateway": gateway_id, "q_site": urllib.parse.quote(site),
            "site_first": site_first, "deep": deep_page(dealer), "sample": sample_gateway,
            "sample_owner": sample_owner}


def deep_page(dealer: Client) -> str:
    """The console page DEEP_PAGES "next" links in (or the last one), found by following
    the page's rel="next" links: numbered pages and keyset navigation both have them."""
    path, started = "/dealers/", time.monotonic()
    for _ in range(DEEP_PAGES):
        _status, _path, page = dealer.request(path)
        link = NEXT_LINK.search(page)
        if not link or time.monotonic() - started > DEEP_FOLLOW_SECONDS:
            break
        path = html.unescape(HREF.search(link.group(0)).group(1))
        numbered = re.fullmatch(r"/dealers/\?page=(\d+)", path)
        if numbered:  # numbered pages: the same page is reached directly
            return f"/dealers/?page={DEEP_PAGES + 1}"
    return path


@dataclass
class Phase:
    """One scale of one database: its own copy of the data, its gunicorn, its visitors."""

    db_name: str
    scale: str
    uri: str
    keys_file: Path | None = None
    server: Server | None = None
    clients: dict = field(default_factory=dict)
    context: dict = field(default_factory=dict)
    anonymous: Client | None = None
    results: dict = field(default_factory=dict)

    def start(self, secret_key: str, work: Path) -> None:
        self.server = Server(self.uri, secret_key, work / f"gunicorn-{self.db_name}-"
                             f"{self.scale}.log")
        for role, email in (("owner", "owner@example.com"), ("dealer", "dealer@example.com"),
                            ("staff", "support@example.com")):
            self.clients[role] = sign_in(self.server.base, email)
        self.context = context_of(self.uri, self.scale, self.clients["dealer"])
        if self.scale == "fleet":
            self.clients["sample_owner"] = sign_in(self.server.base,
                                                   self.context["sample_owner"])
        self.anonymous = Client(self.server.base)

    def stop(self) -> None:
        if self.server:
            self.server.stop()


def measure_pages(phases: list[Phase], args, work: Path) -> None:
    """Each page at demo scale and at fleet scale in turns (two servers, each on its own
    copy of the data): a /healthz run, then the page at both scales back to back, the
    turn's order alternating (demo first, then fleet first, …). The machine's load drifts
    from second to second: both samples of a turn share the /healthz run of that moment
    (the two servers run the same code, and /healthz reads no data), so fleet/demo is
    their two throughputs' ratio, and a drift favours neither scale. A page's cost is its
    median sample's; fleet/demo the median of the turns' ratios."""
    for page in PAGES:
        if args.pages and page.name not in args.pages and page.name != "healthz":
            continue
        # a fleet-only page with a demo-scale counterpart (`compare`: the demo gateway's
        # same view) is paired with it in each turn, as any page is with itself
        counterpart = {"demo": next(p for p in PAGES if p.name == page.compare)
                       } if page.compare else {}
        taking = [phase for phase in phases
                  if not page.fleet_only or phase.scale == "fleet" or counterpart]
        # a page read in --repeat turns (its --seconds shared among them): so that one
        # moment's burst of a neighbour's load decides nothing (a POST script: once)
        repeat = 1 if page.script else args.repeat
        seconds = max(1, args.seconds // repeat)
        samples: dict[str, list[dict]] = {phase.scale: [] for phase in taking}
        for turn in range(repeat):
            order = taking if turn % 2 == 0 else taking[::-1]
            settle(order[0].server.base)
            baseline = run_wrk(order[0].server.base + "/healthz", args.baseline_seconds,
                               {})["rps"]
            for phase in order:
                settle(phase.server.base)
                sample = measure_page(counterpart.get(phase.scale, page), phase.server,
                                      phase.context, phase.clients, phase.anonymous, args,
                                      work, phase.keys_file, seconds)
                sample["healthz_rps"] = sample["rps"] if page.name == "healthz" else baseline
                samples[phase.scale].append(sample)
            settle(order[-1].server.base)
        for phase in taking:
            ordered = sorted(samples[phase.scale], key=cost)
            # the median sample's latencies; the median of the costs (of an even number
            # of samples, the middle two's mean)
            row = phase.results[page.name] = dict(ordered[len(ordered) // 2])
            row["cost"] = _median([cost(sample) for sample in ordered])
            if page.name == "healthz":  # the table's heading: the median rate
                row["rps"] = _median([sample["rps"] for sample in ordered])
            if len(taking) == 2 and phase.scale == "fleet":
                row["flat"] = _median([demo["rps"] / fleet["rps"] for demo, fleet in zip(
                    samples["demo"], samples["fleet"])])
            shown = counterpart[phase.scale].name if phase.scale in counterpart else page.name
            print(f"  {phase.db_name:<8} {phase.scale:<5} {shown:<22} "
                  f"{row['rps']:>8.1f}/s p50 {row['p50']:>7.1f} ms  p99 {row['p99']:>7.1f} ms"
                  + (f"  non-2xx {row['bad']}" if row["bad"] else "")
                  + (f"  {row['socket']}" if row["socket"] else ""), flush=True)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def cost(sample: dict) -> float:
    """What a request of the page costs, as /healthz requests of the same moment (a
    page's row: the median of its samples')."""
    return sample["cost"] if "cost" in sample else sample["healthz_rps"] / sample["rps"]


def measure_page(page: Page, server: Server, context: dict, clients: dict,
                 anonymous: Client, args, work: Path, keys_file: Path | None,
                 seconds: int) -> dict:
    path = page.path.format(**context)
    headers = dict(page.headers)
    client = clients.get(page.role, anonymous)
    if page.role in clients:
        headers["Cookie"] = client.cookie_header()
    if page.script == "signin":
        visitor = Client(server.base)
        _s, _p, form = visitor.request("/account/login")
        fields = {"csrf_token": CSRF.search(form).group(1), "email": "owner@example.com",
                  "password": PASSWORD}
        body = urllib.parse.urlencode(fields)
        status, landed, _text = visitor.request("/account/login", fields)
        if status != 200 or landed == "/account/login":
            raise BenchError(f"sign-in POST check failed ({status}, {landed})")
        headers["Cookie"] = visitor.cookie_header()
        script = work / "signin.lua"
        script.write_text(LUA_SIGNIN)
        return run_wrk(server.base + path, seconds, headers, script,
                       {"BENCH_BODY": body})
    if page.script in ("single", "batch", "resend"):
        return measure_api(page, server, args, work, keys_file, context)
    status, landed, text = client.request(path, headers=page.headers, follow=0)
    expected = page.expect.format(**context)
    if status != 200 or (expected and expected not in text):
        raise BenchError(f"{page.name}: {path} answered {status} without {expected!r}")
    return run_wrk(server.base + path, seconds, headers)


def measure_api(page: Page, server: Server, args, work: Path, keys_file: Path,
                context: dict) -> dict:
    """Single readings from the first half of the keyed gateways, batches from the
    second: every reading new (these gateways had none). The resend posts again to the
    gateways the batches surely reached (half as many as the batches: wrk's two threads
    take every other request). Checked once with the last key."""
    lines = keys_file.read_text().splitlines()
    half = (len(lines) - 1) // 2
    check_id, check_key = lines[-1].split(",", 1)
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    base = now - timedelta(minutes=now.minute % 5 + 5)
    probe = urllib.request.Request(
        f"{server.base}/api/v1/gateways/{check_id}/readings",
        json.dumps({"readings": [{
            # a slot far from the timed ones, another for each page
            "timestamp": (base - timedelta(days={"single": 300, "batch": 301}.get(
                page.script, 302))).isoformat(), "pv_kw": 1.0,
            "load_kw": 0.5, "battery_kw": 0.2, "battery_state": "charging", "soc": 50,
            "sell_kw": 0.3, "buy_kw": 0.0,
            "units": [{"unit": 1, "status": "normal", "error_code": None},
                      {"unit": 2, "status": "normal", "error_code": None}]}]}).encode(),
        headers={"Authorization": f"Bearer {check_key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(probe, timeout=30) as response:
        answer = json.loads(response.read())
    if answer.get("accepted") + answer.get("duplicates") != 1:
        raise BenchError(f"the API check was not taken: {answer}")
    first, last = {"single": (1, half), "batch": (half + 1, 2 * half),
                   "resend": (half + 1, half + max(1, context.get("batches", 2) // 2))
                   }[page.script]
    script = work / "api.lua"
    script.write_text(LUA_API)
    # a batch takes seconds under load: twice as long a run, for more than a handful
    row = run_wrk(server.base + "/", 2 * args.seconds, {}, script, {
        "BENCH_MODE": page.script, "BENCH_BASE_TS": str(int(base.timestamp())),
        "BENCH_KEYS": str(keys_file), "BENCH_KEY_FIRST": str(first),
        "BENCH_KEY_LAST": str(last)})
    if page.script in ("batch", "resend"):
        row["readings_per_s"] = row["rps"] * BATCH
    if page.script == "batch":
        context["batches"] = row["requests"]
    return row


# -- one database: demo scale, then fleet scale ------------------------------------------------
def fleet_args(full: bool) -> list[str]:
    if full:
        return ["--owners", "100000", "--gateways", "120000", "--dealers", "3000",
                "--big-dealer", "5000", "--sample", "2000"]
    return ["--gateways", "20000", "--big-dealer", "5000"]


def copy_database(db_name: str, uri: str, work: Path) -> str:
    """A copy of the database as it is (the demo scale, kept while the fleet is seeded
    into the original): SQLite's backup, or a PostgreSQL database made from it as a
    template (dropped first if an earlier run left it)."""
    from sqlalchemy.engine import make_url

    if db_name == "sqlite":
        import sqlite3

        copy = work / "bench-demo.sqlite3"
        with sqlite3.connect(make_url(uri).database) as source, \
                sqlite3.connect(copy) as target:
            source.backup(target)
        return f"sqlite:///{copy}"
    import psycopg

    url = make_url(uri)
    name = f"{url.database}_demo"
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False)
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{url.database}"')
    return url.set(database=name).render_as_string(hide_password=False)


def drop_copy(db_name: str, uri: str) -> None:
    if db_name == "sqlite":
        return  # in the run's temporary folder
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(uri)
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False)
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')


def bench_database(db_name: str, uri: str, args, work: Path) -> dict:
    check_loopback(uri) if db_name == "postgres" else None
    if db_name == "postgres":
        reset_postgres(uri)
    started = time.monotonic()
    flask(uri, "db", "upgrade")
    flask(uri, "seed", "demo")
    flask(uri, "gateways", "simulate", "--days", "30")
    print(f"{db_name}: demo data in {time.monotonic() - started:.0f} s", flush=True)
    demo_uri = copy_database(db_name, uri, work)
    keys_file = work / f"keys-{db_name}.csv"
    started = time.monotonic()
    out = flask(uri, "seed", "fleet", *fleet_args(args.full), "--api-keys", str(keys_file),
                "--keys", "2001")
    seeded = time.monotonic() - started
    print(f"{db_name}: {out.strip().splitlines()[0]} ({seeded:.0f} s with the command)",
          flush=True)
    secret_key = secrets.token_hex(32)
    phases = [Phase(db_name, "demo", demo_uri), Phase(db_name, "fleet", uri, keys_file)]
    try:
        for phase in phases:
            phase.start(secret_key, work)
        measure_pages(phases, args, work)
    finally:
        for phase in phases:
            phase.stop()
        drop_copy(db_name, demo_uri)
    return {"demo": phases[0].results, "fleet": phases[1].results, "seed_seconds": seeded}


def verdict(page: Page, demo: dict | None, fleet: dict | None, cost_demo, cost_fleet,
            flat: float | None) -> str:
    misses = []
    if flat and flat > FLAT:
        misses.append(f"flat (>{FLAT}x)")
    value = cost_fleet if cost_fleet is not None else cost_demo
    row = fleet or demo
    if page.budget == "simple" and value > 2:
        misses.append("cost>2")
    if page.budget == "monitor" and value > 5:
        misses.append("cost>5")
    if page.budget == "console":
        if value > 6:
            misses.append("cost>6")
        if row["p99"] > 150:
            misses.append("p99>150ms")
    if page.budget == "api":
        if value > 3:
            misses.append("cost>3")
        if row["rps"] < 200:
            misses.append("<200/s")
    if page.budget == "batch" and row.get("readings_per_s", 0) < 20000:
        misses.append("<20000 readings/s")
    if any(r and r["bad"] for r in (demo, fleet)):
        misses.append("non-2xx answers")
    return "ok" if not misses else "MISS " + ", ".join(misses)


def table(db_name: str, result: dict, args) -> list[str]:
    demo, fleet = result["demo"], result["fleet"]
    base_demo = demo["healthz"]["rps"]
    base_fleet = fleet["healthz"]["rps"]
    lines = [f"== {db_name}: healthz {base_demo:.0f} req/s (demo), {base_fleet:.0f} req/s "
             f"(fleet); gunicorn {WORKERS} workers, wrk -c{CONNECTIONS} -t{THREADS} "
             f"-d{args.seconds}s in {args.repeat} turns (median); fleet {'full' if args.full else 'default'} seeded in "
             f"{result['seed_seconds']:.0f} s ==",
             f"{'page':<22} {'demo cost':>9} {'fleet cost':>10} {'fleet/demo':>10} "
             f"{'p50 ms':>8} {'p99 ms':>8}  {'budget':<26} verdict"]
    for page in PAGES:
        # a fleet-only page's demo cost: its counterpart's samples of the same turns
        d, f = demo.get(page.name) or demo.get(page.compare), fleet.get(page.name)
        if not d and not f:
            continue
        cost_d = cost(d) if d else None
        cost_f = cost(f) if f else None
        flat = f.get("flat", cost_f / cost_d) if cost_d and cost_f else None
        ratio = f"{flat:.2f}" if flat else "—"
        row = f or d
        budget = BUDGETS.get(page.budget, "") + (
            "" if page.fleet_only and not page.compare
            else (", " if page.budget else "") + f"≤{FLAT}x")
        extra = (f"  [{row['readings_per_s']:.0f} readings/s]" if "readings_per_s" in row
                 else f"  [{row['rps']:.0f} req/s]" if page.script == "single" else "")
        lines.append(
            f"{page.name:<22} {_cost(cost_d):>9} {_cost(cost_f):>10} {ratio:>10} "
            f"{row['p50']:>8.1f} {row['p99']:>8.1f}  {budget:<26} "
            f"{'' if page.name == 'healthz' else verdict(page, d, f, cost_d, cost_f, flat)}{extra}")
    return lines


def _cost(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("sqlite", "postgres"))
    parser.add_argument("--full", action="store_true", help="the issue's full fleet")
    parser.add_argument("--seconds", type=int, default=4,
                        help="each page's time at each scale, shared among its turns")
    parser.add_argument("--repeat", type=int, default=4,
                        help="turns of each page: a /healthz run, then the page at demo "
                             "and fleet scale back to back (the --seconds shared among "
                             "them); the median cost and ratio are kept")
    parser.add_argument("--baseline-seconds", type=int, default=1,
                        help="the /healthz run before each page, its cost's baseline")
    # a comma followed by a space is part of a name ("monitor day, 1y hist")
    parser.add_argument("--pages", type=lambda value: set(re.split(r",(?! )", value)),
                        default=None, help="comma-separated page names (healthz always runs)")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    parser.add_argument("--output", type=Path, help="also write the tables to this file")
    args = parser.parse_args()
    args.seconds = max(1, min(args.seconds, 60))
    args.baseline_seconds = max(1, min(args.baseline_seconds, 60))
    args.repeat = max(1, min(args.repeat, 9))
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: `make bench-deps`")
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="enelink-bench-") as folder:
        work = Path(folder)
        for db_name in ("sqlite", "postgres"):
            if args.only and args.only != db_name:
                continue
            uri = (f"sqlite:///{work / 'bench.sqlite3'}" if db_name == "sqlite"
                   else args.postgres)
            try:
                result = bench_database(db_name, uri, args, work)
            except BenchError as error:
                print(f"{db_name}: {error}", file=sys.stderr)
                return 1
            if args.output:  # the raw figures too, to compare runs
                args.output.with_suffix(f".{db_name}.json").write_text(json.dumps(result))
            lines += table(db_name, result, args) + [""]
    if args.output:
        args.output.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
