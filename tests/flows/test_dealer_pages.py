"""Dealer pages through the test client: an owner links a dealer (販売店ID + 電話番号 →
confirmation → 登録完了) and unlinks one (search → gateway → dealer → confirmation → 解除);
a company administrator becomes a dealer; the dealer console lists, searches, pages and
shows only the gateways entrusted to the viewer's company."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from blueprints.dealers.services import become_dealer, link_dealer
from models import db, utcnow
from models.account import Account, AccountType, CompanyRole
from models.gateway import DealerLink, GatewayStatus, PcsUnit
from tests.conftest import csrf_from
from tests.flows.test_dealer_links import (_password_hash, make_company, make_dealer,
                                           make_gateway, make_owner)
from tests.helpers import HX, login, outbox

WRONG = "販売店IDまたは電話番号が正しくありません"
LIMIT = "1台のゲートウェイに登録できる販売店は5社までです"
BAD_INPUTS = ["\x00", "x" * 10_000, "😀🏠☀️", "<script>alert(1)</script>", "'; DROP TABLE x; --"]


def _links() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(DealerLink))


def _text(response) -> str:
    return response.get_data(as_text=True)


def _member(company, email="member@dealer1.example") -> Account:
    now = utcnow()
    account = Account(email=email, password_hash=_password_hash(), family_name="鈴木",
                      given_name="一郎", account_type=AccountType.COMMERCIAL,
                      company_role=CompanyRole.MEMBER, company_id=company.id,
                      activated_at=now, terms_accepted_at=now, privacy_accepted_at=now)
    db.session.add(account)
    db.session.commit()
    return account


def _with_units(gateway):
    gateway.first_report_at = utcnow()
    db.session.add_all([PcsUnit(gateway_id=gateway.id, unit_no=1, model="KPV-A55-J4",
                                serial="9005PV01"),
                        PcsUnit(gateway_id=gateway.id, unit_no=2, model="KPV-A55-J4",
                                serial="9005PV02")])
    db.session.commit()
    return gateway


def _post_link(client, data, url="/dealers/my/link"):
    token = csrf_from(_text(client.get("/dealers/my/link")))
    return client.post(url, data={**data, "csrf_token": token})


@pytest.fixture
def owner_client(app, client):
    owner = make_owner()
    gateway = make_gateway(owner)
    login(client, "owner@example.com")
    return client, owner, gateway


# -- owner: link -----------------------------------------------------------------------
def test_link_flow_end_to_end(owner_client):
    client, owner, gateway = owner_client
    dealer = make_dealer(1, phone="09099999999")
    page = client.get("/dealers/my")
    assert page.status_code == 200 and "01AB12345678" in _text(page)
    form = client.get("/dealers/my/link?gateway=01AB12345678")
    assert '<option selected value="01AB12345678">' in _text(form)
    entry = {"gateway": "01AB12345678", "dealer_code": "４００１", "phone": "090-9999-9999"}
    confirm = _post_link(client, entry)
    assert confirm.status_code == 200
    body = _text(confirm)
    assert "販売店1株式会社" in body and "4001" in body and "01AB12345678" in body
    assert "登録する" in body and _links() == 0
    # 前に戻る keeps the values and links nothing.
    back = client.post("/dealers/my/link", data={**entry, "step": "confirm", "back": "1",
                                                 "csrf_token": csrf_from(body)})
    assert back.status_code == 200 and 'value="090-9999-9999"' in _text(back)
    assert 'value="4001"' in _text(back)
    assert _links() == 0
    final = client.post("/dealers/my/link", data={
        "csrf_token": csrf_from(body), "step": "confirm", "register": "1",
        **{name: re.search(rf'name="{name}" value="([^"]*)"', body).group(1)
           for name in ("gateway", "dealer_code", "phone")}})
    assert final.status_code == 303 and final.headers["Location"].endswith("/my/link/done")
    done = client.get("/dealers/my/link/done")
    assert "登録完了" in _text(done) and "販売店1株式会社" in _text(done)
    assert _links() == 1
    assert len(outbox("maint1@dealer1.example", "dealer_linked")) == 1
    listing = _text(client.get("/dealers/my"))
    assert "販売店1株式会社" in listing and "090-9999-9999" in listing
    assert dealer.dealer_code in listing


def test_final_post_rechecks_everything(owner_client):
    client, owner, gateway = owner_client
    make_dealer(1, phone="09099999999")
    token = csrf_from(_text(client.get("/dealers/my/link")))
    forged = client.post("/dealers/my/link", data={
        "csrf_token": token, "step": "confirm", "register": "1", "gateway": "01AB12345678",
        "dealer_code": "4001", "phone": "09000000000"})
    assert forged.status_code == 422 and WRONG in _text(forged) and _links() == 0


@pytest.mark.parametrize("code, phone", [("4001", "09011112222"), ("4999", "09099999999"),
                                         ("", "09099999999"), ("4001", "")])
def test_wrong_phone_or_id_gives_one_message(owner_client, code, phone):
    client, _owner, _gateway = owner_client
    make_dealer(1, phone="09099999999")
    response = _post_link(client, {"gateway": "01AB12345678", "dealer_code": code,
                                   "phone": phone})
    assert response.status_code == 422 and _links() == 0
    if code and phone:
        assert WRONG in _text(response)


def test_already_linked_and_limit_reached(owner_client):
    client, owner, gateway = owner_client
    for n in range(1, 6):
        assert link_dealer(owner, gateway, make_dealer(n).dealer_code, f"0901234{n:04d}").value \
            == "linked"
    sixth = make_dealer(6)
    again = _post_link(client, {"gateway": "01AB12345678", "dealer_code": "4001",
                                "phone": "09012340001"})
    assert again.status_code == 422 and "すでにこのゲートウェイに登録されています" in _text(again)
    full = _post_link(client, {"gateway": "01AB12345678", "dealer_code": sixth.dealer_code,
                               "phone": "09012340006"})
    assert full.status_code == 422 and LIMIT in _text(full) and _links() == 5


def test_another_owners_gateway_is_404_on_link(owner_client):
    client, _owner, _gateway = owner_client
    stranger = make_owner("other@example.com")
    make_gateway(stranger, gateway_id="99ZZ00000001")
    make_dealer(1)
    assert client.get("/dealers/my/link?gateway=99ZZ00000001").status_code == 404
    response = _post_link(client, {"gateway": "99ZZ00000001", "dealer_code": "4001",
                                   "phone": "09012340001"})
    assert response.status_code == 404 and _links() == 0
    token = csrf_from(_text(client.get("/dealers/my/link")))
    forged = client.post("/dealers/my/link", data={
        "csrf_token": token, "step": "confirm", "register": "1", "gateway": "99ZZ00000001",
        "dealer_code": "4001", "phone": "09012340001"})
    assert forged.status_code == 404 and _links() == 0
    assert "99ZZ00000001" not in _text(client.get("/dealers/my"))


def test_link_post_needs_csrf(owner_client):
    client, _owner, _gateway = owner_client
    make_dealer(1)
    response = client.post("/dealers/my/link", data={
        "gateway": "01AB12345678", "dealer_code": "4001", "phone": "09012340001",
        "step": "confirm", "register": "1"})
    assert response.status_code == 400 and _links() == 0


def test_link_posts_are_rate_limited(owner_client):
    client, _owner, _gateway = owner_client
    statuses = []
    # 21 posts cannot all fit in two fixed one-minute windows of 10.
    while len(statuses) < 21 and 429 not in statuses:
        statuses.append(_post_link(client, {"gateway": "01AB12345678", "dealer_code": "4001",
                                            "phone": "0900000000"}).status_code)
    assert statuses[-1] == 429 and set(statuses[:-1]) == {422} and len(statuses) >= 11


# -- owner: unlink ---------------------------------------------------------------------
def test_unlink_flow_with_confirmation(owner_client):
    client, owner, gateway = owner_client
    _with_units(gateway)
    make_gateway(owner, gateway_id="02CD00000002", site="別荘")
    dealer = make_dealer(1, phone="09099999999")
    link_dealer(owner, gateway, "4001", "09099999999")
    search = client.get("/dealers/my/unlink")
    assert "01AB12345678" in _text(search) and "02CD00000002" in _text(search)
    by_site = client.get("/dealers/my/unlink?q=案件9005", headers=HX)
    assert _text(by_site).lstrip().startswith('<div id="owner-gateway-list">')
    assert "01AB12345678" in _text(by_site) and "02CD00000002" not in _text(by_site)
    by_id = _text(client.get("/dealers/my/unlink?q=02cd"))
    assert "02CD00000002" in by_id and 'href="/dealers/my/unlink/01AB12345678"' not in by_id
    pick = _text(client.get("/dealers/my/unlink/01AB12345678"))
    assert "販売店1株式会社" in pick and "/dealers/my/unlink/01AB12345678/4001" in pick
    confirm = client.get("/dealers/my/unlink/01AB12345678/4001")
    body = _text(confirm)
    for expected in ("4001", "販売店1株式会社", "090-9999-9999", "01AB12345678", "GW-M001",
                     "9005PV01", "9005PV02", "KPV-A55-J4", "初回通信日時", "案件90051",
                     "541-0055", "大阪府 大阪市中央区 船場中央1-4-5", "解除"):
        assert expected in body, expected
    response = client.post("/dealers/my/unlink/01AB12345678/4001",
                           data={"csrf_token": csrf_from(body)})
    assert response.status_code == 303
    assert "解除完了" in _text(client.get(response.headers["Location"]))
    assert _links() == 0
    assert len(outbox("maint1@dealer1.example", "dealer_unlinked")) == 1
    assert client.get("/dealers/my/unlink/01AB12345678/4001").status_code == 404
    assert dealer.dealer_code == "4001"


def test_unlink_of_another_owners_gateway_or_unlinked_dealer_is_404(owner_client):
    client, owner, gateway = owner_client
    stranger = make_owner("other@example.com")
    theirs = make_gateway(stranger, gateway_id="99ZZ00000001")
    make_dealer(1)
    make_dealer(2)
    link_dealer(stranger, theirs, "4001", "09012340001")
    link_dealer(owner, gateway, "4001", "09012340001")
    assert client.get("/dealers/my/unlink/99ZZ00000001").status_code == 404
    assert client.get("/dealers/my/unlink/99ZZ00000001/4001").status_code == 404
    assert client.get("/dealers/my/unlink/01AB12345678/4002").status_code == 404
    token = csrf_from(_text(client.get("/dealers/my/unlink/01AB12345678/4001")))
    assert client.post("/dealers/my/unlink/99ZZ00000001/4001",
                       data={"csrf_token": token}).status_code == 404
    assert "99ZZ00000001" not in _text(client.get("/dealers/my/unlink"))
    assert _links() == 2


# -- becoming a dealer -----------------------------------------------------------------
def test_company_admin_becomes_a_dealer_and_updates(app, client):
    make_company(1)
    login(client, "admin1@dealer1.example")
    assert client.get("/dealers/").status_code == 403
    assert "/dealers/register" in _text(client.get("/dealers/"))
    page = client.get("/dealers/register")
    assert page.status_code == 200
    bad = client.post("/dealers/register", data={"csrf_token": csrf_from(_text(page)),
                                                  "phone": "12345", "contact_1": "nope"})
    assert bad.status_code == 422
    response = client.post("/dealers/register", data={
        "csrf_token": csrf_from(_text(page)), "phone": "03-1234-5678",
        "contact_1": "maint@dealer1.example", "contact_2": "", "contact_3": ""})
    assert response.status_code == 303
    shown = _text(client.get("/dealers/register"))
    assert "お客様にお伝えいただく ID と電話番号" in shown and "4001" in shown
    assert "0312345678" in shown and 'value="maint@dealer1.example"' in shown
    client.post("/dealers/register", data={"csrf_token": csrf_from(shown),
                                           "phone": "090-1111-2222",
                                           "contact_1": "a@dealer1.example",
                                           "contact_2": "b@dealer1.example"})
    shown = _text(client.get("/dealers/register"))
    assert "4001" in shown and "090-1111-2222" in shown and "b@dealer1.example" in shown
    assert client.get("/dealers/").status_code == 200


def test_member_and_personal_account_cannot_become_a_dealer(app, client):
    company = make_company(1)
    _member(company)
    make_owner()
    login(client, "member@dealer1.example")
    refused = client.get("/dealers/register")
    assert refused.status_code == 403 and "管理者のみ" in _text(refused)
    token = csrf_from(_text(client.get("/account/settings/personal")))
    assert client.post("/dealers/register", data={"csrf_token": token,
                                                  "phone": "0312345678"}).status_code == 403
    console = client.get("/dealers/")
    assert console.status_code == 403 and "/dealers/register" not in _text(console)
    client.post("/account/logout", data={"csrf_token": token})
    login(client, "owner@example.com")
    assert client.get("/dealers/register").status_code == 404
    assert client.get("/dealers/").status_code == 403
    assert client.get("/dealers/gateways/01AB12345678").status_code == 403


def test_pages_need_sign_in(client):
    for url in ("/dealers/", "/dealers/my", "/dealers/my/link", "/dealers/my/unlink",
                "/dealers/register", "/dealers/gateways/01AB12345678"):
        response = client.get(url)
        assert response.status_code in (302, 401), url


# -- dealer console --------------------------------------------------------------------
def _console_setup():
    dealer = make_dealer(1)
    other = make_dealer(2)
    alice = make_owner("alice@example.com", "有田", "愛")
    bob = make_owner("bob@example.com", "坂本", "慎")
    a1 = _with_units(make_gateway(alice, gateway_id="0AAA00000001", site="有田邸"))
    b1 = make_gateway(bob, gateway_id="0BBB00000001", site="坂本倉庫",
                      status=GatewayStatus.PROVISIONAL)
    hidden = make_gateway(bob, gateway_id="0CCC00000001", site="非公開")
    link_dealer(alice, a1, dealer.dealer_code, dealer.phone)
    link_dealer(bob, b1, dealer.dealer_code, dealer.phone)
    link_dealer(bob, hidden, other.dealer_code, other.phone)
    return dealer, other


def test_console_lists_only_linked_gateways_for_every_employee(app, client):
    dealer, _other = _console_setup()
    _member(dealer_company_of(dealer))
    login(client, "member@dealer1.example")
    page = client.get("/dealers/")
    body = _text(page)
    assert page.status_code == 200
    assert "0AAA00000001" in body and "0BBB00000001" in body and "0CCC00000001" not in body
    assert "alice@example.com" in body and "有田 愛" in body and "有田邸" in body
    assert "仮登録" in body and "稼働中" in body
    detail = client.get("/dealers/gateways/0AAA00000001")
    text = _text(detail)
    assert detail.status_code == 200
    for expected in ("有田 愛", "alice@example.com", "〒103-0026", "東京都 中央区 日本橋兜町2-1",
                     "GW-M001", "稼働中", "初回通信日時", "有田邸", "541-0055",
                     "9005PV01", "KPV-A55-J4"):
        assert expected in text, expected
    assert client.get("/dealers/gateways/0CCC00000001").status_code == 404
    assert client.get("/dealers/gateways/NOSUCHGATEWY").status_code == 404


def dealer_company_of(dealer):
    from blueprints.dealers.services import dealer_company

    return dealer_company(dealer)


def test_unlinked_dealer_sees_none(app, client):
    _console_setup()
    become_dealer(make_company(3), "0312340003", [])
    login(client, "admin3@dealer3.example")
    body = _text(client.get("/dealers/"))
    assert "保守を任されているゲートウェイはまだありません" in body
    assert "0AAA00000001" not in body
    assert client.get("/dealers/gateways/0AAA00000001").status_code == 404


@pytest.mark.parametrize("query, found, missing", [
    ("ALICE@example", "0AAA00000001", "0BBB00000001"),
    ("0bbb", "0BBB00000001", "0AAA00000001"),
    ("０ＢＢＢ", "0BBB00000001", "0AAA00000001"),
    ("坂本倉庫", "0BBB00000001", "0AAA00000001"),
])
def test_console_search(app, client, query, found, missing):
    _console_setup()
    login(client, "admin1@dealer1.example")
    plain = _text(client.get("/dealers/", query_string={"q": query}))
    assert found in plain and missing not in plain and "<html" in plain
    partial = client.get("/dealers/", query_string={"q": query}, headers=HX)
    text = _text(partial)
    assert text.lstrip().startswith('<div id="console-list">') and "<html" not in text
    assert found in text and missing not in text
    assert "HX-Request" in partial.headers.get("Vary", "")
    none = _text(client.get("/dealers/", query_string={"q": "nobody-at-all"}, headers=HX))
    assert "見つかりませんでした" in none


def test_console_search_box_is_htmx_ready(app, client):
    _console_setup()
    login(client, "admin1@dealer1.example")
    body = _text(client.get("/dealers/"))
    assert 'hx-get="/dealers/"' in body and 'hx-target="#console-list"' in body
    assert 'hx-push-url="true"' in body and "input changed delay:300ms, search" in body
    assert '<label for="q">' in body


def test_console_pagination(app, client):
    dealer = make_dealer(1)
    for n in range(45):
        owner = make_owner(f"owner{n:02d}@example.com")
        gateway = make_gateway(owner, gateway_id=f"0P{n:010d}", site=f"現場{n:02d}")
        link_dealer(owner, gateway, dealer.dealer_code, dealer.phone)
    login(client, "admin1@dealer1.example")
    first = _text(client.get("/dealers/"))
    assert first.count('href="/dealers/gateways/') == 20
    assert "/dealers/?page=2" in first and "1 / 3" in first
    third = _text(client.get("/dealers/?page=3"))
    assert third.count('href="/dealers/gateways/') == 5 and "page=2" in third
    filtered = _text(client.get("/dealers/?q=owner0&page=1"))
    assert filtered.count('href="/dealers/gateways/') == 10
    assert "page=" not in filtered.split('id="console-list"')[1]
    search_paged = _text(client.get("/dealers/?q=example.com&page=2"))
    assert "q=example.com" in search_paged and "page=3" in search_paged
    for page in ("0", "-1", "abc", "99999999999999", "９"):
        assert client.get(f"/dealers/?page={page}").status_code == 200


# -- hostile input ---------------------------------------------------------------------
@pytest.mark.parametrize("value", BAD_INPUTS)
def test_bad_input_never_fails(owner_client, value):
    client, _owner, _gateway = owner_client
    make_dealer(1)
    for data in ({"gateway": value, "dealer_code": "4001", "phone": "09012340001"},
                 {"gateway": "01AB12345678", "dealer_code": value, "phone": "09012340001"},
                 {"gateway": "01AB12345678", "dealer_code": "4001", "phone": value}):
        response = _post_link(client, data)
        assert response.status_code in (404, 422), data
    assert _links() == 0
    for url in ("/dealers/my/unlink", "/dealers/"):
        assert client.get(url, query_string={"q": value}).status_code < 500
        assert client.get(url, query_string={"q": value}, headers=HX).status_code < 500
    assert client.get("/dealers/my/link", query_string={"gateway": value}).status_code == 404
    for url in ("/dealers/my/unlink/{}", "/dealers/my/unlink/01AB12345678/{}",
                "/dealers/gateways/{}"):
        assert client.get(url.format(value[:2000])).status_code in (403, 404)


@pytest.mark.parametrize("value", BAD_INPUTS)
def test_bad_input_in_dealer_registration(app, client, value):
    make_company(1)
    login(client, "admin1@dealer1.example")
    token = csrf_from(_text(client.get("/dealers/register")))
    for data in ({"phone": value}, {"phone": "0312345678", "contact_1": value},
                 {"phone": "0312345678", "contact_3": value}):
        response = client.post("/dealers/register", data={**data, "csrf_token": token})
        assert response.status_code == 422, data


def test_launcher_offers_dealer_pages_to_the_right_accounts(app, client):
    """A company admin is offered to become a dealer, a dealer's people get the console,
    a personal owner gets neither."""
    make_owner()
    login(client, "owner@example.com")
    home = _text(client.get("/"))
    assert 'href="/dealers/"' not in home and 'href="/dealers/register"' not in home
    company = make_company(1)
    admin = app.test_client()
    login(admin, "admin1@dealer1.example")
    admin_home = _text(admin.get("/"))
    assert 'href="/dealers/register"' in admin_home and 'href="/dealers/"' not in admin_home
    become_dealer(company, "0312345678")
    admin_home = _text(admin.get("/"))
    assert 'href="/dealers/"' in admin_home and 'href="/dealers/register"' not in admin_home


def test_demo_company_is_a_dealer_owners_can_link(app):
    """`make run` seeds a dealer an owner can link with the README's ID and phone."""
    from blueprints.core.registry import seed_demo as seed_demo_data
    from models.gateway import Dealer

    seed_demo_data()
    seed_demo_data()
    [dealer] = db.session.scalars(select(Dealer)).all()
    assert (dealer.dealer_code, dealer.phone) == ("4001", "0312345678")
