"""The customer's cases (issue 12 "Customer side"; seed 000-36 … 000-53): filing a case
(plain post and htmx), each rule of the form, the 詳細 swap and its 更新 button, prefill
from the search box, a gateway and a monitoring alert, the duplicate hint, case numbers,
double submits, マイケース, the case page with its thread and replies, company members,
the mails over real SMTP, and someone else's cases (404)."""
from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from blueprints.support import cases
from mail.relay import deliver_pending
from models import db, utcnow
from blueprints.core.staff import SUPPORT
from models.account import Account, AccountType, CompanyRole
from models.gateway import PcsUnit
from models.mail import OutboxMail, OutboxStatus
from models.support import CaseState, SupportCase, SupportCategory, SupportMessage
from models.telemetry import GatewayAlert, Reading
from tests.conftest import csrf_from
from tests.flows.test_dealer_links import _password_hash, make_company, make_gateway, make_owner
from tests.helpers import HX, login, make_staff, outbox, statements

GATEWAY = "01AB12345678"
OTHER_GATEWAY = "01AB87654321"
NEW = "/support/cases/new"
KEY_PATTERN = re.compile(r'name="request_key"[^>]*value="([^"]+)"')


# -- helpers ------------------------------------------------------------------------------
def _count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def categories():
    """(category with details, one of its details, another category with details)."""
    cases.ensure_default_categories()
    found = [c for c in cases.active_categories() if c.details]
    return found[0], found[0].details[0], found[1]


def add_units(gateway, serials=("DM000101", "DM000102")):
    for number, serial in enumerate(serials, start=1):
        db.session.add(PcsUnit(gateway_id=gateway.id, unit_no=number, model="PCS-5K",
                               serial=serial))
    db.session.commit()


@pytest.fixture
def owner_world(app):
    """The owner with GATEWAY (two units); another owner with OTHER_GATEWAY."""
    owner = make_owner()
    gateway = make_gateway(owner, GATEWAY, site="山田邸")
    add_units(gateway)
    other = make_owner("other@example.com", "佐藤", "次郎")
    other_gateway = make_gateway(other, OTHER_GATEWAY, site="佐藤邸")
    add_units(other_gateway, ("OT000001",))
    return owner, gateway, other, other_gateway


@pytest.fixture
def owner_client(app, owner_world):
    client = app.test_client()
    assert login(client, "owner@example.com").status_code == 303
    return client


def form_tokens(client, url=NEW, headers=None) -> tuple[str, str, str]:
    html = client.get(url, headers=headers or {}).get_data(as_text=True)
    return html, csrf_from(html), KEY_PATTERN.search(html).group(1)


def case_data(**overrides) -> dict:
    category, detail, _other = categories()
    data = {"subject": "蓄電池が充電しない", "body": "昨日から充電されません。\n表示はE201です。",
            "site": GATEWAY, "site_other": "", "device_type": "蓄電池", "serial": "DM000101",
            "serial_other": "", "error_code": "E201", "category": str(category.id),
            "detail": str(detail.id)}
    data.update(overrides)
    return data


def post_case(client, data: dict, htmx=False, files=None, key=None):
    _html, token, form_key = form_tokens(client)
    body = {**data, "csrf_token": token, "request_key": key or form_key}
    if files is not None:
        body["files"] = files
    return client.post(NEW, data=body, headers=HX if htmx else {},
                       content_type="multipart/form-data")


def only_case() -> SupportCase:
    db.session.expire_all()
    return db.session.scalar(select(SupportCase))


def select_of(html: str, field_id: str) -> str:
    return re.search(rf'<select[^>]*id="{field_id}"[^>]*>(.*?)</select>', html, re.S).group(1)


def shown_errors(html: str) -> list[str]:
    return re.findall(r'class="field-error" id="[^"]+">([^<]+)<', html)


def field_error(html: str, field_id: str) -> str:
    match = re.search(rf'id="{field_id}-error">([^<]*)<', html)
    return match.group(1) if match else ""


