"""The owner's マイページ in Chromium at phone size (360x740, touch): register a product
(a mistake first, refused next to its field), see its warranty, subscribe its gateway
product to 見守りサービス through the confirmation step. Every page state is checked by
`PageAudit.check` (axe-core WCAG 2.1 A/AA, no horizontal scroll, 44 px touch targets,
no console or server errors)."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from models import db
from models.club import Product, ProductSubscription
from models.gateway import PcsUnit
from forms.validators import today_in_japan
from tests.browser.test_browser_pages import Person, check, heading, in_db, main, sign_in, submit, visit
from tests.flows.test_dealer_links import make_gateway, make_owner
from tests.helpers import PASSWORD

pytestmark = pytest.mark.browser

OWNER = Person("owner@example.com", "山田", "太郎")


def owner_with_gateway():
    owner = make_owner()
    gateway = make_gateway(owner, "01AB12345678")
    db.session.add(PcsUnit(gateway_id=gateway.id, unit_no=1, model="PCS-5K", serial="AB123456"))
    db.session.commit()


def test_owner_registers_a_product_and_subscribes(live_server, open_page):
    in_db(live_server, owner_with_gateway)
    page, audit = open_page("phone")
    sign_in(page, audit, live_server, OWNER, PASSWORD)
    visit(page, audit, live_server.url + "/club/mypage")
    expect(heading(page)).to_have_text("マイページ")
    expect(main(page)).to_contain_text("AB123456")
    check(page, audit, "mypage")

    main(page).get_by_role("link", name="製品を登録する").click()
    expect(heading(page)).to_have_text("製品登録")
    check(page, audit, "product-new")
    page.locator("#model_id").select_option(label="ハイブリッド蓄電システム 7.4kWh")
    page.locator("#system_serial").fill("ab")
    page.locator("#postal_code").fill("1030026")
    expect(page.locator("#postal-area")).to_contain_text("中央区")
    installed = today_in_japan() - timedelta(days=30)
    page.locator("#installed_on").fill(installed.isoformat())
    submit(page, audit, main(page).get_by_role("button", name="登録する"),
           "/club/mypage/products/new", 422)
    expect(page.locator("#system_serial")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#system_serial-field .field-error")).to_be_visible()
    check(page, audit, "product-new-mistake")

    page.locator("#system_serial").fill("ｈｃ－ａ１０００１ｗｎ１")
    submit(page, audit, main(page).get_by_role("button", name="登録する"),
           "/club/mypage/products/new", 200)
    expect(page).to_have_url(re.compile(r".*/club/mypage(#product-\d+)?$"))
    product_id = in_db(live_server, lambda: db.session.scalar(
        select(Product.id).where(Product.system_serial == "HC-A10001WN1")))
    card = page.locator(f"#product-{product_id}")
    expect(card).to_contain_text("HC-A10001WN1")
    expect(card.locator(".warranty")).to_contain_text("製品登録による5年延長を含みます")
    check(page, audit, "mypage-registered")

    gateway_product = in_db(live_server, lambda: db.session.scalar(
        select(Product.id).where(Product.gateway_id.is_not(None))))
    page.locator(f"#product-{gateway_product} .subscription-watch").get_by_role(
        "link", name="変更").click()
    expect(heading(page)).to_have_text("サービス加入状況の変更")
    check(page, audit, "subscription")
    page.get_by_label("加入", exact=True).check()
    main(page).get_by_role("button", name="確認する").click()
    expect(main(page)).to_contain_text("変更内容の確認")
    check(page, audit, "subscription-confirm")
    assert in_db(live_server, lambda: db.session.scalar(select(ProductSubscription.id))) is None
    submit(page, audit, main(page).get_by_role("button", name="変更する"),
           "/club/mypage/products/", 200)
    expect(heading(page)).to_have_text("変更完了")
    expect(main(page)).to_contain_text("見守りサービスの加入状況は「加入」です。")
    check(page, audit, "subscription-done")
    main(page).get_by_role("link", name="マイページに戻る").click()
    expect(page.locator(f"#power-{gateway_product}")).to_contain_text("からご利用いただけます")
    check(page, audit, "mypage-subscribed")
