"""A tour of every page of the Enelink ID besides the sign-up wizard, for a signed-in
personal account and a signed-in company administrator, at phone (360x740, touch) and
desktop (1280x800) sizes.

The accounts come from the demo data (written straight to the database, like
`make run`); only signing in goes through the browser's login form. Each page visited,
and each page state worth seeing (an error shown, a list updated by htmx, a notice
after saving), is checked by `PageAudit.check`: axe-core (WCAG 2.1 A/AA), no horizontal
scroll, 44 px touch targets at the phone size, no console errors.

One test per account type and device walks all the pages in one browser context:
signed out (links and passwords), signed in (settings, company and employees for the
commercial account, sign-out, deletion), then in English. The pages for anyone signed
out (welcome, activation resend, altered link) are seen in the personal tours; terms,
privacy and 404 signed out in the personal tours and signed in in the commercial ones."""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Locator, Page, Response, expect

from blueprints.account.services import find_account
from blueprints.account.demo import DEMO_ACCOUNTS, DEMO_COMPANY, DEMO_PASSWORD
from blueprints.core.registry import seed_demo as seed_demo_data
from models.account import CompanyRole
from tests.browser.support import LiveServer, PageAudit
from tests.helpers import outbox

pytestmark = pytest.mark.browser

RESET_PASSWORD = "Bright-Panel-2027!"    # set through the reset link
CHANGED_PASSWORD = "Quiet-Meter-2028#"   # set in ログイン情報 with the old one
NEW_GIVEN_NAME = "次郎"
INVITEE = ("田中", "健", "tanaka.invitee@example.com")


@dataclass(frozen=True)
class Person:
    email: str
    family_name: str
    given_name: str

    @property
    def full_name(self) -> str:
        return f"{self.family_name} {self.given_name}"


def demo_person(email: str) -> Person:
    spec = next(spec for spec in DEMO_ACCOUNTS if spec["email"] == email)
    return Person(spec["email"], spec["family_name"], spec["given_name"])


PERSONAL = demo_person("owner@example.com")
ADMIN = demo_person("dealer@example.com")
COLLEAGUE = demo_person("staff-member@example.com")


# -- small steps -----------------------------------------------------------------------
def main(page: Page) -> Locator:
    return page.locator("main")


def heading(page: Page) -> Locator:
    return page.get_by_role("heading", level=1)


def header(page: Page) -> Locator:
    return page.locator("header")


def expect_status(audit: PageAudit, response: Response | None, status: int) -> None:
    """The document's status; Chromium reports a 4xx document on the console, which is
    expected here (and only here)."""
    assert response is not None
    assert response.status == status, f"{response.url}: {response.status}, not {status}"
    if status >= 400:
        audit.allow_console_error(rf"status of {status}\b")


def visit(page: Page, audit: PageAudit, url: str, status: int = 200) -> None:
    expect_status(audit, page.goto(url), status)


def submit(page: Page, audit: PageAudit, button: Locator, path: str,
           status: int) -> Response:
    """Click a button posting a form to `path` (or below it); check the POST's own
    status (303 when it redirects), then wait for the page it leads to."""
    with page.expect_response(lambda r: r.request.method == "POST"
                              and urlsplit(r.url).path.startswith(path)) as info:
        button.click()
    response = info.value
    expect_status(audit, response, status)
    page.wait_for_load_state()
    return response


def check(page: Page, audit: PageAudit, label: str) -> None:
    page.wait_for_load_state()
    audit.check(label)


def sign_in(page: Page, audit: PageAudit, live: LiveServer, person: Person,
            password: str, status: int = 303) -> None:
    if not page.url.endswith("/account/login"):
        visit(page, audit, live.url + "/account/login")
    page.locator("#email").fill(person.email)
    page.locator("#password").fill(password)
    submit(page, audit, main(page).get_by_role("button", name="ログイン", exact=True),
           "/account/login", status)


def fill_new_password(page: Page, password: str) -> None:
    """Type a new password and its confirmation; wait for the live checklist (an htmx
    partial) to tick all six rules, so that no request is in flight on submitting."""
    page.locator("#password").fill(password)
    expect(page.locator("#password-checklist li.ok")).to_have_count(6)
    page.locator("#password_confirm").fill(password)


def in_db(live: LiveServer, read: Callable):
    with live.app.app_context():
        return read()


