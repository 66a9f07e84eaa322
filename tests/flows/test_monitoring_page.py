"""The monitoring page (STEP5): the status line and current values, today's energy, the
day / month / year charts with their table and CSV, partial refreshes, who may see it,
and what happens to the history on exchange, disposal and account deletion."""
from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import delete, func, select

from blueprints.account.services import delete_account
from blueprints.dealers.services import become_dealer, link_dealer
from blueprints.monitoring import telemetry
from blueprints.monitoring.telemetry import JST
from models import db, utcnow
from models.gateway import Gateway, GatewayStatus
from models.telemetry import DailyEnergy, GatewayAlert, Reading
from tests.conftest import csrf_from
from tests.flows.test_dealer_links import make_company, make_gateway, make_owner
from tests.helpers import HX, PASSWORD, add_units, login, reading, slot_end, statements

GATEWAY = "01AB12345678"
PAGE = f"/monitoring/gateways/{GATEWAY}/monitor"
NOW_PARTIAL = f"/monitoring/gateways/{GATEWAY}/monitor/now"
CSV_URL = f"/monitoring/gateways/{GATEWAY}/monitor.csv"
CHART_HX = {**HX, "HX-Target": "chart"}


@pytest.fixture
def owner_gateway(app):
    owner = make_owner()
    gateway = make_gateway(owner, GATEWAY, site="山田様邸")
    add_units(gateway, 2)
    return owner, gateway


@pytest.fixture
def owner_client(app, owner_gateway):
    client = app.test_client()
    assert login(client, "owner@example.com").status_code == 303
    return client


def feed(gateway, readings, now=None):
    result = telemetry.ingest(db.session.get(Gateway, gateway.id), readings, now=now)
    assert not result.rejected, result.rejected
    return result


def recent_slots(count: int, **values) -> list[dict]:
    """`count` readings ending at the current 5-minute boundary."""
    end = slot_end()
    return [reading(end - timedelta(minutes=5 * i), **values) for i in range(count)]


def text_of(response) -> str:
    return response.get_data(as_text=True)


# -- the status line and current values ----------------------------------------------------
def test_status_line_current_values_and_today(owner_client, owner_gateway):
    _owner, gateway = owner_gateway
    end = slot_end()
    start_of_day = datetime.combine(end.astimezone(JST).date(), datetime.min.time(), JST)
    slots_today = int((end - start_of_day) / timedelta(minutes=5))
    readings = [reading(end - timedelta(minutes=5 * i), pv_kw=1.2, load_kw=0.6, sell_kw=0.3,
                        buy_kw=0.0) for i in range(max(slots_today, 1))]
    readings[0] = reading(end, pv_kw=3.26, load_kw=0.84, battery_kw=1.5,
                          battery_state="charging", soc=82, sell_kw=0.92, buy_kw=0.0)
    feed(gateway, readings)
    page = text_of(owner_client.get(PAGE))
    assert "正常動作中" in page
    assert end.astimezone(JST).strftime("%Y/%m/%d %H:%M") in page
    now_section = page.split('id="now"', 1)[1].split("</section>", 1)[0]
    assert re.search(r"発電</span>.*?3\.3 kW", now_section, re.S)
    assert re.search(r"消費</span>.*?0\.8 kW", now_section, re.S)
    assert re.search(r"蓄電池</span>.*?充電.*?82 %", now_section, re.S)
    assert re.search(r"売電</span>.*?0\.9 kW", now_section, re.S)
    # Today's energy: every reading of today (Japan time) × 5 minutes.
    expected = (3.26 + 1.2 * (slots_today - 1)) * 5 / 60 if slots_today else 0.0
    assert f"{expected:.1f} kWh" in now_section
    assert "本日の自家消費率" in now_section and "本日の自給率" in now_section


def test_error_code_shows_abnormal_with_the_unit_and_code(owner_client, owner_gateway):
    _owner, gateway = owner_gateway
    feed(gateway, recent_slots(1, units=[{"unit": 1, "status": "normal"},
                                         {"unit": 2, "status": "error", "error_code": "E201"}]))
    page = text_of(owner_client.get(PAGE))
    assert "異常" in page and "正常動作中" not in page
    assert re.search(r"2号機.*?E201", page, re.S)


