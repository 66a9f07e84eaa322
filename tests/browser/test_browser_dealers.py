"""The dealer pages in Chromium: the dealer console at desktop size (1280x800) for an
employee of a dealer company with 25 entrusted gateways (list, htmx search by the owner's
e-mail and by gateway ID, page 2, a gateway's detail), and the owner's side at phone
size (360x740, touch): 保守を任せる販売店様の登録 (entry → confirmation → 登録完了), the
list on /dealers/my, then 解除 (search → gateway → dealer → confirmation → 解除完了).

Dealers, companies, owners, gateways and links are written straight to the database in
the live server's app context (like tests/flows/test_dealer_pages.py); only signing in
and the pages themselves go through the browser. Every page or page state reached is
checked by `PageAudit.check` (axe-core WCAG 2.1 A/AA, no horizontal scroll, 44 px touch
targets at the phone size, no console or server errors)."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import func, select

from blueprints.dealers.services import dealer_company, link_dealer
from models import db, utcnow
from models.account import Account, AccountType, CompanyRole
from models.gateway import DealerLink, Gateway, GatewayStatus, PcsUnit
from tests.browser.support import LiveServer, PageAudit
from tests.browser.test_browser_pages import (Person, check, heading, in_db, main, sign_in,
                                              submit, visit)
from tests.flows.test_dealer_links import (_password_hash, make_company, make_dealer,
                                           make_gateway, make_owner)
from tests.helpers import PASSWORD, outbox

pytestmark = pytest.mark.browser

GATEWAYS = 25           # entrusted to the dealer: one page of 20, then 5 on page 2
EMPLOYEE = Person("member@dealer1.example", "鈴木", "一郎")
OWNER = Person("owner@example.com", "山田", "太郎")
DEALER_COMPANY = "販売店1株式会社"
DEALER_PHONE = "09099999999"
DEALER_PHONE_SHOWN = "090-9999-9999"  # as pages write it
GATEWAY_ID, OTHER_GATEWAY_ID = "01AB12345678", "02CD00000002"


# -- data, written in the live server's app context ------------------------------------
def employee(company) -> Account:
    """A member (not the administrator) of the dealer company: every employee sees it."""
    now = utcnow()
    account = Account(email=EMPLOYEE.email, password_hash=_password_hash(),
                      family_name=EMPLOYEE.family_name, given_name=EMPLOYEE.given_name,
                      account_type=AccountType.COMMERCIAL, company_role=CompanyRole.MEMBER,
                      company_id=company.id, activated_at=now, terms_accepted_at=now,
                      privacy_accepted_at=now)
    db.session.add(account)
    db.session.commit()
    return account


def with_units(gateway, serial_prefix: str):
    gateway.first_report_at = utcnow()
    db.session.add_all([PcsUnit(gateway_id=gateway.id, unit_no=n, model="KPV-A55-J4",
                                serial=f"{serial_prefix}{n:02d}") for n in (1, 2)])
    db.session.commit()
    return gateway


def console_data() -> str:
    """A dealer with GATEWAYS gateways of as many owners, and a member to sign in as;
    another dealer's gateway that must not show. Returns the dealer's 販売店ID."""
    dealer = make_dealer(1)
    other = make_dealer(2)
    employee(dealer_company(dealer))
    statuses = (GatewayStatus.ACTIVE, GatewayStatus.PROVISIONAL)
    for n in range(GATEWAYS):
        owner = make_owner(f"owner{n:02d}@example.com", "顧客", f"{n:02d}")
        gateway = make_gateway(owner, gateway_id=f"0P{n:010d}", site=f"現場{n:02d}",
                               status=statuses[n % 2])
        if n % 5 == 0:
            with_units(gateway, f"SN{n:02d}-")
        assert link_dealer(owner, gateway, dealer.dealer_code, dealer.phone).value == "linked"
    stranger = make_owner("stranger@example.com", "他社", "顧客")
    hidden = make_gateway(stranger, gateway_id="0HID00000001", site="他社の現場")
    link_dealer(stranger, hidden, other.dealer_code, other.phone)
    return dealer.dealer_code


def owner_data() -> str:
    """An owner with two gateways (one with PCS units) and a dealer to entrust them to."""
    owner = make_owner(OWNER.email, OWNER.family_name, OWNER.given_name)
    with_units(make_gateway(owner, gateway_id=GATEWAY_ID, site="案件90051"), "9005PV")
    make_gateway(owner, gateway_id=OTHER_GATEWAY_ID, site="別荘")
    return make_dealer(1, phone=DEALER_PHONE).dealer_code


def links_of(gateway_id: str) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(DealerLink)
                             .join(Gateway, Gateway.id == DealerLink.gateway_id)
                             .where(Gateway.gateway_id == gateway_id))


# -- steps -----------------------------------------------------------------------------
def console_rows(page: Page) -> Locator:
    return page.locator("#console-list tbody tr")


def search_htmx(page: Page, box: Locator, path: str, text: str) -> None:
    """Type into an htmx search box; wait for the partial it fetches (not a page load)."""
    def partial(response) -> bool:
        parts = urlsplit(response.url)
        return (parts.path == path and response.request.headers.get("hx-request") == "true"
                and parse_qs(parts.query).get("q", [""])[0] == text)

    with page.expect_response(partial) as info:
        box.fill(text)
    response = info.value
    assert response.status == 200, f"{response.url}: {response.status}"
    assert response.request.headers.get("hx-request") == "true"


def console_tour(page: Page, audit: PageAudit, live: LiveServer, code: str) -> None:
    visit(page, audit, live.url + "/dealers/")
    expect(heading(page)).to_have_text("販売店コンソール")
    expect(main(page)).to_contain_text(f"{DEALER_COMPANY}（販売店ID {code}）")
    rows = console_rows(page)
    expect(rows).to_have_count(20)
    expect(rows.first).to_contain_text("0P0000000024")   # newest link first
    expect(rows.first).to_contain_text("owner24@example.com")
    expect(main(page)).not_to_contain_text("0HID00000001")
    pager = main(page).get_by_role("navigation", name="ページ送り")
    expect(pager).to_contain_text("1 / 2 ページ（全25件）")
    expect(main(page).get_by_role("link", name=re.compile("^販売店情報"))).to_have_count(0)
    check(page, audit, "console")

    box = page.get_by_label("検索（メールアドレス、ゲートウェイIDまたは案件名）")
    search_htmx(page, box, "/dealers/", "owner07@")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("0P0000000007")
    expect(rows.first).to_contain_text("顧客 07")
    expect(pager).to_have_count(0)
    expect(page).to_have_url(re.compile(r"/dealers/\?q=owner07"))   # hx-push-url
    check(page, audit, "console-search-email")

    search_htmx(page, box, "/dealers/", "0p0000000013")   # any case
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("owner13@example.com")
    expect(rows.first).to_contain_text("現場13")
    check(page, audit, "console-search-gateway-id")

    search_htmx(page, box, "/dealers/", "nobody-at-all")
    expect(rows).to_have_count(0)
    expect(page.locator("#console-list")).to_contain_text(
        "指定の検索条件に該当するゲートウェイが見つかりませんでした。")
    check(page, audit, "console-search-none")

    search_htmx(page, box, "/dealers/", "")
    expect(rows).to_have_count(20)
    expect(pager).to_contain_text("1 / 2 ページ")
    pager.get_by_role("link", name="次へ").click()
    # keyset: the link carries the page it continues from (edge, from) besides its number
    expect(page).to_have_url(re.compile(re.escape(live.url) + r"/dealers/\?page=2(&|$)"))
    expect(rows).to_have_count(GATEWAYS - 20)
    expect(rows.first).to_contain_text("0P0000000004")
    expect(rows.last).to_contain_text("0P0000000000")
    expect(pager).to_contain_text("2 / 2 ページ（全25件）")
    expect(pager.get_by_role("link", name="前へ")).to_be_visible()
    expect(pager.get_by_role("link", name="次へ")).to_have_count(0)
    check(page, audit, "console-page-2")

    rows.last.get_by_role("link", name="0P0000000000").click()
    expect(page).to_have_url(live.url + "/dealers/gateways/0P0000000000")
    expect(heading(page)).to_have_text("ゲートウェイ 0P0000000000")
    for text in ("顧客 00", "owner00@example.com", "〒103-0026", "東京都 中央区 日本橋兜町2-1",
                 "GW-M001", "稼働中", "現場00", "541-0055", "SN00-01", "SN00-02",
                 "KPV-A55-J4"):
        expect(main(page)).to_contain_text(text)
    check(page, audit, "console-gateway")

    page.locator("nav.breadcrumb").get_by_role("link", name="販売店コンソール").click()
    expect(page).to_have_url(live.url + "/dealers/")
    expect(rows).to_have_count(20)

    visit(page, audit, live.url + "/dealers/gateways/0HID00000001", status=404)
    check(page, audit, "console-other-dealers-gateway-404")


def link_flow(page: Page, audit: PageAudit, live: LiveServer, code: str) -> None:
    visit(page, audit, live.url + "/dealers/my")
    expect(heading(page)).to_have_text("保守を任せる販売店様の管理")
    for gateway_id in (GATEWAY_ID, OTHER_GATEWAY_ID):
        expect(page.get_by_role("heading", level=2, name=re.compile(gateway_id))).to_be_visible()
    expect(main(page)).to_contain_text("保守を任せている販売店様はありません。")
    check(page, audit, "my")

    main(page).get_by_role("link", name=re.compile("^保守を任せる販売店様の登録")).click()
    expect(page).to_have_url(live.url + "/dealers/my/link")
    expect(heading(page)).to_have_text("保守を任せる販売店様の登録")
    check(page, audit, "link")

    page.locator("#gateway").select_option(GATEWAY_ID)
    page.locator("#dealer_code").fill(code)
    page.locator("#phone").fill("090-0000-0000")   # a wrong number first
    submit(page, audit, main(page).get_by_role("button", name="次に進む"), "/dealers/my/link",
           422)
    expect(page.get_by_role("alert")).to_have_text("販売店IDまたは電話番号が正しくありません")
    expect(page.locator("#gateway")).to_have_value(GATEWAY_ID)
    check(page, audit, "link-wrong-phone")

    page.locator("#phone").fill("090-9999-9999")
    submit(page, audit, main(page).get_by_role("button", name="次に進む"), "/dealers/my/link",
           200)
    expect(heading(page)).to_have_text("保守を任せる販売店様の登録確認")
    for text in (code, DEALER_COMPANY, GATEWAY_ID, "GW-M001", "9005PV01", "案件90051"):
        expect(main(page)).to_contain_text(text)
    assert in_db(live, lambda: links_of(GATEWAY_ID)) == 0
    check(page, audit, "link-confirm")

    submit(page, audit, main(page).get_by_role("button", name="登録する"), "/dealers/my/link",
           303)
    expect(page).to_have_url(live.url + "/dealers/my/link/done")
    expect(heading(page)).to_have_text("登録完了")
    expect(page.get_by_role("status")).to_contain_text(
        f"ゲートウェイ {GATEWAY_ID} の保守を {DEALER_COMPANY}（販売店ID {code}）に任せました。")
    assert in_db(live, lambda: links_of(GATEWAY_ID)) == 1
    assert in_db(live, lambda: len(outbox("maint1@dealer1.example", "dealer_linked"))) == 1
    check(page, audit, "link-done")

    main(page).get_by_role("link", name="保守を任せる販売店様の管理へ戻る").click()
    expect(page).to_have_url(live.url + "/dealers/my")
    section = main(page).locator("section", has=page.get_by_role(
        "heading", level=2, name=re.compile(GATEWAY_ID)))
    row = section.locator("tbody tr")
    expect(row).to_have_count(1)
    for text in (code, DEALER_COMPANY, DEALER_PHONE_SHOWN):
        expect(row).to_contain_text(text)
    check(page, audit, "my-linked")


def unlink_flow(page: Page, audit: PageAudit, live: LiveServer, code: str) -> None:
    main(page).get_by_role("link", name=re.compile("^保守を任せている販売店様の解除")).click()
    expect(page).to_have_url(live.url + "/dealers/my/unlink")
    expect(heading(page)).to_have_text("保守を任せている販売店様を解除するゲートウェイの検索")
    listing = page.locator("#owner-gateway-list tbody tr")
    expect(listing).to_have_count(2)
    check(page, audit, "unlink-search")

    box = page.get_by_label("検索（ゲートウェイIDまたは案件名）")
    search_htmx(page, box, "/dealers/my/unlink", "案件9005")
    expect(listing).to_have_count(1)
    expect(listing.first).to_contain_text(GATEWAY_ID)
    check(page, audit, "unlink-search-site")

    listing.first.get_by_role("link", name=GATEWAY_ID).click()
    expect(page).to_have_url(live.url + f"/dealers/my/unlink/{GATEWAY_ID}")
    expect(heading(page)).to_have_text("保守を任せている販売店様の解除")
    dealers = main(page).locator("tbody tr")
    expect(dealers).to_have_count(1)
    expect(dealers.first).to_contain_text(DEALER_COMPANY)
    check(page, audit, "unlink-pick")

    dealers.first.get_by_role("link", name=code).click()
    expect(page).to_have_url(live.url + f"/dealers/my/unlink/{GATEWAY_ID}/{code}")
    expect(heading(page)).to_have_text("保守を任せている販売店様の解除確認")
    for text in (code, DEALER_COMPANY, DEALER_PHONE_SHOWN, GATEWAY_ID, "9005PV02", "541-0055"):
        expect(main(page)).to_contain_text(text)
    check(page, audit, "unlink-confirm")

    submit(page, audit, main(page).get_by_role("button", name="解除"),
           f"/dealers/my/unlink/{GATEWAY_ID}/{code}", 303)
    expect(page).to_have_url(live.url + "/dealers/my/unlink/done")
    expect(heading(page)).to_have_text("解除完了")
    expect(page.get_by_role("status")).to_contain_text(
        f"{DEALER_COMPANY}（販売店ID {code}）によるゲートウェイ {GATEWAY_ID} の保守を解除しました。")
    assert in_db(live, lambda: links_of(GATEWAY_ID)) == 0
    assert in_db(live, lambda: len(outbox("maint1@dealer1.example", "dealer_unlinked"))) == 1
    check(page, audit, "unlink-done")

    main(page).get_by_role("link", name="保守を任せる販売店様の管理へ戻る").click()
    expect(page).to_have_url(live.url + "/dealers/my")
    expect(main(page).locator("tbody tr")).to_have_count(0)
    expect(main(page)).not_to_contain_text(DEALER_COMPANY)
    check(page, audit, "my-unlinked")


# -- the tests ---------------------------------------------------------------------------
def test_company_admin_becomes_a_dealer(live_server, open_page):
    """販売店登録 at phone size: the console refuses (403) and leads to the form; a wrong
    phone number is refused next to its field; then the 販売店ID is shown."""
    in_db(live_server, lambda: make_company(3))
    admin = Person("admin3@dealer3.example", "佐藤", "花子")
    page, audit = open_page("phone")
    sign_in(page, audit, live_server, admin, PASSWORD)
    visit(page, audit, live_server.url + "/dealers/", status=403)
    expect(heading(page)).to_have_text("販売店コンソール")
    check(page, audit, "not-a-dealer")

    main(page).get_by_role("link", name="販売店として登録する").click()
    expect(page).to_have_url(live_server.url + "/dealers/register")
    expect(heading(page)).to_have_text("販売店登録")
    check(page, audit, "register")

    page.locator("#phone").fill("12345")
    submit(page, audit, main(page).get_by_role("button", name="販売店として登録する"),
           "/dealers/register", 422)
    expect(page.locator("#phone")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#phone-field .field-error")).to_be_visible()
    check(page, audit, "register-wrong-phone")

    page.locator("#phone").fill("03-1234-5678")
    page.locator("#contact_1").fill("maint@dealer3.example")
    submit(page, audit, main(page).get_by_role("button", name="販売店として登録する"),
           "/dealers/register", 303)
    expect(page).to_have_url(live_server.url + "/dealers/register")
    expect(page.get_by_role("status")).to_contain_text("販売店として登録しました")
    card = main(page).locator("section", has=page.get_by_role(
        "heading", name="お客様にお伝えいただく ID と電話番号"))
    expect(card).to_contain_text("4001")
    expect(card).to_contain_text("03-1234-5678")
    expect(page.locator("#contact_1")).to_have_value("maint@dealer3.example")
    check(page, audit, "register-done")

    card.get_by_role("link", name="販売店コンソールへ").click()
    expect(page).to_have_url(live_server.url + "/dealers/")
    expect(main(page)).to_contain_text("保守を任されているゲートウェイはまだありません。")
    expect(main(page).get_by_role("link", name=re.compile("^販売店情報"))).to_be_visible()
    check(page, audit, "console-empty")


def test_dealer_console(live_server, open_page):
    code = in_db(live_server, console_data)
    page, audit = open_page("desktop")
    sign_in(page, audit, live_server, EMPLOYEE, PASSWORD)
    expect(page).to_have_url(live_server.url + "/")
    console_tour(page, audit, live_server, code)


def test_owner_links_and_unlinks_a_dealer(live_server, open_page):
    code = in_db(live_server, owner_data)
    page, audit = open_page("phone")
    sign_in(page, audit, live_server, OWNER, PASSWORD)
    expect(page).to_have_url(live_server.url + "/")
    link_flow(page, audit, live_server, code)
    unlink_flow(page, audit, live_server, code)
