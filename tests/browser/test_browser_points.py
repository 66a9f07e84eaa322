"""The points member's pages in Chromium at phone size (360x740, touch): the member page
with a month's accrual and its calculation, an exchange (choose → confirm → 受付), the
history afterwards, 退会's confirmation; and the monitoring page showing this month's
estimate with its link. Every page state is checked by `PageAudit.check` (axe-core WCAG
2.1 A/AA, no horizontal scroll, 44 px touch targets, no console or server errors)."""
from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.sync_api import expect

from blueprints.points import ledger
from forms.validators import today_in_japan
from tests.browser.test_browser_pages import (Person, check, heading, in_db, main, sign_in,
                                              submit, visit)
from tests.flows.test_points_ledger import WSUM_PER_KWH, give, make_member, rollup
from tests.helpers import PASSWORD

pytestmark = pytest.mark.browser

OWNER = Person("owner@example.com", "山田", "太郎")
GATEWAY_ID = "01AB12345678"
MONTH = date(2026, 5, 1)


def member_with_history(live) -> None:
    def write():
        member = make_member(OWNER.email, GATEWAY_ID)
        rollup(member, MONTH, 612 * WSUM_PER_KWH + 4500)  # 612.375 kWh
        rollup(member, today_in_japan().replace(day=1), 42 * WSUM_PER_KWH + 6000)
        assert ledger.accrue(MONTH) == 1
        give(member, 400, "キャンペーン加算")
    in_db(live, write)


def test_member_page_exchange_and_monitoring_estimate_on_a_phone(live_server, open_page):
    member_with_history(live_server)
    page, audit = open_page("phone")
    sign_in(page, audit, live_server, OWNER, PASSWORD)

    visit(page, audit, live_server.url + "/points/")
    expect(heading(page)).to_have_text("ポイント マイページ")
    expect(page.locator("#balance")).to_have_text("1,012")
    expect(page.locator("#estimate")).to_contain_text("42.500 kWh × 1.000 = 42 ポイント（見込み）")
    expect(page.locator("#accruals")).to_contain_text("612.375 kWh × 1.000 = 612")
    expect(page.locator("#corrections")).to_contain_text("キャンペーン加算")
    check(page, audit, "points-mypage")

    main(page).get_by_role("link", name="ポイントを交換する").click()
    expect(heading(page)).to_have_text("ポイント交換")
    check(page, audit, "points-exchange")
    main(page).get_by_text("デジタルギフト 1,000円分").click()
    main(page).get_by_role("button", name="確認へ進む").click()
    expect(heading(page)).to_have_text("交換内容の確認")
    expect(main(page)).to_contain_text("12")  # 1,012 − 1,000
    check(page, audit, "points-exchange-confirm")
    submit(page, audit, main(page).get_by_role("button", name="交換を申し込む"),
           "/points/exchange/confirm", 303)
    expect(heading(page)).to_have_text("交換受付完了")
    check(page, audit, "points-exchange-done")

    main(page).get_by_role("link", name="マイページへ戻る").click()
    expect(page.locator("#balance")).to_have_text("12")
    expect(page.locator("#exchanges")).to_contain_text("デジタルギフト 1,000円分")
    check(page, audit, "points-mypage-after-exchange")

    main(page).get_by_role("link", name="ポイントサービスを退会する").click()
    expect(heading(page)).to_have_text("ポイントサービスを退会しますか？")
    expect(main(page)).to_contain_text("再び申し込むことはできません")
    submit(page, audit, main(page).get_by_role("button", name="退会する"), "/points/leave", 422)
    expect(page.locator(".field-error")).to_contain_text("チェックを入れてください")
    check(page, audit, "points-leave-error")

    visit(page, audit, live_server.url + f"/monitoring/gateways/{GATEWAY_ID}/monitor")
    panel = page.locator(".points-panel")
    expect(panel).to_contain_text("自家消費 42.500 kWh × 1.000 = 42 ポイント（見込み）")
    check(page, audit, "points-monitoring-panel")
    panel.get_by_role("link", name="ポイント マイページへ").click()
    expect(page).to_have_url(re.compile(r"/points/$"))
