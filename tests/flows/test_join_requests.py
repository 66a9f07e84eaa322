"""会社の検索 and 従業員からのリクエスト (issue 13, 000-14 / 000-69): a commercial sign-up
finds its company and asks to join it instead of creating a second one; the company's
administrators are told once the address is confirmed, approve or decline, and the
requester is mailed either way. Only findable companies are found, by name or 法人番号,
showing the name and the prefecture only; searches are rate-limited."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from blueprints.account import join_requests, personal_data
from mail.relay import deliver_pending
from models import db, utcnow
from models.account import (Account, AccountPhone, AccountType, Company, CompanyJoinRequest,
                            CompanyRole, JoinRequestStatus)
from models.audit import AuditEvent
from tests.conftest import SmtpServer, csrf_from, links_in, path_of
from tests.flows.test_dealer_links import _password_hash, make_company
from tests.helpers import HX, NAME_STEP, PASSWORD, last_link, login, outbox, post_step

ADMIN = "admin1@dealer1.example"
OTHER_ADMIN = "admin2@dealer2.example"
REQUESTER = "kenji@example.com"
NUMBER = "7000012050002"
SEARCH = "/account/signup/company-search"
JOIN_PAGE = "/account/settings/company/join"
REQUESTS_PAGE = "/account/settings/employees/requests"
PERSON = {"department": "工事部", "position": "主任", "phones-0-kind": "mobile",
          "phones-0-number": "080-1111-2222", "accept_terms": "y", "accept_privacy": "y"}


def text_of(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def companies(app):
    """販売店1 (findable, 大阪府, with its 法人番号), 販売店2 (not findable)."""
    findable = make_company(1)
    findable.findable, findable.prefecture = True, "大阪府"
    findable.registration_number = NUMBER
    hidden = make_company(2)
    db.session.commit()
    return findable.id, hidden.id


def make_requester(email=REQUESTER, activated=True) -> Account:
    now = utcnow()
    account = Account(email=email, password_hash=_password_hash(), family_name="木村",
                      given_name="健二", account_type=AccountType.COMMERCIAL,
                      activated_at=now if activated else None, terms_accepted_at=now,
                      privacy_accepted_at=now, department="工事部", position="主任")
    account.phones = [AccountPhone(position=0, kind="mobile", number="08011112222")]
    db.session.add(account)
    db.session.commit()
    return account


def signed_in(app, email):
    client = app.test_client()
    assert login(client, email).status_code == 303
    return client


def add_request(company_id, email=REQUESTER, message="工事部の木村です") -> int:
    account = db.session.scalar(select(Account).where(Account.email == email))
    outcome = join_requests.add_request(account, db.session.get(Company, company_id), message)
    assert outcome is join_requests.RequestOutcome.SENT
    db.session.commit()
    return db.session.scalar(select(CompanyJoinRequest.id)
                             .where(CompanyJoinRequest.account_id == account.id))


def requests_of(email) -> list[CompanyJoinRequest]:
    db.session.expire_all()
    return list(db.session.scalars(
        select(CompanyJoinRequest).join(Account, Account.id == CompanyJoinRequest.account_id)
        .where(Account.email == email).order_by(CompanyJoinRequest.id)))


def account_of(email) -> Account:
    db.session.expire_all()
    return db.session.scalar(select(Account).where(Account.email == email))


def confirm(client, path):
    page = client.get(path)
    assert page.status_code == 200, text_of(page)
    return client.post(path, data={"csrf_token": csrf_from(text_of(page))})


def search(client, query):
    return client.get(SEARCH, query_string={"company_query": query}, headers=HX)


# -- 会社の検索 ------------------------------------------------------------------------------
def test_search_finds_findable_companies_by_part_of_the_name_or_the_number(client, companies):
    found = search(client, "販売店")
    assert found.status_code == 200
    body = text_of(found)
    assert "販売店1株式会社" in body and "大阪府" in body
    assert "販売店2株式会社" not in body  # not findable
    # Name and prefecture only: no address, phone, e-mail, number or members.
    for secret in ("日本橋兜町", "0312345678", "info1@dealer1.example", ADMIN, NUMBER, "佐藤"):
        assert secret not in body
    for query in (NUMBER, "７００００１２０５０００２", "T" + NUMBER, "店1株"):
        assert "販売店1株式会社" in text_of(search(client, query)), query
    nothing = text_of(search(client, NUMBER[:12]))  # 12 digits: a name, matching none
    assert "該当する会社が見つかりませんでした" in nothing


def test_search_ignores_width_and_case(client, companies):
    company = db.session.get(Company, companies[0])
    company.name = "ＥＮＥリンク販売"
    db.session.commit()
    for query in ("ene", "ＥＮＥ", "Ｅｎｅ", "ﾘﾝｸ販売"):
        assert "ＥＮＥリンク販売" in text_of(search(client, query)), query


@pytest.mark.parametrize("query, status, message", [
    ("販", 422, "2文字以上"), ("", 422, "入力してください"), ("販\x00売", 422, "使用できない文字"),
    ("販売" * 3000, 422, "100文字以内"), ("%_", 200, "該当する会社が見つかりませんでした"),
])
def test_bad_searches_get_a_message(client, companies, query, status, message):
    response = search(client, query)
    assert response.status_code == status
    assert message in text_of(response)


def test_many_results_ask_to_narrow_down(make_app):
    app = make_app(COMPANY_SEARCH_MAX_RESULTS=2)
    with app.app_context():
        for n in (1, 2, 3):
            make_company(n).findable = True
        db.session.commit()
        body = text_of(search(app.test_client(), "販売店"))
        assert body.count("この会社に参加をリクエスト<") == 2
        assert "絞り込んでください" in body


def test_searches_are_limited_per_client_across_both_pages(make_app):
    app = make_app(COMPANY_SEARCH_LIMIT="2 per minute")
    with app.app_context():
        make_company(1).findable = True
        make_requester()
        db.session.commit()
        client = signed_in(app, REQUESTER)
        assert search(client, "販売店").status_code == 200
        assert client.get(JOIN_PAGE, query_string={"q": "販売店"}).status_code == 200
        limited = client.get(JOIN_PAGE, query_string={"q": "販売店"})
        assert limited.status_code == 429
        assert "検索の回数が多すぎます" in text_of(limited)
        assert "販売店1株式会社" not in text_of(limited)
        partial = search(client, "販売店")
        assert partial.status_code == 429 and "検索の回数が多すぎます" in text_of(partial)
        # Without JavaScript, the sign-up step's own search button: the 429 page.
        anonymous = app.test_client()
        post_step(anonymous, "name", NAME_STEP)
        post_step(anonymous, "type", {"account_type": "commercial"})
        step = post_step(anonymous, "details", {"company_query": "販売店", "search_company": "検索"})
        assert step.status_code == 429
        assert "しばらくしてからお試しください" in text_of(step)


# -- sign-up with a chosen company -----------------------------------------------------------
def _choose_company_in_step_3(client, company_id):
    """Steps 1–2, then step 3's search and choice without JavaScript (sub-actions)."""
    post_step(client, "name", {**NAME_STEP, "email": REQUESTER})
    post_step(client, "type", {"account_type": "commercial"})
    found = post_step(client, "details", {"company_query": "販売店", "search_company": "検索"})
    assert found.status_code == 200 and "販売店1株式会社" in text_of(found)
    chosen = post_step(client, "details", {"choose_company": str(company_id)})
    assert chosen.status_code == 200
    body = text_of(chosen)
    assert "参加をリクエストする会社" in body and f'value="{company_id}"' in body
    assert 'name="company_name"' not in body  # no second company asked for
    return chosen


