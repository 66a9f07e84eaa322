"""Monitoring registration in Chromium, at phone (360x740, touch) and desktop (1280x800)
sizes: the campaign page → 利用規約 → お客様情報・ゲートウェイ情報 → 確認 → 登録完了 → the
provisional mail's link → new password + phone → 本登録完了 → main menu → gateway detail;
and a signed-in owner adding another gateway.

Every page or step reached is checked by `PageAudit.check` (axe-core WCAG 2.1 A/AA, no
horizontal scroll, 44 px touch targets at the phone size, no console or server errors)."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from blueprints.gateways.slips import new_gateway
from models import db
from models.gateway import Gateway, GatewayStatus
from tests.browser.support import LiveServer, PageAudit
from tests.browser.test_browser_signup import main, postal_lookup, step_title
from tests.helpers import PASSWORD

pytestmark = pytest.mark.browser

SLIP_ID, SLIP_PASSWORD = "01AB12345678", "demoslip0001"
SECOND_ID, SECOND_PASSWORD = "01AB12345680", "demoslip0003"
FAMILY, GIVEN = "山田", "花子"
PHONE = "090-1234-5678"
SITE = "山田様邸"


def slips(live: LiveServer, *pairs: tuple[str, str]) -> None:
    """Unowned gateways, as printed on their paper slips."""
    with live.app.app_context():
        for gateway_id, password in pairs:
            new_gateway(gateway_id, password, "GW-M001", (f"DM{gateway_id[-6:]}",))
        db.session.commit()


def gateway_status(live: LiveServer, gateway_id: str) -> GatewayStatus:
    with live.app.app_context():
        gateway = db.session.scalar(select(Gateway).where(Gateway.gateway_id == gateway_id))
        return GatewayStatus(gateway.status)


def wizard_step(page: Page, button: str) -> None:
    """Press a wizard button: htmx posts the step and swaps in the next (or redirects)."""
    with page.expect_response(lambda r: r.request.method == "POST"
                              and "/monitoring/register/" in r.url) as info:
        page.locator("#wizard").get_by_role("button", name=button, exact=True).click()
    response = info.value
    assert response.request.headers.get("hx-request") == "true", f"{button}: not htmx"
    assert response.status == 200, f"{button}: {response.status}"


# -- the registration, as a first-time owner does it --------------------------------------
def campaign_and_terms(page: Page, audit: PageAudit, live: LiveServer) -> None:
    page.goto(live.url + "/monitoring/register")
    expect(page.get_by_role("heading", level=1)).to_have_text("遠隔モニタリングサービス ご登録")
    audit.check("campaign")

    main(page).get_by_role("link", name="登録を始める").click()
    expect(page).to_have_url(re.compile(r"/monitoring/register/terms$"))
    expect(step_title(page)).to_contain_text("ステップ 1/3")
    expect(page.locator(".terms-box")).to_contain_text("利用規約")
    audit.check("register-1-terms")

    # Both consents: the service's terms, and the ID's terms and privacy policy.
    expect(main(page).get_by_role("link", name="プライバシーポリシー")).to_have_attribute(
        "href", "/privacy")
    page.get_by_label("同意する", exact=True).check()
    page.get_by_label("アカウント（ID）の利用規約を読み、これに同意します").check()
    page.get_by_label("プライバシーポリシーを読み、個人情報の取扱いに同意します").check()
    wizard_step(page, "次に進む")
    expect(page).to_have_url(re.compile(r"/monitoring/register/details$"))
    expect(step_title(page)).to_contain_text("ステップ 2/3")
    audit.check("register-2-details")


def fill_details(page: Page, audit: PageAudit, email: str) -> None:
    page.locator("#family_name").fill(FAMILY)
    page.locator("#given_name").fill(GIVEN)
    page.locator("#family_kana").fill("ヤマダ")
    page.locator("#given_kana").fill("ハナコ")
    page.locator("#email").fill(email)
    page.locator("#email_confirm").fill(email)
    postal_lookup(page, "address-", javascript=True)  # htmx fills 都道府県・市区町村・町名
    page.locator("#address-street").fill("日本橋兜町1-2-3")
    page.locator("#phone").fill(PHONE)
    page.locator("#gateway_id").fill(SLIP_ID)
    page.locator("#gateway_password").fill(SLIP_PASSWORD)
    page.locator("#site_name").fill(SITE)
    page.get_by_label("お客様住所と同じ").check()
    audit.check("register-2-details-filled")


def confirm_and_register(page: Page, audit: PageAudit, email: str) -> None:
    wizard_step(page, "次に進む")
    expect(page).to_have_url(re.compile(r"/monitoring/register/confirm$"))
    expect(step_title(page)).to_contain_text("ステップ 3/3")
    summary = page.locator("#wizard dl.summary")
    for shown in (f"{FAMILY} {GIVEN}", "ヤマダ ハナコ", email, "日本橋兜町1-2-3", SLIP_ID, SITE,
                  "（確認済み）", "個人ユーザーアカウント"):
        expect(summary).to_contain_text(shown)
    expect(summary).not_to_contain_text(SLIP_PASSWORD)
    audit.check("register-3-confirm")

    with page.expect_response(lambda r: r.request.method == "POST"
                              and r.url.endswith("/monitoring/register/confirm")) as info:
        page.locator("#wizard").get_by_role("button", name="登録する", exact=True).click()
    assert info.value.headers.get("hx-redirect") == "/monitoring/register/done"
    expect(page).to_have_url(re.compile(r"/monitoring/register/done$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("アカウント仮登録完了")
    expect(main(page)).to_contain_text("【アカウント仮登録のお知らせ】メールを送信しました")
    expect(main(page)).to_contain_text(email)
    audit.check("register-done")


def set_password(page: Page, audit: PageAudit, live: LiveServer, email: str) -> None:
    page.goto(live.mail_link(email, "provisional_registration"))
    expect(page.get_by_role("heading", level=1)).to_have_text("新パスワードの設定")
    expect(main(page)).to_contain_text(email)
    audit.check("password")

    password = page.locator("#password")
    password.fill(PASSWORD)
    expect(page.locator("#password-checklist li.ok")).to_have_count(6)
    page.locator("#password_confirm").fill(PASSWORD)
    page.locator("#phone").fill(PHONE)
    audit.check("password-filled")
    main(page).get_by_role("button", name="パスワードを設定して本登録する").click()
    expect(page).to_have_url(live.url + "/monitoring/register/complete")
    expect(page.get_by_role("heading", level=1)).to_have_text("アカウント本登録完了")
    audit.check("register-complete")


def main_menu_and_detail(page: Page, audit: PageAudit, live: LiveServer) -> None:
    main(page).get_by_role("link", name="メインメニューへ").click()
    expect(page).to_have_url(live.url + "/monitoring/")
    expect(page.get_by_role("heading", level=1)).to_have_text("ゲートウェイの管理")
    row = main(page).locator("tbody tr", has_text=SLIP_ID)
    expect(row).to_contain_text(SITE)
    expect(row).to_contain_text("登録済み")
    audit.check("menu")

    row.get_by_role("link", name="照会・編集").click()
    expect(page).to_have_url(live.url + f"/monitoring/gateways/{SLIP_ID}")
    expect(page.get_by_role("heading", level=1)).to_have_text("ゲートウェイ情報の照会")
    expect(main(page)).to_contain_text(SITE)
    expect(main(page)).to_contain_text("日本橋兜町1-2-3")
    audit.check("gateway-detail")


def register_owner(page: Page, audit: PageAudit, live: LiveServer, email: str) -> None:
    """The whole first registration, ending signed in on the main menu's gateway."""
    campaign_and_terms(page, audit, live)
    fill_details(page, audit, email)
    confirm_and_register(page, audit, email)
    set_password(page, audit, live, email)
    assert gateway_status(live, SLIP_ID) is GatewayStatus.ACTIVE
    main_menu_and_detail(page, audit, live)


