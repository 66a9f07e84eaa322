"""The first sign-in of an account imported from the old portal, on a phone (360x740):
the old user name and password on the sign-in page → 移行手続き (登録情報の確認 with the
imported data, a mistake shown next to its field, 規約への同意, 新しいパスワード with the live
checklist) → home, signed in; the old password no longer opens it. Every page state is
checked by `PageAudit.check` (axe-core WCAG 2.1 A/AA, no horizontal scroll, 44 px touch
targets, no console errors)."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from blueprints.account.legacy import Importer
from models import db
from models.account import LegacyLogin
from tests.browser.test_browser_pages import check, heading, in_db, main, visit
from tests.conftest import LEGACY_HEADER, legacy_bcrypt, legacy_row

pytestmark = pytest.mark.browser

OLD = "Old-Pass-2019"
NEW = "Fresh-Start-2026!"


def _import(tmp_path) -> None:
    path = tmp_path / "old-portal.csv"
    path.write_text(f"{LEGACY_HEADER}\n{legacy_row(password_hash=legacy_bcrypt(OLD))}\n",
                    encoding="utf-8")
    with path.open("rb") as handle:
        assert Importer().run(handle).imported == 1


def _step(page: Page, button: str, status: int = 200) -> None:
    """A wizard button: htmx posts it and swaps the next step in (422 for a mistake)."""
    with page.expect_response(lambda r: r.request.method == "POST"
                              and "/account/migration/" in r.url) as info:
        main(page).get_by_role("button", name=button).click()
    assert info.value.status == status, f"{button}: {info.value.status}"
    page.wait_for_load_state()


def test_first_sign_in_with_the_old_user_name_on_a_phone(live_server, open_page, tmp_path):
    live = live_server
    in_db(live, lambda: _import(tmp_path))
    page, audit = open_page("phone")
    visit(page, audit, live.url + "/account/login")
    expect(page.get_by_label("メールアドレスまたはユーザー名")).to_be_editable()
    check(page, audit, "login")
    page.locator("#email").fill("olduser")
    page.locator("#password").fill(OLD)
    main(page).get_by_role("button", name="ログイン", exact=True).click()

    expect(page).to_have_url(re.compile(r"/account/migration/data$"))
    expect(heading(page)).to_have_text("旧ポータルからの移行手続き")
    expect(page.locator("#family_name")).to_have_value("田中")
    expect(page.locator("#family_kana")).to_have_value("タナカ")
    expect(page.locator("#address-prefecture")).to_have_value("東京都")
    expect(main(page)).to_contain_text("olduser")
    check(page, audit, "migration-data")

    page.locator("#given_name").fill("ichiro")
    audit.allow_console_error(r"status of 422")  # Chromium logs every 4xx answer
    _step(page, "続行", 422)
    expect(page.locator("#given_name-error")).to_contain_text("全角で入力してください")
    expect(page.locator("#given_name")).to_have_value("ichiro")
    check(page, audit, "migration-data-mistake")
    page.locator("#given_name").fill("一朗")
    _step(page, "続行")

    expect(page).to_have_url(re.compile(r"/account/migration/terms$"))
    check(page, audit, "migration-terms")
    page.get_by_label("利用規約を読み、これに同意します").check()
    page.get_by_label("プライバシーポリシーを読みました").check()
    _step(page, "続行")

    expect(page).to_have_url(re.compile(r"/account/migration/password$"))
    page.locator("#password").press_sequentially(NEW)
    expect(page.locator("#password-checklist li.ok")).to_have_count(6)
    page.locator("#password_confirm").fill(NEW)
    check(page, audit, "migration-password")
    _step(page, "移行を完了する")

    expect(page).to_have_url(live.url + "/")
    expect(heading(page)).to_have_text("ようこそ、田中 一朗さん")
    expect(page.get_by_text("移行手続きが完了しました")).to_be_visible()
    check(page, audit, "home-after-migration")
    assert in_db(live, lambda: db.session.scalar(select(LegacyLogin.old_hash))) is None