def test_silence_shows_communication_lost_and_no_data_says_so(owner_client, owner_gateway, app):
    _owner, gateway = owner_gateway
    assert "まだ通信がありません" in text_of(owner_client.get(PAGE))
    old = slot_end() - timedelta(minutes=app.config["GATEWAY_SILENCE_MINUTES"] + 10)
    feed(gateway, [reading(old)])
    page = text_of(owner_client.get(PAGE))
    assert "通信途絶" in page and "正常動作中" not in page
    assert old.astimezone(JST).strftime("%Y/%m/%d %H:%M") in page


def test_the_status_partial_refreshes_itself(owner_client, owner_gateway):
    _owner, gateway = owner_gateway
    page = text_of(owner_client.get(PAGE))
    assert f'hx-get="{NOW_PARTIAL}"' in page and 'hx-trigger="every 60s"' in page
    feed(gateway, recent_slots(1, pv_kw=4.44))
    partial = owner_client.get(NOW_PARTIAL, headers=HX)
    assert partial.status_code == 200
    body = text_of(partial)
    assert "<html" not in body and body.lstrip().startswith("<section id=\"now\"")
    assert "4.4 kW" in body and 'hx-trigger="every 60s"' in body
    assert "HX-Request" in partial.headers.get("Vary", "")
    # Without htmx the same URL sends the browser to the page itself.
    plain = owner_client.get(NOW_PARTIAL)
    assert plain.status_code == 303 and plain.headers["Location"].endswith(PAGE)


# -- charts, table and CSV -----------------------------------------------------------------
def _day_readings(day: date, hours: range, **values) -> list[dict]:
    start = datetime.combine(day, datetime.min.time(), JST)
    return [reading(start + timedelta(hours=h, minutes=5 * (m + 1)), **values)
            for h in hours for m in range(12)]


def test_day_chart_table_and_csv_show_the_days_readings(owner_client, owner_gateway):
    _owner, gateway = owner_gateway
    day = utcnow().astimezone(JST).date() - timedelta(days=2)
    feed(gateway, _day_readings(day, range(10, 14), pv_kw=3.0, load_kw=1.0, sell_kw=1.5,
                                buy_kw=0.0))
    feed(gateway, _day_readings(day, range(20, 22), pv_kw=0.0, load_kw=1.2, sell_kw=0.0,
                                buy_kw=0.9, battery_state="discharging"))
    url = f"{PAGE}?period=day&date={day.isoformat()}"
    page = text_of(owner_client.get(url))
    chart = page.split('id="chart"', 1)[1]
    # Two runs of readings (10-14 h, 20-22 h): generation and its sale only in the first,
    # buying only in the second, consumption covered without buying in both. A band is
    # one step shape per run: up at its first slot, along, down at the end of its last.
    pieces = {css: re.search(rf'<path class="{css}" d="([^"]+)"', chart).group(1)
              for css in ("c-self", "c-sell", "c-supplied", "c-buy")}
    assert {css: d.count("M") for css, d in pieces.items()} == {
        "c-self": 1, "c-sell": 1, "c-supplied": 2, "c-buy": 1}
    # 3 kW generation, 1.5 sold → self 1.5 kW: from y=100 up to 100 − 1.5·k over slots
    # 120-168 (10:00-14:00), with k = 100 / scale (scale 4 kW for a 3 kW peak).
    assert pieces["c-self"] == "M120 100V62.5H168V100H120Z"
    assert pieces["c-sell"] == "M120 62.5V25H168V62.5H120Z"
    rows = re.findall(r"<tr><th scope=\"row\">(\d\d:\d\d)</th>", chart)
    assert len(rows) == 72 and rows[0] == "10:05" and rows[-1] == "22:00"
    # Totals: 48 slots of 3 kW and 24 of 0 kW generation = 12.0 kWh; bought 24 × 0.9 × 5 min.
    assert re.search(r"<dt>発電</dt><dd>12\.0 kWh", chart)
    assert re.search(r"<dt>買電</dt><dd>1\.8 kWh", chart)
    assert re.search(r"<dt>自家消費率</dt><dd>50%", chart)

    response = owner_client.get(f"{CSV_URL}?period=day&date={day.isoformat()}")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert f'attachment; filename="enelink_{GATEWAY}_day_{day.isoformat()}.csv"' == disposition
    content = response.get_data(as_text=True)
    assert content.startswith("\ufeff")
    table = list(csv.reader(io.StringIO(content.lstrip("\ufeff"))))
    assert table[0][:7] == ["日時", "発電(kW)", "消費(kW)", "自家消費(kW)", "自給(kW)", "売電(kW)",
                            "買電(kW)"]
    assert len(table) == 73
    assert table[1][:7] == [f"{day.isoformat()} 10:05", "3.000", "1.000", "1.500", "1.000",
                            "1.500", "0.000"]
    assert table[-1][0] == f"{day.isoformat()} 22:00" and table[-1][-1] == "放電"


