"""会社の検索 and 従業員からのリクエスト in Chromium: at desktop size (1280x800) a commercial
sign-up searches its company on step 3 (htmx results), chooses it and asks to join
instead of creating a company, then confirms the address; at phone size (360x740, touch)
the company's administrator opens 「従業員からのリクエストの管理」 and approves. Every page
state reached is checked by `PageAudit.check` (axe-core WCAG 2.1 A/AA, no horizontal
scroll, touch targets at the phone size, no console errors)."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from models import db
from models.account import Account, Company, CompanyJoinRequest, CompanyRole, JoinRequestStatus
from tests.browser.test_browser_pages import (Person, check, heading, in_db, main, sign_in,
                                              submit, visit)
from tests.browser.test_browser_signup import (consents, create_account, name_step,
                                               step_title, type_step)
from tests.flows.test_dealer_links import make_company
from tests.helpers import PASSWORD

pytestmark = pytest.mark.browser

REQUESTER = "kacho@denki.example"
ADMIN = Person("admin1@dealer1.example", "佐藤", "花子")


def _findable_company() -> int:
    company = make_company(1)
    company.findable = True
    db.session.commit()
    return company.id


def test_sign_up_joins_a_found_company_and_the_admin_approves(live_server, open_page):
    company_id = in_db(live_server, _findable_company)

    # -- desktop: sign-up with 会社の検索 ------------------------------------------------
    page, audit = open_page("desktop")
    name_step(page, audit, live_server, REQUESTER)
    type_step(page, audit, "商用アカウント")
    page.locator("#company_query").fill("販売店")
    with page.expect_response(lambda r: "/account/signup/company-search?" in r.url) as info:
        page.get_by_role("button", name="検索", exact=True).click()
    assert info.value.status == 200
    results = page.locator("#company-results")
    expect(results).to_contain_text("販売店1株式会社（東京都）")
    expect(results).not_to_contain_text("日本橋兜町")  # the name and prefecture only
    check(page, audit, "signup-3-company-found")
    with page.expect_response(lambda r: r.request.method == "POST"
                              and r.url.endswith("/account/signup/details")) as info:
        results.get_by_role("button", name=re.compile("この会社に参加をリクエスト")).click()
    assert info.value.status == 200
    expect(page.locator("#company-search")).to_contain_text("参加をリクエストする会社")
    expect(page.locator("#company_name")).to_have_count(0)  # no second company asked for
    page.locator("#join_message").fill("工事部の山田です")
    page.locator("#department").fill("工事部")
    page.locator("#position").fill("課長")
    page.locator("#phones-0-number").fill("080-1111-2222")
    consents(page)
    check(page, audit, "signup-3-company-chosen")
    create_account(page, audit, REQUESTER)
    expect(step_title(page)).to_have_count(0)
    page.goto(live_server.mail_link(REQUESTER, "activation"))
    expect(heading(page)).to_have_text("アカウントが有効になりました")

    def request_state():
        db.session.expire_all()
        account = db.session.scalar(select(Account).where(Account.email == REQUESTER))
        status = db.session.scalar(select(CompanyJoinRequest.status)
                                   .where(CompanyJoinRequest.account_id == account.id))
        return (account.company_id, account.company_role, status,
                db.session.scalar(select(func.count()).select_from(Company)))

    assert in_db(live_server, request_state) == (None, None, JoinRequestStatus.PENDING, 1)
    # The requester's 会社情報: the request waiting, with 取り下げる, and the search.
    sign_in(page, audit, live_server, Person(REQUESTER, "山田", "太郎"), PASSWORD)
    visit(page, audit, live_server.url + "/account/settings/company")
    expect(page).to_have_url(re.compile(r"/account/settings/company/join$"))
    expect(page.locator("#my-requests")).to_contain_text("承認待ち")
    expect(page.locator("#my-requests").get_by_role("button", name=re.compile("取り下げる"))) \
        .to_be_visible()
    check(page, audit, "company-join-pending")

    # -- phone: the administrator approves --------------------------------------------------
    phone, phone_audit = open_page("phone")
    sign_in(phone, phone_audit, live_server, ADMIN, PASSWORD)
    visit(phone, phone_audit, live_server.url + "/account/settings/employees")
    main(phone).get_by_role("link", name="従業員からのリクエストの管理").click()
    expect(heading(phone)).to_have_text("従業員からのリクエストの管理")
    pending = phone.locator("#pending")
    expect(pending).to_contain_text(REQUESTER)
    expect(pending).to_contain_text("工事部の山田です")
    check(phone, phone_audit, "join-requests")
    pending.get_by_role("link", name=re.compile("^承認")).click()
    expect(heading(phone)).to_have_text("リクエストの承認")
    check(phone, phone_audit, "join-request-approve")
    submit(phone, phone_audit, main(phone).get_by_role("button", name="承認する"),
           "/account/settings/employees/requests/", 303)
    expect(main(phone)).to_contain_text("参加を承認しました")
    expect(phone.locator("#history")).to_contain_text("承認済み")
    check(phone, phone_audit, "join-requests-after")
    assert in_db(live_server, request_state) == (company_id, CompanyRole.MEMBER,
                                                 JoinRequestStatus.APPROVED, 1)
