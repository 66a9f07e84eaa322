"""Monitoring registration: the STEP1-3 wizard of a first-time owner, the provisional mail
and its password page, the main menu, and adding a gateway as a signed-in owner."""
from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from blueprints.core.templating import JST
from blueprints.gateways.slips import new_gateway
from mail.relay import deliver_pending
from models import db, utcnow
from models.account import Account, AccountConsent, AccountType, CompanyRole
from models.gateway import Gateway, GatewayStatus, SlipAttempt
from models.link import MailLink
from tests.conftest import csrf_from, links_in, path_of
from tests.helpers import HX, PASSWORD, last_link, login, outbox, signed_up_and_active

SLIP_ID, SLIP_PASSWORD = "01AB12345678", "demoslip0001"
ONE_MESSAGE = "ゲートウェイIDまたはゲートウェイパスワードが正しくないか、すでに登録されています"
LIMITED = "ゲートウェイIDまたはゲートウェイパスワードの誤りが続いたため"
EMAIL = "hanako@example.com"
TERMS = {"consent": "agree", "accept_terms": "y", "accept_privacy": "y"}
DETAILS = {
    "family_name": "山田", "given_name": "花子", "family_kana": "やまだ", "given_kana": "ハナコ",
    "email": EMAIL, "email_confirm": EMAIL,
    "address-postal_code": "103-0026", "address-prefecture": "東京都",
    "address-city": "中央区", "address-street": "日本橋兜町1丁目2番3号", "address-building": "",
    "phone": "090-1234-5678", "company_name": "", "department": "",
    "gateway_id": SLIP_ID, "gateway_password": SLIP_PASSWORD, "site_name": "山田様邸",
    "site_address_choice": "same",
}


def jst(value) -> str:
    """A date as pages and mails state it (the `datetime` filter, Japanese)."""
    return value.astimezone(JST).strftime("%Y年%m月%d日 %H:%M")


def slip(gateway_id=SLIP_ID, password=SLIP_PASSWORD) -> None:
    new_gateway(gateway_id, password, "GW-M001", ("DM000001",))
    db.session.commit()


def gateway(gateway_id=SLIP_ID) -> Gateway:
    db.session.expire_all()
    return db.session.scalar(select(Gateway).where(Gateway.gateway_id == gateway_id))


def account(email=EMAIL) -> Account | None:
    db.session.expire_all()
    return db.session.scalar(select(Account).where(Account.email == email))


def step(client, name: str, data: dict, htmx: bool = False):
    url = f"/monitoring/register/{name}"
    token = csrf_from(client.get(url, headers=HX if htmx else {}).get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token}, headers=HX if htmx else {})


def register(client, details=None, htmx=False):
    """Walk 利用規約 → 情報の入力 → 確認; returns the last response."""
    step(client, "terms", TERMS, htmx)
    step(client, "details", {**DETAILS, **(details or {})}, htmx)
    return step(client, "confirm", {}, htmx)


def set_password(client, phone="09012345678", email=EMAIL):
    path = last_link(email, "provisional_registration")
    token = csrf_from(client.get(path).get_data(as_text=True))
    return client.post(path, data={"password": PASSWORD, "password_confirm": PASSWORD,
                                   "phone": phone, "csrf_token": token})


def test_campaign_page_leads_into_the_wizard(client):
    page = client.get("/monitoring/register").get_data(as_text=True)
    assert "登録を始める" in page and 'href="/monitoring/register/terms"' in page
    assert "すでにアカウントをお持ちの方" in page and "/monitoring/gateways/add" in page
    jump = client.get("/monitoring/register/confirm")
    assert jump.status_code == 303 and jump.headers["Location"].endswith("/register/terms")