def test_sign_up_asks_to_join_and_admins_hear_of_it_once_the_address_is_confirmed(
        make_app, smtp):
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port, MAIL_TIMEOUT_SECONDS=5)
    with app.app_context():
        company_id = make_company(1).id
        db.session.get(Company, company_id).findable = True
        db.session.commit()
        client = app.test_client()
        _choose_company_in_step_3(client, company_id)
        done = post_step(client, "details", {**PERSON, "join_company": str(company_id),
                                              "join_message": "工事部に配属になりました"})
        assert done.status_code == 303 and done.headers["Location"].endswith("/signup/done")
        account = account_of(REQUESTER)
        assert account.is_commercial and account.company_id is None
        assert db.session.scalar(select(func.count()).select_from(Company)) == 1
        [pending] = requests_of(REQUESTER)
        assert (pending.company_id, pending.status) == (company_id, JoinRequestStatus.PENDING)
        assert pending.message == "工事部に配属になりました"
        # Not yet confirmed: the administrator hears nothing and sees nothing.
        assert outbox(ADMIN, "join_request") == []
        admin = signed_in(app, ADMIN)
        assert REQUESTER not in text_of(admin.get(REQUESTS_PAGE))
        assert client.get(last_link(REQUESTER, "activation")).status_code == 200
        deliver_pending()
        [mail] = [m for m in smtp.to(ADMIN) if "従業員からのリクエスト" in m["Subject"]]
        body = SmtpServer.text_of(mail)
        assert "山田 太郎" in body and REQUESTER in body and "販売店1株式会社" in body
        assert path_of(links_in(body)[0]) == REQUESTS_PAGE
        assert mail.get_body(preferencelist=("html",)) is not None
        page = text_of(admin.get(REQUESTS_PAGE))
        assert REQUESTER in page and "工事部に配属になりました" in page


