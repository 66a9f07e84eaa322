"""個人データのダウンロード in Chromium at phone size (360x740, touch), with and without
JavaScript: the section of ログイン情報, the page's states (none → being prepared → ready),
the mailed link's download, and the link page of an altered link. Every page state is
checked by `PageAudit.check` (axe-core WCAG 2.1 A/AA, no horizontal scroll, 44 px touch
targets, no console or server errors)."""
from __future__ import annotations

import zipfile

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from blueprints.account import data_export
from tests.browser.test_browser_pages import (Person, check, heading, in_db, main, sign_in,
                                              submit, visit)
from tests.flows.test_dealer_links import make_owner
from tests.helpers import PASSWORD

pytestmark = pytest.mark.browser

OWNER = Person("owner@example.com", "山田", "太郎")


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_request_wait_and_download_on_a_phone(live_server, open_page, javascript):
    in_db(live_server, make_owner)
    page, audit = open_page("phone", javascript=javascript)
    sign_in(page, audit, live_server, OWNER, PASSWORD)

    visit(page, audit, live_server.url + "/account/settings/login")
    section = page.locator("#data-export")
    expect(section).to_contain_text("個人データのダウンロード")
    check(page, audit, "settings-login-with-export")

    submit(page, audit, section.get_by_role("button", name="個人データのダウンロードを申し込む"),
           "/account/settings/data-export", 303)
    expect(heading(page)).to_have_text("個人データのダウンロード")
    expect(main(page)).to_contain_text("個人データの準備を始めました")
    expect(page.locator("#data-export-panel")).to_contain_text("準備中")
    check(page, audit, "data-export-pending")

    assert in_db(live_server, data_export.run_exports) == 1
    visit(page, audit, live_server.url + "/account/settings/data-export")
    expect(page.locator("#data-export-panel")).to_contain_text("準備完了")
    check(page, audit, "data-export-ready")

    link = live_server.mail_link(OWNER.email, "data_export_ready")
    with page.expect_download() as info:
        try:
            page.goto(link)
        except PlaywrightError as error:  # a navigation that turns into a download
            assert "Download is starting" in str(error) or "ERR_ABORTED" in str(error)
    download = info.value
    assert download.suggested_filename.startswith("enelink-personal-data-")
    with zipfile.ZipFile(download.path()) as archive:
        assert {"README.txt", "data.json", "account/profile.csv"} <= set(archive.namelist())

    visit(page, audit, link[:-4] + "abcd", status=404)
    expect(heading(page)).to_have_text("リンクが正しくありません")
    check(page, audit, "data-export-link-altered")
