"""Phone-support requests (issue 12, seed 000 注意事項 条件1-3): the customer's form on a
case (the slots offered at a fixed clock, the 16:00 edge between showing and posting,
tampered slots, bad input, closed and foreign cases, double submits, the limit of waiting
requests), and the staff side (the list with its filters, 確定する / お受けできない, once,
audited), with the mails through a real SMTP server.

The view's clock is `phone_views.clock`: tests set it to a fixed moment."""
from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from blueprints.support import cases, phone, phone_views
from mail.relay import deliver_pending
from models import JST, db
from blueprints.core.staff import SUPPORT
from models.account import Account, AccountPhone, AccountType, CompanyRole
from models.audit import AuditEvent
from models.support import CaseState, PhoneRequest, PhoneRequestState, SupportCase
from tests.conftest import csrf_from
from tests.flows.test_dealer_links import _password_hash, make_company, make_owner
from tests.helpers import HX, outbox, statements
from tests.helpers import make_staff as grant_staff
from tests.helpers import login as _login

MONDAY_1559 = datetime(2026, 11, 30, 15, 59, tzinfo=JST)
MONDAY_1600 = datetime(2026, 11, 30, 16, 0, tzinfo=JST)
WEDNESDAY_9 = "2026-12-02T09:00"
THURSDAY_10 = "2026-12-03T10:00"
TOPIC = "蓄電池が夜間に放電しない件について、設定を電話で確認したいです。"


# -- the world ------------------------------------------------------------------------------
@pytest.fixture
def at(monkeypatch):
    """Set the views' clock: at(MONDAY_1559)."""
    def set_clock(moment: datetime) -> None:
        monkeypatch.setattr(phone_views, "clock", lambda: moment.astimezone(timezone.utc))
    set_clock(MONDAY_1559)
    return set_clock


def login(client, email="owner@example.com"):
    response = _login(client, email)
    assert response.status_code == 303
    return client


def owner_with_case(email="owner@example.com", state: CaseState | None = None) -> SupportCase:
    owner = db.session.scalar(select(Account).where(Account.email == email)) or make_owner(email)
    if not owner.phones:
        db.session.add(AccountPhone(account_id=owner.id, kind="mobile", number="09012345678"))
        db.session.commit()
    cases.ensure_default_categories()
    category = cases.active_categories()[0]
    case, _created = cases.file_case(owner, cases.CaseFields(
        subject="蓄電池が放電しない", body="夜間に放電しません。", site_name="自宅",
        category_id=category.id), [], None)
    if state is not None:
        case.state = state
        db.session.commit()
    return case


def make_staff(email="staff@example.com") -> Account:
    staff = make_owner(email, "高橋", "美咲")
    return grant_staff(staff, SUPPORT)


def url(case) -> str:
    return f"/support/cases/{case.number}/phone"


def form_data(client, case, **overrides) -> dict:
    page = client.get(url(case)).get_data(as_text=True)
    data = {"csrf_token": csrf_from(page), "request_key": _key(page),
            "contact_name": "山田 太郎", "phone": "090-1234-5678", "slot": WEDNESDAY_9,
            "topic": TOPIC}
    data.update(overrides)
    return data


def _key(page: str) -> str:
    match = re.search(r'<input[^>]*name="request_key"[^>]*>', page)
    assert match, "no request_key on the page"
    return re.search(r'value="([^"]+)"', match.group(0)).group(1)


def requests_of(case) -> list[PhoneRequest]:
    db.session.expire_all()
    return list(db.session.scalars(select(PhoneRequest).where(PhoneRequest.case_id == case.id)
                                   .order_by(PhoneRequest.id)))


def actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def make_request(case, slot=WEDNESDAY_9, now=MONDAY_1559) -> PhoneRequest:
    account = db.session.get(Account, case.account_id)
    made, _created = phone.request_phone_support(
        account, case, phone.PhoneFields("山田 太郎", "09012345678", slot, TOPIC), None, now)
    return made


