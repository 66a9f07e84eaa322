"""ログイン中の端末 and the e-mail change in Chromium at phone size (360x740). The owner
signs in from two browsers; on the phone: ログイン情報 → ログイン中の端末 (both listed, this
one marked) → signs the other out → the e-mail change form (a wrong password: 422 with the
message next to the field and the address kept; then 確認メールを送信しました) → the link
from the mail → 変更を確定する. Every page state is checked by `PageAudit.check` (axe-core
WCAG 2.1 A/AA, no horizontal scroll, 44 px touch targets, no console errors)."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from models.account import Account
from models import db
from tests.browser.test_browser_pages import (Person, check, heading, in_db, main, sign_in,
                                              submit, visit)
from tests.flows.test_dealer_links import make_owner
from tests.helpers import PASSWORD

pytestmark = pytest.mark.browser

OWNER = Person("owner@example.com", "山田", "太郎")
NEW = "yamada.new@example.net"


def test_devices_and_email_change_on_a_phone(live_server, open_page):
    live = live_server
    owner_id = in_db(live, lambda: make_owner(OWNER.email, OWNER.family_name,
                                              OWNER.given_name).id)
    laptop, laptop_audit = open_page("desktop")
    sign_in(laptop, laptop_audit, live, OWNER, PASSWORD)
    phone, audit = open_page("phone")
    sign_in(phone, audit, live, OWNER, PASSWORD)

    visit(phone, audit, live.url + "/account/settings/login")
    expect(main(phone).get_by_role("heading", name="ログイン中の端末")).to_be_visible()
    expect(main(phone).get_by_role("heading", name="メールアドレスの変更")).to_be_visible()
    check(phone, audit, "settings-login-sections")

    main(phone).get_by_role("link", name="ログイン中の端末を確認する").click()
    phone.wait_for_load_state()
    expect(heading(phone)).to_have_text("ログイン中の端末")
    rows = main(phone).locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("この端末")
    check(phone, audit, "devices")

    submit(phone, audit, rows.nth(1).get_by_role("button", name="ログアウト"),
           "/account/settings/devices/", 303)
    expect(main(phone).locator("tbody tr")).to_have_count(1)
    expect(phone.get_by_text("選択した端末をログアウトしました")).to_be_visible()
    check(phone, audit, "devices-signed-out-one")
    laptop.goto(live.url + "/account/settings")
    expect(laptop).to_have_url(live.url + "/account/login?next=/account/settings")

    visit(phone, audit, live.url + "/account/settings/devices/sign-out-all")
    expect(heading(phone)).to_have_text("すべての端末からログアウト")
    check(phone, audit, "devices-sign-out-all-confirm")

    visit(phone, audit, live.url + "/account/settings/email")
    expect(heading(phone)).to_have_text("メールアドレスの変更")
    check(phone, audit, "email-change")
    phone.locator("#email").fill(NEW)
    phone.locator("#current_password").fill("not-the-password")
    submit(phone, audit, main(phone).get_by_role("button", name="確認メールを送信する"),
           "/account/settings/email", 422)
    expect(phone.locator("#current_password-error")).to_have_text(
        "現在のパスワードが正しくありません")
    expect(phone.locator("#email")).to_have_value(NEW)
    check(phone, audit, "email-change-wrong-password")
    phone.locator("#current_password").fill(PASSWORD)
    submit(phone, audit, main(phone).get_by_role("button", name="確認メールを送信する"),
           "/account/settings/email", 200)
    expect(heading(phone)).to_have_text("確認メールを送信しました")
    check(phone, audit, "email-change-sent")

    link = live.mail_link(NEW, "email_change_confirm")
    visit(phone, audit, link)
    expect(heading(phone)).to_have_text("メールアドレス変更の確定")
    check(phone, audit, "email-change-confirm")
    submit(phone, audit, main(phone).get_by_role("button", name="変更を確定する"),
           "/account/email/confirm/", 200)
    expect(heading(phone)).to_have_text("メールアドレスを変更しました")
    check(phone, audit, "email-change-done")
    assert in_db(live, lambda: db.session.get(Account, owner_id).email) == NEW
