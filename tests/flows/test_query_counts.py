"""Issue 14, item 4: the number of SQL statements of the owner's, the menu, settings,
monitoring and staff pages is a small fixed number, the same with ten times the data
(more owners, gateways, days of readings and rollups): no page reads per row.

Counted: SELECT / INSERT / UPDATE / DELETE (not BEGIN, COMMIT or SAVEPOINT, which the
dialects issue differently), of the second of two identical requests (the steady state:
what a worker keeps per process is kept by then). The exact numbers are today's; the
work on per-request duplicates lowers some of them, and the table then moves with it."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import insert

from blueprints.gateways.slips import new_gateway
from blueprints.monitoring.telemetry import JST
from models import db, utcnow
from models.gateway import Gateway, GatewayStatus
from models.telemetry import DailyEnergy, MonthlyEnergy, Reading
from tests.flows.test_dealer_links import make_company, make_owner
from tests.flows.test_slips import SLIPS, make_account
from tests.helpers import HX, login, make_staff, statements

GATEWAY = "01QC00000001"
MONITOR = f"/monitoring/gateways/{GATEWAY}/monitor"
KINDS = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")


def _pages(day: date) -> dict[str, tuple[str, dict]]:
    return {
        "login": ("/account/login", {}),
        "home": ("/", {}),
        "menu": ("/eco/", {}),
        "settings": ("/account/settings", {}),
        "gateways": ("/monitoring/", {}),
        "day": (f"{MONITOR}?period=day&date={day.isoformat()}", {}),
        "today": (MONITOR, {}),
        "month": (f"{MONITOR}?period=month&date={day:%Y-%m}", {}),
        "year": (f"{MONITOR}?period=year&date={day.year}", {}),
        "chart": (f"{MONITOR}?period=day&date={day.isoformat()}",
                  {**HX, "HX-Target": "chart"}),
        "now": (f"{MONITOR}/now", HX),
        "csv": (f"{MONITOR}.csv?period=day&date={day.isoformat()}", {}),
    }


def _gateway(owner, gateway_id: str) -> Gateway:
    gateway = new_gateway(gateway_id, "testslip2345", "GW-M001", [f"{gateway_id[-6:]}A1"])
    gateway.status = GatewayStatus.ACTIVE
    gateway.owner_id = owner.id
    gateway.registered_at = utcnow()
    db.session.commit()
    return gateway


def _history(gateway_pk: int, days: int) -> None:
    """`days` full days of readings up to yesterday (Japan time) and their rollups, by
    Core bulk inserts (as `seed fleet` does)."""
    today = utcnow().astimezone(JST).date()
    readings, daily, months = [], [], {}
    for back in range(days, 0, -1):
        day = today - timedelta(days=back)
        start = datetime.combine(day, datetime.min.time(), JST)
        for slot in range(288):
            readings.append(dict(
                gateway_id=gateway_pk, ts=start + timedelta(minutes=5 * (slot + 1)),
                pv_w=slot * 10, load_w=800, battery_w=0, battery_state="standby", soc=50,
                sell_w=slot * 3, buy_w=100, units=[], has_error=False, received_at=utcnow()))
        sums = dict(slots=288, pv_wsum=sum(range(288)) * 10, load_wsum=288 * 800,
                    self_wsum=sum(range(288)) * 7, supplied_wsum=288 * 700,
                    sell_wsum=sum(range(288)) * 3, buy_wsum=288 * 100, charge_wsum=0,
                    discharge_wsum=0)
        daily.append(dict(gateway_id=gateway_pk, day=day, **sums))
        month = months.setdefault(day.replace(day=1), dict.fromkeys(sums, 0))
        for name, value in sums.items():
            month[name] += value
    db.session.execute(insert(Reading), readings)
    db.session.execute(insert(DailyEnergy), daily)
    db.session.execute(insert(MonthlyEnergy),
                       [dict(gateway_id=gateway_pk, month=m, **s) for m, s in months.items()])
    db.session.commit()


def _grow(owner, scale: int, done: int) -> None:
    """From `done` to `scale` times the data: the owner's gateways, other owners with
    theirs, days of history of the page's gateway."""
    for n in range(done, scale):
        other = make_owner(email=f"other{n}@example.com")
        _history(_gateway(other, f"01QC1{n:07d}").id, 2)
        if n:
            _history(_gateway(owner, f"01QC2{n:07d}").id, 1)
    main = db.session.scalar(db.select(Gateway.id).where(Gateway.gateway_id == GATEWAY))
    db.session.execute(db.delete(MonthlyEnergy).where(MonthlyEnergy.gateway_id == main))
    db.session.execute(db.delete(DailyEnergy).where(DailyEnergy.gateway_id == main))
    db.session.execute(db.delete(Reading).where(Reading.gateway_id == main))
    db.session.commit()
    _history(main, 3 * scale)