def test_month_and_year_charts_use_the_rollups(owner_client, owner_gateway):
    _owner, gateway = owner_gateway
    today = utcnow().astimezone(JST).date()
    first = today.replace(day=1)
    days = [first + timedelta(days=n) for n in range(min(3, today.day))]
    for day in days:
        feed(gateway, _day_readings(day, range(11, 13), pv_kw=6.0, load_kw=1.2, sell_kw=3.0))
    month = text_of(owner_client.get(f"{PAGE}?period=month"))
    bars = re.findall(r'<rect class="c-self"', month)
    assert len(bars) == len(days)
    assert f"{first.month}/{first.day} 発電 12.0 kWh" in month   # the bar's title
    expected = 12.0 * len(days)
    assert f"<dt>発電</dt><dd>{expected:.1f} kWh" in month
    year = text_of(owner_client.get(f"{PAGE}?period=year&date={today.year}"))
    assert len(re.findall(r'<rect class="c-self"', year)) == 1
    assert f"<dt>発電</dt><dd>{expected:.1f} kWh" in year
    rows = list(csv.reader(io.StringIO(text_of(owner_client.get(
        f"{CSV_URL}?period=month")).lstrip("\ufeff"))))
    assert rows[0][1] == "発電(kWh)" and [r[0] for r in rows[1:]] == [d.isoformat() for d in days]
    assert rows[1][1] == "12.000"


def test_chart_navigation_and_partial_swaps(owner_client, owner_gateway):
    _owner, gateway = owner_gateway
    today = utcnow().astimezone(JST).date()
    earlier = today - timedelta(days=40)
    feed(gateway, _day_readings(earlier, range(12, 13)))
    page = text_of(owner_client.get(PAGE))
    previous = (today - timedelta(days=1)).isoformat()
    assert f'href="{PAGE}?period=day&amp;date={previous}"' in page
    assert 'rel="next"' not in page          # nothing after today
    assert "この期間のデータはありません" in page
    old = text_of(owner_client.get(f"{PAGE}?period=day&date={earlier.isoformat()}"))
    assert 'rel="next"' in old and "今日" in old
    assert 'rel="prev"' not in old           # nothing recorded before that day
    partial = owner_client.get(f"{PAGE}?period=month", headers=CHART_HX)
    body = text_of(partial)
    assert partial.status_code == 200 and "<html" not in body
    assert body.lstrip().startswith('<section id="chart"')
    assert 'hx-push-url="true"' in body and 'hx-target="#chart"' in body
    # A history restore asks for the whole page.
    restore = owner_client.get(f"{PAGE}?period=month",
                               headers={**CHART_HX, "HX-History-Restore-Request": "true"})
    assert "<html" in text_of(restore)


