"""ゲートウェイの譲渡 in Chromium at phone size (360x740, touch): ゲートウェイ情報の照会 →
「ゲートウェイの譲渡」 → the confirmation (a mistake first: no check, no password) → 譲渡する →
the done page with the new slip password once, 「伝票を印刷」 and a print stylesheet that
prints the slip alone → 譲渡したゲートウェイ with its CSV. Every page state is checked by
`PageAudit.check` (axe-core WCAG 2.1 A/AA, no horizontal scroll, 44 px touch targets, no
console or server errors); the same walk runs without JavaScript."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from models import db
from models.gateway import Gateway, GatewayStatus, PcsUnit
from tests.browser.test_browser_pages import (Person, check, heading, in_db, main, sign_in,
                                             submit, visit)
from tests.flows.test_dealer_links import make_gateway, make_owner
from tests.helpers import PASSWORD

pytestmark = pytest.mark.browser

OWNER = Person("owner@example.com", "山田", "太郎")
GW = "01AB12345678"


def owner_with_gateway():
    owner = make_owner()
    gateway = make_gateway(owner, GW, site="山田様邸")
    db.session.add(PcsUnit(gateway_id=gateway.id, unit_no=1, model="PCS-5K", serial="AB123456"))
    db.session.commit()


def state() -> tuple:
    db.session.expire_all()
    gateway = db.session.scalar(select(Gateway).where(Gateway.gateway_id == GW))
    return GatewayStatus(gateway.status), gateway.owner_id


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
def test_owner_hands_a_gateway_over_on_a_phone(live_server, open_page, javascript):
    in_db(live_server, owner_with_gateway)
    page, audit = open_page("phone", javascript=javascript)
    sign_in(page, audit, live_server, OWNER, PASSWORD)
    visit(page, audit, live_server.url + f"/monitoring/gateways/{GW}")
    main(page).get_by_role("link", name="ゲートウェイの譲渡").click()
    expect(heading(page)).to_have_text("ゲートウェイを譲渡しますか？")
    expect(main(page)).to_contain_text("新しいゲートウェイパスワードを発行します")
    check(page, audit, "handover-confirm")

    submit(page, audit, main(page).get_by_role("button", name="譲渡する"),
           f"/monitoring/gateways/{GW}/handover", 422)
    expect(page.locator("#confirm-field .field-error")).to_be_visible()
    expect(page.locator("#password")).to_have_attribute("aria-invalid", "true")
    check(page, audit, "handover-mistake")
    assert in_db(live_server, state)[0] == GatewayStatus.ACTIVE

    page.locator("#confirm").check()
    page.locator("#password").fill(PASSWORD)
    submit(page, audit, main(page).get_by_role("button", name="譲渡する"),
           f"/monitoring/gateways/{GW}/handover", 200)
    expect(heading(page)).to_have_text("ゲートウェイの譲渡が完了しました")
    slip_password = page.locator("#handover-slip-password")
    expect(slip_password).to_have_text(re.compile(r"^[a-z0-9]{12}$"))
    expect(page.locator("#handover-gateway-id")).to_have_text(GW)
    print_button = main(page).get_by_role("button", name="伝票を印刷")
    if javascript:
        expect(print_button).to_be_visible()
    else:
        expect(print_button).to_be_hidden()
    check(page, audit, "handover-done")
    assert in_db(live_server, state) == (GatewayStatus.UNREGISTERED, None)
    # On paper: the slip alone.
    page.emulate_media(media="print")
    expect(page.locator(".slip")).to_be_visible()
    expect(page.get_by_role("link", name="ゲートウェイの管理に戻る")).to_be_hidden()
    page.emulate_media(media="screen")

    visit(page, audit, live_server.url + "/monitoring/")
    main(page).get_by_role("link", name="譲渡したゲートウェイ").click()
    expect(heading(page)).to_have_text("譲渡したゲートウェイ")
    expect(main(page)).to_contain_text(GW)
    expect(main(page)).to_contain_text("山田様邸")
    check(page, audit, "handovers")
