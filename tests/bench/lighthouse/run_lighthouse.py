"""`make lighthouse` (the last part of `make bench`): Lighthouse (mobile, the npm package
pinned in package.json) against the portal served as in production, with Debian's chromium.

The app runs under gunicorn (2 workers, production settings, a throwaway SECRET_KEY) on a
free loopback port, with a temporary SQLite database filled by `seed demo` and two days of
simulated readings. Every page is measured RUNS times; the median score of each category
is printed beside its target. The public pages must score 100 in performance,
accessibility, best practices and SEO; the signed-in monitoring page (its session cookie
sent with extraHeaders) 100 in the first three (it is `noindex`, so SEO does not apply).
A miss is printed with the audits that cost it; the exit status stays 0 (the bench
reports, it does not stop the other results), except when the app cannot be started.

    python tests/bench/lighthouse/run_lighthouse.py [--runs 3] [--keep DIR]
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
BIN = Path(sys.executable).parent
LIGHTHOUSE = HERE / "node_modules" / "lighthouse" / "cli" / "index.js"
CHROME_PATH = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
CHROME_FLAGS = ("--headless=new --no-sandbox --disable-gpu --disable-background-networking "
                "--disable-component-update --disable-sync --no-first-run")
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
DEMO_PASSWORD = "Demo-Pass-2026!"
MONITORED_GATEWAY = "01AB00000001"

# (label, path, signed in, categories that must score 100)
PAGES = (
    ("sign-up (/account/signup/name)", "/account/signup/name", False, CATEGORIES),
    ("login (/account/login)", "/account/login", False, CATEGORIES),
    ("registration STEP1 (/monitoring/register)", "/monitoring/register", False, CATEGORIES),
    ("monitoring page (signed in)", f"/monitoring/gateways/{MONITORED_GATEWAY}/monitor", True,
     CATEGORIES[:3]),
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def flask(env: dict, *args: str) -> None:
    done = subprocess.run([str(BIN / "flask"), "--app", "app", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if done.returncode:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"flask {' '.join(args)} failed")


def request(port: int, method: str, path: str, cookies: dict, body: dict | None = None):
    """One request without following redirects; Set-Cookie is taken whatever its Secure
    flag (production cookies are Secure; this is loopback)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
    data = None
    if body is not None:
        data = urllib.parse.urlencode(body)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection.request(method, path, body=data, headers=headers)
    response = connection.getresponse()
    text = response.read().decode("utf-8", "replace")
    for name, value in response.getheaders():
        if name.lower() == "set-cookie":
            key, _, rest = value.partition("=")
            cookies[key.strip()] = rest.split(";", 1)[0]
    connection.close()
    return response.status, text


def sign_in(port: int, email: str) -> str:
    cookies: dict = {}
    _, page = request(port, "GET", "/account/login", cookies)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    status, _ = request(port, "POST", "/account/login", cookies,
                        {"csrf_token": token, "email": email, "password": DEMO_PASSWORD})
    if status not in (200, 302, 303):
        raise RuntimeError(f"sign-in of {email} answered {status}")
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


ATTEMPTS = 3


def run_lighthouse(url: str, cookie: str | None, out: Path) -> dict:
    command = ["node", str(LIGHTHOUSE), url, "--quiet", "--output=json",
               f"--output-path={out}", f"--chrome-flags={CHROME_FLAGS}",
               "--only-categories=" + ",".join(CATEGORIES)]
    if cookie:
        command.append("--extra-headers=" + json.dumps({"Cookie": cookie}))
    # A run now and then ends without a report (Chromium lost on a loaded machine): it is
    # tried again, at most ATTEMPTS times, before the bench gives up with what it said.
    for attempt in range(1, ATTEMPTS + 1):
        done = subprocess.run(command, env={**os.environ, "CHROME_PATH": CHROME_PATH},
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              timeout=300)
        if done.returncode == 0:
            return json.loads(out.read_text())
        print(f"  lighthouse failed on {url} (attempt {attempt} of {ATTEMPTS}): "
              f"{done.stderr.strip().splitlines()[-1:] or ['no message']}", file=sys.stderr)
    raise RuntimeError(f"lighthouse failed {ATTEMPTS} times on {url}")