# -- the form -----------------------------------------------------------------------------------
def test_form_offers_only_the_slots_allowed_at_the_clock(app, client, at):
    case = owner_with_case()
    login(client)
    response = client.get(url(case))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    values = re.findall(r'<option value="(\d{4}-[^"]+)"', page)
    assert values[0] == WEDNESDAY_9 and values[-1] == "2026-12-28T17:00"
    assert len(values) == 19 * 17
    assert not any(v.startswith(("2026-12-01", "2026-12-05", "2026-12-06")) for v in values)
    assert '<optgroup label="12月2日（水）">' in page
    assert ">12月2日（水） 9:00〜9:30<" in page and ">12月2日（水） 17:00〜17:30<" in page
    assert "12月2日（水） 以降" in page
    # The three conditions and the disclaimer (000-54 … 000-58).
    for text in ("条件1", "条件2", "条件3", "2営業日前の16:00まで",
                 "上記の条件を満たしている場合であっても、時期や状況により、電話でのサポートをお受けできない場合がございます。"):
        assert text in page
    # Prefilled from the account.
    assert 'value="山田 太郎"' in page and 'value="090-1234-5678"' in page
    # After 16:00 the form starts on Thursday.
    at(MONDAY_1600)
    later = client.get(url(case)).get_data(as_text=True)
    assert re.findall(r'<option value="(\d{4}-[^"]+)"', later)[0] == "2026-12-03T09:00"


def test_submit_stores_the_request_audits_and_mails(smtp_app, smtp, at):
    client = smtp_app.test_client()
    case = owner_with_case()
    # filed the day before the views' clock (the real clock may be past it: filed now,
    # the case would look newer than the request)
    case.updated_at = before = MONDAY_1559 - timedelta(days=1)
    db.session.commit()
    login(client)
    response = client.post(url(case), data=form_data(client, case, phone="０９０（１２３４）５６７８"))
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/support/cases/{case.number}")
    [made] = requests_of(case)
    assert (made.state, made.contact_name, made.phone, made.topic) == (
        PhoneRequestState.REQUESTED, "山田 太郎", "09012345678", TOPIC)
    assert made.slot_at == datetime(2026, 12, 2, 0, 0, tzinfo=timezone.utc)  # 9:00 JST
    db.session.expire_all()
    case = db.session.get(SupportCase, case.id)
    assert case.updated_at > before and case.updated_at == MONDAY_1559
    assert case.updated_at == MONDAY_1559.astimezone(timezone.utc)
    assert "support.phone_requested" in actions()
    # The case page shows it as 受付済み.
    section = client.get(f"/support/cases/{case.number}").get_data(as_text=True)
    assert "2026年12月2日（水） 9:00〜9:30" in section and "受付済み" in section
    assert "電話サポートを依頼する" in section
    deliver_pending(limit=50)
    [mail] = [m for m in smtp.to("owner@example.com") if "電話サポート" in m["Subject"]]
    assert "電話サポートのご依頼を受け付けました" in mail["Subject"]
    assert case.number in mail["Subject"]
    body = smtp.text_of(mail)
    assert "2026年12月2日（水） 9:00〜9:30" in body and case.number in body
    assert f"/support/cases/{case.number}" in body and "090-1234-5678" in body


