"""The staff desk in Chromium: staff on a desktop (1280x800) find a case in the queue,
answer it with a photo, add an internal note, take it and change its state; the queue,
case, categories and article pages on a phone (360x740). Every page state is checked by
`PageAudit.check` (axe-core WCAG 2.1 A/AA, no horizontal scroll, 44 px touch targets on
phones, no console or server errors)."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from models import db
from models.support import CaseState, SupportCase, SupportMessage
from tests.browser.test_browser_pages import (Person, check, heading, in_db, main, sign_in,
                                              submit, visit)
from tests.flows.test_support_desk import file_case, make_customer, make_staff, png_bytes
from tests.helpers import PASSWORD

pytestmark = pytest.mark.browser

STAFF = Person("staff@example.com", "高橋", "美咲")


def a_case(live) -> str:
    def write():
        owner = make_customer()
        make_staff()
        case = file_case(owner, subject="蓄電池が充電しない", serial="PC123456")
        file_case(owner, subject="モニターに何も表示されない")
        return case.number
    return in_db(live, write)


def test_staff_answer_a_case_on_a_desktop(live_server, open_page, tmp_path):
    number = a_case(live_server)
    page, audit = open_page("desktop")
    sign_in(page, audit, live_server, STAFF, PASSWORD)
    main(page).get_by_role("link", name="サポートデスク").click()
    expect(heading(page)).to_have_text("サポートデスク")
    check(page, audit, "desk-queue")

    # Search swaps the table (htmx) and puts the search in the address.
    page.locator("#q").fill("PC1234")
    page.locator("#q").press("Enter")
    expect(page.locator("#queue-table tbody tr")).to_have_count(1)
    expect(page).to_have_url(f"{live_server.url}/staff/support/?state=active&category=&age="
                             "&assignee=all&q=PC1234")
    check(page, audit, "desk-queue-searched")

    main(page).get_by_role("link", name=number).click()
    expect(heading(page)).to_have_text("蓄電池が充電しない")
    check(page, audit, "desk-case")

    # A reply with a photo; an empty one first.
    submit(page, audit, main(page).get_by_role("button", name="返信する"),
           f"/staff/support/cases/{number}/reply", 422)
    expect(page.locator("#body-field .field-error")).to_contain_text("入力してください")
    check(page, audit, "desk-case-reply-error")
    photo = tmp_path / "現場の写真.png"
    photo.write_bytes(png_bytes())
    page.locator("#body").fill("明日14時に点検員が伺います。")
    page.locator("#files").set_input_files(str(photo))
    submit(page, audit, main(page).get_by_role("button", name="返信する"),
           f"/staff/support/cases/{number}/reply", 200)
    expect(page.locator(".notice-success")).to_contain_text("返信を送信しました")
    expect(page.locator("#thread")).to_contain_text("明日14時に点検員が伺います。")
    expect(page.locator("#thread")).to_contain_text("現場の写真.png")
    expect(page.locator("#case-state")).to_have_text("お客様回答待ち")
    check(page, audit, "desk-case-replied")

    page.locator("#note-body").fill("部品の在庫を確認中")
    submit(page, audit, main(page).get_by_role("button", name="メモを追加"),
           f"/staff/support/cases/{number}/note", 200)
    expect(page.locator(".thread-note")).to_contain_text("社内メモ（お客様には表示されません）")
    check(page, audit, "desk-case-note")

    submit(page, audit, main(page).get_by_role("button", name="自分に割り当てる"),
           f"/staff/support/cases/{number}/assign", 303)
    expect(page.locator("#case-assignee")).to_have_text(STAFF.full_name)
    page.locator("#state").select_option("resolved")
    submit(page, audit, page.locator("#state-form").get_by_role("button", name="変更"),
           f"/staff/support/cases/{number}/state", 303)
    expect(page.locator("#case-state")).to_have_text("解決")
    check(page, audit, "desk-case-resolved")

    def read():
        db.session.expire_all()
        case = db.session.scalar(select(SupportCase).where(SupportCase.number == number))
        notes = db.session.scalars(select(SupportMessage.body).where(
            SupportMessage.case_id == case.id, SupportMessage.internal)).all()
        return CaseState(case.state), list(notes)
    assert in_db(live_server, read) == (CaseState.RESOLVED, ["部品の在庫を確認中"])


def test_the_desk_pages_on_a_phone(live_server, open_page):
    number = a_case(live_server)
    page, audit = open_page("phone")
    sign_in(page, audit, live_server, STAFF, PASSWORD)
    visit(page, audit, live_server.url + "/staff/support/")
    check(page, audit, "desk-queue-phone")
    visit(page, audit, live_server.url + f"/staff/support/cases/{number}")
    check(page, audit, "desk-case-phone")
    visit(page, audit, live_server.url + "/staff/support/categories")
    check(page, audit, "desk-categories-phone")
    first = page.locator(".category-row").first
    first.locator("input[type=text]").first.fill("")
    submit(page, audit, first.get_by_role("button", name="保存"),
           "/staff/support/categories/", 422)
    expect(page.locator(".field-error").first).to_contain_text("入力してください")
    check(page, audit, "desk-categories-error-phone")
    visit(page, audit, live_server.url + "/staff/support/articles/new")
    page.locator("#title").fill("停電時の蓄電池の動作")
    page.locator("#body").fill("停電すると自動で給電されます。\n\n復電後は元に戻ります。")
    page.locator("#published").check()
    submit(page, audit, main(page).get_by_role("button", name="保存する"),
           "/staff/support/articles/new", 303)
    expect(page.locator("#articles")).to_contain_text("停電時の蓄電池の動作")
    check(page, audit, "desk-articles-phone")