def test_the_table_of_figures_is_fetched_when_opened_and_in_the_page_without_javascript(
        owner_client, owner_gateway):
    """The table (288 rows for a day) is not built with the page: its box asks for it
    when first opened (htmx); a browser without JavaScript has it in the page
    (noscript). Both are the same table."""
    _owner, gateway = owner_gateway
    day = utcnow().astimezone(JST).date() - timedelta(days=1)
    feed(gateway, _day_readings(day, range(10, 12)))
    url = f"{PAGE}?period=day&date={day.isoformat()}"
    page = text_of(owner_client.get(url))
    box = page[page.index('<details class="figures"'):page.index("</details>", page.index(
        '<details class="figures"'))]
    assert f'hx-get="{PAGE}?period=day&amp;date={day.isoformat()}"' in box
    assert 'hx-trigger="toggle once"' in box and 'hx-target="#chart-figures"' in box
    inside = re.search(r'<div id="chart-figures"><noscript>(.*?)</noscript></div>', box, re.S)
    assert inside and '<table class="data-table">' in inside.group(1)
    response = owner_client.get(url, headers={**HX, "HX-Target": "chart-figures"})
    table = text_of(response)
    assert response.status_code == 200 and "<html" not in table and "<details" not in table
    assert table.lstrip().startswith('<div class="table-scroll"')
    assert len(re.findall(r'<tr><th scope="row">', table)) == 24
    assert re.search(r"<table .*?</table>", table, re.S).group(0) == re.search(
        r"<table .*?</table>", inside.group(1), re.S).group(0)


@pytest.mark.parametrize("query", [
    "period=week", "period=day&date=2026-02-30", "period=day&date=1999-12-31",
    "period=month&date=2026-13", "period=year&date=20260", "period=day&date=9999-01-01",
    "period=day&date=2026-11-2%00", "period=day&date=" + "9" * 5000, "period=%E6%97%A5",
    "period=month&date=2026-11-01",
])
def test_bad_period_parameters_are_404_never_500(owner_client, query):
    for url in (f"{PAGE}?{query}", f"{CSV_URL}?{query}"):
        assert owner_client.get(url).status_code == 404, url


def test_a_future_period_is_404_but_the_current_one_is_shown(owner_client):
    tomorrow = (utcnow().astimezone(JST).date() + timedelta(days=1)).isoformat()
    assert owner_client.get(f"{PAGE}?period=day&date={tomorrow}").status_code == 404
    today = utcnow().astimezone(JST).date().isoformat()
    assert owner_client.get(f"{PAGE}?period=day&date={today}").status_code == 200


# -- who may see it ------------------------------------------------------------------------
@pytest.fixture
def dealers(app, owner_gateway):
    owner, gateway = owner_gateway
    linked = become_dealer(make_company(1), "0312345678", ["maint1@dealer1.example"])
    become_dealer(make_company(2), "0312345679")
    assert link_dealer(owner, gateway, linked.dealer_code, "0312345678").name == "LINKED"
    make_owner("other@example.com", "佐藤", "次郎")
    clients = {}
    for role, email in [("linked", "admin1@dealer1.example"),
                        ("unlinked", "admin2@dealer2.example"), ("other", "other@example.com")]:
        clients[role] = app.test_client()
        assert login(clients[role], email).status_code == 303
    return clients


@pytest.mark.parametrize("role", ["other", "unlinked"])
def test_others_get_404_on_page_chart_data_status_and_csv(dealers, owner_gateway, role):
    _owner, gateway = owner_gateway
    feed(gateway, recent_slots(3))
    client = dealers[role]
    for url, headers in [(PAGE, {}), (f"{PAGE}?period=month", CHART_HX), (NOW_PARTIAL, HX),
                         (CSV_URL, {}), (f"{CSV_URL}?period=year", {})]:
        response = client.get(url, headers=headers)
        assert response.status_code == 404, url
        assert "山田様邸" not in text_of(response)


