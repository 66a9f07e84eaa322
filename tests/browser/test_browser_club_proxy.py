"""Proxy login (代理ログイン) in Chromium. A dealer's employee at desktop size (1280x800)
opens the proxy-login form of an owner who approved the dealer, gives a reason (htmx
post), lands on the owner's pages with the banner, opens the monitoring page as the
owner, and returns with 「販売店の画面に戻る」. The owner at phone size (360x740) sees the
running proxy session on わが家の情報を見られる人 with 「今すぐ終了」, and after the
return its アクセス履歴.

The dealer opens the form at `/club/dealer/users/<お客様番号>/proxy`: the dealer's page of
the owner (`club.dealer_user`, another part of issue 11) includes the same form partial
once merged. The permission is written straight to the database (its approval flow is
another part). Every page state reached is checked by `PageAudit.check` (axe-core WCAG 2.1
A/AA, no horizontal scroll, 44 px touch targets on the phone, no console errors)."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from blueprints.dealers.services import become_dealer
from models import db, utcnow
from models.club import LoginPermission, PermissionState, ProxySession
from tests.browser.test_browser_pages import (Person, check, heading, in_db, main, sign_in,
                                              submit, visit)
from tests.flows.test_club_proxy import make_employee
from tests.flows.test_dealer_links import make_company, make_gateway, make_owner
from tests.helpers import PASSWORD

pytestmark = pytest.mark.browser

EMPLOYEE = Person("member1@dealer1.example", "鈴木", "一郎")
OWNER = Person("owner@example.com", "山田", "太郎")
GATEWAY_ID = "01AB12345678"
BANNER = "販売店1株式会社の鈴木 一郎さんが 山田 太郎 様として操作中"


def world() -> str:
    owner = make_owner(OWNER.email, OWNER.family_name, OWNER.given_name)
    make_gateway(owner, GATEWAY_ID)
    dealer = become_dealer(make_company(1), "0312345678")
    make_employee(dealer.company_id, EMPLOYEE.email, EMPLOYEE.family_name, EMPLOYEE.given_name)
    db.session.add(LoginPermission(owner_id=owner.id, email=EMPLOYEE.email, dealer_id=dealer.id,
                                   state=PermissionState.APPROVED, decided_at=utcnow()))
    db.session.commit()
    return owner.customer_number


def test_dealer_proxy_login_with_banner_and_return_and_the_owners_pages(live_server,
                                                                        open_page):
    live = live_server
    number = in_db(live, world)
    dealer, dealer_audit = open_page("desktop")
    owner, owner_audit = open_page("phone")

    # The dealer: the form, a missing reason (422, message next to the field), then start.
    sign_in(dealer, dealer_audit, live, EMPLOYEE, PASSWORD)
    # 登録ユーザー一覧 → 詳細 → the 代理ログイン form on the detail page (003-27 … 003-29).
    visit(dealer, dealer_audit, f"{live.url}/club/dealer/users")
    main(dealer).get_by_role("link", name="詳細").first.click()
    dealer.wait_for_load_state()
    expect(heading(dealer)).to_have_text("登録ユーザー詳細")
    assert dealer.url.endswith(f"/club/dealer/users/{number}")
    check(dealer, dealer_audit, "proxy-form")
    button = main(dealer).get_by_role("button", name="代理ログイン")
    submit(dealer, dealer_audit, button, "/club/dealer/users/", 422)  # swapped in place
    expect(heading(dealer)).to_have_text("登録ユーザー詳細")
    expect(dealer.locator("#reason-error")).to_have_text("入力してください")
    check(dealer, dealer_audit, "proxy-form-error")
    dealer.locator("#reason").fill("ご依頼の蓄電池設定を一緒に確認するため")
    with dealer.expect_navigation():
        main(dealer).get_by_role("button", name="代理ログイン").click()
    banner = dealer.locator(".proxy-banner")
    expect(banner).to_contain_text(BANNER)
    check(dealer, dealer_audit, "proxy-landing")
    visit(dealer, dealer_audit, f"{live.url}/monitoring/gateways/{GATEWAY_ID}/monitor")
    expect(banner).to_contain_text(BANNER)
    check(dealer, dealer_audit, "proxy-monitoring")
    visit(dealer, dealer_audit, f"{live.url}/account/access")
    expect(main(dealer)).to_contain_text("代理ログイン中は、このページの取り消しや変更はできません")
    expect(main(dealer).get_by_role("link", name="今すぐ終了")).to_have_count(0)
    check(dealer, dealer_audit, "proxy-access-read-only")

    # The owner, meanwhile, on a phone: the running proxy session and 今すぐ終了.
    sign_in(owner, owner_audit, live, OWNER, PASSWORD)
    visit(owner, owner_audit, f"{live.url}/account/access")
    line = main(owner).locator("li.card", has_text="代理ログイン（実行中")
    expect(line).to_contain_text("販売店1株式会社 の 鈴木 一郎 さん")
    expect(line.get_by_role("link", name="今すぐ終了")).to_be_visible()
    expect(owner.locator(".proxy-banner")).to_have_count(0)
    check(owner, owner_audit, "owner-access-running")

    # The dealer returns to the dealer's own screen.
    submit(dealer, dealer_audit, banner.get_by_role("button", name="販売店の画面に戻る"),
           "/club/proxy/return", 303)
    expect(dealer.locator(".notice-success")).to_contain_text("販売店の画面に戻りました")
    expect(dealer.locator(".proxy-banner")).to_have_count(0)
    check(dealer, dealer_audit, "proxy-returned")
    assert in_db(live, lambda: db.session.query(ProxySession).one().end_reason) == "returned"

    # The owner: the line says it ended; アクセス履歴 lists it.
    visit(owner, owner_audit, f"{live.url}/account/access")
    line = main(owner).locator("li.card", has_text="代理ログイン（終了）")
    expect(line.get_by_role("link", name="今すぐ終了")).to_have_count(0)
    line.get_by_role("link", name="アクセス履歴を見る").click()
    owner.wait_for_load_state()
    expect(heading(owner)).to_have_text("アクセス履歴")
    expect(main(owner)).to_contain_text("ご依頼の蓄電池設定を一緒に確認するため")
    expect(main(owner)).to_contain_text("販売店が終了")
    check(owner, owner_audit, "owner-access-history")