# -- the tour, part by part --------------------------------------------------------------
def public_pages(page: Page, audit: PageAudit, live: LiveServer, signed_in: bool) -> None:
    """利用規約, プライバシーポリシー and the 404 page, whose header depends on who looks."""
    suffix = "-signed-in" if signed_in else ""
    menu = header(page).get_by_role("link", name="マイアカウント")
    for path, title in (("/terms", "利用規約"), ("/privacy", "プライバシーポリシー")):
        visit(page, audit, live.url + path)
        expect(heading(page)).to_have_text(title)
        expect(page.locator("footer")).to_contain_text("お問い合わせ")
        expect(menu).to_have_count(1 if signed_in else 0)
        check(page, audit, path.strip("/") + suffix)

    visit(page, audit, live.url + "/no/such/page", status=404)
    expect(heading(page)).to_have_text("ページが見つかりません")
    expect(main(page).get_by_role("link", name="トップページへ")).to_be_visible()
    expect(menu).to_have_count(1 if signed_in else 0)
    check(page, audit, "404" + suffix)


def signed_out_pages(page: Page, audit: PageAudit, live: LiveServer) -> None:
    """The pages only a signed-out visitor needs (the same whoever signs in later)."""
    visit(page, audit, live.url + "/")
    expect(heading(page)).to_have_text("Enelink")
    check(page, audit, "welcome")

    visit(page, audit, live.url + "/account/activation/resend")
    expect(heading(page)).to_have_text("確認メールの再送")
    expect(page.get_by_label("メールアドレス")).to_be_editable()
    check(page, audit, "activation-resend")

    # An altered link cannot say for whom it was: the page asks for the address.
    visit(page, audit, live.url + "/account/activate/garbage", status=404)
    expect(heading(page)).to_have_text("リンクが正しくありません")
    expect(page.get_by_label("メールアドレス")).to_be_editable()
    expect(main(page).get_by_role("button", name="新しいリンクを送信する")).to_be_visible()
    check(page, audit, "link-altered")


def password_reset(page: Page, audit: PageAudit, live: LiveServer, person: Person) -> None:
    visit(page, audit, live.url + "/account/login")
    expect(heading(page)).to_have_text("ログイン")
    check(page, audit, "login")
    main(page).get_by_role("link", name="パスワードを忘れた場合", exact=True).click()
    expect(page).to_have_url(live.url + "/account/password/reset")
    expect(heading(page)).to_have_text("パスワードの再設定")
    check(page, audit, "password-reset")

    page.get_by_label("メールアドレス").fill(person.email)
    submit(page, audit, page.get_by_role("button", name="再設定メールを送信"),
           "/account/password/reset", 200)
    expect(heading(page)).to_have_text("メールを送信しました")
    expect(main(page)).to_contain_text(person.email)
    expect(main(page)).to_contain_text("1時間有効")
    check(page, audit, "password-reset-sent")

    link = live.mail_link(person.email, "password_reset")
    visit(page, audit, link)
    expect(heading(page)).to_have_text("新しいパスワードの設定")
    expect(main(page)).to_contain_text(person.email)
    check(page, audit, "password-reset-form")
    fill_new_password(page, RESET_PASSWORD)
    submit(page, audit, page.get_by_role("button", name="パスワードを設定"),
           "/account/password/reset/", 303)
    expect(page).to_have_url(live.url + "/account/login")
    expect(page.get_by_role("status")).to_have_text(
        "パスワードを変更しました。新しいパスワードでログインしてください")
    check(page, audit, "password-reset-done")

    # The spent link: its page says so and sends a fresh one in one tap.
    visit(page, audit, link, status=410)
    expect(heading(page)).to_have_text("このリンクはすでに使用されています")
    expect(page.get_by_label("メールアドレス")).to_have_count(0)
    check(page, audit, "link-spent")
    mails_before = in_db(live, lambda: len(outbox(person.email, "password_reset")))
    submit(page, audit, main(page).get_by_role("button", name="新しいリンクを送信する"),
           "/account/links/renew", 200)
    expect(heading(page)).to_have_text("メールを送信しました")
    expect(main(page)).to_contain_text("ご登録のメールアドレス宛てに新しいリンクをお送りしました")
    assert in_db(live, lambda: len(outbox(person.email, "password_reset"))) == mails_before + 1
    check(page, audit, "link-renewed")


