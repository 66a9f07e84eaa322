"""The monitoring page (STEP5) in Chromium: an owner at phone size (360x740, touch) opens
運転状況の確認 from the main menu, reads the status line and current values, switches the
chart between day, month and year and pages back (htmx swaps that push the URL), opens
the table of figures, downloads the CSV, and watches the status refresh by itself when a
new reading arrives; the same page without JavaScript; a linked dealer at desktop size
(1280x800) from the console, where the gateway in alert is listed first.

Every page state is checked by `PageAudit.check` (axe-core WCAG 2.1 A/AA, no horizontal
scroll, 44 px touch targets at the phone size, no console or server errors). A screenshot
of the phone page is always kept in test-artifacts/ (monitoring-phone-*.png)."""
from __future__ import annotations

import math
import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from blueprints.dealers.services import link_dealer
from blueprints.monitoring import telemetry
from blueprints.monitoring.telemetry import JST
from models import db
from models.gateway import Gateway
from tests.browser.support import ARTIFACTS, LiveServer
from tests.browser.test_browser_pages import Person, check, heading, in_db, main, sign_in
from tests.flows.test_dealer_links import make_dealer, make_gateway, make_owner
from tests.helpers import PASSWORD, add_units, reading, slot_end

pytestmark = pytest.mark.browser

OWNER = Person("owner@example.com", "山田", "太郎")
DEALER_EMPLOYEE = Person("admin1@dealer1.example", "佐藤", "花子")
GATEWAY_ID, SECOND_ID = "01AB12345678", "01AB12345679"
HISTORY_DAYS = 35  # reaches into the previous month whatever today is


def day_curve(ts) -> dict:
    """A plausible reading for `ts`: sun from 6 to 18 h, evening load, battery at night."""
    local = (ts - timedelta(minutes=5)).astimezone(JST)
    hour = local.hour + local.minute / 60
    pv = max(0.0, 4.2 * math.sin(math.pi * (hour - 6) / 12)) if 6 <= hour <= 18 else 0.0
    load = 0.35 + (0.9 if 18 <= hour < 22 else 0.0) + (0.5 if 7 <= hour < 8 else 0.0)
    charge = min(1.5, max(0.0, pv - load))
    sell = max(0.0, pv - load - charge)
    discharge = min(1.0, max(0.0, load - pv)) if 17 <= hour < 23 else 0.0
    buy = max(0.0, load - pv - discharge)
    state = "charging" if charge > 0.05 else "discharging" if discharge > 0.05 else "standby"
    return reading(ts, pv_kw=round(pv, 3), load_kw=round(load, 3),
                   battery_kw=round(charge or discharge, 3), battery_state=state,
                   soc=int(20 + 60 * min(1.0, max(0.0, (hour - 8) / 8))) if hour < 20 else 30,
                   sell_kw=round(sell, 3), buy_kw=round(buy, 3),
                   units=[{"unit": 1, "status": "normal"}, {"unit": 2, "status": "normal"}])


def history(live: LiveServer) -> None:
    """An owner with a gateway that reported every 5 minutes for HISTORY_DAYS, linked to a
    dealer; a second gateway of another owner, linked later, that is silent."""
    def write():
        owner = make_owner(OWNER.email, OWNER.family_name, OWNER.given_name)
        gateway = make_gateway(owner, GATEWAY_ID, site="山田様邸")
        add_units(gateway, 2)
        end = slot_end()
        stamps = [end - timedelta(minutes=5 * i) for i in range(HISTORY_DAYS * 288)][::-1]
        for start in range(0, len(stamps), telemetry.MAX_BATCH):
            result = telemetry.ingest(db.session.get(Gateway, gateway.id),
                                      [day_curve(ts) for ts in
                                       stamps[start:start + telemetry.MAX_BATCH]])
            assert not result.rejected
        dealer = make_dealer(1, phone="0312345678", contacts=["maint1@dealer1.example"])
        link_dealer(owner, db.session.get(Gateway, gateway.id), dealer.dealer_code,
                    "0312345678")
        other = make_owner("other@example.com", "佐藤", "次郎")
        silent = make_gateway(other, SECOND_ID, site="佐藤様邸")
        add_units(silent, 1)
        lone = day_curve(end - timedelta(hours=3)) | {"units": [{"unit": 1, "status": "normal"}]}
        assert telemetry.ingest(db.session.get(Gateway, silent.id), [lone]).accepted == 1
        link_dealer(other, db.session.get(Gateway, silent.id), dealer.dealer_code,
                    "0312345678")
        from blueprints.monitoring.alerts import check_silence
        assert check_silence().opened == [SECOND_ID]
    in_db(live, write)


def add_reading(live: LiveServer, pv_kw: float) -> None:
    def write():
        gateway = db.session.scalar(db.select(Gateway).where(Gateway.gateway_id == GATEWAY_ID))
        ts = slot_end() + timedelta(minutes=5)
        result = telemetry.ingest(gateway, [day_curve(ts) | {"pv_kw": pv_kw}], now=ts)
        assert result.accepted == 1
    in_db(live, write)


def chart_click(page: Page, name: str) -> None:
    """A chart link: htmx swaps #chart in place (a partial, no full page load)."""
    # Only the chart's own request: the status box polls /monitor/now meanwhile.
    with page.expect_response(lambda r: "/monitor?" in r.url
                              and r.request.headers.get("hx-target") == "chart") as info:
        page.locator("#chart").get_by_role("link", name=name, exact=True).click()
    assert info.value.status == 200
    assert info.value.request.headers.get("hx-request") == "true"


def keep_screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"monitoring-{name}.png"), full_page=True)


