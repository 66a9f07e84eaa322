"""Login permissions in Chromium: the owner at phone size (360x740, touch) grants a
dealer's address on お客様情報 (登録情報を変更する → 確認する → 変更する → 変更完了, htmx
swaps), sees 承認待ち; the dealer's employee at desktop size (1280x800) opens the approval
link of the mail, signs in, comes back to it, approves (banner), then finds the owner in
登録ユーザー一覧 and opens the detail page; the owner then withdraws the permission from
わが家の情報を見られる人 (confirmation) and the dealer's next request is refused. Every page or page state reached is checked by
`PageAudit.check` (axe-core WCAG 2.1 A/AA, no horizontal scroll, touch targets at the
phone size, no console or server errors)."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from blueprints.dealers.services import become_dealer
from models import db
from models.account import AccountPhone
from tests.browser.test_browser_pages import Person, check, heading, in_db, main, sign_in, submit, visit
from tests.flows.test_dealer_links import make_company, make_gateway, make_owner
from tests.helpers import PASSWORD

pytestmark = pytest.mark.browser

OWNER = Person("owner@example.com", "山田", "太郎")
DEALER = Person("admin1@dealer1.example", "佐藤", "花子")


def world() -> str:
    owner = make_owner(OWNER.email, OWNER.family_name, OWNER.given_name)
    owner.phones = [AccountPhone(position=0, kind="mobile", number="09012345678")]
    db.session.commit()
    make_gateway(owner, "01AB12345678")
    become_dealer(make_company(1), "0312345671")
    return owner.customer_number


def test_owner_grants_and_dealer_approves(live_server, open_page):
    live = live_server
    number = in_db(live, world)

    # -- the owner, on a phone --
    page, audit = open_page("phone")
    sign_in(page, audit, live, OWNER, PASSWORD)
    visit(page, audit, live.url + "/club/mypage/info")
    expect(heading(page)).to_have_text("お客様情報")
    expect(main(page)).to_contain_text(number)
    check(page, audit, "customer-info")

    main(page).get_by_role("link", name="登録情報を変更する").click()
    expect(page).to_have_url(live.url + "/club/mypage/info/edit")
    check(page, audit, "customer-info-edit")
    page.get_by_label("ログインを許可する販売店・業者様のメールアドレス").fill("not-an-address")
    submit(page, audit, main(page).get_by_role("button", name="確認する"),
           "/club/mypage/info/edit", 422)
    expect(page.locator("#permission_email-error")).to_contain_text("メールアドレスの形式")
    check(page, audit, "customer-info-edit-error")

    page.get_by_label("ログインを許可する販売店・業者様のメールアドレス").fill(DEALER.email)
    submit(page, audit, main(page).get_by_role("button", name="確認する"),
           "/club/mypage/info/edit", 200)
    expect(main(page)).to_contain_text("変更内容の確認")
    expect(main(page)).to_contain_text(DEALER.email)
    check(page, audit, "customer-info-confirm")

    submit(page, audit, main(page).get_by_role("button", name="変更する"),
           "/club/mypage/info/edit", 200)   # htmx: HX-Redirect to the done page
    expect(page).to_have_url(live.url + "/club/mypage/info/done?granted=1")
    expect(heading(page)).to_have_text("変更完了")
    check(page, audit, "customer-info-done")

    main(page).get_by_role("link", name="お客様情報へ").click()
    expect(main(page).locator("#permissions tbody tr")).to_contain_text("承認待ち")
    check(page, audit, "customer-info-pending")

    # -- the dealer, at a desk, from the mail --
    desk, desk_audit = open_page("desktop")
    link = live.mail_link(DEALER.email, "club_permission_request")
    desk.goto(link)
    expect(desk).to_have_url(f"{live.url}/account/login?next=" + link.split(live.url)[1])
    check(desk, desk_audit, "approval-sign-in")
    desk.locator("#email").fill(DEALER.email)
    desk.locator("#password").fill(PASSWORD)
    submit(desk, desk_audit, main(desk).get_by_role("button", name="ログイン", exact=True),
           "/account/login", 303)
    expect(desk).to_have_url(link)
    expect(heading(desk)).to_have_text("オーナー様情報との連携")
    for text in ("山田 太郎", "東京都", "中央区", OWNER.email, "ハイブリッド蓄電システム 7.4kWh"):
        expect(main(desk)).to_contain_text(text)
    check(desk, desk_audit, "approval")

    submit(desk, desk_audit, main(desk).get_by_role("button", name="連携を許可", exact=True),
           "/club/approvals/", 200)
    expect(desk.get_by_role("status").filter(has_text="連携")).to_have_text(
        "オーナー様情報との連携に成功しました!")
    check(desk, desk_audit, "approval-done")

    main(desk).get_by_role("link", name="登録ユーザー一覧へ").click()
    expect(desk).to_have_url(live.url + "/club/dealer/users")
    rows = main(desk).locator("#users-list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(OWNER.email)
    check(desk, desk_audit, "users")

    rows.first.get_by_role("link", name="詳細").click()
    expect(desk).to_have_url(f"{live.url}/club/dealer/users/{number}")
    expect(heading(desk)).to_have_text("登録ユーザー詳細")
    for text in (OWNER.email, number, "山田 太郎", "登録製品情報", "01AB12345678"):
        expect(main(desk)).to_contain_text(text)
    check(desk, desk_audit, "user")

    # The owner now sees the dealer by name, approved.
    page.reload()
    expect(main(page).locator("#permissions tbody tr")).to_contain_text("許可済み")
    expect(main(page).locator("#permissions tbody tr")).to_contain_text("販売店1株式会社")
    check(page, audit, "customer-info-approved")

    # -- the owner withdraws it from わが家の情報を見られる人, on the phone --
    visit(page, audit, live.url + "/account/access")
    line = main(page).locator("li.card", has_text="ログインを許可（許可済み）")
    expect(line).to_contain_text("販売店1株式会社")
    check(page, audit, "access-permission")
    line.get_by_role("link", name="取り消す").click()
    expect(heading(page)).to_have_text("ログインの許可の取消し")
    check(page, audit, "permission-withdraw")
    submit(page, audit, main(page).get_by_role("button", name="取り消す"),
           "/club/mypage/permissions/", 303)
    expect(page.locator(".notice-success")).to_contain_text("ログインの許可を取り消しました")
    check(page, audit, "permission-withdrawn")
    visit(page, audit, live.url + "/account/access")
    expect(main(page).locator("li.card", has_text="ログインを許可")).to_have_count(0)

    # The dealer's next request no longer finds the owner.
    response = desk.goto(f"{live.url}/club/dealer/users/{number}")
    assert response.status == 404
    desk.goto(live.url + "/club/dealer/users")
    expect(main(desk).locator("#users-list tbody tr")).to_have_count(0)