# -- the tests ----------------------------------------------------------------------------
@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_gateway_registration_to_main_menu(device, live_server, open_page):
    slips(live_server, (SLIP_ID, SLIP_PASSWORD))
    page, audit = open_page(device)
    register_owner(page, audit, live_server, f"hanako.{device}@example.com")


def test_signed_in_owner_adds_another_gateway_phone(live_server, open_page):
    slips(live_server, (SLIP_ID, SLIP_PASSWORD), (SECOND_ID, SECOND_PASSWORD))
    page, audit = open_page("phone")
    register_owner(page, audit, live_server, "hanako.add@example.com")

    main(page).get_by_role("link", name="ゲートウェイの管理に戻る").click()
    main(page).get_by_role("link", name="ゲートウェイの登録").click()
    expect(page).to_have_url(live_server.url + "/monitoring/gateways/add")
    expect(page.get_by_role("heading", level=1)).to_have_text("ゲートウェイの登録")
    audit.check("add-gateway")

    page.locator("#gateway_id").fill(SECOND_ID)
    page.locator("#gateway_password").fill("wrongslip999")
    page.locator("#site_name").fill("別荘")
    with page.expect_response(lambda r: "/postal-code?" in r.url and r.status == 200):
        page.locator("#site_address-postal_code").press_sequentially("1000001")
    expect(page.locator("#site_address-prefecture")).to_have_value("東京都")
    expect(page.locator("#site_address-city")).to_have_value("千代田区")
    page.locator("#site_address-street").fill("千代田1-1")
    audit.check("add-gateway-filled")

    # A wrong slip password: the page comes back (422) with the one slip message.
    audit.allow_console_error(r"status of 422")
    with page.expect_response(lambda r: r.request.method == "POST"
                              and r.url.endswith("/monitoring/gateways/add")) as info:
        main(page).get_by_role("button", name="登録する").click()
    assert info.value.status == 422
    expect(main(page)).to_contain_text(
        "ゲートウェイIDまたはゲートウェイパスワードが正しくないか、すでに登録されています")
    audit.check("add-gateway-rejected")

    page.locator("#gateway_password").fill(SECOND_PASSWORD)
    main(page).get_by_role("button", name="登録する").click()
    expect(page).to_have_url(live_server.url + "/monitoring/")
    expect(main(page)).to_contain_text(f"ゲートウェイ {SECOND_ID} を登録しました")
    expect(main(page).locator("tbody tr")).to_have_count(2)
    audit.check("menu-two-gateways")

    main(page).locator("tbody tr", has_text=SECOND_ID).get_by_role("link",
                                                                  name="照会・編集").click()
    expect(page).to_have_url(live_server.url + f"/monitoring/gateways/{SECOND_ID}")
    expect(main(page)).to_contain_text("別荘")
    expect(main(page)).to_contain_text("千代田1-1")
    audit.check("second-gateway-detail")
    assert gateway_status(live_server, SECOND_ID) is GatewayStatus.ACTIVE