def test_owner_watches_the_monitoring_page_on_a_phone(live_server, open_page, tmp_path):
    history(live_server)
    live_server.app.config["MONITOR_REFRESH_SECONDS"] = 1
    page, audit = open_page("phone")
    sign_in(page, audit, live_server, OWNER, PASSWORD)
    page.goto(live_server.url + "/monitoring/")
    main(page).get_by_role("link", name="運転状況の確認").click()
    expect(page).to_have_url(re.compile(rf"/monitoring/gateways/{GATEWAY_ID}/monitor$"))
    expect(heading(page)).to_have_text("遠隔モニタリング")
    status = page.locator("#now")
    expect(status).to_contain_text("正常動作中")
    for name in ("発電", "消費", "蓄電池", "売電", "買電"):
        expect(status.locator(".now-name", has_text=name)).to_be_visible()
    expect(status).to_contain_text("現在(平均値)")
    expect(status).to_contain_text("本日累計")
    expect(status).to_contain_text("本日の自家消費率")
    chart = page.locator("#chart")
    expect(chart.locator("svg[role=img]")).to_have_attribute("aria-label", re.compile("発電"))
    expect(chart.locator("svg path").first).to_be_attached()  # whatever the hour: some band
    check(page, audit, "monitor-day")
    keep_screenshot(page, "phone-day")

    # The status refreshes itself: a new reading shows without reloading the page.
    add_reading(live_server, 3.14)
    expect(status).to_contain_text("3.1 kW", timeout=10_000)
    live_server.app.config["MONITOR_REFRESH_SECONDS"] = 600
    with page.expect_response(lambda r: "/monitor/now" in r.url):
        pass  # the next refresh brings the long interval: no more swaps during the checks

    chart_click(page, "月")
    expect(page).to_have_url(re.compile(r"\?period=month&date=\d{4}-\d{2}$"))
    expect(chart.locator("rect.c-self").first).to_be_visible()
    check(page, audit, "monitor-month")
    keep_screenshot(page, "phone-month")
    chart_click(page, "‹ 前の月")
    expect(page.locator("#chart .period-label")).not_to_be_empty()
    check(page, audit, "monitor-previous-month")
    chart_click(page, "年")
    expect(page).to_have_url(re.compile(r"\?period=year&date=\d{4}$"))
    check(page, audit, "monitor-year")
    chart_click(page, "日")
    expect(page).to_have_url(re.compile(r"\?period=day&date=\d{4}-\d{2}-\d{2}$"))

    page.locator("#chart summary", has_text="数値を表で見る").click()
    table = page.locator("#chart table.data-table")
    expect(table).to_be_visible()
    assert table.locator("tbody tr").count() >= 1
    check(page, audit, "monitor-table")

    with page.expect_download() as download_info:
        page.locator("#chart").get_by_role("link", name="CSVでダウンロード").click()
    download = download_info.value
    assert re.fullmatch(rf"enelink_{GATEWAY_ID}_day_\d{{4}}-\d{{2}}-\d{{2}}\.csv",
                        download.suggested_filename)
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    content = saved.read_text(encoding="utf-8-sig").splitlines()
    assert content[0].startswith("日時,発電(kW),消費(kW)") and len(content) > 1

    # Back in history: htmx keeps no copies (historyCacheSize 0), so the page of the
    # previous URL (the year) is loaded again from the server.
    with page.expect_event("load"):
        page.go_back()
    expect(page).to_have_url(re.compile(r"\?period=year&date=\d{4}$"))
    expect(page.locator("#chart .tab.current")).to_have_text("年")
    check(page, audit, "monitor-back")


def test_the_monitoring_page_without_javascript(live_server, open_page):
    history(live_server)
    page, audit = open_page("phone", javascript=False)
    sign_in(page, audit, live_server, OWNER, PASSWORD)
    page.goto(live_server.url + f"/monitoring/gateways/{GATEWAY_ID}/monitor")
    expect(page.locator("#now")).to_contain_text("正常動作中")
    check(page, audit, "monitor-no-js")
    page.locator("#chart").get_by_role("link", name="年", exact=True).click()
    expect(page).to_have_url(re.compile(r"\?period=year&date=\d{4}$"))
    expect(page.locator("#chart rect.c-self").first).to_be_attached()
    page.locator("#now").get_by_role("link", name="更新").click()
    expect(page).to_have_url(re.compile(rf"/monitoring/gateways/{GATEWAY_ID}/monitor$"))
    check(page, audit, "monitor-no-js-refreshed")


def test_a_linked_dealer_watches_from_the_console(live_server, open_page):
    history(live_server)
    page, audit = open_page("desktop")
    sign_in(page, audit, live_server, DEALER_EMPLOYEE, PASSWORD)
    page.goto(live_server.url + "/dealers/")
    rows = main(page).locator("tbody tr")
    expect(rows.first).to_contain_text(SECOND_ID)          # silent: in alert, first
    expect(rows.first.locator(".status-badge")).to_have_text("通信途絶")
    expect(rows.nth(1).locator(".status-badge")).to_have_text("正常")
    check(page, audit, "console-alert-first")
    rows.nth(1).get_by_role("link", name="モニタリング").click()
    expect(page).to_have_url(re.compile(rf"/monitoring/gateways/{GATEWAY_ID}/monitor$"))
    expect(page.locator("#now")).to_contain_text("正常動作中")
    breadcrumb = page.get_by_role("navigation", name="パンくずリスト")
    expect(breadcrumb).to_contain_text("販売店コンソール")
    check(page, audit, "dealer-monitor")
    page.goto(live_server.url + f"/monitoring/gateways/{SECOND_ID}/monitor")
    expect(page.locator("#now")).to_contain_text("通信途絶")
    check(page, audit, "dealer-monitor-silent")
