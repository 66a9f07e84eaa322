"""The eco programme in Chromium at phone size (360x740, touch): main menu →
「エコ活の申込/照会/解約」 → conditions and 会員規約 → 同意する → 申込状態の照会・申込・解約 →
a gateway → the declarations (a mistake first) → 申込を確定する → 申込完了 → 解約 through
its confirmation. Every page state is checked by `PageAudit.check` (axe-core WCAG 2.1
A/AA, no horizontal scroll, 44 px touch targets, no console or server errors); the same
walk runs without JavaScript (post/redirect/get)."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from models import db
from models.eco import EcoMembership
from models.gateway import PcsUnit
from tests.browser.test_browser_pages import (Person, check, heading, in_db, main, sign_in,
                                             submit, visit)
from tests.flows.test_dealer_links import make_gateway, make_owner
from tests.flows.test_eco import make_eligible
from tests.helpers import PASSWORD

pytestmark = pytest.mark.browser

OWNER = Person("owner@example.com", "山田", "太郎")
GW = "01AB12345678"
SERIAL = "AB123456"


def owner_with_reporting_gateway():
    owner = make_owner()
    gateway = make_gateway(owner, GW)
    db.session.add(PcsUnit(gateway_id=gateway.id, unit_no=1, model="PCS-5K", serial=SERIAL))
    db.session.commit()
    make_eligible(gateway)


def running() -> list[tuple[str, str, object]]:
    db.session.expire_all()
    return [(m.gateway_code, m.pcs_serial, m.ended_at)
            for m in db.session.scalars(select(EcoMembership))]


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
def test_owner_applies_and_cancels_on_a_phone(live_server, open_page, javascript):
    in_db(live_server, owner_with_reporting_gateway)
    page, audit = open_page("phone", javascript=javascript)
    sign_in(page, audit, live_server, OWNER, PASSWORD)
    visit(page, audit, live_server.url + "/monitoring/")
    main(page).get_by_role("link", name="エコ活の申込/照会/解約").click()
    expect(heading(page)).to_have_text("「みんなでつくるエコ活サークル」に申込するための各種条件")
    expect(main(page)).to_contain_text("一般住宅のお客様であることを意味します")
    expect(main(page)).to_contain_text("第3条（環境価値の譲渡）")
    check(page, audit, "eco-terms")

    submit(page, audit, main(page).get_by_role("button", name="同意する", exact=True),
           "/eco/terms", 303)
    expect(heading(page)).to_have_text("申込状態の照会・申込・解約")
    expect(page.locator(f"#eco-{GW}")).to_contain_text("申込可")
    check(page, audit, "eco-gateways")

    page.locator(f"#eco-{GW}").get_by_role("link", name=GW).click()
    expect(heading(page)).to_have_text("みんなでつくるエコ活サークルの申込")
    expect(main(page)).to_contain_text(SERIAL)
    check(page, audit, "eco-apply")
    page.get_by_label("自家発電装置（エネファームなどの燃料電池）を設置していません").check()
    submit(page, audit, main(page).get_by_role("button", name="確認する"),
           f"/eco/gateways/{GW}/apply", 422)
    expect(page.locator("#no_other_scheme")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#no_other_scheme-field .field-error")).to_be_visible()
    check(page, audit, "eco-apply-mistake")

    page.get_by_label("J-クレジットの別のプロジェクトや他の類似制度に登録していません").check()
    submit(page, audit, main(page).get_by_role("button", name="確認する"),
           f"/eco/gateways/{GW}/apply", 200)
    expect(main(page)).to_contain_text("申込内容の確認")
    check(page, audit, "eco-apply-confirm")
    assert in_db(live_server, running) == []
    submit(page, audit, main(page).get_by_role("button", name="申込を確定する"),
           f"/eco/gateways/{GW}/apply", 200 if javascript else 303)
    expect(heading(page)).to_have_text("「みんなでつくるエコ活サークル」の申込完了")
    expect(main(page)).to_contain_text(GW)
    expect(main(page)).to_contain_text(SERIAL)
    expect(main(page).get_by_role("link", name="メインメニューに戻る")).to_be_visible()
    check(page, audit, "eco-applied")
    assert in_db(live_server, running) == [(GW, SERIAL, None)]

    visit(page, audit, live_server.url + "/eco/gateways")
    expect(page.locator(f"#eco-{GW}")).to_contain_text("申込済")
    page.locator(f"#eco-{GW}").get_by_role("link", name="解約する").click()
    expect(heading(page)).to_have_text("みんなでつくるエコ活サークルの解約")
    expect(main(page)).to_contain_text("解約の前にご確認ください")
    check(page, audit, "eco-cancel")
    submit(page, audit, main(page).get_by_role("button", name="解約する"),
           f"/eco/gateways/{GW}/cancel", 200 if javascript else 303)
    expect(heading(page)).to_have_text("申込状態の照会・申込・解約")
    expect(page.locator(f"#eco-{GW}")).to_contain_text("申込可")
    check(page, audit, "eco-cancelled")
    [(_code, _serial, ended)] = in_db(live_server, running)
    assert ended is not None