def test_a_chosen_company_is_checked_again_at_the_end(client, companies):
    company_id, hidden_id = companies
    _choose_company_in_step_3(client, company_id)
    for tampered in (str(hidden_id), "999999", "abc", "1\x00"):
        response = post_step(client, "details", {**PERSON, "join_company": tampered})
        assert response.status_code == 422, tampered
        assert ("選択できなくなりました" in text_of(response)
                or "見つかりません" in text_of(response)), tampered
    assert account_of(REQUESTER) is None
    assert post_step(client, "details", {**PERSON, "join_company": str(company_id)}) \
        .status_code == 303
    assert [r.company_id for r in requests_of(REQUESTER)] == [company_id]


def test_a_company_that_stops_being_findable_before_the_end_sends_back_to_step_3(
        client, companies):
    company_id, _hidden = companies
    _choose_company_in_step_3(client, company_id)
    db.session.get(Company, company_id).findable = False
    db.session.commit()
    response = post_step(client, "details", {**PERSON, "join_company": str(company_id)})
    assert response.status_code == 422
    assert "選択できなくなりました" in text_of(response)
    assert account_of(REQUESTER) is None and requests_of(REQUESTER) == []
    # Clearing the choice brings the company fields back.
    cleared = post_step(client, "details", {"join_company": str(company_id),
                                            "clear_company": "1"})
    assert cleared.status_code == 200 and 'name="company_name"' in text_of(cleared)


def test_an_address_with_an_id_gets_the_usual_mail_and_no_request(client, companies):
    make_requester()
    _choose_company_in_step_3(client, companies[0])
    done = post_step(client, "details", {**PERSON, "join_company": str(companies[0])})
    assert done.status_code == 303
    assert requests_of(REQUESTER) == []
    assert len(outbox(REQUESTER, "account_exists")) == 1


def test_search_and_choice_with_htmx(client, companies):
    post_step(client, "name", {**NAME_STEP, "email": REQUESTER}, htmx=True)
    post_step(client, "type", {"account_type": "commercial"}, htmx=True)
    results = search(client, "販売店")
    assert 'name="choose_company"' in text_of(results)
    assert client.get(SEARCH, query_string={"company_query": "販売店"}).status_code == 303
    chosen = post_step(client, "details", {"choose_company": str(companies[0])}, htmx=True)
    assert chosen.status_code == 200 and "参加をリクエストする会社" in text_of(chosen)


# -- 従業員からのリクエストの管理 -------------------------------------------------------------
def test_the_admin_approves_and_the_requester_joins_as_a_member(make_app, smtp):
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port, MAIL_TIMEOUT_SECONDS=5)
    with app.app_context():
        company = make_company(1)
        company.findable = True
        company_id = company.id
        make_requester()
        request_id = add_request(company_id)
        admin = signed_in(app, ADMIN)
        page = text_of(admin.get(REQUESTS_PAGE))
        assert "木村 健二" in page and REQUESTER in page and "工事部の木村です" in page
        path = f"{REQUESTS_PAGE}/{request_id}/approve"
        response = confirm(admin, path)
        assert response.status_code == 303
        assert "参加を承認しました" in text_of(admin.get(response.headers["Location"]))
        joined = account_of(REQUESTER)
        assert (joined.company_id, joined.company_role) == (company_id, CompanyRole.MEMBER)
        [decided] = requests_of(REQUESTER)
        assert decided.status == JoinRequestStatus.APPROVED
        assert decided.decided_by_id == account_of(ADMIN).id
        assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "company.join_request_approve")) == 1
        deliver_pending()
        [mail] = smtp.to(REQUESTER)
        assert "会社への参加が承認されました" in mail["Subject"]
        assert "販売店1株式会社" in SmtpServer.text_of(mail)
        # A second submit changes nothing; the history shows the decision.
        again = admin.post(path, data={"csrf_token": csrf_from(page)})
        assert again.status_code == 303
        assert len(outbox(REQUESTER)) == 1
        assert "承認済み" in text_of(admin.get(REQUESTS_PAGE))
        assert signed_in(app, REQUESTER).get("/account/settings/employees").status_code == 200