def test_plain_posts_register_provisionally_and_mail_the_link(client):
    slip()
    first = step(client, "terms", TERMS)
    assert first.status_code == 303 and first.headers["Location"].endswith("/register/details")
    second = step(client, "details", {**DETAILS, "gateway_id": "０１ａｂ１２３４５６７８"})
    assert second.status_code == 303 and second.headers["Location"].endswith("/register/confirm")
    confirm = client.get("/monitoring/register/confirm").get_data(as_text=True)
    assert "ヤマダ" in confirm and "日本橋兜町1-2-3" in confirm and SLIP_ID in confirm
    assert "登録する" in confirm and "/monitoring/register/details" in confirm
    assert SLIP_PASSWORD not in confirm
    done = step(client, "confirm", {})
    assert done.status_code == 303 and done.headers["Location"].endswith("/register/done")

    created = account()
    assert created.activated_at is None and created.phones[0].number == "09012345678"
    assert created.street == "日本橋兜町1-2-3"
    claimed = gateway()
    assert claimed.status == GatewayStatus.PROVISIONAL and claimed.owner_id == created.id
    assert claimed.site_name == "山田様邸" and claimed.street == "日本橋兜町1-2-3"
    assert claimed.registered_at is not None

    [mail] = outbox(EMAIL, "provisional_registration")
    assert "アカウント仮登録のお知らせ" in mail.subject
    link = db.session.scalar(select(MailLink).where(MailLink.purpose == "monitoring_registration"))
    assert link.expires_at - utcnow() > timedelta(days=6, hours=23)
    stated = jst(link.expires_at)
    assert stated in mail.text_body and stated in mail.html_body
    assert links_in(mail.text_body)[0].startswith("http://enelink.test/monitoring/register/password/")
    page = client.get("/monitoring/register/done").get_data(as_text=True)
    assert "【アカウント仮登録のお知らせ】メールを送信しました" in page and stated in page


def test_htmx_steps_swap_partials_and_push_urls(client):
    slip()
    first = step(client, "terms", TERMS, htmx=True)
    assert first.status_code == 200
    assert first.headers["HX-Push-Url"] == "/monitoring/register/details"
    assert first.get_data(as_text=True).lstrip().startswith('<div id="wizard"')
    second = step(client, "details", DETAILS, htmx=True)
    assert second.headers["HX-Push-Url"] == "/monitoring/register/confirm"
    bad = step(client, "details", {**DETAILS, "email_confirm": "other@example.com"}, htmx=True)
    assert bad.status_code == 422 and "メールアドレスが一致しません" in bad.get_data(as_text=True)
    step(client, "details", DETAILS, htmx=True)
    third = step(client, "confirm", {}, htmx=True)
    assert third.headers["HX-Redirect"] == "/monitoring/register/done"
    assert gateway().status == GatewayStatus.PROVISIONAL


