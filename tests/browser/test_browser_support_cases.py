"""The customer's cases in Chromium at phone size (360x740, touch): a homeowner opens
新しいケースを作成, changes サポート内容 (the 詳細 select is swapped by htmx), picks a file
that is too large (the browser says so and keeps 送信 disabled), then files the case
with two photos, reads the ケース番号, opens the case and replies with a comment (the
thread is swapped in place). Without JavaScript the 更新 button does the 詳細 reload.

Every page state is checked by `PageAudit.check` (axe-core, no horizontal scroll, touch
targets, no console or server errors)."""
from __future__ import annotations

import re
import struct
import zlib

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from blueprints.support import cases
from models import db
from models.gateway import PcsUnit
from models.support import SupportCase, SupportFile
from tests.browser.test_browser_pages import Person, check, in_db, main, sign_in, submit, visit
from tests.flows.test_dealer_links import make_gateway, make_owner
from tests.helpers import PASSWORD

pytestmark = pytest.mark.browser

OWNER = Person("owner@example.com", "山田", "太郎")
GATEWAY_ID = "01AB12345678"


def png(seed: int) -> bytes:
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(bytes([0, seed, 0, 0]))) + chunk(b"IEND", b""))


def owner_with_gateway():
    owner = make_owner(OWNER.email, OWNER.family_name, OWNER.given_name)
    gateway = make_gateway(owner, GATEWAY_ID, site="山田邸")
    db.session.add_all([PcsUnit(gateway_id=gateway.id, unit_no=n, model="PCS-5K",
                                serial=f"DM00010{n}") for n in (1, 2)])
    db.session.commit()
    cases.ensure_default_categories()


def test_a_homeowner_files_a_case_with_two_photos_and_replies(live_server, open_page):
    live = live_server
    in_db(live, owner_with_gateway)
    page, audit = open_page("phone")
    sign_in(page, audit, live, OWNER, PASSWORD)
    visit(page, audit, live.url + "/support/cases/new")
    check(page, audit, "new-case")
    form = main(page)
    form.locator("#subject").fill("蓄電池が充電しない")
    form.locator("#body").fill("昨日から充電されません。")
    # htmx swaps the dependent choices on change: the 更新 buttons are for pages without it.
    expect(form.locator("#refresh-site")).to_be_hidden()
    expect(form.locator("#refresh-category")).to_be_hidden()
    form.locator("#site").select_option(GATEWAY_ID)
    expect(form.locator("#serial option", has_text="DM000102")).to_have_count(1)
    form.locator("#serial").select_option("DM000102")
    form.locator("#category").select_option(label="蓄電池の動作")
    expect(form.locator("#detail option", has_text="充電・放電しない")).to_have_count(1)
    form.locator("#detail").select_option(label="充電・放電しない")
    # A file over the limit: said at once, 送信 disabled until another choice.
    too_big = {"name": "big.png", "mimeType": "image/png",
               "buffer": b"\x89PNG" + b"0" * (10 * 1024 * 1024 + 1)}
    form.locator("#files").set_input_files([too_big])
    expect(form.locator("#files-error")).to_have_text(
        "「big.png」は大きすぎます（1ファイル10 MBまで）。")
    send = form.get_by_role("button", name="送信", exact=True)
    expect(send).to_be_disabled()
    check(page, audit, "new-case-file-too-big")
    form.locator("#files").set_input_files([
        {"name": "写真1.png", "mimeType": "image/png", "buffer": png(1)},
        {"name": "写真2.png", "mimeType": "image/png", "buffer": png(2)}])
    expect(form.locator("#files-error")).to_be_hidden()
    expect(send).to_be_enabled()
    with page.expect_response(lambda r: r.request.method == "POST"
                              and r.url.endswith("/support/cases/new")) as info:
        send.click()
    assert info.value.status == 200  # htmx: HX-Redirect to the completion page
    page.wait_for_url(re.compile(r"/support/cases/4\d{8}/filed$"))
    number = page.locator("#case-number").inner_text()
    assert re.fullmatch(r"4\d{8}", number)
    check(page, audit, "case-filed")

    def stored():
        case = db.session.scalar(select(SupportCase).where(SupportCase.number == number))
        names = list(db.session.scalars(select(SupportFile.name)
                                        .where(SupportFile.case_id == case.id)
                                        .order_by(SupportFile.id)))
        return case.serial, case.detail_name, names

    assert in_db(live, stored) == ("DM000102", "充電・放電しない", ["写真1.png", "写真2.png"])
    page.get_by_role("link", name="ケースを見る").click()
    page.wait_for_url(re.compile(rf"/support/cases/{number}$"))
    check(page, audit, "case-page")
    expect(page.locator("#thread a", has_text="写真1.png")).to_have_count(1)
    page.locator("#comment").fill("写真を追加しました。")
    with page.expect_response(lambda r: r.request.method == "POST"
                              and r.url.endswith("/reply")) as info:
        page.locator("#reply-form").get_by_role("button", name="送信").click()
    assert info.value.status == 200
    expect(page.locator("#thread .message")).to_have_count(2)
    expect(page.locator("#thread")).to_contain_text("写真を追加しました。")
    expect(page.locator("#comment")).to_have_value("")
    check(page, audit, "case-replied")
    visit(page, audit, live.url + "/support/cases")
    expect(main(page).get_by_role("link", name=number)).to_have_count(1)
    check(page, audit, "my-cases")


def test_without_javascript_the_refresh_button_reloads_the_details(live_server, open_page):
    live = live_server
    in_db(live, owner_with_gateway)
    page, audit = open_page("phone", javascript=False)
    sign_in(page, audit, live, OWNER, PASSWORD)
    visit(page, audit, live.url + "/support/cases/new")
    form = main(page)
    form.locator("#subject").fill("通信が途切れる")
    form.locator("#category").select_option(label="モニタリング・通信")
    submit(page, audit, form.locator("#refresh-category"), "/support/cases/new", 200)
    expect(form.locator("#detail option", has_text="通信途絶")).to_have_count(1)
    expect(form.locator("#subject")).to_have_value("通信が途切れる")
    check(page, audit, "new-case-refreshed")
    form.locator("#site").select_option(GATEWAY_ID)
    form.locator("#detail").select_option(label="通信途絶")
    submit(page, audit, form.get_by_role("button", name="送信", exact=True).last,
           "/support/cases/new", 303)
    page.wait_for_url(re.compile(r"/support/cases/4\d{8}/filed$"))
    check(page, audit, "case-filed-no-js")
