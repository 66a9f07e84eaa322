"""セルフヘルプ in Chromium: a homeowner on a phone (360x740, touch) goes from the support
center's home to the knowledge base (the home's box, then the search page's htmx box),
opens an article and leaves for a new case with the query carried over; a dealer's
employee at desktop size (1280x800) goes from the dealer console to the unlock codes,
picks the unit (htmx swap) and is shown the code once.

Every page state reached is checked by `PageAudit.check` (axe-core WCAG 2.1 A/AA, no
horizontal scroll, 44 px touch targets at the phone size, no console or server errors)."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from blueprints.dealers.services import become_dealer, link_dealer
from blueprints.support.kb_demo import seed_demo_articles
from models import db
from models.gateway import PcsUnit
from tests.browser.support import LiveServer
from tests.browser.test_browser_pages import Person, check, heading, main, sign_in, submit, visit
from tests.flows.test_dealer_links import make_company, make_gateway, make_owner
from tests.helpers import PASSWORD

pytestmark = pytest.mark.browser

OWNER = Person("owner@example.com", "山田", "太郎")
DEALER_ADMIN = Person("admin1@dealer1.example", "佐藤", "花子")
GATEWAY_ID = "01AB12345678"


def world(live: LiveServer) -> None:
    with live.app.app_context():
        owner = make_owner()
        gateway = make_gateway(owner, GATEWAY_ID)
        db.session.add_all([PcsUnit(gateway_id=gateway.id, unit_no=n, model="PCS-5K",
                                    serial=f"SN0000{n:02d}") for n in (1, 2)])
        db.session.commit()
        dealer = become_dealer(make_company(1), "0312345678")
        assert link_dealer(owner, gateway, dealer.dealer_code, "0312345678").value == "linked"
        seed_demo_articles()


def test_a_homeowner_finds_an_article_on_a_phone(live_server, open_page):
    world(live_server)
    page, audit = open_page("phone")
    sign_in(page, audit, live_server, OWNER, PASSWORD)
    visit(page, audit, live_server.url + "/support/")
    expect(heading(page)).to_have_text("サポートセンター")
    check(page, audit, "home")

    page.get_by_label("検索またはリクエスト").fill("充電されない")
    page.get_by_role("button", name="検索").click()
    page.wait_for_url(re.compile(r"/support/search\?q="))
    hits = page.locator(".kb-hits li")
    expect(hits.first).to_contain_text("蓄電池が充電されないときの確認事項")
    expect(hits.first.locator("mark").first).to_have_text("充電されない")
    check(page, audit, "search")

    # On the search page the box swaps the results in place (htmx).
    with page.expect_response(lambda r: urlsplit(r.url).path == "/support/search"
                              and r.request.headers.get("hx-request") == "true") as info:
        page.get_by_label("検索またはリクエスト").fill("停電")
        page.get_by_role("button", name="検索").click()
    assert info.value.status == 200
    expect(hits.first).to_contain_text("停電時の蓄電池と太陽光発電の動作")
    expect(page).to_have_url(re.compile(r"/support/search\?q=%E5%81%9C%E9%9B%BB"))
    check(page, audit, "search-htmx")

    # The box takes at most 100 characters (the server refuses more: 422, tested in
    # tests/flows/test_support_kb.py).
    page.get_by_label("検索またはリクエスト").fill("停" * 101)
    expect(page.get_by_label("検索またはリクエスト")).to_have_value("停" * 100)

    page.get_by_label("検索またはリクエスト").fill("停電")
    page.get_by_role("button", name="検索").click()
    expect(hits.first).to_contain_text("停電時の蓄電池と太陽光発電の動作")
    hits.first.get_by_role("link").click()
    page.wait_for_url(re.compile(r"/support/kb/\d+$"))
    expect(heading(page)).to_have_text("停電時の蓄電池と太陽光発電の動作")
    check(page, audit, "article")

    main(page).get_by_role("link", name="解決しない場合はケースサポートから").click()
    page.wait_for_url(re.compile(r"/support/cases/new\?q="))
    assert parse_qs(urlsplit(page.url).query)["q"] == ["停電時の蓄電池と太陽光発電の動作"]
    expect(page.get_by_label("件名")).to_have_value("停電時の蓄電池と太陽光発電の動作")
    check(page, audit, "new-case-from-article")


def test_a_dealer_issues_an_unlock_code_once(live_server, open_page):
    world(live_server)
    page, audit = open_page("desktop")
    sign_in(page, audit, live_server, DEALER_ADMIN, PASSWORD)
    visit(page, audit, live_server.url + f"/dealers/gateways/{GATEWAY_ID}")
    main(page).get_by_role("link", name="解除コードを発行する").click()
    page.wait_for_url(re.compile(rf"/support/unlock-codes\?gateway={GATEWAY_ID}$"))
    expect(heading(page)).to_have_text("設定ロック解除コードの発行")
    check(page, audit, "unlock-preselected")

    # Choosing the gateway again with htmx brings its units in place.
    visit(page, audit, live_server.url + "/support/unlock-codes")
    expect(page.get_by_label("機器（機器No.・製造番号）")).to_have_count(0)
    with page.expect_response(lambda r: r.request.headers.get("hx-request") == "true"):
        page.get_by_label("ゲートウェイID").select_option(GATEWAY_ID)
    unit = page.get_by_label("機器（機器No.・製造番号）")
    expect(unit).to_be_visible()
    unit.select_option("2")
    check(page, audit, "unlock-units")

    submit(page, audit, main(page).get_by_role("button", name="発行", exact=True),
           "/support/unlock-codes", 200)
    code = page.locator("#unlock-code")
    expect(code).to_have_text(re.compile(r"^[A-HJ-NP-Z2-9]{5}-[A-HJ-NP-Z2-9]{5}$"))
    expect(main(page)).to_contain_text("この画面を閉じると再表示できません")
    expect(main(page)).to_contain_text("機器 No.2（製造番号 SN000002）")
    check(page, audit, "unlock-issued")

    visit(page, audit, live_server.url + "/support/unlock-codes")
    expect(page.locator("#unlock-code")).to_have_count(0)
    expect(page.locator("#unlock-history tbody tr")).to_have_count(1)
    expect(page.locator("#unlock-history")).to_contain_text("未使用")
    check(page, audit, "unlock-history")