def test_refusing_the_terms_ends_on_a_consent_page(client):
    response = step(client, "terms", {"consent": "disagree"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/monitoring/register/declined")
    assert "同意が必要です" in client.get("/monitoring/register/declined").get_data(as_text=True)
    assert step(client, "terms", {"consent": "disagree"}, htmx=True).headers["HX-Redirect"] \
        == "/monitoring/register/declined"
    assert client.get("/monitoring/register/details").status_code == 303


def slip_failures() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(SlipAttempt))


def test_slip_errors_give_one_message(client):
    slip()
    slip("01AB12345679", "demoslip0002")
    db.session.execute(update(Gateway).where(Gateway.gateway_id == "01AB12345679")
                       .values(status=GatewayStatus.ACTIVE))
    db.session.commit()
    step(client, "terms", TERMS)
    for wrong in ({"gateway_id": "99ZZ99999999"}, {"gateway_password": "wrongslip999"},
                  {"gateway_id": "01AB12345679", "gateway_password": "demoslip0002"}):
        response = step(client, "details", {**DETAILS, **wrong})
        assert response.status_code == 422
        body = response.get_data(as_text=True)
        assert ONE_MESSAGE in body and 'id="gateway_password-error"' in body
    # Two wrong passwords; the right one of a registered gateway is no guess.
    assert slip_failures() == 2


def test_wrong_slips_limit_the_address_never_the_gateway(make_app):
    app = make_app(SLIP_FAILURES_PER_ADDRESS=3)
    attacker, owner = app.test_client(), app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    owner.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    with app.app_context():
        slip()
        step(attacker, "terms", TERMS)
        for _ in range(3):
            wrong = step(attacker, "details", {**DETAILS, "gateway_password": "wrongslip999"})
            assert wrong.status_code == 422 and ONE_MESSAGE in wrong.get_data(as_text=True)
        # The address failed too often: even the right slip is not checked from it now.
        limited = step(attacker, "details", DETAILS)
        assert limited.status_code == 422
        assert LIMITED in limited.get_data(as_text=True)
        assert slip_failures() == 3
        # The holder of the slip, from their own address, is not stopped.
        step(owner, "terms", TERMS)
        assert step(owner, "details", DETAILS).status_code == 303
        assert step(owner, "confirm", {}).status_code == 303
        assert gateway().status == GatewayStatus.PROVISIONAL
        assert slip_failures() == 3  # right slips never count
        # Failures leave the window: the address may try again.
        db.session.execute(update(SlipAttempt).values(at=utcnow() - timedelta(hours=2)))
        db.session.commit()
        again = step(attacker, "details", {**DETAILS, "gateway_password": "wrongslip999"})
        assert again.status_code == 422 and LIMITED not in again.get_data(as_text=True)


def test_concurrent_wrong_slips_all_count(make_app):
    app = make_app(SLIP_FAILURES_PER_ADDRESS=2)
    with app.app_context():
        slip()
    clients = [app.test_client() for _ in range(4)]
    tokens = []
    for c in clients:
        step(c, "terms", TERMS)
        tokens.append(csrf_from(c.get("/monitoring/register/details").get_data(as_text=True)))

    def guess(i: int) -> str:
        return clients[i].post("/monitoring/register/details", data={
            **DETAILS, "gateway_password": f"wrongslip{i:03d}", "csrf_token": tokens[i]},
        ).get_data(as_text=True)

    with ThreadPoolExecutor(4) as pool:
        bodies = list(pool.map(guess, range(4)))
    assert sum(ONE_MESSAGE in body for body in bodies) == 2
    assert sum(LIMITED in body for body in bodies) == 2
    with app.app_context():
        assert slip_failures() == 2


def shape(body: str, email: str) -> str:
    """A page with what differs between two visitors taken out: the address they typed,
    their CSRF token, and the minute a date was stated."""
    body = body.replace(email, "ADDRESS")
    body = re.sub(r'(name="csrf_token"[^>]*value=|"X-CSRFToken": )"[^"]*"', r'\1"TOKEN"', body)
    return re.sub(r"\d{4}年\d{2}月\d{2}日 \d{2}:\d{2}", "DATE", body)


def _finish_with(client, email, details=None):
    step(client, "terms", TERMS)
    assert step(client, "details", {**DETAILS, "email": email, "email_confirm": email,
                                    **(details or {})}).status_code == 303
    return step(client, "confirm", {})


def test_an_address_with_an_id_goes_on_the_same_way(make_app):
    app = make_app(RATELIMIT_ENABLED=False)
    with app.app_context():
        slip()
        slip("01AB12345679", "demoslip0002")
        signed_up_and_active(app.test_client(), email="known@example.com")
        mails_before = len(outbox())
        known, unknown = app.test_client(), app.test_client()
        answers = {}
        for label, client, email, gateway_id, password in (
                ("known", known, "known@example.com", SLIP_ID, SLIP_PASSWORD),
                ("unknown", unknown, "new@example.com", "01AB12345679", "demoslip0002")):
            done = _finish_with(client, email, {"gateway_id": gateway_id,
                                                "gateway_password": password})
            page = client.get(done.headers["Location"])
            answers[label] = (done.status_code, done.headers["Location"], page.status_code,
                              shape(page.get_data(as_text=True), email))
        assert answers["known"] == answers["unknown"]
        assert len(outbox()) == mails_before + 2
        [has_id] = outbox("known@example.com", "registration_has_id")
        assert outbox("known@example.com", "provisional_registration") == []
        assert "すでに" in has_id.text_body and SLIP_ID in has_id.text_body
        assert "http://enelink.test/monitoring/gateways/add" in links_in(has_id.text_body)
        assert "http://enelink.test/account/password/reset" in links_in(has_id.text_body)
        assert "/monitoring/gateways/add" in has_id.html_body
        assert len(outbox("new@example.com", "provisional_registration")) == 1
        # Nothing was created or claimed for the address that has an ID.
        assert gateway().status == GatewayStatus.UNREGISTERED
        assert db.session.scalar(select(func.count()).select_from(Account)) == 2
        # Its owner signs in and adds the gateway with the same slip.
        owner = app.test_client()
        assert login(owner, email="known@example.com").status_code == 303
        token = csrf_from(owner.get("/monitoring/gateways/add").get_data(as_text=True))
        added = owner.post("/monitoring/gateways/add", data={
            "gateway_id": SLIP_ID, "gateway_password": SLIP_PASSWORD, "site_name": "山田様邸",
            "site_address-postal_code": "1000001", "site_address-prefecture": "東京都",
            "site_address-city": "千代田区", "site_address-street": "千代田1-1",
            "site_address-building": "", "accept_monitoring_terms": "y", "csrf_token": token})
        assert added.status_code == 303
        assert gateway().owner_id == account("known@example.com").id


def test_the_slip_is_checked_before_anything_about_the_address(client):
    slip()
    signed_up_and_active(type(client)(client.application), email=EMAIL)
    step(client, "terms", TERMS)
    bodies = []
    for email in (EMAIL, "nobody@example.com"):
        response = step(client, "details", {**DETAILS, "email": email, "email_confirm": email,
                                             "gateway_password": "wrongslip999"})
        assert response.status_code == 422
        bodies.append(shape(response.get_data(as_text=True), email))
    assert bodies[0] == bodies[1] and ONE_MESSAGE in bodies[0]


def test_installation_address_can_differ(client):
    slip()
    register(client, {"site_address_choice": "other", "site_address-postal_code": "1000001",
                      "site_address-prefecture": "東京都", "site_address-city": "千代田区",
                      "site_address-street": "千代田1-1", "site_address-building": ""})
    claimed = gateway()
    assert claimed.city == "千代田区" and claimed.postal_code == "1000001"


def test_password_step_wants_the_phone_then_signs_in(client):
    slip()
    register(client)
    wrong = set_password(client, phone="08000000000")
    assert wrong.status_code == 422
    assert "仮登録時に入力した電話番号と一致しません" in wrong.get_data(as_text=True)
    assert account().activated_at is None
    right = set_password(client, phone="090-1234-5678")
    assert right.status_code == 303 and right.headers["Location"].endswith("/register/complete")
    assert "本登録完了" in client.get("/monitoring/register/complete").get_data(as_text=True)
    menu = client.get("/monitoring/").get_data(as_text=True)
    assert SLIP_ID in menu and "山田様邸" in menu and f"/monitoring/gateways/{SLIP_ID}" in menu
    assert "/dealers/my" in menu and "/monitoring/gateways/add" in menu
    assert account().activated_at is not None
    assert gateway().status == GatewayStatus.ACTIVE
    again = client.get(last_link(EMAIL, "provisional_registration"))
    assert again.status_code == 410 and "すでに使用されています" in again.get_data(as_text=True)
    other = type(client)(client.application)
    assert login(other, email=EMAIL).status_code == 303


def test_password_must_not_contain_the_gateway_id(client):
    slip()
    register(client)
    path = last_link(EMAIL, "provisional_registration")
    token = csrf_from(client.get(path).get_data(as_text=True))
    bad = f"Aa1!{SLIP_ID}x"
    response = client.post(path, data={"password": bad, "password_confirm": bad,
                                       "phone": "09012345678", "csrf_token": token})
    assert response.status_code == 422
    assert "ゲートウェイID" in response.get_data(as_text=True)


def test_expired_and_altered_links(client):
    slip()
    register(client)
    path = last_link(EMAIL, "provisional_registration")
    assert client.get(path + "x").status_code == 404
    db.session.execute(update(MailLink).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    expired = client.get(path)
    assert expired.status_code == 410 and "有効期限が切れています" in expired.get_data(as_text=True)
    renewed = client.post(path + "/renew",
                          data={"csrf_token": csrf_from(expired.get_data(as_text=True))})
    assert renewed.status_code == 200
    assert len(outbox(EMAIL, "provisional_registration")) == 2
    assert set_password(client).status_code == 303


def test_provisional_mail_over_real_smtp(smtp_app, smtp):
    client = smtp_app.test_client()
    slip()
    register(client)
    deliver_pending()
    [message] = smtp.to(EMAIL)
    text = smtp.text_of(message)
    assert "アカウント仮登録のお知らせ" in message["Subject"]
    link = db.session.scalar(select(MailLink).where(MailLink.purpose == "monitoring_registration"))
    assert jst(link.expires_at) in text
    assert client.get(path_of(links_in(text)[0])).status_code == 200


def test_two_people_registering_one_gateway_at_once(make_app):
    app = make_app(RATELIMIT_ENABLED=False)
    with app.app_context():
        slip()
    clients = [app.test_client() for _ in range(2)]
    for n, c in enumerate(clients):
        step(c, "terms", TERMS)
        assert step(c, "details", {**DETAILS, "email": f"p{n}@example.com",
                                   "email_confirm": f"p{n}@example.com"}).status_code == 303
    tokens = [csrf_from(c.get("/monitoring/register/confirm").get_data(as_text=True))
              for c in clients]

    def finish(i: int):
        response = clients[i].post("/monitoring/register/confirm",
                                   data={"csrf_token": tokens[i]})
        return response.status_code, response.get_data(as_text=True)

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(finish, range(2)))
    assert sorted(code for code, _ in results) == [303, 422]
    assert ONE_MESSAGE in next(body for code, body in results if code == 422)
    with app.app_context():
        claimed = gateway()
        assert claimed.status == GatewayStatus.PROVISIONAL
        assert db.session.scalar(select(func.count()).select_from(Account)) == 1
        owner = db.session.get(Account, claimed.owner_id)
        assert owner.email in ("p0@example.com", "p1@example.com")


def _active_owner(client, email=EMAIL, gateway_id=SLIP_ID, password=SLIP_PASSWORD):
    register(client, {"email": email, "email_confirm": email, "gateway_id": gateway_id,
                      "gateway_password": password})
    assert set_password(client, email=email).status_code == 303


def test_signed_in_owner_adds_a_gateway(client):
    slip()
    slip("01AB12345680", "demoslip0003")
    assert client.get("/monitoring/gateways/add").headers["Location"].startswith(
        "/account/login?next=")
    _active_owner(client)
    url = "/monitoring/gateways/add"
    token = csrf_from(client.get(url).get_data(as_text=True))
    data = {"gateway_id": "01ab-12345680", "gateway_password": "wrong", "site_name": "別荘",
            "site_address-postal_code": "1000001", "site_address-prefecture": "東京都",
            "site_address-city": "千代田区", "site_address-street": "千代田1-1",
            "site_address-building": "", "csrf_token": token}
    wrong = client.post(url, data=data)
    assert wrong.status_code == 422 and ONE_MESSAGE in wrong.get_data(as_text=True)
    added = client.post(url, data={**data, "gateway_password": "demoslip0003"})
    assert added.status_code == 303 and added.headers["Location"].endswith("/monitoring/")
    assert "01AB12345680 を登録しました" in client.get("/monitoring/").get_data(as_text=True)
    second = gateway("01AB12345680")
    assert second.status == GatewayStatus.ACTIVE and second.owner_id == account().id
    again = client.post(url, data={**data, "gateway_password": "demoslip0003"})
    assert again.status_code == 422 and ONE_MESSAGE in again.get_data(as_text=True)


def test_another_owner_does_not_see_the_gateway(make_app):
    app = make_app(RATELIMIT_ENABLED=False)
    first, second = app.test_client(), app.test_client()
    with app.app_context():
        slip()
        slip("01AB12345680", "demoslip0003")
        _active_owner(first)
        _active_owner(second, email="jiro@example.com", gateway_id="01AB12345680",
                      password="demoslip0003")
        page = second.get("/monitoring/").get_data(as_text=True)
        assert "01AB12345680" in page and SLIP_ID not in page
        launcher = second.get("/").get_data(as_text=True)
        assert "遠隔モニタリング" in launcher


# -- what STEP1 and STEP2 ask is kept -------------------------------------------------------
def test_step1_shows_and_needs_both_consents(client):
    page = client.get("/monitoring/register/terms").get_data(as_text=True)
    assert "遠隔モニタリングサービス 利用規約" in page
    assert 'href="/terms"' in page and 'href="/privacy"' in page
    assert 'name="accept_terms"' in page and 'name="accept_privacy"' in page
    for missing in ("accept_terms", "accept_privacy"):
        response = step(client, "terms", {k: v for k, v in TERMS.items() if k != missing})
        assert response.status_code == 422
        body = response.get_data(as_text=True)
        assert f'id="{missing}-error"' in body and "同意が必要です" in body
    assert client.get("/monitoring/register/details").status_code == 303


def test_the_registration_records_both_consents_and_the_kana(client):
    slip()
    before = utcnow()
    register(client)
    created = account()
    assert (created.family_kana, created.given_kana) == ("ヤマダ", "ハナコ")
    assert created.account_type == AccountType.PERSONAL and created.company_id is None
    assert created.terms_accepted_at >= before and created.privacy_accepted_at >= before
    [consent] = db.session.scalars(select(AccountConsent))
    assert (consent.account_id, consent.document) == (created.id, "monitoring_terms")
    assert consent.accepted_at >= before


def test_a_company_name_makes_a_commercial_account_with_that_company(client):
    slip()
    step(client, "terms", TERMS)
    assert step(client, "details", {**DETAILS, "company_name": "山田電設株式会社",
                                    "department": "工事部"}).status_code == 303
    confirm = client.get("/monitoring/register/confirm").get_data(as_text=True)
    assert "山田電設株式会社" in confirm and "工事部" in confirm and "商用アカウント" in confirm
    assert step(client, "confirm", {}).status_code == 303
    created = account()
    assert created.account_type == AccountType.COMMERCIAL
    assert created.company_role == CompanyRole.ADMIN and created.department == "工事部"
    assert (created.family_kana, created.given_kana) == ("ヤマダ", "ハナコ")
    assert created.phones[0].number == "09012345678"
    company = created.company
    assert (company.name, company.email, company.phone, company.kind) == (
        "山田電設株式会社", EMAIL, "09012345678", None)
    assert (company.postal_code, company.prefecture, company.city, company.street) == (
        "1030026", "東京都", "中央区", "日本橋兜町1-2-3")
    assert gateway().owner_id == created.id
    # 本登録; the first visit of 会社情報 asks for what STEP2 did not.
    assert set_password(client).status_code == 303
    page = client.get("/account/settings/company")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "未入力の項目があります" in html and 'value="山田電設株式会社"' in html
    token = csrf_from(html)
    form = {"csrf_token": token, "company_name": "山田電設株式会社", "company_kind": "",
            "registration_number": "", "company_address-postal_code": "1030026",
            "company_address-prefecture": "東京都", "company_address-city": "中央区",
            "company_address-street": "日本橋兜町1-2-3", "company_address-building": "",
            "company_email": EMAIL, "website": "", "company_phone": "09012345678"}
    refused = client.post("/account/settings/company", data=form)
    assert refused.status_code == 422 and 'id="company_kind-error"' in refused.get_data(as_text=True)
    saved = client.post("/account/settings/company", data={**form, "company_kind": "other"})
    assert saved.status_code == 303
    assert account().company.kind == "other"
    assert "未入力の項目があります" not in client.get("/account/settings/company").get_data(
        as_text=True)


def test_a_department_needs_the_company_name(client):
    slip()
    step(client, "terms", TERMS)
    response = step(client, "details", {**DETAILS, "department": "工事部"})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert 'id="department-error"' in body and 'value="工事部"' in body


@pytest.mark.parametrize("account_type", ["personal", "commercial"])
def test_adding_a_gateway_keeps_the_account_type(client, account_type):
    slip()
    signed_up_and_active(client, email="member@example.com", account_type=account_type)
    assert login(client, email="member@example.com").status_code == 303
    url = "/monitoring/gateways/add"
    page = client.get(url).get_data(as_text=True)
    # An ID made by the sign-up has not agreed to the monitoring terms yet.
    assert "遠隔モニタリングサービス 利用規約" in page and 'name="accept_monitoring_terms"' in page
    data = {"gateway_id": SLIP_ID, "gateway_password": SLIP_PASSWORD, "site_name": "事務所",
            "site_address-postal_code": "1000001", "site_address-prefecture": "東京都",
            "site_address-city": "千代田区", "site_address-street": "千代田1-1",
            "site_address-building": "", "company_name": "乗っ取り株式会社",
            "csrf_token": csrf_from(page)}
    refused = client.post(url, data=data)
    assert refused.status_code == 422
    assert 'id="accept_monitoring_terms-error"' in refused.get_data(as_text=True)
    added = client.post(url, data={**data, "accept_monitoring_terms": "y"})
    assert added.status_code == 303
    owner = account("member@example.com")
    assert owner.account_type == AccountType(account_type)
    assert (owner.company.name if owner.company else None) == (
        "テスト電設株式会社" if account_type == "commercial" else None)
    assert gateway().owner_id == owner.id
    assert db.session.scalar(select(AccountConsent.document).where(
        AccountConsent.account_id == owner.id)) == "monitoring_terms"
    assert 'name="accept_monitoring_terms"' not in client.get(url).get_data(as_text=True)
