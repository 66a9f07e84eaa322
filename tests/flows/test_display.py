"""What pages show, through the test client: phone numbers written with hyphens wherever
they appear (also in a form shown again after 「別の電話を追加」), every cell of a table
that stacks on phones naming its column, the same-address choice of registration STEP2
wrapping the 設置先住所 block it hides, and the monitoring legend saying what 自家消費
counts. The layout itself (at 360x740) is checked in tests/browser/test_browser_phone.py."""
from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

from sqlalchemy import select

from blueprints.dealers.services import link_dealer
from models import db, utcnow
from blueprints.core.staff import SLIPS
from models.account import Account, AccountType, Company, CompanyRole
from tests.conftest import csrf_from, page_token
from tests.flows.test_dealer_links import make_dealer, make_gateway, make_owner
from tests.flows.test_monitoring_registration import TERMS, slip, step
from tests.flows.test_slips import make_account
from tests.helpers import make_staff
from tests.helpers import (COMMERCIAL_DETAILS, HX, NAME_STEP, add_units, login, post_step,
                           reading, signed_up_and_active, slot_end)

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def text_of(response) -> str:
    return response.get_data(as_text=True)


def input_value(html: str, name: str) -> str:
    match = re.search(rf'<input[^>]*name="{re.escape(name)}"[^>]*>', html)
    assert match, f"no input {name}"
    value = re.search(r'value="([^"]*)"', match.group(0))
    return value.group(1) if value else ""


def speaks_english(email: str) -> None:
    account = db.session.scalar(select(Account).where(Account.email == email))
    account.language = "en"
    db.session.commit()


# -- phone numbers ---------------------------------------------------------------------
def test_settings_show_phones_with_hyphens_also_after_adding_another(client):
    signed_up_and_active(client)  # phone typed as 090-1234-5678, stored as digits
    login(client)
    page = text_of(client.get("/account/settings/personal"))
    assert input_value(page, "phones-0-number") == "090-1234-5678"

    token = csrf_from(page)
    added = client.post("/account/settings/personal", data={
        "csrf_token": token, "family_name": "山田", "given_name": "太郎",
        "phones-0-kind": "mobile", "phones-0-number": "09012345678",
        "department": "", "position": "", "language": "ja",
        "address-postal_code": "103-0026", "address-prefecture": "東京都",
        "address-city": "中央区", "address-street": "日本橋兜町1-2-3", "address-building": "", "add_phone": "1"})
    assert added.status_code == 200
    body = text_of(added)
    assert input_value(body, "phones-0-number") == "090-1234-5678"
    assert input_value(body, "phones-1-number") == ""

    saved = client.post("/account/settings/personal", data={
        "csrf_token": token, "family_name": "山田", "given_name": "太郎",
        "phones-0-kind": "mobile", "phones-0-number": "09012345678",
        "phones-1-kind": "landline", "phones-1-number": "0312345678",
        "department": "", "position": "", "language": "ja",
        "address-postal_code": "103-0026", "address-prefecture": "東京都",
        "address-city": "中央区", "address-street": "日本橋兜町1-2-3", "address-building": ""})
    assert saved.status_code == 303
    page = text_of(client.get("/account/settings/personal"))
    assert input_value(page, "phones-1-number") == "03-1234-5678"


def test_signup_keeps_phones_readable_after_adding_another(client):
    post_step(client, "name", NAME_STEP)
    post_step(client, "type", {"account_type": "commercial"})
    for htmx in (False, True):
        response = post_step(client, "details", {
            **COMMERCIAL_DETAILS, "phones-0-number": "０８０－１１１１－２２２２",
            "company_phone": "0312345678", "add_phone": "1"}, htmx=htmx)
        assert response.status_code == 200
        body = text_of(response)
        assert input_value(body, "phones-0-number") == "080-1111-2222"
        assert input_value(body, "company_phone") == "03-1234-5678"
        assert 'name="phones-1-number"' in body
    # A number that is not valid stays as it was typed, next to its message.
    wrong = post_step(client, "details", {**COMMERCIAL_DETAILS, "phones-0-number": "090-12"})
    assert wrong.status_code == 422
    assert input_value(text_of(wrong), "phones-0-number") == "090-12"
    assert "電話番号は市外局番から数字で入力してください" in text_of(wrong)