def sign_in_wrong_then_right(page: Page, audit: PageAudit, live: LiveServer,
                             person: Person, password: str) -> None:
    """The password from before the reset is now a wrong one; the new one opens."""
    sign_in(page, audit, live, person, DEMO_PASSWORD, status=401)
    expect(page.get_by_role("alert")).to_have_text(
        "メールアドレスまたはパスワードが正しくありません。")
    expect(page.locator("#email")).to_have_value(person.email)
    expect(page.locator("#password")).to_have_value("")
    check(page, audit, "login-wrong-password")

    sign_in(page, audit, live, person, password)
    expect(page).to_have_url(live.url + "/")
    expect(heading(page)).to_have_text(f"ようこそ、{person.full_name}さん")
    check(page, audit, "home")


def settings_pages(page: Page, audit: PageAudit, live: LiveServer, person: Person,
                   commercial: bool) -> Person:
    header(page).get_by_role("link", name="マイアカウント").click()
    expect(page).to_have_url(live.url + "/account/settings")
    expect(heading(page)).to_have_text("マイアカウント")
    expect(main(page)).to_contain_text(person.email)
    for company_page in ("^会社情報", "^従業員"):
        expect(main(page).get_by_role("link", name=re.compile(company_page))).to_have_count(
            1 if commercial else 0)
    check(page, audit, "settings")

    # わが家の情報を見られる人: the demo owner's dealer, with the way to end it; nobody
    # for the business account, and the page says so.
    main(page).get_by_role("link", name=re.compile("^わが家の情報を見られる人")).click()
    expect(page).to_have_url(live.url + "/account/access")
    expect(main(page)).to_contain_text(
        "あなた以外にゲートウェイの情報を見られる人はいません。" if commercial
        else "販売店ID 4001")
    check(page, audit, "access")
    page.go_back()

    # 個人情報: an invalid name is refused next to its field, as typed; then a valid one.
    main(page).get_by_role("link", name=re.compile("^個人情報")).click()
    expect(page).to_have_url(live.url + "/account/settings/personal")
    given = page.locator("#given_name")
    expect(given).to_have_value(person.given_name)
    expect(page.locator("#family_kana")).to_be_visible()
    if commercial:  # the address of a commercial account is its company's
        expect(page.locator("#address-postal_code")).to_have_count(0)
    else:  # a personal account's address, shown back in the sign-up's block
        expect(page.locator("#address-postal_code")).to_have_value("1030026")
        expect(page.locator("#address-prefecture")).to_have_value("東京都")
        expect(page.locator("#address-street")).to_have_value("日本橋兜町2-1")
    check(page, audit, "settings-personal")
    given.fill("Taro")
    submit(page, audit, main(page).get_by_role("button", name="保存"),
           "/account/settings/personal", 422)
    expect(page.get_by_role("alert")).to_contain_text("入力内容に誤りがあります")
    error = page.locator("#given_name-field .field-error")
    expect(error).to_have_text(re.compile("^全角で入力してください"))
    expect(given).to_have_value("Taro")
    expect(given).to_have_attribute("aria-invalid", "true")
    expect(given).to_have_attribute("aria-describedby", re.compile(r"\bgiven_name-error\b"))
    expect(page.locator("#family_name")).to_have_value(person.family_name)
    expect(page.locator(".field-error")).to_have_count(1)
    check(page, audit, "settings-personal-invalid")

    given.fill(NEW_GIVEN_NAME)
    submit(page, audit, main(page).get_by_role("button", name="保存"),
           "/account/settings/personal", 303)
    expect(page).to_have_url(live.url + "/account/settings/personal")
    expect(page.get_by_role("status")).to_have_text("個人情報を保存しました")
    expect(given).to_have_value(NEW_GIVEN_NAME)
    expect(page.locator(".field-error")).to_have_count(0)
    assert in_db(live, lambda: find_account(person.email).given_name) == NEW_GIVEN_NAME
    check(page, audit, "settings-personal-saved")
    person = Person(person.email, person.family_name, NEW_GIVEN_NAME)

    # ログイン情報: change the password with the current one.
    page.locator("nav.breadcrumb").get_by_role("link", name="マイアカウント").click()
    main(page).get_by_role("link", name=re.compile("^ログイン情報")).click()
    expect(page).to_have_url(live.url + "/account/settings/login")
    expect(heading(page)).to_have_text("ログイン情報")
    check(page, audit, "settings-login")
    page.locator("#current_password").fill(RESET_PASSWORD)
    fill_new_password(page, CHANGED_PASSWORD)
    submit(page, audit, main(page).get_by_role("button", name="適用"),
           "/account/settings/login", 303)
    expect(page.get_by_role("status")).to_have_text(
        "パスワードを変更しました。変更のお知らせをメールでお送りしました")
    expect(main(page).get_by_role("link", name="アカウントの削除へ進む")).to_have_attribute(
        "href", "/account/delete")
    assert in_db(live, lambda: len(outbox(person.email, "password_changed"))) == 2
    check(page, audit, "settings-login-changed")
    return person