def test_the_admin_declines_and_the_requester_is_told(make_app, smtp):
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port, MAIL_TIMEOUT_SECONDS=5)
    with app.app_context():
        company = make_company(1)
        company.findable = True
        make_requester()
        request_id = add_request(company.id)
        admin = signed_in(app, ADMIN)
        assert confirm(admin, f"{REQUESTS_PAGE}/{request_id}/decline").status_code == 303
        assert account_of(REQUESTER).company_id is None
        assert requests_of(REQUESTER)[0].status == JoinRequestStatus.DECLINED
        deliver_pending()
        [mail] = smtp.to(REQUESTER)
        assert "会社への参加が承認されませんでした" in mail["Subject"]
        requester = signed_in(app, REQUESTER)
        assert "拒否" in text_of(requester.get(JOIN_PAGE))


def test_only_the_companys_admins_see_and_decide_requests(app, companies):
    company_id, _hidden = companies
    make_requester()
    request_id = add_request(company_id)
    # An employee (not the administrator) of the same company, another company's admin.
    member = make_requester("member@example.com")
    member.company_id, member.company_role = company_id, CompanyRole.MEMBER
    db.session.commit()
    for email in ("member@example.com", OTHER_ADMIN, REQUESTER):
        client = signed_in(app, email)
        token = csrf_from(text_of(client.get("/account/settings")))
        page = client.get(REQUESTS_PAGE)  # another company's admin: their own (none)
        assert page.status_code == (200 if email == OTHER_ADMIN else 404), email
        assert REQUESTER not in text_of(page)
        for action in ("approve", "decline"):
            path = f"{REQUESTS_PAGE}/{request_id}/{action}"
            assert client.get(path).status_code == 404
            assert client.post(path, data={"csrf_token": token}).status_code == 404
    assert requests_of(REQUESTER)[0].status == JoinRequestStatus.PENDING
    assert account_of(REQUESTER).company_id is None
    admin = signed_in(app, ADMIN)
    assert admin.get(f"{REQUESTS_PAGE}/999999/approve").status_code == 404
    # Without a CSRF token: refused (400), nothing happens.
    assert admin.post(f"{REQUESTS_PAGE}/{request_id}/approve").status_code == 400
    assert requests_of(REQUESTER)[0].status == JoinRequestStatus.PENDING


def test_an_account_that_joined_elsewhere_meanwhile_is_not_approved(app, companies):
    company_id, hidden_id = companies
    make_requester()
    request_id = add_request(company_id)
    requester = account_of(REQUESTER)
    requester.company_id, requester.company_role = hidden_id, CompanyRole.MEMBER
    db.session.commit()
    response = confirm(signed_in(app, ADMIN), f"{REQUESTS_PAGE}/{request_id}/approve")
    assert response.status_code == 409
    assert "すでに別の会社に所属している" in text_of(response)
    assert account_of(REQUESTER).company_id == hidden_id
    assert requests_of(REQUESTER)[0].status == JoinRequestStatus.PENDING


