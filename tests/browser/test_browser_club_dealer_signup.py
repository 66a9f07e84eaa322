"""The club's dealer sign-up in Chromium at desktop size (1280x800): 「販売店・業者様向け
管理画面」 → 新規会員登録はこちら → the address → 「仮登録メールを送信しました」 → the link of
the mail (read from the outbox) → 販売店情報 (postal-code autofill, the live password
checklist) → 確認する → 登録する → 完了 with the 販売店ID and the welcome mail → sign in
from the dealer page → the console → 販売店情報. Every page state is checked by
`PageAudit.check` (axe-core WCAG 2.1 A/AA, no horizontal scroll, no console or server
errors)."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from models import db
from models.gateway import Dealer
from tests.browser.support import LiveServer
from tests.browser.test_browser_pages import (check, fill_new_password, heading, in_db, main,
                                              submit, visit)
from tests.helpers import outbox

pytestmark = pytest.mark.browser

EMAIL = "shop@dealer.example"
PASSWORD = "Kabuto-Branch-2026!"


def dealer_code() -> str:
    db.session.expire_all()
    return db.session.scalar(select(Dealer.dealer_code))


def welcome_mail(live: LiveServer) -> str:
    with live.app.app_context():
        mails = outbox(EMAIL, "club_dealer_welcome")
        assert len(mails) == 1
        return mails[0].text_body


def test_dealer_signs_up_from_the_mail(live_server, open_page):
    live = live_server
    page, audit = open_page("desktop")

    visit(page, audit, live.url + "/club/dealer/login")
    expect(heading(page)).to_have_text("販売店・業者様向け 管理画面")
    check(page, audit, "dealer-login")
    main(page).get_by_role("link", name="新規会員登録はこちら").click()
    expect(heading(page)).to_have_text("販売店・業者様の新規会員登録")
    check(page, audit, "signup-email")

    page.locator("#email").fill(EMAIL)
    with page.expect_response(lambda r: r.request.method == "POST"
                              and r.url.endswith("/club/dealer/signup")) as info:
        main(page).get_by_role("button", name="送信する").click()
    assert info.value.status == 200 and info.value.request.headers.get("hx-request") == "true"
    expect(heading(page)).to_have_text("仮登録メールを送信しました")
    expect(main(page)).to_contain_text("仮登録の有効期限は1時間です。")
    check(page, audit, "signup-sent")

    link = live.mail_link(EMAIL, "club_dealer_signup")
    visit(page, audit, link)
    expect(page).to_have_url(live.url + "/club/dealer/signup/form/info")
    expect(main(page)).to_contain_text(EMAIL)
    check(page, audit, "signup-info")

    page.locator("#company_name").fill("テスト販売株式会社")
    page.locator("#family_name").fill("販売")
    page.locator("#given_name").fill("太郎")
    page.locator("#family_kana").fill("ハンバイ")
    page.locator("#given_kana").fill("タロウ")
    with page.expect_response(lambda r: "/postal" in r.url):
        page.locator("#address-postal_code").fill("1030026")
    expect(page.locator("#address-prefecture")).to_have_value("東京都")
    expect(page.locator("#address-city")).to_have_value("中央区")
    page.locator("#address-street").fill("日本橋兜町14-9")
    page.locator("#phone").fill("0336667945")
    fill_new_password(page, PASSWORD)
    check(page, audit, "signup-info-filled")
    main(page).get_by_role("button", name="確認する").click()
    expect(page).to_have_url(live.url + "/club/dealer/signup/form/confirm")
    expect(main(page)).to_contain_text("テスト販売株式会社")
    expect(main(page)).to_contain_text("03-3666-7945")
    expect(main(page)).not_to_contain_text(PASSWORD)
    check(page, audit, "signup-confirm")

    page.get_by_label("利用規約を読み、これに同意します").check()
    page.get_by_label("プライバシーポリシーを読みました").check()
    main(page).get_by_role("button", name="登録する").click()
    expect(page).to_have_url(live.url + "/club/dealer/signup/done")
    expect(heading(page)).to_have_text("会員登録が完了しました")
    code = in_db(live, dealer_code)
    expect(main(page)).to_contain_text(code)
    check(page, audit, "signup-done")
    body = welcome_mail(live)
    assert f"販売店ID: {code}" in body and f"{live.url}/dealers/" in body

    main(page).get_by_role("link", name="ログイン画面へ").click()
    expect(heading(page)).to_have_text("販売店・業者様向け 管理画面")
    page.locator("#email").fill(EMAIL)
    page.locator("#password").fill(PASSWORD)
    submit(page, audit, main(page).get_by_role("button", name="ログイン", exact=True),
           "/account/login", 303)
    expect(page).to_have_url(live.url + "/dealers/")
    expect(heading(page)).to_have_text("販売店コンソール")
    check(page, audit, "console")

    visit(page, audit, live.url + "/club/dealer/info")
    expect(heading(page)).to_have_text("販売店情報")
    expect(main(page)).to_contain_text(code)
    expect(main(page)).to_contain_text("日本橋兜町14-9")
    check(page, audit, "dealer-info")