def company_pages(page: Page, audit: PageAudit, live: LiveServer) -> None:
    # The menu links to both pages were seen on マイアカウント.
    visit(page, audit, live.url + "/account/settings/company")
    expect(heading(page)).to_have_text("会社情報")
    expect(page.locator("#company_name")).to_have_value(DEMO_COMPANY["name"])
    check(page, audit, "settings-company")
    page.locator("#company_address-building").fill("兜町ビル5F")
    submit(page, audit, main(page).get_by_role("button", name="保存"),
           "/account/settings/company", 303)
    expect(page.get_by_role("status")).to_have_text("会社情報を保存しました")
    expect(page.locator("#company_address-building")).to_have_value("兜町ビル5F")
    check(page, audit, "settings-company-saved")

    # 従業員: the list follows the search box (htmx partial, URL pushed).
    visit(page, audit, live.url + "/account/settings/employees")
    rows = page.locator("#employee-list tbody tr")
    expect(rows).to_have_count(2)
    check(page, audit, "settings-employees")

    search = page.get_by_role("searchbox")
    searches = ((COLLEAGUE.family_name, 1, "found"), ("該当者なし", 0, "none"), ("", 2, None))
    for query, expected, label in searches:
        with page.expect_response(lambda r: "/account/settings/employees?" in r.url
                                  and r.request.method == "GET") as info:
            search.fill(query)
        assert info.value.status == 200
        assert info.value.request.headers.get("hx-request") == "true"
        expect(rows).to_have_count(expected)
        if expected == 1:
            expect(rows.first).to_contain_text(COLLEAGUE.full_name)
            expect(rows.first).to_contain_text("従業員")
            expect(page).to_have_url(re.compile(r"/account/settings/employees\?q=."))
        elif expected == 0:
            expect(page.locator("#employee-list")).to_contain_text(
                "該当する従業員が見つかりませんでした")
        if label:
            check(page, audit, f"settings-employees-{label}")
    expect(search).to_be_focused()

    # Invite an employee by name and e-mail.
    family, given, email = INVITEE
    invite = page.locator("#invite")
    invite.locator("#family_name").fill(family)
    invite.locator("#given_name").fill(given)
    invite.get_by_label("メールアドレス").fill(email)
    submit(page, audit, invite.get_by_role("button", name="招待を送る"),
           "/account/settings/employees", 303)
    expect(page.get_by_role("status")).to_have_text(f"{email} に招待メールを送りました")
    expect(invite.get_by_role("heading", name="招待中")).to_be_visible()
    expect(invite.locator("li", has_text=email)).to_contain_text(f"{family} {given}")
    check(page, audit, "settings-employees-invited")

    visit(page, audit, live.mail_link(email, "invitation"))
    expect(heading(page)).to_have_text("商用ユーザーアカウントへの招待")
    expect(page.locator("#family_name")).to_have_value(family)
    expect(main(page)).to_contain_text(DEMO_COMPANY["name"])
    check(page, audit, "invitation")

    # 従業員の削除 and 管理者の引き継ぎ: confirmation pages that name the person (only
    # looked at here; the flow tests press their buttons).
    for link_name, title, label in (("従業員から削除", "従業員の削除", "employee-remove"),
                                    ("管理者にする", "管理者の引き継ぎ", "employee-admin")):
        visit(page, audit, live.url + "/account/settings/employees")
        row = page.locator("#employee-list tbody tr", has_text=COLLEAGUE.full_name)
        row.get_by_role("link", name=re.compile("^" + link_name)).click()
        expect(heading(page)).to_have_text(title)
        expect(main(page)).to_contain_text(COLLEAGUE.email)
        check(page, audit, label)

    # 招待の取り消し: the invitation's link then shows the expired-link page.
    link = live.mail_link(email, "invitation")
    visit(page, audit, live.url + "/account/settings/employees")
    page.locator("#invite li", has_text=email).get_by_role(
        "link", name=re.compile("^招待を取り消す")).click()
    expect(heading(page)).to_have_text("招待の取り消し")
    expect(main(page)).to_contain_text(email)
    check(page, audit, "invitation-cancel")
    submit(page, audit, main(page).get_by_role("button", name="招待を取り消す"),
           "/account/settings/invitations/", 303)
    expect(page.get_by_role("status")).to_have_text(f"{email} への招待を取り消しました")
    expect(page.locator("#invite").get_by_role("heading", name="招待中")).to_have_count(0)
    check(page, audit, "invitation-cancelled")
    visit(page, audit, link, status=410)
    expect(heading(page)).to_have_text("リンクの有効期限が切れています")
    check(page, audit, "invitation-withdrawn")