def _count(client, url: str, headers: dict) -> int:
    assert client.get(url, headers=headers).status_code == 200, url
    with statements() as seen:
        assert client.get(url, headers=headers).status_code == 200, url
    return sum(1 for statement in seen if statement.lstrip().upper().startswith(KINDS))


def _counts(app, day: date) -> dict[str, int]:
    counts = {}
    anonymous = app.test_client()
    owner = app.test_client()
    assert login(owner, "owner@example.com").status_code == 303
    staff = app.test_client()
    assert login(staff, "slips-staff@example.com").status_code in (302, 303)
    for name, (url, headers) in {**_pages(day), **GROWING}.items():
        counts[name] = _count(anonymous if name == "login" else owner, url, headers)
    counts["staff"] = _count(staff, "/staff/gateways/slips", {})
    return counts


# The monitoring page reads the gateway, its status line and the period's rows (with the
# first day of the history, for 前へ) in one statement: the sign-in, that one and the two
# panels (day 4, today 4, month 4, year 4); the chart partial, the status partial and the
# CSV the sign-in and that one (chart 2, now 2, csv 2).
EXPECTED = {"login": 0, "home": 1, "menu": 2, "settings": 1, "gateways": 6, "day": 4,
            "today": 4, "month": 4, "year": 4, "chart": 2, "now": 2, "csv": 2, "staff": 2,
            "mypage": 11, "dealers_my": 3}
# The owner's menus that list each gateway (マイページ's products, the dealers entrusted
# with each gateway): read in one go, not per gateway.
GROWING = {"mypage": ("/club/mypage", {}), "dealers_my": ("/dealers/my", {})}


def test_each_page_runs_a_fixed_number_of_statements_at_1x_and_10x_data(app):
    owner = make_owner()
    _gateway(owner, GATEWAY)
    make_staff(make_account("slips-staff@example.com"), SLIPS)
    day = utcnow().astimezone(JST).date() - timedelta(days=2)
    _grow(owner, 1, 0)
    at_1x = _counts(app, day)
    _grow(owner, 10, 1)
    at_10x = _counts(app, day)
    assert at_1x == at_10x
    assert at_1x == EXPECTED



# The GETs marked read-only (blueprints/core/transactions.py): on SQLite they hold no
# write lock while they read, which is honest only while they write nothing.
READ_ONLY = ("home", "settings", "gateways", "day", "today", "month", "year", "chart", "now", "csv")


def test_the_read_only_pages_write_nothing(app):
    from blueprints.core.transactions import request_reads_only

    owner = make_owner()
    _gateway(owner, GATEWAY)
    _grow(owner, 1, 0)
    client = app.test_client()
    assert login(client, "owner@example.com").status_code == 303
    day = utcnow().astimezone(JST).date() - timedelta(days=2)
    for name in READ_ONLY:
        url, headers = _pages(day)[name]
        with app.test_request_context(url.split("?")[0]):
            assert request_reads_only(), name
        client.get(url, headers=headers)
        with statements() as seen:
            assert client.get(url, headers=headers).status_code == 200, url
        writes = [s for s in seen if s.lstrip().upper().startswith(("INSERT", "UPDATE",
                                                                    "DELETE"))]
        assert writes == [], (name, writes)


# The ID's settings pages (GET), by the personal owner and by a company's administrator.
ACCOUNT_READ_ONLY = {
    "owner@example.com": ("/account/settings", "/account/settings/personal",
                          "/account/settings/login", "/account/access"),
    "admin1@dealer1.example": ("/account/settings", "/account/settings/personal",
                               "/account/settings/company", "/account/settings/employees",
                               "/account/settings/employees?q=佐藤"),
}


def test_the_read_only_settings_pages_write_nothing(app):
    from blueprints.core.transactions import request_reads_only

    make_owner()
    make_company()
    for email, urls in ACCOUNT_READ_ONLY.items():
        client = app.test_client()
        assert login(client, email).status_code == 303
        for url in urls:
            with app.test_request_context(url.split("?")[0]):
                assert request_reads_only(), url
            client.get(url)
            with statements() as seen:
                assert client.get(url).status_code == 200, url
            writes = [s for s in seen if s.lstrip().upper().startswith(("INSERT", "UPDATE",
                                                                        "DELETE"))]
            assert writes == [], (url, writes)