# -- 会社情報 without a company: request, refusals, withdraw ---------------------------------
def test_a_commercial_account_without_company_requests_from_its_company_page(app, companies):
    company_id, hidden_id = companies
    make_requester()
    client = signed_in(app, REQUESTER)
    assert client.get("/account/settings/company").headers["Location"].endswith(JOIN_PAGE)
    page = client.get(JOIN_PAGE, query_string={"q": "販売店"})
    assert page.status_code == 200 and "販売店1株式会社" in text_of(page)
    assert "販売店2株式会社" not in text_of(page)
    partial = client.get(JOIN_PAGE, query_string={"q": "販売店"}, headers=HX)
    assert "<html" not in text_of(partial) and "販売店1株式会社" in text_of(partial)
    path = f"{JOIN_PAGE}/{company_id}"
    form = client.get(path)
    sent = client.post(path, data={"csrf_token": csrf_from(text_of(form)),
                                   "message": "よろしくお願いします"})
    assert sent.status_code == 303
    [pending] = requests_of(REQUESTER)
    assert pending.message == "よろしくお願いします"
    assert [m.recipient for m in outbox(kind="join_request")] == [ADMIN]  # opened: at once
    # A second request to the same company: refused, nothing more.
    twice = client.post(path, data={"csrf_token": csrf_from(text_of(form))})
    assert twice.status_code == 409 and "承認待ち" in text_of(twice)
    assert len(requests_of(REQUESTER)) == 1 and len(outbox(kind="join_request")) == 1
    # A company that is not findable, or gone: 404.
    assert client.get(f"{JOIN_PAGE}/{hidden_id}").status_code == 404
    assert client.post(f"{JOIN_PAGE}/999999",
                       data={"csrf_token": csrf_from(text_of(form))}).status_code == 404
    # A huge or NUL message: a message at the field, nothing stored.
    make_company(3).findable = True
    db.session.commit()
    third = db.session.scalar(select(Company.id).where(Company.name == "販売店3株式会社"))
    for bad in ("あ" * 201, "よろしく\x00"):
        refused = client.post(f"{JOIN_PAGE}/{third}", data={
            "csrf_token": csrf_from(text_of(form)), "message": bad})
        assert refused.status_code == 422
    assert len(requests_of(REQUESTER)) == 1
    # Withdraw: the request ends; someone else's request is not found.
    listing = text_of(client.get(JOIN_PAGE))
    assert "承認待ち" in listing
    withdraw = f"/account/settings/company/requests/{pending.id}/withdraw"
    stranger = signed_in(app, OTHER_ADMIN)
    stranger_token = csrf_from(text_of(stranger.get("/account/settings")))
    assert stranger.post(withdraw, data={"csrf_token": stranger_token}).status_code == 404
    assert client.post(withdraw, data={"csrf_token": csrf_from(listing)}).status_code == 303
    assert requests_of(REQUESTER)[0].status == JoinRequestStatus.WITHDRAWN
    assert client.post(withdraw, data={"csrf_token": csrf_from(listing)}).status_code == 404
    assert REQUESTER not in text_of(signed_in(app, ADMIN).get(REQUESTS_PAGE)).split("処理済み")[0]


def test_members_of_a_company_cannot_ask_to_join_it_or_another(app, companies):
    company_id, _hidden = companies
    admin = signed_in(app, ADMIN)
    assert admin.get(JOIN_PAGE).status_code == 303
    page = admin.get(f"{JOIN_PAGE}/{company_id}")
    assert page.status_code == 200 and "すでにこの会社の従業員です" in text_of(page)
    refused = admin.post(f"{JOIN_PAGE}/{company_id}",
                         data={"csrf_token": csrf_from(text_of(admin.get("/account/settings")))})
    assert refused.status_code == 409 and "すでにこの会社の従業員です" in text_of(refused)
    assert db.session.scalar(select(func.count()).select_from(CompanyJoinRequest)) == 0
    other = signed_in(app, OTHER_ADMIN)
    refused = other.post(f"{JOIN_PAGE}/{company_id}",
                         data={"csrf_token": csrf_from(text_of(other.get("/account/settings")))})
    assert refused.status_code == 409 and "すでに会社に所属しています" in text_of(refused)
    assert db.session.scalar(select(func.count()).select_from(CompanyJoinRequest)) == 0


def findable_box(html: str) -> str:
    return re.search(r'<input[^>]*name="findable"[^>]*>', html).group(0)


def test_the_findable_setting_round_trip(app, client, companies):
    _findable, hidden_id = companies
    admin = signed_in(app, OTHER_ADMIN)  # administrator of 販売店2 (not findable)
    page = text_of(admin.get("/account/settings/company"))
    assert "会社の検索に表示する" in page and "checked" not in findable_box(page)
    token = csrf_from(page)
    assert admin.post("/account/settings/company/findable",
                      data={"csrf_token": token, "findable": "y"}).status_code == 303
    assert db.session.get(Company, hidden_id).findable is True
    assert "checked" in findable_box(text_of(admin.get("/account/settings/company")))
    assert "販売店2株式会社" in text_of(search(client, "販売店2"))
    assert admin.post("/account/settings/company/findable",
                      data={"csrf_token": token}).status_code == 303
    db.session.expire_all()
    assert db.session.get(Company, hidden_id).findable is False
    assert "販売店2株式会社" not in text_of(search(client, "販売店2"))
    # An employee who is not the administrator: 404, nothing changes.
    member = make_requester("member@example.com")
    member.company_id, member.company_role = hidden_id, CompanyRole.MEMBER
    db.session.commit()
    employee = signed_in(app, "member@example.com")
    shown = text_of(employee.get("/account/settings/company"))
    assert "会社の検索に表示する" in shown and 'name="findable"' not in shown
    assert employee.post("/account/settings/company/findable", data={
        "csrf_token": csrf_from(shown), "findable": "y"}).status_code == 404
    db.session.expire_all()
    assert db.session.get(Company, hidden_id).findable is False