# -- the form -----------------------------------------------------------------------------
def test_form_asks_in_the_manuals_order_with_the_limits_and_only_own_sites(owner_client):
    html = owner_client.get(NEW).get_data(as_text=True)
    form = html[html.index('id="case-form"'):]
    labels = ["件名", "お問い合わせ内容", "添付ファイル", "発電所名", "機器タイプ", "製造番号",
              "エラーコード", "サポート内容", "詳細"]
    positions = [form.index(f">{label}") for label in labels[:-1]]
    assert positions == sorted(positions)
    assert "1回に10個まで、1ファイル10 MBまで（1件のケースで合計50 MBまで）" in html
    assert 'data-max-files="10"' in html and f'data-max-bytes="{10 * 1024 * 1024}"' in html
    assert f"山田邸 ({GATEWAY})" in html and "その他（入力する）" in html
    assert OTHER_GATEWAY not in html and "佐藤邸" not in html
    assert "複数台ある場合は代表1台" in html
    assert 'name="refresh"' in html  # 更新 without JavaScript
    # A new installation has no categories: showing the form made them.
    assert _count(SupportCategory) > 0


def test_filing_a_case_stores_it_and_shows_its_number(owner_client, owner_world):
    owner, gateway, _other, _og = owner_world
    response = post_case(owner_client, case_data())
    assert response.status_code == 303
    case = only_case()
    assert response.headers["Location"] == f"/support/cases/{case.number}/filed"
    assert re.fullmatch(r"4\d{8}", case.number)
    category, detail, _ = categories()
    assert (case.subject, case.site_name, case.gateway_id, case.device_type, case.serial,
            case.error_code, case.category_id, case.detail_id, case.account_id) == (
        "蓄電池が充電しない", "山田邸", gateway.id, "蓄電池", "DM000101", "E201", category.id,
        detail.id, owner.id)
    assert case.state == CaseState.NEW
    assert case.messages[0].body == "昨日から充電されません。\n表示はE201です。"
    page = owner_client.get(response.headers["Location"]).get_data(as_text=True)
    assert f'id="case-number">{case.number}<' in page
    assert "この番号はお問い合わせの際にお伝えください" in page
    assert f'href="/support/cases/{case.number}"' in page and 'href="/support/cases"' in page


def test_filing_with_htmx_navigates_to_the_completion_page(owner_client):
    response = post_case(owner_client, case_data(), htmx=True)
    assert response.status_code == 200
    case = only_case()
    assert response.headers["HX-Redirect"] == f"/support/cases/{case.number}/filed"


def test_a_typed_site_and_serial_are_stored_without_a_gateway(owner_client):
    response = post_case(owner_client, case_data(site="other", site_other="実家の発電所",
                                                 serial="other", serial_other="ｄｍ－１２３"))
    assert response.status_code == 303
    case = only_case()
    assert (case.site_name, case.gateway_id, case.serial) == ("実家の発電所", None, "DM-123")


@pytest.mark.parametrize("field,value,error_id,message", [
    ("subject", "", "subject", "入力してください"),
    ("subject", " \u3000 ", "subject", "入力してください"),
    ("site", "", "site", "選択してください"),
    ("site_other", "", "site_other", "発電所名を入力してください"),  # with site=other
    ("category", "", "category", "選択してください"),
    ("detail", "", "detail", "詳細を選択してください"),
])
def test_each_required_field_is_asked_for_and_nothing_is_saved(owner_client, field, value,
                                                               error_id, message):
    data = case_data(**{field: value})
    if field == "site_other":
        data["site"] = "other"
    response = post_case(owner_client, data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_error(html, error_id) == message
    assert "入力内容に誤りがあります" in html
    assert "昨日から充電されません。" in html  # what was typed is kept
    assert _count(SupportCase) == 0


def test_a_required_field_missing_with_htmx_is_the_form_partial_with_422(owner_client):
    response = post_case(owner_client, case_data(subject=""), htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert html.lstrip().startswith("<form") and "<html" not in html
    assert field_error(html, "subject") == "入力してください"
    assert "HX-Request" in response.headers["Vary"]


@pytest.mark.parametrize("field,value,error_id", [
    ("subject", "あ" * 101, "subject"),
    ("body", "あ" * 5001, "body"),
    ("site_other", "あ" * 61, "site_other"),
    ("error_code", "E" * 101, "error_code"),
    ("serial_other", "A" * 21, "serial_other"),
    ("serial_other", "製造１２３", "serial_other"),  # wrong script
    ("subject", "件名\x00です", "subject"),
    ("body", "本文\x00です", "body"),
    ("site_other", "発電所\u202e", "site_other"),
    ("error_code", "E\x1b[31m", "error_code"),
])
def test_too_long_wrong_script_and_control_characters_are_refused(owner_client, field, value,
                                                                  error_id):
    overrides = {field: value}
    if field == "site_other":
        overrides["site"] = "other"
    if field == "serial_other":
        overrides["serial"] = "other"
    response = post_case(owner_client, case_data(**overrides))
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), error_id)
    assert _count(SupportCase) == 0


