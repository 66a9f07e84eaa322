"""遠隔設定 in Chromium: the owner on a phone (360x740) opens the 設定 tab from the
monitoring page, is told about a floor out of range next to the field, saves a change and
sees 反映待ち, and 反映済み once the simulated gateway has reported and acknowledged it;
a linked dealer's administrator on a desktop (1280x800), without JavaScript, changes the
charge window from the dealer console. Every page state is checked by `PageAudit.check` (axe-core, no
horizontal scroll, touch targets, no console or server errors)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from blueprints.dealers.services import link_dealer
from tests.browser.test_browser_pages import (Person, check, heading, in_db, main, sign_in,
                                              submit, visit)
from tests.flows.test_dealer_links import make_dealer, make_owner
from tests.flows.test_gateway_api import reporting_gateway
from tests.helpers import PASSWORD

pytestmark = pytest.mark.browser

OWNER = Person("owner@example.com", "山田", "太郎")
DEALER = Person("admin1@dealer1.example", "佐藤", "花子")
GATEWAY_ID = "01AB12345678"
PAGE = f"/monitoring/gateways/{GATEWAY_ID}/settings"


def world() -> None:
    from models import db, utcnow
    owner = make_owner(OWNER.email, OWNER.family_name, OWNER.given_name)
    gateway, _key = reporting_gateway(owner)
    gateway.registered_at = utcnow() - timedelta(hours=2)
    db.session.commit()
    dealer = make_dealer(1)
    link_dealer(owner, gateway, dealer.dealer_code, dealer.phone)


def feed() -> None:
    from sqlalchemy import select

    from blueprints.monitoring import simulator
    from models import db
    from models.gateway import Gateway
    gateway = db.session.scalar(select(Gateway).where(Gateway.gateway_id == GATEWAY_ID))
    assert simulator.feed(gateway, days=1).accepted > 0


def test_the_owner_changes_a_setting_on_a_phone(live_server, open_page):
    in_db(live_server, world)
    page, audit = open_page("phone")
    sign_in(page, audit, live_server, OWNER, PASSWORD)
    visit(page, audit, live_server.url + f"/monitoring/gateways/{GATEWAY_ID}/monitor")
    main(page).get_by_role("link", name="設定", exact=True).click()
    expect(page).to_have_url(live_server.url + PAGE)
    expect(heading(page)).to_have_text("蓄電システムの設定")
    expect(page.locator("#settings-state")).to_contain_text("工場出荷時の設定")
    check(page, audit, "factory")

    page.get_by_label("経済優先", exact=True).check()
    page.locator("#discharge_floor").fill("95")
    submit(page, audit, main(page).get_by_role("button", name="設定を保存する"), PAGE, 422)
    expect(page.locator("#discharge_floor")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#discharge_floor-field .field-error")).to_contain_text("10から90まで")
    expect(page.locator("#discharge_floor")).to_have_value("95")
    check(page, audit, "out-of-range")

    page.locator("#discharge_floor").fill("３０")
    submit(page, audit, main(page).get_by_role("button", name="設定を保存する"), PAGE, 200)
    expect(page.get_by_role("status").first).to_contain_text("設定を保存しました")
    expect(page.locator("#settings-state")).to_contain_text("反映待ち")
    expect(main(page)).to_contain_text("放電下限の蓄電残量: 10% → 30%")
    check(page, audit, "pending")

    in_db(live_server, feed)  # the gateway reports, runs by the settings and acknowledges
    visit(page, audit, live_server.url + PAGE)
    expect(page.locator("#settings-state")).to_contain_text("反映済み")
    expect(page.locator("#discharge_floor")).to_have_value("30")
    check(page, audit, "applied")


def test_a_linked_dealer_changes_the_window_on_a_desktop(live_server, open_page):
    in_db(live_server, world)
    page, audit = open_page("desktop", javascript=False)  # the plain form posts work too
    sign_in(page, audit, live_server, DEALER, PASSWORD)
    visit(page, audit, live_server.url + f"/dealers/gateways/{GATEWAY_ID}")
    main(page).get_by_role("link", name="蓄電システムの設定を変更する").click()
    expect(page).to_have_url(live_server.url + PAGE)
    check(page, audit, "dealer-form")
    page.locator("#charge_start").select_option("22:00")
    page.locator("#charge_end").select_option("06:00")
    submit(page, audit, main(page).get_by_role("button", name="設定を保存する"), PAGE, 303)
    expect(page.locator("#settings-state")).to_contain_text("反映待ち")
    history = main(page).locator("tbody tr").first
    expect(history).to_contain_text("販売店1株式会社 佐藤 花子")
    expect(history).to_contain_text("充電開始時刻: 00:00 → 22:00")
    check(page, audit, "dealer-saved")