def test_a_linked_dealer_sees_the_page_from_the_console(dealers, owner_gateway):
    _owner, gateway = owner_gateway
    feed(gateway, recent_slots(2, pv_kw=2.5))
    client = dealers["linked"]
    console = text_of(client.get(f"/dealers/gateways/{GATEWAY}"))
    assert f'href="{PAGE}"' in console and "正常" in console
    page = text_of(client.get(PAGE))
    assert "正常動作中" in page and "2.5 kW" in page
    assert "山田 太郎 様" in page                              # whose system this is
    assert 'href="/dealers/"' in page                        # breadcrumb to the console
    assert f'href="/monitoring/gateways/{GATEWAY}"' not in page  # not the owner's menu
    assert client.get(CSV_URL).status_code == 200


def test_a_retired_gateway_has_no_monitoring_page(owner_client, owner_gateway):
    _owner, gateway = owner_gateway
    db.session.get(Gateway, gateway.id).status = GatewayStatus.RETIRED
    db.session.commit()
    assert owner_client.get(PAGE).status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(app, owner_gateway):
    response = app.test_client().get(PAGE)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/account/login" and parse_qs(location.query)["next"] == [PAGE]


def test_a_refresh_after_the_session_ended_sends_the_whole_page_to_sign_in(app, owner_gateway):
    """Not the sign-in page swapped into the status box: htmx follows HX-Redirect."""
    response = app.test_client().get(NOW_PARTIAL, headers={
        **HX, "HX-Current-URL": f"http://enelink.test{PAGE}?period=month"})
    assert response.status_code == 401 and response.get_data() == b""
    target = urlsplit(response.headers["HX-Redirect"])
    assert target.path == "/account/login"
    assert parse_qs(target.query)["next"] == [f"{PAGE}?period=month"]


# -- lists: menu, console, registration complete -------------------------------------------
def test_menu_shows_each_gateways_status_and_links_the_page(owner_client, owner_gateway, app):
    owner, gateway = owner_gateway
    second = make_gateway(owner, "01AB12345679", site="倉庫")
    add_units(second, 2)
    feed(gateway, recent_slots(1))
    menu = text_of(owner_client.get("/monitoring/"))
    assert f'href="{PAGE}"' in menu
    assert re.search(r"山田様邸.*?status-badge state-normal", menu, re.S)
    assert re.search(r"倉庫.*?status-badge state-none", menu, re.S)


def test_dealer_console_lists_gateways_in_alert_first(dealers, owner_gateway):
    owner, gateway = owner_gateway
    second = make_gateway(owner, "01AB12345679", site="倉庫")
    add_units(second, 2)
    assert link_dealer(owner, second, "4001", "0312345678").name == "LINKED"
    end = slot_end()
    feed(gateway, [reading(end - timedelta(minutes=5))])
    feed(second, [reading(end)])
    console = text_of(dealers["linked"].get("/dealers/"))
    assert console.index("01AB12345679") < console.index(GATEWAY)  # newest link first
    feed(gateway, [reading(end, units=[{"unit": 1, "status": "error", "error_code": "E301"}])])
    assert db.session.scalar(select(func.count()).select_from(GatewayAlert)) == 1
    console = text_of(dealers["linked"].get("/dealers/"))
    assert console.index(GATEWAY) < console.index("01AB12345679")  # in alert: first
    assert re.search(rf"{GATEWAY}.*?status-badge state-error", console, re.S)


def test_registration_complete_offers_to_start_monitoring(owner_client, owner_gateway):
    page = text_of(owner_client.get("/monitoring/register/complete"))
    assert "遠隔モニタリングを開始" in page and f'href="{PAGE}"' in page


# -- the history follows the registration --------------------------------------------------
def _history(gateway_pk: int) -> tuple[int, int]:
    return (db.session.scalar(select(func.count()).select_from(Reading)
                              .where(Reading.gateway_id == gateway_pk)),
            db.session.scalar(select(func.count()).select_from(DailyEnergy)
                              .where(DailyEnergy.gateway_id == gateway_pk)))