def test_exactly_the_maximum_lengths_are_accepted(owner_client):
    response = post_case(owner_client, case_data(
        subject="あ" * 100, body="い" * 5000, site="other", site_other="う" * 60,
        error_code="E" * 100, serial="other", serial_other="A" * 20))
    assert response.status_code == 303
    case = only_case()
    assert (len(case.subject), len(case.messages[0].body), len(case.site_name)) == (100, 5000, 60)


@pytest.mark.parametrize("field,value,error_id,message", [
    ("site", OTHER_GATEWAY, "site", "一覧から選択してください"),
    ("site", "'; DROP TABLE support_case; --", "site", "一覧から選択してください"),
    ("category", "999999", "category", "一覧から選択してください"),
    ("category", "abc", "category", "一覧から選択してください"),
    ("device_type", "電子レンジ", "device_type", "一覧から選択してください"),
    ("serial", "OT000001", "serial", "選択した発電所の機器から選択するか"),
])
def test_tampered_choices_are_refused_next_to_their_field(owner_client, field, value, error_id,
                                                         message):
    response = post_case(owner_client, case_data(**{field: value}))
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), error_id).startswith(message)
    assert _count(SupportCase) == 0


def test_a_detail_of_another_category_is_a_message_not_a_500(owner_client):
    category, detail, other = categories()
    response = post_case(owner_client, case_data(category=str(other.id), detail=str(detail.id)))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_error(html, "detail") == "選択したサポート内容の詳細から選択してください"
    # The 詳細 offered now are the posted category's.
    offered = select_of(html, "detail")
    assert other.details[0].name in offered and f'value="{detail.id}"' not in offered
    assert _count(SupportCase) == 0


def test_a_category_without_details_needs_none(owner_client):
    categories()
    category = SupportCategory(name="詳細なし", position=99)
    db.session.add(category)
    db.session.commit()
    response = post_case(owner_client, case_data(category=str(category.id), detail=""))
    assert response.status_code == 303
    assert only_case().detail_id is None


