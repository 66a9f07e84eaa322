"""The points sign-up in Chromium at phone size (360x740, touch): a signed-in owner with
a running eco membership goes STEP1 → STEP6. At STEP2 the agree box is enabled only
after both documents were opened (static/js/points.js), 次へ only after it is ticked.
Every page state is checked by `PageAudit.check` (axe-core WCAG 2.1 A/AA, no horizontal
scroll, touch targets, no console or server errors)."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from models import db
from models.account import Account
from models.eco import EcoMembership
from models.points import PointsMember
from tests.browser.test_browser_pages import Person, check, heading, in_db, main, sign_in, submit, visit
from tests.flows.test_dealer_links import make_gateway, make_owner
from tests.helpers import PASSWORD

pytestmark = pytest.mark.browser

OWNER = Person("owner@example.com", "山田", "太郎")
GATEWAY, PCS = "01AB12345678", "PC123456"
FORM = "/points/signup/form"


def owner_in_the_eco_programme():
    owner = make_owner()
    gateway = make_gateway(owner, GATEWAY)
    db.session.add(EcoMembership(gateway_id=gateway.id, account_id=owner.id,
                                 gateway_code=GATEWAY, pcs_serial=PCS))
    db.session.commit()


def open_document(page, name: str) -> None:
    """Open a document from STEP2 in its new tab, read it, close it."""
    with page.context.expect_page() as opened:
        main(page).get_by_role("link", name=name).click()
    document = opened.value
    document.wait_for_load_state()
    expect(document.get_by_role("heading", level=1)).to_be_visible()
    document.close()


def test_owner_joins_the_points_service(live_server, open_page):
    in_db(live_server, owner_in_the_eco_programme)
    page, audit = open_page("phone")
    sign_in(page, audit, live_server, OWNER, PASSWORD)
    visit(page, audit, live_server.url + "/points/signup")
    expect(heading(page)).to_have_text("ポイントサービス 新規会員登録")
    check(page, audit, "step1")

    page.get_by_label("Enelink 遠隔モニタリングサービスをご利用中").check()
    submit(page, audit, main(page).get_by_role("button", name="次へ"), f"{FORM}/service", 200)
    expect(main(page)).to_contain_text("特にご確認いただきたい点")
    agree = page.get_by_label("上記について確認したので、同意します。")
    next_button = main(page).get_by_role("button", name="次へ")
    expect(agree).to_be_disabled()
    expect(next_button).to_be_disabled()
    check(page, audit, "step2-unopened")

    open_document(page, "ポイントサービス利用規約はこちら")
    expect(agree).to_be_disabled()  # one of two
    open_document(page, "ポイントサービスにおける個人情報の取扱についてはこちら")
    expect(agree).to_be_enabled()
    expect(next_button).to_be_disabled()
    agree.check()
    expect(next_button).to_be_enabled()
    check(page, audit, "step2-agreed")
    submit(page, audit, next_button, f"{FORM}/consent", 200)

    expect(page.locator("#gateway_code")).to_be_visible()
    page.locator("#gateway_code").fill("01ab12345678")
    page.locator("#pcs_serial").fill("PC999999")
    submit(page, audit, main(page).get_by_role("button", name="次へ"), f"{FORM}/pair", 422)
    expect(page.locator("#pcs_serial-field .field-error")).to_contain_text("一致しません")
    check(page, audit, "step3-mismatch")
    page.locator("#pcs_serial").fill(PCS)
    submit(page, audit, main(page).get_by_role("button", name="次へ"), f"{FORM}/pair", 200)

    expect(page.locator("#family_name")).to_have_value("山田")
    expect(page.locator("#address-postal_code")).to_have_value("103")
    expect(page.locator("#address-postal_code-2")).to_have_value("0026")
    page.locator("#family_kana").fill("やまだ")
    page.locator("#given_kana").fill("ﾀﾛｳ")
    page.locator("#phone").fill("090")
    page.locator("#phone-2").fill("1234")
    page.locator("#phone-3").fill("5678")
    check(page, audit, "step4")
    submit(page, audit, main(page).get_by_role("button", name="次へ"), f"{FORM}/info", 200)

    expect(main(page)).to_contain_text("同意済み")
    expect(main(page)).to_contain_text("ヤマダ タロウ")
    expect(main(page)).to_contain_text("090-1234-5678")
    check(page, audit, "step5")
    submit(page, audit, main(page).get_by_role("button", name="登録する"), f"{FORM}/confirm", 200)

    expect(heading(page)).to_have_text("登録が完了しました")
    expect(main(page)).to_contain_text("山田 太郎 様")
    expect(main(page).get_by_role("link", name="マイページへ")).to_have_attribute("href", "/points/")
    check(page, audit, "step6")
    assert in_db(live_server, lambda: db.session.scalar(
        select(PointsMember.account_id).join(Account, Account.id == PointsMember.account_id)
        .where(Account.email == OWNER.email))) is not None