def test_exchange_moves_the_history_to_the_new_gateway(owner_client, owner_gateway):
    from blueprints.gateways.slips import new_gateway

    _owner, gateway = owner_gateway
    feed(gateway, recent_slots(6, pv_kw=1.7))
    replacement = new_gateway("01AB99990000", "slip-pass", "GW-M001", ("NEW00001",))
    db.session.commit()
    exchange = f"/monitoring/gateways/{GATEWAY}/exchange"
    token = csrf_from(owner_client.get(exchange).get_data(as_text=True))
    checked = owner_client.post(exchange, data={"new_gateway_id": "01AB99990000",
                                                "slip_password": "slip-pass",
                                                "csrf_token": token})
    assert checked.status_code == 303
    done = owner_client.post(exchange + "/confirm", data={"csrf_token": token})
    assert done.status_code == 303 and done.location.endswith("/gateways/01AB99990000")
    assert _history(gateway.id) == (0, 0)
    assert _history(replacement.id)[0] == 6
    page = text_of(owner_client.get("/monitoring/gateways/01AB99990000/monitor"))
    assert "1.7 kW" in page
    assert owner_client.get(PAGE).status_code == 404


def test_disposal_and_account_deletion_remove_the_history(app, owner_client, owner_gateway):
    from blueprints.gateways import management

    owner, gateway = owner_gateway
    feed(gateway, recent_slots(4))
    assert management.dispose_gateway(owner, GATEWAY)
    assert _history(gateway.id) == (0, 0)

    second = make_gateway(owner, "01AB12345679", site="倉庫")
    add_units(second, 2)
    feed(second, recent_slots(4))
    assert delete_account(db.session.get(owner.__class__, owner.id), PASSWORD)
    assert _history(second.id) == (0, 0)
    released = db.session.get(Gateway, second.id)
    assert released.status == GatewayStatus.UNREGISTERED
    assert released.first_report_at is None and released.last_reading_at is None


def test_dispose_page_says_the_history_goes(owner_client):
    page = text_of(owner_client.get(f"/monitoring/gateways/{GATEWAY}/dispose"))
    assert "運転データ" in page
    token = csrf_from(page)
    assert token


def test_the_page_speaks_english_when_the_account_does(owner_client, owner_gateway):
    owner, gateway = owner_gateway
    owner.language = "en"
    db.session.commit()
    feed(gateway, recent_slots(2))
    page = text_of(owner_client.get(PAGE))
    assert "Operating normally" in page and "Now (average)" in page
    assert "正常動作中" not in page
    # The CSV of yesterday (today may have no row yet just after midnight in Japan).
    yesterday = utcnow().astimezone(JST).date() - timedelta(days=1)
    feed(gateway, [reading(datetime(yesterday.year, yesterday.month, yesterday.day, 12,
                                    tzinfo=JST))])
    day_csv = owner_client.get(f"{CSV_URL}?period=day&date={yesterday.isoformat()}")
    rows = list(csv.reader(io.StringIO(text_of(day_csv).lstrip("\ufeff"))))
    assert rows[0][:2] == ["Date and time", "Generation(kW)"] and rows[1][-1] == "Charging"


def test_menu_greets_the_owner_and_links_the_manuals_of_their_models(owner_client,
                                                                     owner_gateway):
    """001-07: the management site's 「〇〇 様」 and 商品マニュアル (from the catalogue)."""
    from blueprints.gateways.catalogue import ensure_catalogue

    owner, gateway = owner_gateway
    menu = text_of(owner_client.get("/monitoring/"))
    assert "商品マニュアル" not in menu  # the page never fills an empty catalogue itself
    ensure_catalogue()
    db.session.commit()
    menu = text_of(owner_client.get("/monitoring/"))
    assert f"{owner.family_name} {owner.given_name} 様" in menu
    assert f'href="https://enelink.example/manuals/{gateway.model}.pdf"' in menu
    assert "GW-M003.pdf" not in menu  # only the models this owner has


# -- issue 14: a cheaper page, the same page; pruned days ------------------------------------
def _rows_of(page: str) -> list[str]:
    return re.findall(r'<tr><th scope="row">([^<]+)</th>', page.split('id="chart"', 1)[1])