def test_phones_are_shown_with_hyphens_on_pages(client):
    owner = make_owner()
    gateway = make_gateway(owner)
    dealer = make_dealer(1, phone="0312345678")
    link_dealer(owner, gateway, dealer.dealer_code, "0312345678")
    company = db.session.get(Company, dealer.company_id)
    member = Account(email="member@dealer1.example", password_hash=owner.password_hash,
                     family_name="鈴木", given_name="一郎", account_type=AccountType.COMMERCIAL,
                     company_role=CompanyRole.MEMBER, company_id=company.id,
                     activated_at=utcnow(), terms_accepted_at=utcnow(),
                     privacy_accepted_at=utcnow())
    db.session.add(member)
    db.session.commit()

    login(client, "owner@example.com")
    for url in ("/dealers/my", f"/dealers/my/unlink/{gateway.gateway_id}",
                f"/dealers/my/unlink/{gateway.gateway_id}/{dealer.dealer_code}"):
        page = text_of(client.get(url))
        assert "03-1234-5678" in page and "0312345678" not in page, url
    client.post("/account/logout", data={"csrf_token": page_token(client, "/dealers/my")})

    login(client, "member@dealer1.example")
    page = text_of(client.get("/account/settings/company"))
    assert company.phone == "0312345678" and "03-1234-5678" in page


def test_registration_confirm_shows_the_phone_with_hyphens(client):
    from tests.flows.test_monitoring_registration import DETAILS

    slip()
    step(client, "terms", TERMS)
    step(client, "details", {**DETAILS, "phone": "０９０１２３４５６７８"})
    page = text_of(client.get("/monitoring/register/confirm"))
    assert "090-1234-5678" in page and "09012345678" not in page
    back = text_of(client.get("/monitoring/register/details"))
    assert input_value(back, "phone") == "090-1234-5678"


# -- tables that stack on phones ---------------------------------------------------------
class _StackedTables(HTMLParser):
    """Each `<table class="table">`: its column headings (visible text) and, per body
    row, each cell's data-label (None without one)."""

    def __init__(self):
        super().__init__()
        self.tables: list[dict] = []
        self._table = None
        self._in_head = self._in_th = False
        self._hidden_depth = 0
        self._row = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and "table" in (attrs.get("class") or "").split():
            self._table = {"headings": [], "rows": []}
            self.tables.append(self._table)
        if self._table is None:
            return
        if tag == "thead":
            self._in_head = True
        elif tag == "th" and self._in_head:
            self._in_th = True
            self._table["headings"].append("")
        elif tag == "span" and self._in_th:
            if self._hidden_depth or "visually-hidden" in (attrs.get("class") or ""):
                self._hidden_depth += 1
        elif tag == "tr" and not self._in_head:
            self._row = []
            self._table["rows"].append(self._row)
        elif tag == "td" and self._row is not None:
            self._row.append(attrs.get("data-label"))

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        elif tag == "thead":
            self._in_head = False
        elif tag == "th":
            self._in_th = False
        elif tag == "span" and self._hidden_depth:
            self._hidden_depth -= 1

    def handle_data(self, data):
        if self._in_th and not self._hidden_depth and self._table is not None:
            self._table["headings"][-1] += data.strip()


def assert_cells_labelled(html: str, where: str) -> int:
    """Every body cell of every stacked table is labelled with its column's heading
    (a column whose heading is only for screen readers, such as 操作, has none).
    Returns how many tables were checked."""
    parser = _StackedTables()
    parser.feed(html)
    assert parser.tables, f"{where}: no stacked table"
    for table in parser.tables:
        assert table["rows"], f"{where}: a table without rows"
        for row in table["rows"]:
            expected = [heading or None for heading in table["headings"]]
            assert row == expected, f"{where}: cells {row}, headings {table['headings']}"
    return len(parser.tables)


def test_every_stacked_table_template_labels_its_cells():
    """A table added later without labels is caught here: in each template with a
    stacked table, only the columns without a visible heading have unlabelled cells."""
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        source = path.read_text(encoding="utf-8")
        if 'class="table"' not in source:
            continue
        found.append(path.relative_to(TEMPLATES).as_posix())
        unlabelled = len(re.findall(r"<td(?![^>]*data-label)[^>]*>", source))
        unseen_headings = len(re.findall(r'<th[^>]*><span class="visually-hidden">', source))
        assert unlabelled <= unseen_headings, path
    assert len(found) >= 10, found


def test_owner_pages_label_every_stacked_cell(client):
    owner = make_owner()
    gateway = make_gateway(owner)
    add_units(gateway, 2)
    dealer = make_dealer(1, phone="0312345678")
    link_dealer(owner, gateway, dealer.dealer_code, "0312345678")
    login(client, "owner@example.com")
    pages = ("/monitoring/", f"/monitoring/gateways/{gateway.gateway_id}", "/dealers/my",
             "/dealers/my/unlink", f"/dealers/my/unlink/{gateway.gateway_id}")
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_cells_labelled(text_of(response), url)
    menu = text_of(client.get("/monitoring/"))
    assert f'<td data-label="ゲートウェイID">{gateway.gateway_id}</td>' in menu
    partial = client.get("/dealers/my/unlink", query_string={"q": "案件"}, headers=HX)
    assert_cells_labelled(text_of(partial), "unlink search partial")


