"""The staff administration in Chromium, at 1280x800 and 360x740: a staff admin opens
「スタッフ管理」 from the launcher, adds a staff member (a mistyped address first), changes
their roles, reads the audit log (filtered, a bad date) and the proxy sessions. Every
page state is checked by `PageAudit.check` (axe-core WCAG 2.1 A/AA, no horizontal scroll,
44 px touch targets on phones, no console or server errors)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from blueprints.core.staff import ADMIN, SUPPORT
from models import db, utcnow
from models.club import ProxySession
from tests.browser.test_browser_pages import (Person, check, heading, in_db, main, sign_in,
                                              submit, visit)
from tests.flows.test_dealer_links import make_owner
from tests.helpers import PASSWORD, make_staff

pytestmark = pytest.mark.browser

BOSS = Person("boss@example.com", "管理", "一郎")


def a_world(live) -> None:
    def write():
        make_staff(make_owner(BOSS.email, BOSS.family_name, BOSS.given_name), ADMIN)
        make_staff(make_owner("agent@example.com", "高橋", "美咲"), SUPPORT)
        owner = make_owner("owner@example.com", "山田", "太郎")
        make_owner("new@example.com", "佐藤", "花子")
        employee = make_owner("employee@dealer1.example", "鈴木", "一郎")
        start = utcnow() - timedelta(hours=2)
        db.session.add(ProxySession(
            owner_id=owner.id, dealer_name="販売店1株式会社", actor_id=employee.id,
            actor_name="鈴木 一郎", reason="蓄電池の設定確認のため", started_at=start,
            expires_at=start + timedelta(minutes=30), ended_at=start + timedelta(minutes=9),
            end_reason="returned",
            changes=[{"at": (start + timedelta(minutes=4)).isoformat(),
                      "endpoint": "club.info_edit", "path": "/club/mypage/info/edit"}]))
        db.session.commit()
    in_db(live, write)


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_staff_admin_manages_people_and_reads_the_audit_log(live_server, open_page, device):
    a_world(live_server)
    page, audit = open_page(device)
    sign_in(page, audit, live_server, BOSS, PASSWORD)
    main(page).get_by_role("link", name="スタッフ管理").click()
    expect(heading(page)).to_have_text("スタッフ管理")
    expect(page.locator("#staff-table tbody tr")).to_have_count(2)
    check(page, audit, f"people-{device}")

    main(page).get_by_role("link", name="スタッフを追加する").click()
    expect(heading(page)).to_have_text("スタッフの追加")
    check(page, audit, f"people-add-{device}")
    page.locator("#email").fill("nobody@example.com")
    page.locator("#roles-programme").check()
    with page.expect_response(lambda r: r.request.method == "POST") as info:
        main(page).get_by_role("button", name="スタッフにする").click()
    assert info.value.status == 422
    expect(page.locator("#email-error")).to_contain_text("登録が完了したEnelink IDはありません")
    expect(page.locator("#email")).to_have_value("nobody@example.com")
    expect(page.locator("#roles-programme")).to_be_checked()
    audit.allow_console_error("422")
    check(page, audit, f"people-add-error-{device}")
    page.locator("#email").fill("new@example.com")
    main(page).get_by_role("button", name="スタッフにする").click()
    expect(heading(page)).to_have_text("スタッフの役割")
    expect(page.locator("#roles-programme")).to_be_checked()
    check(page, audit, f"person-{device}")
    page.locator("#roles-support").check()
    main(page).get_by_role("button", name="役割を変更する").click()
    expect(page.locator("#roles-support")).to_be_checked()
    expect(page.locator("main")).to_contain_text("役割を変更しました")

    main(page).get_by_role("link", name="監査ログ").click()
    expect(heading(page)).to_have_text("スタッフ管理")
    expect(page.locator("#audit-table")).to_contain_text("staff.roles_changed")
    check(page, audit, f"audit-{device}")
    page.locator("#action").select_option("staff.")
    main(page).get_by_role("button", name="絞り込む").click()
    expect(page.locator("#audit-count")).to_have_text("2件")
    check(page, audit, f"audit-filtered-{device}")
    visit(page, audit, live_server.url + "/staff/audit?date_from=yesterday", 422)
    expect(page.locator("#date_from-error")).to_contain_text("日付は年・月・日で入力してください")
    check(page, audit, f"audit-bad-date-{device}")

    main(page).get_by_role("link", name="代理ログインの記録").click()
    expect(page.locator("#proxy-table")).to_contain_text("蓄電池の設定確認のため")
    expect(page.locator("#proxy-table")).to_contain_text("/club/mypage/info/edit")
    check(page, audit, f"audit-proxy-{device}")