def _csv_rows(client, url: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text_of(client.get(url)).lstrip("\ufeff"))))


def test_a_pruned_day_answers_from_its_rollup(owner_client, owner_gateway):
    """Raw readings past their keeping period are deleted (`flask gateways prune`), the
    rollups stay: the day says so and shows its totals; its CSV has the totals row."""
    _owner, gateway = owner_gateway
    day = utcnow().astimezone(JST).date() - timedelta(days=3)
    feed(gateway, _day_readings(day, range(10, 14), pv_kw=3.0, load_kw=1.0, sell_kw=1.5,
                                buy_kw=0.0))
    url = f"{PAGE}?period=day&date={day.isoformat()}"
    assert len(_rows_of(text_of(owner_client.get(url)))) == 48  # drawn and kept
    db.session.execute(delete(Reading).where(
        Reading.gateway_id == gateway.id,
        Reading.ts < datetime.combine(day, datetime.min.time(), JST) + timedelta(hours=12)))
    db.session.commit()
    chart = text_of(owner_client.get(url)).split('id="chart"', 1)[1]
    assert "保存期間を過ぎた" in chart and "この期間のデータはありません" not in chart
    assert "<svg" not in chart and _rows_of(text_of(owner_client.get(url))) == []
    assert re.search(r"<dt>発電</dt><dd>12\.0 kWh", chart)     # 48 × 3 kW × 5 min
    assert re.search(r"<dt>自家消費率</dt><dd>50%", chart)
    assert _csv_rows(owner_client, f"{CSV_URL}?period=day&date={day.isoformat()}") == [
        ["期間", "発電(kWh)", "消費(kWh)", "自家消費(kWh)", "自給(kWh)", "売電(kWh)", "買電(kWh)"],
        [day.isoformat(), "12.000", "4.000", "6.000", "4.000", "6.000", "0.000"]]
    # The month and the year never needed the readings.
    month = text_of(owner_client.get(f"{PAGE}?period=month&date={day:%Y-%m}"))
    assert f"{day.month}/{day.day} 発電 12.0 kWh" in month
    # The chart partial says the same as the page.
    partial = text_of(owner_client.get(url, headers=CHART_HX))
    assert partial.lstrip().startswith('<section id="chart"') and "保存期間を過ぎた" in partial


def test_a_kept_day_follows_late_readings_the_hand_over_and_the_language(owner_client,
                                                                          owner_gateway):
    """What is drawn is kept per process, but never shown stale: a late reading for the
    day, a hand-over start (history_from) and the viewer's language each draw anew."""
    owner, gateway = owner_gateway
    day = utcnow().astimezone(JST).date() - timedelta(days=2)
    url = f"{PAGE}?period=day&date={day.isoformat()}"
    csv_url = f"{CSV_URL}?period=day&date={day.isoformat()}"
    feed(gateway, _day_readings(day, range(10, 11)))
    assert _rows_of(text_of(owner_client.get(url)))[0] == "10:05"
    assert len(_csv_rows(owner_client, csv_url)) == 13
    feed(gateway, _day_readings(day, range(9, 10), pv_kw=1.0))   # late, earlier slots
    rows = _rows_of(text_of(owner_client.get(url)))
    assert len(rows) == 24 and rows[0] == "09:05"
    assert len(_rows_of(text_of(owner_client.get(url, headers=CHART_HX)))) == 24
    assert len(_csv_rows(owner_client, csv_url)) == 25
    # Unchanged, the day is drawn from what was kept: its readings are not read again.
    with statements() as seen:
        assert len(_rows_of(text_of(owner_client.get(url)))) == 24
    assert not any("gateway_reading.pv_w" in statement and "max(gateway_reading.ts)"
                   not in statement for statement in seen)  # (the status line's newest is)
    # A hand-over at 10:00: the new owner's history starts there.
    start = datetime.combine(day, datetime.min.time(), JST) + timedelta(hours=10)
    db.session.get(Gateway, gateway.id).history_from = start
    db.session.commit()
    rows = _rows_of(text_of(owner_client.get(url)))
    assert len(rows) == 13 and rows[0] == "10:00"   # the slot ending at the hand-over on
    owner.language = "en"
    db.session.commit()
    chart = text_of(owner_client.get(url)).split('id="chart"', 1)[1]
    assert "Generation and consumption" in chart and "発電・消費のグラフ" not in chart