def test_dealer_console_and_employee_list_label_every_stacked_cell(client):
    owner = make_owner()
    gateway = make_gateway(owner)
    add_units(gateway, 1)
    dealer = make_dealer(1, phone="0312345678")
    link_dealer(owner, gateway, dealer.dealer_code, "0312345678")
    login(client, "admin1@dealer1.example")
    for url in ("/dealers/", f"/dealers/gateways/{gateway.gateway_id}",
                "/account/settings/employees"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_cells_labelled(text_of(response), url)
    speaks_english("admin1@dealer1.example")
    english = text_of(client.get("/account/settings/employees"))
    assert 'data-label="Name"' in english or 'lang="en"' not in english
    assert_cells_labelled(english, "employees (en)")


def test_staff_slips_and_dev_mailbox_label_every_stacked_cell(make_app):
    app = make_app(DEV_MAILBOX=True)
    with app.app_context():
        client = app.test_client()
        make_staff(make_account("staff@example.com"), SLIPS)
        login(client, "staff@example.com")
        token = page_token(client, "/staff/gateways/slips")
        printed = client.post("/staff/gateways/slips", data={"csrf_token": token, "count": "2",
                                                    "model": "GW-M001", "pcs": "1"})
        assert printed.status_code == 200
        assert_cells_labelled(text_of(printed), "slips printed")
        client.post("/account/logout", data={"csrf_token": token})
        signed_up_and_active(client, email="mailbox@example.com")
        from mail.relay import deliver_pending

        deliver_pending()
        mailbox = client.get("/dev/mail")
        assert mailbox.status_code == 200
        assert_cells_labelled(text_of(mailbox), "dev mailbox")


# -- registration STEP2: the same address ------------------------------------------------
def test_same_address_choice_wraps_the_block_it_hides(client):
    slip()
    step(client, "terms", TERMS)
    for headers in ({}, HX):
        page = text_of(client.get("/monitoring/register/details", headers=headers))
        choice = page.split('class="site-address-choice" data-same-address', 1)
        assert len(choice) == 2, "the choice and the block share one container"
        inside = choice[1]
        same = re.search(r'<input[^>]*value="same"[^>]*>', inside).group(0)
        assert "checked" in same  # 「お客様住所と同じ」 is the default
        radios_end = inside.index('value="other"')
        block = inside.index('<div class="site-address">')
        assert radios_end < block < inside.index('id="site_address-address"')
    # The rule that hides it without JavaScript, and the script for browsers without :has().
    css = client.get("/static/css/app.css").get_data(as_text=True)
    assert re.search(r'\.site-address-choice:has\(input\[type=radio\]\[value="same"\]:checked\)'
                     r' \.site-address \{ display: none; \}', css)
    script = client.get("/static/js/app.js").get_data(as_text=True)
    assert "[data-same-address]" in script and "block.hidden = same.checked" in script


def test_adding_a_gateway_has_no_choice_and_always_shows_the_address(client):
    make_owner()
    login(client, "owner@example.com")
    page = text_of(client.get("/monitoring/gateways/add"))
    assert 'id="site_address-address"' in page and "data-same-address" not in page


# -- the monitoring legend -----------------------------------------------------------------
def test_legend_and_table_say_that_self_consumption_includes_charging(client):
    owner = make_owner()
    gateway = make_gateway(owner, site="山田様邸")
    add_units(gateway, 2)
    from blueprints.monitoring import telemetry
    from models.gateway import Gateway

    end = slot_end()
    # 3.2 kW generated, 0.9 sold, 0.8 used at home, 1.5 charged: 自家消費 2.3 > 消費 0.8.
    telemetry.ingest(db.session.get(Gateway, gateway.id),
                     [reading(end - timedelta(minutes=5 * i)) for i in range(3)])
    login(client, "owner@example.com")
    page = text_of(client.get(f"/monitoring/gateways/{gateway.gateway_id}/monitor"))
    assert "発電のうち家で使った分" not in page
    assert "自家消費（発電のうち売電しなかった分：家で使った分と蓄電池に充電した分）" in page
    heading = re.search(r'<th scope="col" aria-describedby="([^"]+)">自家消費', page)
    assert heading, "the table's 自家消費 heading points at its note"
    note = re.search(rf'<p class="help" id="{heading.group(1)}">([^<]+)</p>', page).group(1)
    assert "蓄電池に充電した分" in note and "消費より多くなることがあります" in note

    speaks_english("owner@example.com")
    english = text_of(client.get(f"/monitoring/gateways/{gateway.gateway_id}/monitor"))
    assert "generation not sold: used at home or charged into the battery" in english
    assert "it can be more than the consumption" in english