def test_a_new_dealer_is_findable(app):
    from blueprints.dealers.services import become_dealer

    company = make_company(1)
    assert company.findable is False
    become_dealer(company, "0312345678")
    db.session.expire_all()
    assert db.session.get(Company, company.id).findable is True


# -- deletion and personal data ----------------------------------------------------------------
def test_personal_data_lists_the_requests_and_deletion_removes_them(app, companies):
    make_requester()
    add_request(companies[0])
    tables = personal_data.account_tables(account_of(REQUESTER))
    [row] = list(tables["company_join_requests"].rows)
    assert row["company"] == "販売店1株式会社" and row["status"] == "pending"
    assert row["message"] == "工事部の木村です"
    client = signed_in(app, REQUESTER)
    page = client.get("/account/delete")
    assert client.post("/account/delete", data={
        "csrf_token": csrf_from(text_of(page)), "confirm": "y",
        "password": PASSWORD}).status_code == 303
    assert db.session.scalar(select(func.count()).select_from(CompanyJoinRequest)) == 0


def test_an_admin_who_decided_can_be_deleted(app, companies):
    make_requester()
    request_id = add_request(companies[0])
    colleague = make_requester("member@example.com")  # the company stays: one remains
    colleague.company_id, colleague.company_role = companies[0], CompanyRole.MEMBER
    db.session.commit()
    admin = signed_in(app, ADMIN)
    assert confirm(admin, f"{REQUESTS_PAGE}/{request_id}/decline").status_code == 303
    page = admin.get("/account/delete")
    assert admin.post("/account/delete", data={
        "csrf_token": csrf_from(text_of(page)), "confirm": "y",
        "password": PASSWORD}).status_code == 303
    [decided] = requests_of(REQUESTER)
    assert decided.decided_by_id is None and decided.status == JoinRequestStatus.DECLINED


def test_demo_data_has_a_findable_company_with_a_request_waiting(app):
    from blueprints.core.registry import seed_demo

    seed_demo()
    seed_demo()  # idempotent
    admin = account_of("dealer@example.com")
    assert admin.company.findable is True
    [pending] = requests_of("applicant@example.com")
    assert (pending.company_id, pending.status) == (admin.company_id, JoinRequestStatus.PENDING)
    assert [r.id for r in join_requests.pending_for(admin)] == [pending.id]
    assert account_of("applicant@example.com").company_id is None


def test_ids_beyond_the_database_range_are_404(app, companies):
    make_requester()
    requester = signed_in(app, REQUESTER)
    admin = signed_in(app, ADMIN)
    huge = "99999999999"
    assert requester.get(f"{JOIN_PAGE}/{huge}").status_code == 404
    token = csrf_from(text_of(requester.get(JOIN_PAGE)))
    assert requester.post(f"/account/settings/company/requests/{huge}/withdraw",
                          data={"csrf_token": token}).status_code == 404
    assert admin.get(f"{REQUESTS_PAGE}/{huge}/approve").status_code == 404


def test_an_account_opened_by_a_password_reset_announces_its_request(client, companies):
    _choose_company_in_step_3(client, companies[0])
    assert post_step(client, "details", {**PERSON, "join_company": str(companies[0])}) \
        .status_code == 303
    assert outbox(ADMIN, "join_request") == []
    page = client.get("/account/password/reset")
    client.post("/account/password/reset", data={"csrf_token": csrf_from(text_of(page)),
                                                 "email": REQUESTER})
    link = last_link(REQUESTER, "password_reset")
    form = client.get(link)
    new_password = "Brand-New-Pass-2026!"
    assert client.post(link, data={"csrf_token": csrf_from(text_of(form)),
                                   "password": new_password,
                                   "password_confirm": new_password}).status_code == 303
    assert len(outbox(ADMIN, "join_request")) == 1