def _fixed_history(gateway) -> date:
    """A fixed, varied history: every slot of 2025-06-10 but a gap (values with 1-3
    decimals, each battery state, slot 24:00), a few slots on other days of June and on
    a day of each month from January: what the page showed before issue 14 is known."""
    day, now = date(2025, 6, 10), datetime(2025, 6, 30, 12, tzinfo=JST)
    start = datetime.combine(day, datetime.min.time(), JST)
    states = ("charging", "discharging", "standby")
    readings = [reading(start + timedelta(minutes=5 * (i + 1)), pv_kw=(i * 37 % 53) / 10,
                        load_kw=(i * 11 % 29) / 7, sell_kw=(i * 5 % 13) / 4,
                        buy_kw=(i * 3 % 7) / 9, battery_kw=(i % 17) / 3, soc=i * 7 % 101,
                        battery_state=states[i % 3])
                for i in range(288) if not 100 <= i < 111]
    for other in [date(2025, 6, d) for d in (1, 2, 9, 11, 29)] + [
            date(2025, m, 15) for m in range(1, 6)]:
        base = datetime.combine(other, datetime.min.time(), JST)
        readings += [reading(base + timedelta(hours=h), pv_kw=h / 3, load_kw=h / 5,
                             sell_kw=h / 11, buy_kw=(24 - h) / 13) for h in range(1, 25, 5)]
    for first in range(0, len(readings), 500):
        feed(gateway, readings[first:first + 500], now=now)
    return day


def _key_parts(page: str) -> str:
    """The chart's SVG and x labels, the totals and the table of a page."""
    chart = page.split('id="chart"', 1)[1]
    return "".join(re.findall(r'<svg .*?</svg>|<div class="chart-x.*?</div>'
                              r'|<dl class="totals">.*?</dl>|<table .*?</table>', chart, re.S))


def test_the_page_shows_the_same_figures_as_before(owner_client, owner_gateway):
    """The day, month and year of a fixed history: chart, totals, table and CSV are the
    same, byte for byte, as the page drew them before its work per point was cut (the
    digests were taken with the code of issue 13)."""
    import hashlib

    _owner, gateway = owner_gateway
    day = _fixed_history(gateway)
    digests = {}
    for kind, value in (("day", day.isoformat()), ("month", "2025-06"), ("year", "2025")):
        page = text_of(owner_client.get(f"{PAGE}?period={kind}&date={value}"))
        again = text_of(owner_client.get(f"{PAGE}?period={kind}&date={value}"))  # kept
        partial = text_of(owner_client.get(f"{PAGE}?period={kind}&date={value}",
                                           headers=CHART_HX))
        assert _key_parts(page) == _key_parts(again) == _key_parts(partial)
        data = text_of(owner_client.get(f"{CSV_URL}?period={kind}&date={value}"))
        digests[kind] = hashlib.sha256(_key_parts(page).encode()).hexdigest()[:16]
        digests[f"{kind}.csv"] = hashlib.sha256(data.encode()).hexdigest()[:16]
    assert digests == GOLDEN_DIGESTS
    rows = _rows_of(page := text_of(owner_client.get(f"{PAGE}?period=day&date={day}")))
    assert len(rows) == 277 and rows[-1] == "24:00" and "08:20" in rows and "09:15" not in rows


# Taken with the code before issue 14 (ORM rows, the table and shapes drawn by the template).
GOLDEN_DIGESTS = {"day": "064471b0c71b1c93", "day.csv": "cfa8f96102177de9",
                  "month": "1017e477f0924ba4", "month.csv": "490ee61c862f107c",
                  "year": "57462550cd113915", "year.csv": "802e1fc5fb5f45c1"}
