"""アラートメールの宛先 in Chromium at phone size (360x740, touch), with and without
JavaScript: the owner opens the page from ゲートウェイ情報の照会, a bad address is refused
next to the field, a family member is added (確認待ち), the family member's browser opens
the mailed link and starts receiving (受信中 on the owner's page), the access page lists
it, and the owner removes it. Every page state is checked by `PageAudit.check` (axe-core
WCAG 2.1 A/AA, no horizontal scroll, 44 px touch targets, no console or server errors)."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.test_browser_pages import (Person, check, heading, in_db, main, sign_in,
                                              submit, visit)
from tests.flows.test_dealer_links import make_gateway, make_owner
from tests.helpers import PASSWORD

pytestmark = pytest.mark.browser

OWNER = Person("owner@example.com", "山田", "太郎")
GATEWAY_ID = "01AB12345678"
FAMILY = "hanako@family.example"
PAGE = f"/monitoring/gateways/{GATEWAY_ID}/alert-recipients"


def owner_data() -> None:
    owner = make_owner(OWNER.email, OWNER.family_name, OWNER.given_name)
    make_gateway(owner, gateway_id=GATEWAY_ID, site="案件90051")


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_owner_adds_a_family_member_who_confirms(live_server, open_page, javascript):
    in_db(live_server, owner_data)
    page, audit = open_page("phone", javascript=javascript)
    sign_in(page, audit, live_server, OWNER, PASSWORD)

    visit(page, audit, live_server.url + f"/monitoring/gateways/{GATEWAY_ID}")
    main(page).get_by_role("link", name="アラートメールの宛先").click()
    expect(page).to_have_url(live_server.url + PAGE)
    expect(heading(page)).to_have_text("アラートメールの宛先")
    expect(main(page)).to_contain_text("追加の宛先はまだありません。")
    check(page, audit, "empty")

    page.locator("#email").fill(OWNER.email.upper())
    submit(page, audit, main(page).get_by_role("button", name="確認メールを送信する"),
           PAGE, 422)
    expect(page.locator("#email")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#email-field .field-error")).to_contain_text("ご自身のメールアドレス")
    expect(page.locator("#email")).to_have_value("OWNER@example.com")  # domain normalised
    check(page, audit, "own-address")

    page.locator("#email").fill(FAMILY)
    submit(page, audit, main(page).get_by_role("button", name="確認メールを送信する"),
           PAGE, 303)
    expect(page.get_by_role("status")).to_contain_text("確認メールを送信しました")
    row = main(page).locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(FAMILY)
    expect(row).to_contain_text("確認待ち")
    check(page, audit, "pending")

    # The family member's own browser: no sign-in.
    family, family_audit = open_page("phone", javascript=javascript)
    link = live_server.mail_link(FAMILY, "alert_recipient_confirm")
    visit(family, family_audit, link)
    expect(heading(family)).to_have_text("アラートメールの受信確認")
    expect(main(family)).to_contain_text("山田 様")
    check(family, family_audit, "confirm")
    path = link.split(live_server.url, 1)[1]
    submit(family, family_audit, main(family).get_by_role("button", name="受信を開始する"),
           path, 303)
    expect(heading(family)).to_have_text("アラートメールの受信を開始しました")
    check(family, family_audit, "confirmed")

    visit(page, audit, live_server.url + PAGE)
    expect(row).to_contain_text("受信中")
    check(page, audit, "confirmed-list")

    visit(page, audit, live_server.url + "/account/access")
    expect(main(page)).to_contain_text("アラートメールの受信")
    expect(main(page)).to_contain_text(FAMILY)
    main(page).locator("li", has_text=FAMILY).get_by_role("link", name="取り消す").click()
    expect(heading(page)).to_have_text("アラートメールの宛先の削除")
    check(page, audit, "remove-confirm")
    submit(page, audit, main(page).get_by_role("button", name="削除する"), PAGE, 303)
    expect(page).to_have_url(live_server.url + PAGE)
    expect(page.get_by_role("status")).to_contain_text("削除しました")
    expect(main(page)).to_contain_text("追加の宛先はまだありません。")
    check(page, audit, "removed")