# -- the 詳細 and 製造番号 swaps -------------------------------------------------------------
def test_the_details_swap_answers_the_chosen_categorys_details(owner_client):
    category, detail, other = categories()
    response = owner_client.get(f"{NEW}/details?part=detail&category={other.id}", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="detail-block">')
    assert [d.name in html for d in other.details] == [True] * len(other.details)
    assert detail.name not in html
    assert shown_errors(html) == []
    # Without htmx the URL sends the browser to the form.
    plain = owner_client.get(f"{NEW}/details?part=detail&category={other.id}")
    assert plain.status_code == 303 and plain.headers["Location"] == NEW


def test_the_site_swap_offers_the_sites_units_and_the_open_case(owner_client):
    html = owner_client.get(f"{NEW}/details?part=site&site={GATEWAY}", headers=HX) \
        .get_data(as_text=True)
    assert html.lstrip().startswith('<div id="site-block">')
    assert "DM000101" in html and "DM000102" in html
    # Someone else's gateway offers nothing of it.
    html = owner_client.get(f"{NEW}/details?part=site&site={OTHER_GATEWAY}", headers=HX) \
        .get_data(as_text=True)
    assert "OT000001" not in html


def test_the_refresh_button_reloads_the_form_with_the_right_details_and_saves_nothing(
        owner_client):
    category, detail, other = categories()
    response = post_case(owner_client, case_data(category=str(other.id), detail=str(detail.id),
                                                 subject="", refresh="更新"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert shown_errors(html) == [] and "入力内容に誤りがあります" not in html
    assert other.details[0].name in select_of(html, "detail")
    assert detail.name not in select_of(html, "detail")
    assert "昨日から充電されません。" in html
    assert _count(SupportCase) == 0


# -- prefill ------------------------------------------------------------------------------
def test_prefill_from_the_search_box_and_an_own_gateway(owner_client):
    html = owner_client.get(f"{NEW}?q=<b>停電</b>時に動かない&gateway={GATEWAY.lower()}") \
        .get_data(as_text=True)
    assert 'value="&lt;b&gt;停電&lt;/b&gt;時に動かない"' in html
    assert f'<option selected value="{GATEWAY}">' in html
    assert "DM000101" in html  # the site's units are offered


def test_prefill_ignores_someone_elses_gateway(owner_client):
    html = owner_client.get(f"{NEW}?gateway={OTHER_GATEWAY}").get_data(as_text=True)
    html = html[html.index('id="case-form"'):]
    assert OTHER_GATEWAY not in html and "OT000001" not in html
    assert f'<option selected value="{GATEWAY}">' not in html


def _alert(gateway, started_at, units=None):
    db.session.add(Reading(gateway_id=gateway.id, ts=started_at, pv_w=0, load_w=0, battery_w=0,
                           battery_state="standby", soc=50, sell_w=0, buy_w=0,
                           units=units or [{"unit": 1, "status": "normal", "error_code": None},
                                           {"unit": 2, "status": "error", "error_code": "E201"}],
                           has_error=True))
    alert = GatewayAlert(gateway_id=gateway.id, kind="error", started_at=started_at,
                         error_codes="2:E201")
    db.session.add(alert)
    db.session.commit()
    return alert


def test_prefill_from_an_alert_of_an_own_gateway_and_stored_with_its_start(owner_client,
                                                                          owner_world):
    _owner, gateway, _other, _og = owner_world
    started = (utcnow() - timedelta(hours=3)).replace(microsecond=0)
    alert = _alert(gateway, started)
    html = owner_client.get(f"{NEW}?alert={alert.id}").get_data(as_text=True)
    assert f'<option selected value="{GATEWAY}">' in html
    assert '<option selected value="パワーコンディショナ">' in html
    assert '<option selected value="DM000102">' in html  # unit 2 is in error
    assert 'value="2:E201"' in html
    assert "発生日時" in html and 'id="error-started"' in html
    category, detail, _ = categories()
    token = csrf_from(html)
    key = KEY_PATTERN.search(html).group(1)
    response = owner_client.post(NEW, data={
        "csrf_token": token, "request_key": key, "alert": str(alert.id), "subject": "エラー",
        "site": GATEWAY, "device_type": "パワーコンディショナ", "serial": "DM000102",
        "error_code": "2:E201", "category": str(category.id), "detail": str(detail.id)})
    assert response.status_code == 303
    case = only_case()
    assert case.error_started_at == started and case.serial == "DM000102"
    page = owner_client.get(f"/support/cases/{case.number}").get_data(as_text=True)
    assert "発生日時" in page and "2:E201" in page


def test_prefill_ignores_someone_elses_alert_and_a_tampered_alert_is_not_stored(
        owner_client, owner_world):
    _owner, _gateway, _other, other_gateway = owner_world
    alert = _alert(other_gateway, utcnow() - timedelta(hours=1),
                   units=[{"unit": 1, "status": "error", "error_code": "E999"}])
    html = owner_client.get(f"{NEW}?alert={alert.id}").get_data(as_text=True)
    assert "E999" not in html and "OT000001" not in html and 'id="error-started"' not in html
    for junk in ("abc", "-1", "99999999999999999999"):
        assert owner_client.get(f"{NEW}?alert={junk}").status_code == 200
    response = post_case(owner_client, case_data(alert=str(alert.id)))
    assert response.status_code == 303
    assert only_case().error_started_at is None


def test_the_duplicate_hint_links_the_open_case_of_the_gateway(owner_client):
    assert "対応中のケース" not in owner_client.get(f"{NEW}?gateway={GATEWAY}").get_data(
        as_text=True)
    post_case(owner_client, case_data())
    case = only_case()
    html = owner_client.get(f"{NEW}?gateway={GATEWAY}").get_data(as_text=True)
    assert f"このゲートウェイには対応中のケース（ケース番号 {case.number}）があります" in html
    assert f'href="/support/cases/{case.number}"' in html
    # Still allowed to file another.
    assert post_case(owner_client, case_data()).status_code == 303
    assert _count(SupportCase) == 2
    # A closed case is no longer a hint.
    for each in db.session.scalars(select(SupportCase)):
        each.state = CaseState.CLOSED
    db.session.commit()
    assert "対応中のケース" not in owner_client.get(f"{NEW}?gateway={GATEWAY}").get_data(
        as_text=True)


# -- numbers and double submits -----------------------------------------------------------
def test_fifty_cases_have_unique_numbers_of_nine_digits_starting_with_4(owner_client):
    for n in range(50):
        assert post_case(owner_client, case_data(subject=f"件名{n}")).status_code == 303
    numbers = list(db.session.scalars(select(SupportCase.number)))
    assert len(numbers) == 50 == len(set(numbers))
    assert all(re.fullmatch(r"4\d{8}", number) for number in numbers)
    # Not a sequence: consecutive cases are not consecutive numbers.
    ordered = [int(n) for n in db.session.scalars(select(SupportCase.number)
                                                  .order_by(SupportCase.id))]
    assert sum(1 for a, b in zip(ordered, ordered[1:]) if b - a == 1) < 3


def test_the_same_form_submitted_twice_lands_on_the_same_case(owner_client):
    _html, token, key = form_tokens(owner_client)
    data = {**case_data(), "csrf_token": token, "request_key": key}
    first = owner_client.post(NEW, data=data)
    second = owner_client.post(NEW, data=data)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert _count(SupportCase) == 1
    assert len(outbox("owner@example.com", "support_case_filed")) == 1


def test_two_browsers_submitting_the_same_form_at_once_make_one_case(make_app):
    app = make_app(RATELIMIT_ENABLED=False)
    workers = 4
    with app.app_context():
        owner = make_owner()
        gateway = make_gateway(owner, GATEWAY, site="山田邸")
        add_units(gateway)
        clients = [app.test_client() for _ in range(workers)]
        for client in clients:
            assert login(client, "owner@example.com").status_code == 303
        key = form_tokens(clients[0])[2]
        bodies = [{**case_data(), "csrf_token": form_tokens(client)[1], "request_key": key}
                  for client in clients]

    def submit(i: int):
        response = clients[i].post(NEW, data=bodies[i])
        return response.status_code, response.headers.get("Location")

    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(submit, range(workers)))
    assert {code for code, _ in results} == {303}, results
    assert len({location for _, location in results}) == 1
    with app.app_context():
        assert _count(SupportCase) == 1
        assert _count(SupportMessage) == 1


# -- マイケース ---------------------------------------------------------------------------
def _file_direct(account, subject="件名", state=CaseState.NEW, gateway_id=None):
    category, detail, _ = categories()
    case, _created = cases.file_case(account, cases.CaseFields(
        subject=subject, body="本文", site_name="自宅", category_id=category.id,
        detail_id=detail.id, gateway_id=gateway_id), [], None)
    case.state = state
    db.session.commit()
    return case


def test_my_cases_lists_own_cases_with_state_and_filters(owner_client, owner_world):
    owner, _gateway, other, _og = owner_world
    waiting = _file_direct(owner, "回答待ちの件", CaseState.WAITING)
    closed = _file_direct(owner, "終わった件", CaseState.CLOSED)
    theirs = _file_direct(other, "他人の件")
    html = owner_client.get("/support/cases").get_data(as_text=True)
    assert waiting.number in html and closed.number in html and theirs.number not in html
    assert "お客様回答待ち" in html and "クローズ" in html
    assert "起票者" not in html  # a personal account: only its own cases
    active = owner_client.get("/support/cases?state=active").get_data(as_text=True)
    assert waiting.number in active and closed.number not in active
    only_closed = owner_client.get("/support/cases?state=closed").get_data(as_text=True)
    assert closed.number in only_closed and waiting.number not in only_closed
    # An unknown filter is すべて; htmx gets the list only.
    assert closed.number in owner_client.get("/support/cases?state=<x>").get_data(as_text=True)
    partial = owner_client.get("/support/cases?state=waiting", headers=HX).get_data(as_text=True)
    assert partial.lstrip().startswith('<section id="case-list"') and waiting.number in partial
    for cell in re.findall(r"<td[^>]*>", html):
        assert "data-label=" in cell


def test_my_cases_pages_by_twenty_with_flat_sql(owner_client, owner_world):
    owner = owner_world[0]
    counts = []
    for total in (3, 45):
        while _count(SupportCase) < total:
            _file_direct(owner, f"件{_count(SupportCase)}")
        with statements() as seen:
            response = owner_client.get("/support/cases")
        assert response.status_code == 200
        counts.append(len([s for s in seen if "support_case" in s or "account" in s]))
    assert counts[0] == counts[1]
    html = owner_client.get("/support/cases?page=3").get_data(as_text=True)
    assert "3 / 3 ページ（全45件）" in html and html.count('data-label="ケース番号"') == 5
    assert owner_client.get("/support/cases?page=abc").status_code == 200
    assert owner_client.get("/support/cases?page=99999999999").status_code == 200


def company_world():
    """A dealer company: its administrator filed a case; an employee of it; another
    company's administrator."""
    company = make_company(1)
    make_company(2)
    employee = Account(email="member1@dealer1.example", password_hash=_password_hash(),
                       family_name="鈴木", given_name="一郎", account_type=AccountType.COMMERCIAL,
                       company_id=company.id, company_role=CompanyRole.MEMBER,
                       activated_at=utcnow(), terms_accepted_at=utcnow(),
                       privacy_accepted_at=utcnow())
    db.session.add(employee)
    db.session.commit()
    admin = db.session.scalar(select(Account).where(Account.email == "admin1@dealer1.example"))
    return admin, employee


def test_company_members_see_the_companys_cases_with_who_filed_them(app):
    admin, _employee = company_world()
    case = _file_direct(admin, "会社のケース")
    member = app.test_client()
    assert login(member, "member1@dealer1.example").status_code == 303
    html = member.get("/support/cases").get_data(as_text=True)
    assert case.number in html and "起票者" in html and "佐藤 花子" in html
    assert member.get(f"/support/cases/{case.number}").status_code == 200
    outsider = app.test_client()
    assert login(outsider, "admin2@dealer2.example").status_code == 303
    assert case.number not in outsider.get("/support/cases").get_data(as_text=True)
    assert outsider.get(f"/support/cases/{case.number}").status_code == 404


def test_a_deleted_filers_case_stays_for_the_company(app):
    admin, employee = company_world()
    case = _file_direct(admin, "会社のケース")
    db.session.delete(db.session.get(Account, admin.id))
    db.session.commit()
    db.session.expire_all()
    kept = db.session.get(SupportCase, case.id)
    assert kept is not None and kept.account_id is None
    member = app.test_client()
    assert login(member, "member1@dealer1.example").status_code == 303
    html = member.get("/support/cases").get_data(as_text=True)
    assert case.number in html and "削除されたアカウント" in html
    page = member.get(f"/support/cases/{case.number}").get_data(as_text=True)
    assert "削除されたアカウント" in page


# -- the case page and replies ------------------------------------------------------------
@pytest.fixture
def answered(owner_client, owner_world):
    """The owner's case with a staff answer and an internal note."""
    staff = make_owner("staff@example.com", "高橋", "美咲")
    case = _file_direct(owner_world[0], "<script>alert(1)</script>件名")
    cases.add_message(case, staff, "運転モードをご確認ください。", [], None, from_staff=True)
    cases.add_message(case, staff, "社内メモ: 交換の可能性", [], None, from_staff=True,
                      internal=True)
    return case


def test_the_case_page_shows_the_facts_and_the_thread_without_internal_notes(owner_client,
                                                                          answered):
    html = owner_client.get(f"/support/cases/{answered.number}").get_data(as_text=True)
    for label in ("ケース番号", "状態", "発電所名", "機器タイプ", "製造番号", "エラーコード",
                  "発生日時", "サポート内容", "受付日時"):
        assert f"<dt>{label}</dt>" in html
    assert "お客様回答待ち" in html
    assert "運転モードをご確認ください。" in html and "<strong>サポート</strong>" in html
    assert "<strong>山田 太郎</strong>" in html
    assert "社内メモ" not in html and "高橋" not in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)" in html
    assert 'id="reply-form"' in html


def test_a_reply_without_javascript_posts_redirects_and_reopens_the_case(owner_client,
                                                                       answered):
    url = f"/support/cases/{answered.number}"
    html = owner_client.get(url).get_data(as_text=True)
    response = owner_client.post(f"{url}/reply", data={
        "csrf_token": csrf_from(html), "request_key": KEY_PATTERN.search(html).group(1),
        "comment": "確認しました。\n<b>太字</b>"}, content_type="multipart/form-data")
    assert response.status_code == 303 and response.headers["Location"] == url
    db.session.expire_all()
    case = db.session.get(SupportCase, answered.id)
    assert case.state == CaseState.OPEN
    page = owner_client.get(url).get_data(as_text=True)
    assert "確認しました。\n&lt;b&gt;太字&lt;/b&gt;" in page


def test_a_reply_with_htmx_swaps_the_thread_and_a_fresh_form(owner_client, answered):
    url = f"/support/cases/{answered.number}"
    html = owner_client.get(url).get_data(as_text=True)
    key = KEY_PATTERN.search(html).group(1)
    data = {"csrf_token": csrf_from(html), "request_key": key, "comment": "追加の情報です"}
    response = owner_client.post(f"{url}/reply", data=data, headers=HX)
    partial = response.get_data(as_text=True)
    assert response.status_code == 200
    assert partial.lstrip().startswith('<section id="conversation"')
    assert "追加の情報です" in partial and "<html" not in partial
    # The header's state follows: the reply reopened the case (お客様回答待ち → 対応中).
    assert re.search(r'id="case-state"[^>]*hx-swap-oob="true">対応中<', partial)
    new_key = KEY_PATTERN.search(partial).group(1)
    assert new_key != key
    assert "追加の情報です" not in partial.split('id="reply-form"')[1]  # the form is empty
    # The same form again (double click) adds nothing.
    owner_client.post(f"{url}/reply", data=data, headers=HX)
    assert _count(SupportMessage, SupportMessage.body == "追加の情報です") == 1


def test_an_empty_reply_is_refused_with_a_message(owner_client, answered):
    url = f"/support/cases/{answered.number}"
    html = owner_client.get(url).get_data(as_text=True)
    for headers in ({}, HX):
        response = owner_client.post(f"{url}/reply", data={
            "csrf_token": csrf_from(html), "comment": " \n "}, headers=headers)
        assert response.status_code == 422
        assert field_error(response.get_data(as_text=True), "comment") == \
            "コメントを入力するか、ファイルを添付してください"
    huge = owner_client.post(f"{url}/reply", data={"csrf_token": csrf_from(html),
                                                  "comment": "あ" * 5001})
    assert huge.status_code == 422
    nul = owner_client.post(f"{url}/reply", data={"csrf_token": csrf_from(html),
                                                 "comment": "a\x00b"})
    assert nul.status_code == 422
    assert _count(SupportMessage, SupportMessage.case_id == answered.id) == 3


def test_a_closed_case_offers_a_new_case_and_refuses_replies_with_409(owner_client, answered):
    answered.state = CaseState.CLOSED
    db.session.commit()
    url = f"/support/cases/{answered.number}"
    html = owner_client.get(url).get_data(as_text=True)
    assert "このケースはクローズされています。新しいケースを作成してください" in html
    assert 'id="reply-form"' not in html and 'href="/support/cases/new"' in html
    for headers in ({}, HX):
        response = owner_client.post(f"{url}/reply", data={
            "csrf_token": csrf_from(html), "comment": "まだ直りません"}, headers=headers)
        assert response.status_code == 409
        assert "このケースはクローズされています" in response.get_data(as_text=True)
    assert _count(SupportMessage, SupportMessage.body == "まだ直りません") == 0


def test_someone_elses_case_is_404_everywhere(app, owner_world, answered):
    intruder = app.test_client()
    assert login(intruder, "other@example.com").status_code == 303
    token = csrf_from(intruder.get("/support/cases").get_data(as_text=True))
    number = answered.number
    for path in (f"/support/cases/{number}", f"/support/cases/{number}/filed",
                 "/support/cases/400000000", "/support/cases/abc", "/support/cases/4" + "0" * 50):
        assert intruder.get(path).status_code == 404
    response = intruder.post(f"/support/cases/{number}/reply",
                             data={"csrf_token": token, "comment": "乗っ取り"})
    assert response.status_code == 404
    assert _count(SupportMessage, SupportMessage.body == "乗っ取り") == 0
    assert number not in intruder.get("/support/cases").get_data(as_text=True)


def test_pages_need_sign_in_and_a_proxy_cannot_file(app, owner_world):
    anonymous = app.test_client()
    for path in (NEW, "/support/cases", f"{NEW}/details"):
        response = anonymous.get(path)
        assert response.status_code == 302 and "/account/login" in response.headers["Location"]
    from blueprints.core import registry
    assert registry._registry.refused >= {"support.new_case", "support.case_reply"}


def test_html_in_every_field_is_escaped_on_every_page(owner_client):
    evil = "<img src=x onerror=alert(1)>"
    response = post_case(owner_client, case_data(subject=evil, body=evil, site="other",
                                                 site_other=evil[:60], error_code=evil,
                                                 serial="other"))
    assert response.status_code == 303
    number = only_case().number
    for path in (f"/support/cases/{number}/filed", f"/support/cases/{number}",
                 "/support/cases"):
        html = owner_client.get(path).get_data(as_text=True)
        assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in owner_client.get(
        f"/support/cases/{number}").get_data(as_text=True)


# -- mail ---------------------------------------------------------------------------------
def test_the_confirmation_mail_over_real_smtp(smtp_app, smtp):
    make_owner()
    client = smtp_app.test_client()
    assert login(client, "owner@example.com").status_code == 303
    response = post_case(client, case_data(site="other", site_other="自宅", serial="other",
                                           subject="<b>充電</b>しない & 困った"))
    assert response.status_code == 303
    number = only_case().number
    deliver_pending(limit=50)
    mails = [m for m in smtp.to("owner@example.com") if number in m["Subject"]]
    assert len(mails) == 1
    text = smtp.text_of(mails[0])
    assert "<b>充電</b>しない & 困った" in text
    assert f"/support/cases/{number}" in text
    assert "昨日から充電されません" not in text  # nothing but the subject of the case
    html = mails[0].get_body(preferencelist=("html",)).get_content()
    assert "&lt;b&gt;充電&lt;/b&gt;しない &amp; 困った" in html and "<b>充電</b>" not in html


def test_with_smtp_down_the_case_is_saved_and_its_mail_waits(make_app):
    from tests.conftest import free_port
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), MAIL_TIMEOUT_SECONDS=2)
    with app.app_context():
        make_owner()
        client = app.test_client()
        assert login(client, "owner@example.com").status_code == 303
        response = post_case(client, case_data(site="other", site_other="自宅", serial="other"))
        assert response.status_code == 303
        assert _count(SupportCase) == 1
        deliver_pending(limit=50)  # nobody listens
        db.session.expire_all()
        mail = db.session.scalar(select(OutboxMail).where(OutboxMail.kind == "support_case_filed"))
        assert mail is not None and mail.status == OutboxStatus.PENDING