def sign_out(page: Page, audit: PageAudit, live: LiveServer) -> None:
    """GET /account/logout only shows a button; pressing it signs out."""
    visit(page, audit, live.url + "/account/logout")
    expect(heading(page)).to_have_text("ログアウト")
    expect(header(page).get_by_role("link", name="マイアカウント")).to_be_visible()
    check(page, audit, "logout")
    submit(page, audit, main(page).get_by_role("button", name="ログアウトする"),
           "/account/logout", 303)
    expect(page).to_have_url(live.url + "/account/login")
    expect(page.get_by_role("status")).to_have_text("ログアウトしました")
    expect(header(page).get_by_role("link", name="ログイン")).to_be_visible()
    check(page, audit, "signed-out")


def delete_account(page: Page, audit: PageAudit, live: LiveServer, person: Person,
                   password: str) -> None:
    visit(page, audit, live.url + "/account/delete")  # linked from ログイン情報
    expect(heading(page)).to_have_text("アカウントを削除しますか？")
    check(page, audit, "delete")
    page.get_by_label(re.compile("元に戻せないことを理解しました")).check()
    page.get_by_label("現在のパスワード").fill(password)
    submit(page, audit, main(page).get_by_role("button", name="アカウントを削除"),
           "/account/delete", 303)
    expect(page).to_have_url(live.url + "/account/deleted")
    expect(heading(page)).to_have_text("アカウントを削除しました")
    expect(header(page).get_by_role("link", name="ログイン")).to_be_visible()
    assert in_db(live, lambda: find_account(person.email)) is None
    check(page, audit, "deleted")


def switch_to_english(page: Page, audit: PageAudit, live: LiveServer) -> None:
    url = page.url
    submit(page, audit, header(page).get_by_role("button", name="English"), "/language", 303)
    expect(page).to_have_url(re.compile(re.escape(url) + r"\??$"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(header(page).get_by_role("link", name="Sign in", exact=True)).to_be_visible()
    expect(header(page).get_by_role("button", name="日本語")).to_be_visible()
    expect(heading(page)).to_have_text("Your account has been deleted")
    check(page, audit, "deleted-english")


# -- the test ---------------------------------------------------------------------------
@pytest.mark.parametrize("device", ["phone", "desktop"])
@pytest.mark.parametrize("account", ["personal", "commercial"])
def test_page_tour(account, device, live_server, open_page):
    commercial = account == "commercial"
    person = ADMIN if commercial else PERSONAL
    in_db(live_server, seed_demo_data)
    role = in_db(live_server, lambda: find_account(ADMIN.email).company_role)
    assert role == CompanyRole.ADMIN, f"{ADMIN.email} should administer the demo company"
    page, audit = open_page(device)

    if not commercial:  # signed-out pages once per device; public ones signed in below
        signed_out_pages(page, audit, live_server)
        public_pages(page, audit, live_server, signed_in=False)
    password_reset(page, audit, live_server, person)
    sign_in_wrong_then_right(page, audit, live_server, person, RESET_PASSWORD)
    if commercial:
        public_pages(page, audit, live_server, signed_in=True)
    person = settings_pages(page, audit, live_server, person, commercial)
    if commercial:
        company_pages(page, audit, live_server)
    else:
        for path in ("/account/settings/company", "/account/settings/employees"):
            visit(page, audit, live_server.url + path, status=404)
            expect(heading(page)).to_have_text("ページが見つかりません")
        check(page, audit, "settings-employees-personal-404")
    sign_out(page, audit, live_server)
    sign_in(page, audit, live_server, person, CHANGED_PASSWORD)
    expect(heading(page)).to_have_text(f"ようこそ、{person.full_name}さん")
    delete_account(page, audit, live_server, person, CHANGED_PASSWORD)
    switch_to_english(page, audit, live_server)
