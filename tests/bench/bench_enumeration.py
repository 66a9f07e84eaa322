"""`make bench`, second part (after tests/bench/bench.py): can the time of an answer tell whether an address has an
account? Password reset and a new activation link are asked for a known and an unknown
address in turn (200 alternating pairs each by default, which of the two goes first
alternating too), one client at a time against a live threaded server on 127.0.0.1 with a
file SQLite database. Reported per endpoint: the median time of each, and the median of
the per-pair differences (known minus unknown) with how often the known address was the
slower one (about half when the time tells nothing). Every loop is bounded; every answer
is checked (a 200), so the bench cannot time error pages.

    python tests/bench/bench_enumeration.py [--pairs 200]
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from werkzeug.serving import make_server  # noqa: E402

from app import create_app  # noqa: E402
from config import Config, TestConfig  # noqa: E402

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
PASSWORD = "Bench-Mark-2026!"


def build_app(database: Path):
    """The app on a file SQLite database, migrated, with one opened account."""
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

KNOWN_ACTIVE = "bench@example.com"  # made by build_app, opened
KNOWN_UNOPENED = "waiting@example.com"
UNKNOWN = "nobody@example.com"
WARM_UP = 10

ENDPOINTS = [
    ("password reset", "/account/password/reset", KNOWN_ACTIVE),
    ("new activation link", "/account/activation/resend", KNOWN_UNOPENED),
]


def add_unopened_account(app) -> None:
    with app.app_context():
        from blueprints.account.services import hash_password
        from models import db
        from models.account import Account, AccountType

        db.session.add(Account(email=KNOWN_UNOPENED, password_hash=hash_password("x"),
                               family_name="試験", given_name="花子",
                               account_type=AccountType.PERSONAL))
        db.session.commit()


def timed_post(browser: Browser, path: str, token: str, email: str) -> float:
    started = time.perf_counter()
    code = browser.post(path, {"csrf_token": token, "email": email})
    elapsed = time.perf_counter() - started
    if code != 200:
        raise SystemExit(f"{path} answered {code} for {email}")
    return elapsed


def measure(base: str, path: str, known: str, pairs: int) -> dict:
    browser = Browser(base)
    token = CSRF.search(browser.get(path)).group(1)
    for index in range(WARM_UP):
        timed_post(browser, path, token, known if index % 2 else UNKNOWN)
    known_ms: list[float] = []
    unknown_ms: list[float] = []
    for index in range(pairs):
        order = (known, UNKNOWN) if index % 2 == 0 else (UNKNOWN, known)
        times = {email: timed_post(browser, path, token, email) * 1000 for email in order}
        known_ms.append(times[known])
        unknown_ms.append(times[UNKNOWN])
    differences = [k - u for k, u in zip(known_ms, unknown_ms)]
    return {
        "known_ms": statistics.median(known_ms),
        "unknown_ms": statistics.median(unknown_ms),
        "difference_ms": statistics.median(differences),
        "known_slower": sum(d > 0 for d in differences) / pairs,
    }


def main() -> int:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=200)
    args = parser.parse_args()
    pairs = max(10, min(args.pairs, 2000))

    results = []
    with tempfile.TemporaryDirectory() as folder:
        app = build_app(Path(folder) / "bench.sqlite3")
        add_unopened_account(app)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        base = f"http://127.0.0.1:{server.server_port}"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            for name, path, known in ENDPOINTS:
                results.append((name, measure(base, path, known, pairs)))
        finally:
            server.shutdown()
            thread.join(timeout=10)

    print(f"known vs unknown address: {pairs} alternating pairs per endpoint, one client, "
          "file SQLite, loopback")
    print(f"{'endpoint':<22} {'known ms':>9} {'unknown ms':>11} {'median diff ms':>15} "
          f"{'known slower':>13}")
    for name, row in results:
        print(f"{name:<22} {row['known_ms']:>9.2f} {row['unknown_ms']:>11.2f} "
              f"{row['difference_ms']:>+15.2f} {row['known_slower']:>12.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
