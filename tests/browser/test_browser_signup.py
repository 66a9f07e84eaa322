"""Sign-up → activation → sign-in → sign-out, driven in Chromium like a person would,
at phone (360x740, touch) and desktop (1280x800) sizes, with and without JavaScript.

Every page visited is checked by `PageAudit.check`: axe-core (WCAG 2.1 A/AA), no
horizontal scroll, 44 px touch targets at the phone size, no console errors (a CSP
violation is one)."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from models import db
from models.account import Account
from tests.browser.support import LiveServer, PageAudit
from tests.helpers import PASSWORD

pytestmark = pytest.mark.browser

FAMILY, GIVEN = "山田", "太郎"
STREET = "日本橋兜町1-2-3"


def step_title(page: Page):
    return page.locator("#wizard .step-title")


def main(page: Page):
    return page.locator("main")


def submit_step(page: Page, button: str, javascript: bool) -> None:
    """Press a wizard button; with JavaScript htmx posts it (and swaps the next step in),
    without it the browser posts the form and follows the 303."""
    with page.expect_response(lambda r: r.request.method == "POST"
                              and "/account/signup/" in r.url) as info:
        page.get_by_role("button", name=button).click()
    response = info.value
    sent_by_htmx = response.request.headers.get("hx-request") == "true"
    assert sent_by_htmx is javascript, f"{button}: HX-Request={sent_by_htmx}"
    assert response.status == (200 if javascript else 303), f"{button}: {response.status}"


# -- the steps, as a person does them ---------------------------------------------------
def name_step(page: Page, audit: PageAudit, live: LiveServer, email: str,
              javascript: bool = True) -> None:
    page.goto(live.url + "/account/signup")
    expect(page).to_have_url(re.compile(r"/account/signup/name$"))
    htmx_loaded = page.evaluate("() => typeof window.htmx === 'object'")
    assert htmx_loaded is javascript, f"htmx loaded: {htmx_loaded}, JavaScript: {javascript}"
    expect(step_title(page)).to_contain_text("ステップ 1/3")
    checklist = page.locator("#password-checklist")
    expect(checklist.locator("li")).to_have_count(6)
    expect(checklist.locator("li.ok")).to_have_count(0)
    audit.check("signup-1-name")

    page.locator("#family_name").fill(FAMILY)
    page.locator("#given_name").fill(GIVEN)
    page.locator("#email").fill(email)
    password = page.locator("#password")
    if javascript:
        # The checklist follows the typing (htmx partial requests): "Sunny" meets
        # 英大文字, 英小文字 and 半角英数字と記号のみ; the rest of the password meets all six.
        password.press_sequentially(PASSWORD[:5])
        expect(checklist.locator("li.ok")).to_have_count(3)
        for rule in ("英大文字", "英小文字", "半角英数字と記号のみ"):
            expect(checklist.locator("li", has_text=rule)).to_have_class(re.compile(r"\bok\b"))
        for rule in ("数字", "記号"):
            expect(checklist.locator("li", has_text=re.compile("^\\W*" + rule))
                   .first).to_have_class(re.compile(r"\bng\b"))
        password.press_sequentially(PASSWORD[5:])
        expect(password).to_have_value(PASSWORD)
        expect(checklist.locator("li.ok")).to_have_count(6)
        audit.check("signup-1-name-typed")
    else:
        password.fill(PASSWORD)
    page.locator("#password_confirm").fill(PASSWORD)
    submit_step(page, "続行", javascript)

    expect(page).to_have_url(re.compile(r"/account/signup/type$"))
    expect(step_title(page)).to_contain_text("ステップ 2/3")
    audit.check("signup-2-type")


def type_step(page: Page, audit: PageAudit, label: str, javascript: bool = True) -> None:
    page.get_by_label(label).check()
    submit_step(page, "続行", javascript)
    expect(page).to_have_url(re.compile(r"/account/signup/details$"))
    expect(step_title(page)).to_contain_text("ステップ 3/3")
    audit.check("signup-3-details")


def postal_lookup(page: Page, prefix: str, javascript: bool) -> None:
    """Type 1030026; 都道府県 and 市区町村 get filled (htmx, or the 住所を検索 button)."""
    postal = page.locator(f"#{prefix}postal_code")
    if javascript:
        with page.expect_response(lambda r: "/postal-code?" in r.url and r.status == 200):
            postal.press_sequentially("1030026")
    else:
        postal.fill("1030026")
        with page.expect_response(lambda r: r.request.method == "POST"
                                  and r.url.endswith("/account/signup/details")) as info:
            page.get_by_role("button", name="住所を検索").click()
        assert info.value.status == 200, "the 住所を検索 button should redisplay the step"
        expect(postal).to_have_value("1030026")
    expect(page.locator(f"#{prefix}prefecture")).to_have_value("東京都")
    expect(page.locator(f"#{prefix}city")).to_have_value("中央区")
    expect(page.locator(f"#{prefix}street")).to_have_value("日本橋兜町")


def consents(page: Page) -> None:
    page.get_by_label("利用規約を読み、これに同意します").check()
    page.get_by_label("プライバシーポリシーを読みました").check()


def create_account(page: Page, audit: PageAudit, email: str, javascript: bool = True) -> None:
    submit_step(page, "アカウントを作成", javascript)
    expect(page).to_have_url(re.compile(r"/account/signup/done$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("一次登録完了")
    expect(main(page)).to_contain_text(email)
    audit.check("signup-done")


def sign_in(page: Page, live: LiveServer, email: str) -> None:
    if not page.url.endswith("/account/login"):
        page.goto(live.url + "/account/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(PASSWORD)
    main(page).get_by_role("button", name="ログイン", exact=True).click()


def sign_in_before_activation(page: Page, audit: PageAudit, live: LiveServer,
                              email: str) -> None:
    page.goto(live.url + "/account/login")
    expect(page.get_by_role("heading", level=1)).to_have_text("ログイン")
    audit.check("login")
    # The answer is a 401 page; Chromium reports a 4xx document on the console.
    audit.allow_console_error(r"status of 401")
    with page.expect_response(lambda r: r.request.method == "POST"
                              and r.url.endswith("/account/login")) as info:
        sign_in(page, live, email)
    assert info.value.status == 401
    expect(page.get_by_role("alert")).to_contain_text(
        "このアカウントはまだ有効になっていません")
    expect(page.get_by_role("link", name="確認メールを再送する")).to_be_visible()
    audit.check("login-not-activated")


def activate_sign_in_sign_out(page: Page, audit: PageAudit, live: LiveServer,
                              email: str) -> None:
    page.goto(live.mail_link(email, "activation"))
    expect(page.get_by_role("heading", level=1)).to_have_text("アカウントが有効になりました")
    audit.check("activated")

    main(page).get_by_role("link", name="ログイン").click()
    expect(page).to_have_url(live.url + "/account/login")
    audit.check("login-after-activation")
    sign_in(page, live, email)
    expect(page).to_have_url(live.url + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"ようこそ、{FAMILY} {GIVEN}さん")
    audit.check("home")

    page.locator("header").get_by_role("button", name="ログアウト").click()
    expect(page).to_have_url(live.url + "/account/login")
    expect(page.get_by_role("status")).to_have_text("ログアウトしました")
    expect(page.locator("header").get_by_role("link", name="ログイン")).to_be_visible()
    audit.check("signed-out")
    page.goto(live.url + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Enelink")
    audit.check("welcome-signed-out")


# -- the tests ----------------------------------------------------------------------------
@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_personal_signup_activation_sign_in_and_out(device, live_server, open_page):
    email = f"taro.{device}@example.com"
    page, audit = open_page(device)

    name_step(page, audit, live_server, email)
    type_step(page, audit, "個人ユーザーアカウント")
    postal_lookup(page, "address-", javascript=True)
    page.locator("#address-street").fill(STREET)
    page.locator("#phone").fill("090-1234-5678")
    consents(page)
    audit.check("signup-3-details-filled")
    create_account(page, audit, email)

    sign_in_before_activation(page, audit, live_server, email)
    activate_sign_in_sign_out(page, audit, live_server, email)


def test_commercial_signup_desktop(live_server, open_page):
    email = "kacho@denki.example"
    page, audit = open_page("desktop")

    name_step(page, audit, live_server, email)
    type_step(page, audit, "商用アカウント")
    page.locator("#company_name").fill("テスト電設株式会社")
    page.locator("#company_kind").select_option("installer")
    page.locator("#registration_number").fill("7000012050002")
    postal_lookup(page, "company_address-", javascript=True)
    page.locator("#company_address-street").fill("日本橋兜町2-1")
    page.locator("#company_address-building").fill("兜町ビル3F")
    page.locator("#company_email").fill("info@denki.example")
    page.locator("#website").fill("https://denki.example")
    page.locator("#company_phone").fill("03-1234-5678")
    page.locator("#department").fill("工事部")
    page.locator("#position").fill("課長")
    page.locator("#phones-0-kind").select_option("mobile")
    page.locator("#phones-0-number").fill("080-1111-2222")

    expect(page.locator("#phones-1-number")).to_have_count(0)
    with page.expect_response(lambda r: r.request.method == "POST"
                              and r.url.endswith("/account/signup/details")) as info:
        page.get_by_role("button", name="別の電話を追加").click()
    assert info.value.status == 200 and info.value.request.headers.get("hx-request") == "true"
    expect(page.locator("#phones-1-number")).to_be_visible()
    # What was typed survives the redisplay.
    expect(page.locator("#company_name")).to_have_value("テスト電設株式会社")
    expect(page.locator("#phones-0-number")).to_have_value(re.compile(r"^080-?1111-?2222$"))
    expect(page.locator("#company_address-city")).to_have_value("中央区")
    page.locator("#phones-1-kind").select_option("office")
    page.locator("#phones-1-number").fill("03-9876-5432")
    consents(page)
    audit.check("signup-3-company-filled")
    create_account(page, audit, email)

    with live_server.app.app_context():
        account = db.session.scalar(select(Account).where(Account.email == email))
        assert account is not None and account.is_commercial
        assert account.company.name == "テスト電設株式会社"
        assert [p.number for p in account.phones] == ["08011112222", "0398765432"]
    activate_sign_in_sign_out(page, audit, live_server, email)


def test_personal_signup_without_javascript(live_server, open_page):
    email = "nojs@example.com"
    page, audit = open_page("phone", javascript=False)

    name_step(page, audit, live_server, email, javascript=False)
    type_step(page, audit, "個人ユーザーアカウント", javascript=False)
    postal_lookup(page, "address-", javascript=False)
    audit.check("signup-3-after-lookup")
    page.locator("#address-street").fill(STREET)
    page.locator("#phone").fill("090-1234-5678")
    consents(page)
    create_account(page, audit, email, javascript=False)

    sign_in_before_activation(page, audit, live_server, email)
    activate_sign_in_sign_out(page, audit, live_server, email)
