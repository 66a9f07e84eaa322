"""`make bench`: how the ID's hot paths compare with the cheapest request, /healthz,
measured in the same run on the same machine (these machines are shared and noisy, so only
the ratios mean something). Runs against a live threaded server on 127.0.0.1 with a file
SQLite database; every loop is bounded.

    python tests/bench/bench_requests.py [--requests 200] [--workers 4]
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.cookiejar import CookieJar
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from werkzeug.serving import make_server  # noqa: E402

from app import create_app  # noqa: E402
from config import Config, TestConfig  # noqa: E402

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
PASSWORD = "Bench-Mark-2026!"


def build_app(database: Path):
    app = create_app({
        **{k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()},
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
        "RATELIMIT_ENABLED": False,
        "TESTING": False,
        # Sign-in is measured at the production cost of argon2, not the tests' minimum.
        **{k: getattr(Config, k) for k in ("ARGON2_TIME_COST", "ARGON2_MEMORY_COST",
                                           "ARGON2_PARALLELISM")},
    })
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        from blueprints.account.services import hash_password
        from models import db, utcnow
        from models.account import Account, AccountType

        db.session.add(Account(email="bench@example.com", password_hash=hash_password(PASSWORD),
                               family_name="試験", given_name="太郎",
                               account_type=AccountType.PERSONAL, activated_at=utcnow()))
        db.session.commit()
    return app


class Browser:
    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=30) as response:
            return response.read().decode()

    def post(self, path: str, data: dict) -> int:
        body = urllib.parse.urlencode(data).encode()
        try:
            with self.opener.open(self.base + path, body, timeout=30) as response:
                response.read()
                return response.status
        except urllib.error.HTTPError as error:
            return error.code


def measure(name: str, requests: int, workers: int, make_call) -> dict:
    calls = [make_call() for _ in range(workers)]
    timings: list[float] = []
    failures = 0
    lock = threading.Lock()

    def run(index: int) -> None:
        nonlocal failures
        started = time.perf_counter()
        ok = calls[index % workers]()
        elapsed = time.perf_counter() - started
        with lock:
            timings.append(elapsed)
            failures += 0 if ok else 1

    wall = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(run, range(requests)))
    wall = time.perf_counter() - wall
    timings.sort()
    return {"name": name, "rps": requests / wall, "median_ms": statistics.median(timings) * 1000,
            "p95_ms": timings[int(len(timings) * 0.95) - 1] * 1000, "failures": failures}


def main() -> int:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    requests = max(10, min(args.requests, 5000))
    workers = max(1, min(args.workers, 32))

    with tempfile.TemporaryDirectory() as folder:
        app = build_app(Path(folder) / "bench.sqlite3")
        server = make_server("127.0.0.1", 0, app, threaded=True)
        base = f"http://127.0.0.1:{server.server_port}"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            def healthz():
                browser = Browser(base)
                return lambda: "ok" in browser.get("/healthz")

            def login_page():
                browser = Browser(base)
                return lambda: "csrf_token" in browser.get("/account/login")

            def postal_lookup():
                browser = Browser(base)
                query = "/postal-code?prefix=address-&address-postal_code=1030026"
                return lambda: "中央区" in browser.get(query)

            def sign_in():
                def call():
                    browser = Browser(base)  # a new visitor each time: own cookies
                    token = CSRF.search(browser.get("/account/login")).group(1)
                    code = browser.post("/account/login", {
                        "csrf_token": token, "email": "bench@example.com", "password": PASSWORD})
                    if code != 200:
                        print(f"sign-in answered {code}", file=sys.stderr)
                    return code == 200
                return call

            results = [measure("GET /healthz (baseline)", requests, workers, healthz)]
            results.append(measure("GET /account/login", requests, workers, login_page))
            results.append(measure("GET /postal-code (1030026)", requests, workers, postal_lookup))
            results.append(measure("sign-in (GET form + POST, argon2)", max(10, requests // 4),
                                   workers, sign_in))
        finally:
            server.shutdown()
            thread.join(timeout=10)

    baseline = results[0]["median_ms"]
    print(f"{requests} requests, {workers} concurrent clients, file SQLite, loopback")
    print(f"{'path':<36} {'req/s':>8} {'median ms':>10} {'p95 ms':>8} {'x baseline':>11} {'failed':>7}")
    for row in results:
        print(f"{row['name']:<36} {row['rps']:>8.1f} {row['median_ms']:>10.1f} {row['p95_ms']:>8.1f}"
              f" {row['median_ms'] / baseline:>11.1f} {row['failures']:>7}")
    return 1 if any(row["failures"] for row in results) else 0


if __name__ == "__main__":
    sys.exit(main())