def losses(report: dict, category: str) -> list[str]:
    """The audits of a category that did not pass, with what Lighthouse says of them."""
    audits = report["audits"]
    lines = []
    for ref in report["categories"][category]["auditRefs"]:
        audit = audits[ref["id"]]
        if ref["weight"] > 0 and audit.get("score") is not None and audit["score"] < 1:
            shown = audit.get("displayValue") or ""
            lines.append(f"{ref['id']} ({audit['score']:.2f}) {audit['title']} {shown}".strip())
    # Failed checks Lighthouse does not weigh but reports (console errors, cache lifetimes).
    for audit_id in ("errors-in-console", "uses-long-cache-ttl", "uses-text-compression",
                     "render-blocking-resources"):
        audit = audits.get(audit_id)
        if audit and audit.get("score") is not None and audit["score"] < 1 and not any(
                line.startswith(audit_id + " ") for line in lines):
            lines.append(f"{audit_id} ({audit['score']:.2f}) {audit['title']} "
                         f"{audit.get('displayValue') or ''}".strip())
    return lines


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", help="a folder to keep the JSON reports in")
    args = parser.parse_args()
    runs = max(1, min(args.runs, 9))
    if not LIGHTHOUSE.exists():
        print("lighthouse is not installed: cd tests/bench/lighthouse && npm ci", file=sys.stderr)
        return 2
    if not Path(CHROME_PATH).exists():
        print(f"no chromium at {CHROME_PATH} (CHROME_PATH)", file=sys.stderr)
        return 2

    folder = Path(tempfile.mkdtemp(prefix="enelink-lighthouse-"))
    reports = Path(args.keep) if args.keep else folder / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base_env = {k: v for k, v in os.environ.items()
                if k not in ("SECRET_KEY", "SERVER_NAME", "TRUSTED_HOSTS", "MAIL_SERVER")}
    base_env["DATABASE_URL"] = f"sqlite:///{folder / 'lighthouse.sqlite3'}"
    seed_env = {**base_env, "ENELINK_ENV": "development"}
    server = None
    try:
        flask(seed_env, "db", "upgrade")
        flask(seed_env, "seed", "demo")
        flask(seed_env, "gateways", "simulate", "--days", "2")
        serve_env = {**base_env, "ENELINK_ENV": "production", "SECRET_KEY": secrets.token_hex(32),
                     "PUBLIC_HOST": f"127.0.0.1:{port}", "RATELIMIT_ENABLED": "false"}
        server = subprocess.Popen(
            [str(BIN / "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{port}",
             "--log-level", "warning", "app:create_app()"],
            cwd=ROOT, env=serve_env)
        for _ in range(150):  # bounded: 30 s
            try:
                if request(port, "GET", "/healthz", {})[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        else:
            print("the app did not start", file=sys.stderr)
            return 2
        cookie = sign_in(port, "owner@example.com")

        rows = []
        for label, path, signed_in, targets in PAGES:
            scores = {category: [] for category in CATEGORIES}
            blocking, benchmark, reports_of_page = [], [], []
            last = None
            for run in range(runs):
                slug = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")
                last = run_lighthouse(f"http://127.0.0.1:{port}{path}",
                                      cookie if signed_in else None,
                                      reports / f"{slug}-{run + 1}.json")
                final = last.get("finalDisplayedUrl") or last.get("finalUrl", "")
                if urllib.parse.urlsplit(final).path != path:
                    print(f"  {path} ended at {final}", file=sys.stderr)
                for category in CATEGORIES:
                    score = last["categories"][category]["score"]
                    scores[category].append(round(score * 100) if score is not None else 0)
                reports_of_page.append(last)
                blocking.append(last["audits"]["total-blocking-time"]["numericValue"])
                benchmark.append(last.get("environment", {}).get("benchmarkIndex") or 0)
            medians = {c: statistics.median(v) for c, v in scores.items()}
            # What cost the points: the audits of the run that scored the median.
            misses = {c: losses(reports_of_page[scores[c].index(
                min(scores[c], key=lambda v, m=medians[c]: abs(v - m)))], c)
                for c in targets if medians[c] < 100}
            notes = (f"TBT {'/'.join(f'{t:.0f}' for t in blocking)} ms, "
                     f"benchmark index {statistics.median(benchmark):.0f}")
            rows.append((label, medians, targets, misses, scores, notes))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)

    print(f"Lighthouse 12.2.3 (mobile), median of {runs} runs, {CHROME_PATH}, gunicorn 2 workers,"
          f" load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'page':<44} {'perf':>5} {'a11y':>5} {'b.p.':>5} {'seo':>5}  verdict")
    missed = 0
    for label, medians, targets, misses, _, _ in rows:
        cells = []
        for category in CATEGORIES:
            value = f"{medians[category]:g}"
            cells.append(f"{value:>5}" if category in targets else f"{'(' + value + ')':>5}")
        verdict = "ok" if not misses else "MISSES " + ", ".join(misses)
        print(f"{label:<44} {' '.join(cells)}  {verdict}")
        missed += bool(misses)
    print()
    for label, _, _, _, _, notes in rows:
        print(f"{label:<44} {notes}")
    for label, medians, targets, misses, scores, _ in rows:
        for category, lines in misses.items():
            print(f"\n{label}: {category} {medians[category]:g} < 100 (runs {scores[category]})")
            for line in lines:
                print(f"  - {line}")
    print(f"\n{len(rows) - missed} of {len(rows)} pages meet their targets "
          "(scores in brackets have no target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
