"""Help in a real browser: the FAQ at phone size (the list of questions, an anchor), the
forgotten-e-mail form with and without JavaScript (messages at the fields, then the same
answer for everyone), and the monitoring site's smartphone menu with 商品マニュアル; every
state checked by axe-core, for horizontal scroll, touch targets and console errors."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from blueprints.gateways.catalogue import ensure_catalogue
from tests.browser.test_browser_pages import (Person, check, heading, in_db, main, sign_in,
                                              submit, visit)
from tests.flows.test_dealer_links import make_gateway, make_owner
from tests.helpers import PASSWORD

pytestmark = pytest.mark.browser

OWNER = Person("owner@example.com", "山田", "太郎")


def test_faq_at_phone_size(live_server, open_page):
    page, audit = open_page("phone")
    visit(page, audit, live_server.url + "/help/")
    expect(heading(page)).to_have_text("ヘルプ・よくある質問")
    check(page, audit, "help-index")
    main(page).get_by_role("link", name="遠隔モニタリング（モニタリングサイト）に関するよくある質問").click()
    page.wait_for_load_state()
    expect(page).to_have_url(live_server.url + "/help/monitoring")
    main(page).get_by_role("link", name="商品マニュアルはどこにありますか？").click()
    expect(page).to_have_url(live_server.url + "/help/monitoring#manual")
    expect(page.locator("#manual")).to_be_in_viewport()
    check(page, audit, "help-monitoring")
    visit(page, audit, live_server.url + "/help/sample-slip")
    expect(main(page).get_by_role("img")).to_be_visible()
    check(page, audit, "help-sample-slip")


@pytest.mark.parametrize("javascript", [True, False])
def test_forgotten_email_form(live_server, open_page, javascript):
    page, audit = open_page("phone", javascript=javascript)
    visit(page, audit, live_server.url + "/account/login")
    main(page).get_by_role("link", name="ユーザID・パスワードを忘れた場合はこちら").click()
    page.wait_for_load_state()
    check(page, audit, "forgot-chooser")
    main(page).get_by_role("link", name="メールアドレス（ユーザID）を忘れた場合").click()
    page.wait_for_load_state()
    expect(heading(page)).to_have_text("メールアドレスを忘れた場合")
    page.locator("#given_name").fill("太郎")
    page.locator("#phone").fill("12")
    submit(page, audit, main(page).get_by_role("button", name="送信する"),
           "/account/forgot-email", 422)
    expect(page.locator("#phone-error")).to_contain_text("市外局番から")
    expect(page.locator("#given_name")).to_have_value("太郎")
    page.get_by_text("サンプル画像はこちら").click()
    expect(page.locator(".sample-slip-inline img")).to_be_visible()
    check(page, audit, "forgot-email-invalid")
    page.locator("#family_name").fill("山田")
    page.locator("#phone").fill("090-1234-5678")
    page.locator("#gateway_id").fill("01AB12345678")
    submit(page, audit, main(page).get_by_role("button", name="送信する"),
           "/account/forgot-email", 200)
    expect(heading(page)).to_have_text("お問い合わせを受け付けました")
    check(page, audit, "forgot-email-sent")


def test_monitoring_menu_on_a_phone(live_server, open_page):
    def write():
        ensure_catalogue()
        make_gateway(make_owner(OWNER.email, OWNER.family_name, OWNER.given_name))
    in_db(live_server, write)
    page, audit = open_page("phone")
    sign_in(page, audit, live_server, OWNER, PASSWORD)
    visit(page, audit, live_server.url + "/monitoring/gateways/01AB12345678/monitor")
    menu = page.locator(".monitor-menu-sp")
    expect(page.locator(".monitor-menu-pc")).to_be_hidden()
    menu.locator("summary").click()
    manual = menu.get_by_role("link", name="商品マニュアル")
    expect(manual).to_have_attribute("href", "https://enelink.example/manuals/GW-M001.pdf")
    expect(menu.get_by_role("link", name="管理・登録サイト")).to_be_visible()
    expect(menu.get_by_role("button", name="ログアウト")).to_be_visible()
    check(page, audit, "monitor-menu-phone")