# -- demo ---------------------------------------------------------------------------------
def test_demo_data_gives_the_demo_owner_an_answered_case(app):
    from blueprints.support.demo import seed_demo_case
    assert seed_demo_case() == []  # no demo owner yet
    owner = make_owner("owner@example.com")
    make_staff(make_owner("support@example.com", "高橋", "美咲"), SUPPORT)
    first = seed_demo_case()
    assert first and "answered by support" in first[0]
    assert "(already)" in seed_demo_case()[0]
    case = db.session.scalar(select(SupportCase).where(SupportCase.account_id == owner.id))
    assert [m.from_staff for m in case.messages] == [False, True]
    assert _count(SupportCase) == 1


def test_a_dealer_and_staff_file_cases_by_typing_the_site(app):
    """Commercial accounts and staff own no gateway: the site is typed (その他 is chosen
    for them) and the case is theirs (a company's for the dealer)."""
    admin, _employee = company_world()
    staff = make_owner("staff@example.com", "高橋", "美咲")
    make_staff(staff, SUPPORT)
    for email, company_id in (("admin1@dealer1.example", admin.company_id),
                              ("staff@example.com", None)):
        client = app.test_client()
        assert login(client, email).status_code == 303
        html = client.get(NEW).get_data(as_text=True)
        assert '<option selected value="other">' in html
        response = post_case(client, case_data(site="other", site_other="お客様宅", serial="other",
                                               serial_other="DM999"))
        assert response.status_code == 303
        case = db.session.scalar(select(SupportCase).order_by(SupportCase.id.desc()))
        assert (case.site_name, case.company_id, case.serial) == ("お客様宅", company_id, "DM999")


def test_a_long_search_query_prefills_the_first_100_characters(owner_client):
    html = owner_client.get(f"{NEW}?q={'停' * 150}").get_data(as_text=True)
    assert f'value="{"停" * 100}"' in html
