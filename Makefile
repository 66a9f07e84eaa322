# Enelink: `make run` serves the portal on http://127.0.0.1:5000, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app
APT_PACKAGES := chromium fonts-noto-cjk
SUDO := $(shell [ "$$(id -u)" = "0" ] || echo sudo)

# Test workers (pytest-xdist): one per core, at most 4 (each worker runs its own Chromium
# and its own database); on one core, or with `make test TEST_WORKERS=0`, one process.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ $$n -gt 4 ] && n=4; \
                 [ $$n -lt 2 ] && n=0; echo $$n)
# worksteal: an idle worker takes queued tests from a busy one, so a few slow browser
# tests at the end do not leave a core idle.
PYTEST := $(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist worksteal

.PHONY: lighthouse run test test-sqlite test-postgres install system-deps browser-deps translations messages migrate seed bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed translations

# Debian packages: Chromium for the browser tests, Noto CJK so Japanese renders,
# npm for axe-core when the image has none.
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

# axe-core (npm) for the accessibility checks of the browser tests.
browser-deps: tests/browser/node_modules/axe-core/axe.min.js

tests/browser/node_modules/axe-core/axe.min.js: tests/browser/package.json tests/browser/package-lock.json | system-deps
	cd tests/browser && npm ci --no-audit --no-fund --loglevel=error
	touch $@

translations: $(VENV)/.installed
	$(BIN)/pybabel compile -d translations

# After changing texts: refresh translations/messages.pot and the English catalog.
messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -o translations/messages.pot \
	  --project=Enelink --copyright-holder=Enelink --no-location --sort-output \
	  --ignore-dirs=".venv node_modules tests" .
	$(BIN)/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching --ignore-obsolete

instance:
	mkdir -p instance

migrate: install instance
	ENELINK_ENV=development $(FLASK) db upgrade

# Demo accounts, slips and a monitored gateway with (up to) a month of simulated history,
# and the points of that history's finished months (idempotent).
seed: migrate
	ENELINK_ENV=development $(FLASK) seed demo
	ENELINK_ENV=development $(FLASK) gateways simulate --days 30
	ENELINK_ENV=development $(FLASK) points accrue --history

run: seed
	@echo "Enelink on http://127.0.0.1:5000  (mail: http://127.0.0.1:5000/dev/mail)"
	ENELINK_ENV=development $(FLASK) run --host 127.0.0.1 --port 5000

# Both databases run even when the first fails (one CI run shows every failure); the
# exit status is non-zero when either failed.
test: install system-deps browser-deps
	@status=0; \
	$(MAKE) --no-print-directory test-sqlite || status=1; \
	if [ -n "$$TEST_DATABASE_URL" ]; then $(MAKE) --no-print-directory test-postgres || status=1; \
	else echo "TEST_DATABASE_URL not set: PostgreSQL run skipped"; fi; \
	exit $$status

# Under xdist each worker has its own database: see tests/conftest.py.
test-sqlite:
	@echo "== tests on SQLite ($(TEST_WORKERS) workers) =="
	env -u TEST_DATABASE_URL CI=$${CI:-} $(PYTEST)

test-postgres:
	@echo "== tests on PostgreSQL ($$TEST_DATABASE_URL, $(TEST_WORKERS) workers) =="
	$(PYTEST)

# What each page of issue 14 costs, as a ratio to /healthz measured in the same run (these
# machines are shared and noisy: only the ratios mean something), at demo scale (seed demo
# + simulate) and at fleet scale (seed fleet: 20,000 gateways, a 5,000-gateway dealer), on
# SQLite and on PostgreSQL (BENCH_POSTGRES_URL, default the database enelink_bench on
# 127.0.0.1:5432, recreated by each run), under gunicorn (2 workers) with wrk (16
# connections), each page at both scales back to back (a server on each, the demo-scale
# data kept as a copy); one table per database with the budget each page misses. Options through
# BENCH_ARGS, e.g. `make bench BENCH_ARGS="--full --only postgres --seconds 5"`. Then
# whether an answer's time tells that an address has an account (password reset and a new
# activation link, 200 alternating known/unknown pairs each, median difference), then
# Lighthouse. About 15 minutes here (more while other work loads the machine).
BENCH_ARGS ?=
.PHONY: bench-deps

# wrk, the load generator of `make bench` (a Debian package).
bench-deps:
	@command -v wrk >/dev/null 2>&1 || { echo "installing: wrk"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk; }

bench: install bench-deps
	$(BIN)/python tests/bench/bench.py $(BENCH_ARGS)
	$(BIN)/python tests/bench/bench_enumeration.py --pairs 200
	$(MAKE) --no-print-directory lighthouse

# Lighthouse (mobile; npm package pinned in tests/bench/lighthouse) with Debian's chromium
# against the app under gunicorn on a loopback port, a seeded demo database: 3 runs per page,
# the median of each category and the verdict (misses are printed, the status stays 0).
LIGHTHOUSE_RUNS ?= 3
tests/bench/lighthouse/node_modules/lighthouse/cli/index.js: tests/bench/lighthouse/package.json tests/bench/lighthouse/package-lock.json | system-deps
	cd tests/bench/lighthouse && npm ci --no-audit --no-fund --loglevel=error
	touch $@

lighthouse: install tests/bench/lighthouse/node_modules/lighthouse/cli/index.js
	CHROME_PATH=/usr/bin/chromium $(BIN)/python tests/bench/lighthouse/run_lighthouse.py --runs $(LIGHTHOUSE_RUNS)

clean:
	rm -rf $(VENV) instance tests/browser/node_modules tests/bench/lighthouse/node_modules