def test_the_16_oclock_edge_between_showing_and_posting(app, client, at):
    case = owner_with_case()
    login(client)
    data = form_data(client, case)               # shown at 15:59 with Wednesday offered
    assert f'value="{WEDNESDAY_9}"' in client.get(url(case)).get_data(as_text=True)
    at(MONDAY_1600)                              # posted at 16:00
    response = client.post(url(case), data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "受付期限" in page and "12月3日（木）以降の日時を選択してください" in page
    assert f'value="{WEDNESDAY_9}"' not in page and 'value="2026-12-03T09:00"' in page
    assert 'value="山田 太郎"' in page and TOPIC in page  # what was typed is kept
    assert requests_of(case) == []
    # The same form at 15:59 would have been taken; Thursday is taken at 16:00.
    assert client.post(url(case), data={**data, "slot": THURSDAY_10}).status_code == 303
    assert len(requests_of(case)) == 1


@pytest.mark.parametrize("slot, message", [
    ("2026-12-05T10:00", "一覧から選択"),      # Saturday
    ("2026-12-02T17:30", "一覧から選択"),      # closing time
    ("2026-12-02T09:10", "一覧から選択"),
    ("2026-11-27T10:00", "受付期限"),          # in the past
    ("2026-12-01T10:00", "受付期限"),          # too soon
    ("2027-03-01T10:00", "一覧から選択"),      # beyond the booking days
    ("2026-12-02T09:00\x00", "一覧から選択"),
    ("２０２６-12-02T09:00", "一覧から選択"),
    ("<script>alert(1)</script>", "一覧から選択"),
    ("9" * 5000, "一覧から選択"),
    ("", "選択してください"),
])
def test_a_slot_not_offered_is_refused(app, client, at, slot, message):
    case = owner_with_case()
    login(client)
    response = client.post(url(case), data=form_data(client, case, slot=slot))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in page and 'id="slot-error"' in page
    assert "<script>alert(1)</script>" not in page
    assert requests_of(case) == []


@pytest.mark.parametrize("field, value, message", [
    ("contact_name", "", "入力してください"),
    ("contact_name", "　 ", "入力してください"),
    ("contact_name", "山" * 41, "40文字以内"),
    ("contact_name", "山田\x00太郎", "使用できない文字"),
    ("phone", "", "入力してください"),
    ("phone", "12345", "電話番号は市外局番から"),
    ("phone", "090-1234-567８9", "電話番号は市外局番から"),
    ("topic", "", "入力してください"),
    ("topic", "短い内容です", "10文字以上"),
    ("topic", "あ" * 2001, "2000文字以内"),
    ("topic", "内容\x00" * 5, "使用できない文字"),
    ("topic", "\u202e右から左へ書かれた説明文です", "使用できない文字"),
])
def test_bad_input_gets_a_message_next_to_the_field(app, client, at, field, value, message):
    case = owner_with_case()
    login(client)
    response = client.post(url(case), data=form_data(client, case, **{field: value}))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="{field}-error"' in page and message in page
    assert requests_of(case) == []


def test_everything_missing_and_html_is_escaped(app, client, at):
    case = owner_with_case()
    login(client)
    data = form_data(client, case)
    response = client.post(url(case), data={"csrf_token": data["csrf_token"]})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    for field in ("contact_name", "phone", "slot", "topic"):
        assert f'id="{field}-error"' in page
    html = "<b>太字</b><script>alert(1)</script>の件で相談したいです"
    response = client.post(url(case), data={**data, "topic": html, "phone": ""})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # kept, escaped
    # Stored as typed, shown escaped to staff.
    assert client.post(url(case), data={**data, "topic": html}).status_code == 303
    staff = login(app.test_client(), make_staff().email)
    section = staff.get(f"/staff/support/cases/{case.number}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in section
    assert "&lt;b&gt;太字&lt;/b&gt;" in section


def test_htmx_gets_the_form_partial_and_a_redirect(app, client, at):
    case = owner_with_case()
    login(client)
    data = form_data(client, case)
    response = client.post(url(case), data={**data, "topic": "短い"}, headers=HX)
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "<html" not in page
    assert 'id="phone-request-form"' in page and 'id="topic-error"' in page
    assert "HX-Request" in response.headers["Vary"]
    response = client.post(url(case), data=data, headers=HX)
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == f"/support/cases/{case.number}"
    assert len(requests_of(case)) == 1


def test_a_double_submit_makes_one_request(app, client, at):
    case = owner_with_case()
    login(client)
    data = form_data(client, case)
    first = client.post(url(case), data=data)
    second = client.post(url(case), data=data)
    assert (first.status_code, second.status_code) == (303, 303)
    assert len(requests_of(case)) == 1
    assert len(outbox("owner@example.com", "support_phone_requested")) == 1
    assert actions().count("support.phone_requested") == 1
    # A new form (a new key) is a new request.
    assert client.post(url(case), data=form_data(client, case)).status_code == 303
    assert len(requests_of(case)) == 2


def test_a_closed_case_gets_no_request(app, client, at):
    case = owner_with_case(state=CaseState.CLOSED)
    login(client)
    page = client.get(url(case)).get_data(as_text=True)
    assert "クローズされているため" in page and 'name="topic"' not in page
    token = csrf_from(page)
    response = client.post(url(case), data={"csrf_token": token, "request_key": "k" * 24,
                                            "contact_name": "山田 太郎", "phone": "09012345678",
                                            "slot": WEDNESDAY_9, "topic": TOPIC})
    assert response.status_code == 409
    assert "クローズされているため" in response.get_data(as_text=True)
    assert requests_of(case) == []
    section = client.get(f"/support/cases/{case.number}").get_data(as_text=True)
    assert "電話サポートを依頼する" not in section


def test_at_most_three_waiting_requests_per_case(app, client, at):
    case = owner_with_case()
    for _ in range(3):
        make_request(case)
    login(client)
    page = client.get(url(case)).get_data(as_text=True)
    assert "受付済みのご依頼が3件" in page
    token = csrf_from(page)
    response = client.post(url(case), data={"csrf_token": token, "request_key": "k" * 24,
                                            "contact_name": "山田 太郎", "phone": "09012345678",
                                            "slot": WEDNESDAY_9, "topic": TOPIC})
    assert response.status_code == 409 and "受付済みのご依頼が3件" in response.get_data(as_text=True)
    assert len(requests_of(case)) == 3
    # Once staff decide one, the customer may ask again.
    phone.decide(make_staff(), requests_of(case)[0].id, True, None, MONDAY_1559)
    assert client.post(url(case), data=form_data(client, case)).status_code == 303
    assert len(requests_of(case)) == 4


def test_someone_elses_case_is_404(app, client, at):
    case = owner_with_case()
    make_owner("other@example.com", "佐藤", "次郎")
    login(client, "other@example.com")
    assert client.get(url(case)).status_code == 404
    token = csrf_from(client.get("/account/settings").get_data(as_text=True))
    response = client.post(url(case), data={"csrf_token": token, "contact_name": "佐藤 次郎",
                                            "phone": "09011112222", "slot": WEDNESDAY_9,
                                            "topic": TOPIC})
    assert response.status_code == 404
    assert requests_of(case) == []
    for number in ("499999999", "12345", "4" * 200, "%00", "abc"):
        assert client.get(f"/support/cases/{number}/phone").status_code == 404
    anonymous = app.test_client()
    assert anonymous.get(url(case)).status_code == 302


def test_a_company_member_may_ask_on_the_company_case(app, client, at):
    company = make_company(1)
    admin = company.members[0]
    now = datetime.now(timezone.utc)
    member = Account(email="member1@dealer1.example", password_hash=_password_hash(),
                     family_name="鈴木", given_name="一郎", account_type=AccountType.COMMERCIAL,
                     company_id=company.id, company_role=CompanyRole.MEMBER,
                     activated_at=now, terms_accepted_at=now, privacy_accepted_at=now)
    db.session.add(member)
    db.session.commit()
    case = owner_with_case(admin.email)
    login(client, member.email)
    page = client.get(url(case)).get_data(as_text=True)
    assert 'value="鈴木 一郎"' in page
    response = client.post(url(case), data=form_data(client, case))
    assert response.status_code == 303
    [made] = requests_of(case)
    assert made.requested_by_id == member.id


def test_csrf_is_required(app, client, at):
    case = owner_with_case()
    login(client)
    data = form_data(client, case)
    del data["csrf_token"]
    assert client.post(url(case), data=data).status_code == 400
    assert requests_of(case) == []


# -- staff --------------------------------------------------------------------------------------
def decide_url(made) -> str:
    return f"/staff/support/phone/{made.id}"


def staff_client(app):
    make_staff()
    return login(app.test_client(), "staff@example.com")


def test_staff_confirm_mails_the_customer(smtp_app, smtp, at):
    case = owner_with_case()
    made = make_request(case)
    staff = staff_client(smtp_app)
    section = staff.get(f"/staff/support/cases/{case.number}").get_data(as_text=True)
    assert "確定する" in section and "お受けできない" in section and TOPIC in section
    token = csrf_from(section)
    response = staff.post(decide_url(made), data={"csrf_token": token, "decision": "confirm",
                                                  "note": "当日は担当の田中よりお電話します"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/staff/support/cases/{case.number}")
    db.session.expire_all()
    made = db.session.get(PhoneRequest, made.id)
    staff_id = db.session.scalar(select(Account.id).where(Account.email == "staff@example.com"))
    assert (made.state, made.decided_by_id, made.staff_note) == (
        PhoneRequestState.CONFIRMED, staff_id, "当日は担当の田中よりお電話します")
    assert made.decided_at is not None
    assert "support.phone_confirmed" in actions()
    after = staff.get(f"/staff/support/cases/{case.number}").get_data(as_text=True)
    assert 'name="decision"' not in after and "確定" in after
    customer = login(smtp_app.test_client())
    mine = customer.get(f"/support/cases/{case.number}").get_data(as_text=True)
    assert "確定" in mine and "当日は担当の田中よりお電話します" in mine
    deliver_pending(limit=50)
    [mail] = [m for m in smtp.to("owner@example.com") if "ご依頼について" in m["Subject"]]
    body = smtp.text_of(mail)
    assert "確定いたしました" in body and "2026年12月2日（水） 9:00〜9:30" in body
    assert "当日は担当の田中よりお電話します" in body and case.number in body


def test_staff_decline_needs_a_note_and_mails_it(smtp_app, smtp, at):
    case = owner_with_case()
    made = make_request(case)
    staff = staff_client(smtp_app)
    token = csrf_from(staff.get(f"/staff/support/cases/{case.number}").get_data(as_text=True))
    response = staff.post(decide_url(made), data={"csrf_token": token, "decision": "decline",
                                                  "note": "  "})
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "お受けできない理由を入力してください" in page
    assert requests_of(case)[0].state == PhoneRequestState.REQUESTED
    response = staff.post(decide_url(made), data={"csrf_token": token, "decision": "decline",
                                                  "note": "x" * 501}, headers=HX)
    assert response.status_code == 422 and "500文字以内" in response.get_data(as_text=True)
    assert "<html" not in response.get_data(as_text=True)
    for bad in ({"decision": "maybe", "note": "理由"}, {"note": "理由"}):
        assert staff.post(decide_url(made), data={"csrf_token": token, **bad}).status_code == 422
    note = "<b>繁忙期</b>のため、ケースのコメントでご案内します"
    response = staff.post(decide_url(made), data={"csrf_token": token, "decision": "decline",
                                                  "note": note}, headers=HX)
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == f"/staff/support/cases/{case.number}"
    [made] = requests_of(case)
    assert (made.state, made.staff_note) == (PhoneRequestState.DECLINED, note)
    assert "support.phone_declined" in actions()
    mine = login(smtp_app.test_client()).get(f"/support/cases/{case.number}")
    page = mine.get_data(as_text=True)
    assert "お受けできません" in page and "&lt;b&gt;繁忙期&lt;/b&gt;" in page
    assert "<b>繁忙期</b>" not in page
    deliver_pending(limit=50)
    [mail] = [m for m in smtp.to("owner@example.com") if "ご依頼について" in m["Subject"]]
    assert "お受けすることができませんでした" in smtp.text_of(mail)
    assert note in smtp.text_of(mail)
    html = mail.get_body(preferencelist=("html",)).get_content()
    assert "&lt;b&gt;繁忙期&lt;/b&gt;" in html


def test_a_decided_request_is_not_decided_again(app, at):
    case = owner_with_case()
    made = make_request(case)
    staff = staff_client(app)
    token = csrf_from(staff.get(f"/staff/support/cases/{case.number}").get_data(as_text=True))
    data = {"csrf_token": token, "decision": "confirm", "note": ""}
    assert staff.post(decide_url(made), data=data).status_code == 303
    again = staff.post(decide_url(made), data={**data, "decision": "decline", "note": "やはり無理"})
    assert again.status_code == 409 and "すでに対応済み" in again.get_data(as_text=True)
    [made] = requests_of(case)
    assert made.state == PhoneRequestState.CONFIRMED and made.staff_note is None
    assert len(outbox("owner@example.com", "support_phone_decided")) == 1
    with pytest.raises(phone.AlreadyDecided):
        phone.decide(db.session.get(Account, made.decided_by_id), made.id, False, "理由",
                     MONDAY_1559)


def test_staff_pages_are_for_staff_only(app, client, at):
    case = owner_with_case()
    made = make_request(case)
    login(client)
    token = csrf_from(client.get(url(case)).get_data(as_text=True))
    assert client.get("/staff/support/phone").status_code == 404
    assert client.post(decide_url(made), data={"csrf_token": token,
                                               "decision": "confirm"}).status_code == 404
    assert requests_of(case)[0].state == PhoneRequestState.REQUESTED
    anonymous = app.test_client()
    assert anonymous.get("/staff/support/phone").status_code == 302
    staff = staff_client(app)
    token = csrf_from(staff.get("/staff/support/phone").get_data(as_text=True))
    assert staff.post("/staff/support/phone/99999999",
                      data={"csrf_token": token, "decision": "confirm"}).status_code == 404
    assert staff.post(decide_url(made), data={"decision": "confirm"}).status_code == 400


def test_the_staff_list_filters_and_sorts(app, at):
    first = owner_with_case()
    second = owner_with_case("second@example.com")
    make_request(first, "2026-12-10T15:00")
    make_request(second, "2026-12-02T10:00")
    middle = make_request(first, "2026-12-04T09:30")
    staff_account = make_staff()
    phone.decide(staff_account, middle.id, True, None, MONDAY_1559)
    declined = make_request(second, "2026-12-03T11:00")
    phone.decide(staff_account, declined.id, False, "不可", MONDAY_1559)
    staff = login(app.test_client(), "staff@example.com")

    def listed(query=""):
        page = staff.get(f"/staff/support/phone{query}").get_data(as_text=True)
        return re.findall(r'href="/staff/support/cases/(\d+)"', page), page

    numbers, page = listed()
    assert numbers == [second.number, first.number]      # soonest slot first
    assert "2026年12月2日（水） 10:00〜10:30" in page and 'aria-current="page">受付済み' in page
    assert re.search(r"<td(?![^>]*data-label)[^>]*>", page) is None
    assert listed("?state=confirmed")[0] == [first.number]
    assert listed("?state=declined")[0] == [second.number]
    assert listed("?state=all")[0] == [second.number, second.number, first.number,
                                       first.number]
    assert listed("?state=<script>")[0] == numbers
    assert listed("?state=all&page=99")[0] == listed("?state=all")[0]


def test_the_staff_list_runs_the_same_queries_for_more_rows(app, at):
    make_staff()
    staff = login(app.test_client(), "staff@example.com")

    def queries(count: int) -> int:
        for _ in range(count):
            make_request(owner_with_case())
        with statements() as seen:
            assert staff.get("/staff/support/phone?state=all").status_code == 200
        return len(seen)

    assert queries(2) == queries(10)
    total = db.session.scalar(select(func.count()).select_from(PhoneRequest))
    assert total == 12


# -- at the same moment ---------------------------------------------------------------------------
WORKERS = 6


def _concurrent_app(make_app):
    return make_app(RATELIMIT_ENABLED=False)


def test_the_same_form_posted_at_once_makes_one_request(make_app, at):
    app = _concurrent_app(make_app)
    with app.app_context():
        case = owner_with_case()
        number, case_id = case.number, case.id
        clients = [login(app.test_client()) for _ in range(WORKERS)]
        data = form_data(clients[0], case)
    forms = [{**data, "csrf_token": csrf_from(c.get(f"/support/cases/{number}/phone")
                                              .get_data(as_text=True))} for c in clients]

    def post(i: int) -> int:
        return clients[i].post(f"/support/cases/{number}/phone", data=forms[i]).status_code

    with ThreadPoolExecutor(WORKERS) as pool:
        codes = list(pool.map(post, range(WORKERS)))
    assert codes == [303] * WORKERS
    with app.app_context():
        assert len(requests_of(db.session.get(SupportCase, case_id))) == 1
        assert len(outbox("owner@example.com", "support_phone_requested")) == 1


def test_many_forms_at_once_stop_at_three_waiting(make_app, at):
    app = _concurrent_app(make_app)
    with app.app_context():
        case = owner_with_case()
        number, case_id = case.number, case.id
        clients = [login(app.test_client()) for _ in range(WORKERS)]
        forms = [form_data(c, case) for c in clients]  # each with its own key

    def post(i: int) -> int:
        return clients[i].post(f"/support/cases/{number}/phone", data=forms[i]).status_code

    with ThreadPoolExecutor(WORKERS) as pool:
        codes = list(pool.map(post, range(WORKERS)))
    assert sorted(codes) == [303] * 3 + [409] * (WORKERS - 3)
    with app.app_context():
        assert len(requests_of(db.session.get(SupportCase, case_id))) == 3


def test_two_staff_deciding_at_once_decide_once(make_app, at):
    app = _concurrent_app(make_app)
    with app.app_context():
        case = owner_with_case()
        made = make_request(case)
        request_id = made.id
        staffs = []
        for n in range(WORKERS):
            make_staff(f"staff{n}@example.com")
            staffs.append(login(app.test_client(), f"staff{n}@example.com"))
    tokens = [csrf_from(s.get("/staff/support/phone").get_data(as_text=True)) for s in staffs]

    def decide(i: int) -> int:
        data = {"csrf_token": tokens[i], "decision": "confirm" if i % 2 else "decline",
                "note": f"担当{i}"}
        return staffs[i].post(f"/staff/support/phone/{request_id}", data=data).status_code

    with ThreadPoolExecutor(WORKERS) as pool:
        codes = list(pool.map(decide, range(WORKERS)))
    assert sorted(codes) == [303] + [409] * (WORKERS - 1)
    with app.app_context():
        assert len(outbox("owner@example.com", "support_phone_decided")) == 1
        decided = [a for a in actions() if a in ("support.phone_confirmed",
                                                 "support.phone_declined")]
        assert len(decided) == 1
