"""The club's dealer sign-up, mail-first (seed 003-01 … 003-13, 003-25, 003-26): the
address → the 1 h 仮登録 link → 販売店情報 → 確認 → 登録する → the welcome mail with the
販売店ID; sign-in from the dealer page; the dealer info page and its edit."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from models import db, utcnow
from models.account import Account, AccountType, Company, CompanyRole
from models.audit import AuditEvent
from models.gateway import Dealer
from models.link import MailLink
from tests.conftest import SmtpServer, csrf_from, links_in, path_of
from tests.flows.test_dealer_links import make_company, make_owner
from tests.helpers import HX, PASSWORD, login, outbox, without_csrf

EMAIL = "shop@dealer.example"
INFO = {
    "company_name": "テスト販売株式会社",
    "family_name": "販売", "given_name": "太郎",
    "family_kana": "はんばい", "given_kana": "ﾀﾛｳ",
    "address-postal_code": "１０３-００２６", "address-prefecture": "東京都",
    "address-city": "中央区", "address-street": "日本橋兜町14-9",
    "address-building": "兜町ビル2F",
    "phone": "03-3666-7945",
    "password": PASSWORD, "password_confirm": PASSWORD,
}
CONFIRM = {"accept_terms": "y", "accept_privacy": "y"}
FORM = "/club/dealer/signup/form"


def _count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def ask(client, email=EMAIL, htmx=False):
    page = client.get("/club/dealer/signup")
    return client.post("/club/dealer/signup",
                       data={"email": email, "csrf_token": csrf_from(page.get_data(as_text=True))},
                       headers=HX if htmx else {})


def signup_link(email=EMAIL) -> str:
    mails = outbox(email, "club_dealer_signup")
    assert mails, f"no sign-up mail to {email}"
    return path_of(links_in(mails[-1].text_body)[0])


def post(client, step, data, htmx=False):
    url = f"{FORM}/{step}"
    token = csrf_from(client.get(url, headers=HX if htmx else {}).get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token}, headers=HX if htmx else {})


def sign_up_dealer(client, email=EMAIL, htmx=False, info=None):
    assert ask(client, email, htmx).status_code == 200
    assert client.get(signup_link(email)).status_code == 302
    response = post(client, "info", {**INFO, **(info or {})}, htmx)
    assert response.status_code in (200, 303), response.get_data(as_text=True)
    return post(client, "confirm", CONFIRM, htmx)


def dealer_account(email=EMAIL) -> Account | None:
    db.session.expire_all()
    return db.session.scalar(select(Account).where(Account.email == email))


# -- the whole flow ------------------------------------------------------------------------
def test_the_whole_sign_up_over_real_smtp(smtp_app, smtp):
    from mail.relay import deliver_pending

    client = smtp_app.test_client()
    page = client.get("/club/dealer/signup").get_data(as_text=True)
    assert "送信する" in page
    sent = ask(client)
    text = sent.get_data(as_text=True)
    assert sent.status_code == 200 and "仮登録メールを送信しました" in text
    assert "1時間" in text and "迷惑メール" in text
    deliver_pending(limit=50)
    [mail] = smtp.to(EMAIL)
    body = SmtpServer.text_of(mail)
    assert "仮登録" in mail["Subject"]
    assert "仮登録の有効期限は1時間です。期限切れの場合は、再度登録をお願いいたします。" in body
    assert smtp_app.config["SUPPORT_PHONE"] in body and smtp_app.config["SUPPORT_EMAIL"] in body
    link = path_of(links_in(body)[0])
    assert link.startswith("/club/dealer/signup/link/")
    stored = db.session.scalar(select(MailLink).where(MailLink.email == EMAIL))
    assert abs(stored.expires_at - stored.created_at - timedelta(hours=1)) < timedelta(minutes=1)
    assert link.rsplit("/", 1)[1] not in stored.token_hash  # hashed, never the token

    opened = client.get(link)
    assert opened.status_code == 302 and opened.headers["Location"].endswith(f"{FORM}/info")
    form = client.get(f"{FORM}/info").get_data(as_text=True)
    assert EMAIL in form and "企業名" in form and "ログイン時に必要" in form
    assert 'name="email"' not in form  # fixed, not editable
    assert post(client, "info", INFO).status_code == 303
    confirm = client.get(f"{FORM}/confirm").get_data(as_text=True)
    for shown in ("テスト販売株式会社", "販売 太郎", "ハンバイ タロウ", "103-0026", "東京都",
                  "中央区", "日本橋兜町14-9 兜町ビル2F", "03-3666-7945", EMAIL):
        assert shown in confirm, shown
    assert PASSWORD not in confirm
    done = post(client, "confirm", CONFIRM)
    assert done.status_code == 303 and done.headers["Location"].endswith("/club/dealer/signup/done")
    account = dealer_account()
    dealer = db.session.scalar(select(Dealer).where(Dealer.company_id == account.company_id))
    page = client.get("/club/dealer/signup/done").get_data(as_text=True)
    assert "会員登録が完了しました" in page and dealer.dealer_code in page

    # One transaction made an opened commercial ID (administrator), its company, the dealer.
    assert account.account_type == AccountType.COMMERCIAL and account.activated_at
    assert account.company_role == CompanyRole.ADMIN
    assert (account.family_kana, account.given_kana) == ("ハンバイ", "タロウ")
    company = account.company
    assert (company.name, company.postal_code, company.street, company.building,
            company.email, company.kind) == ("テスト販売株式会社", "1030026", "日本橋兜町14-9",
                                             "兜町ビル2F", EMAIL, "dealer")
    assert dealer.phone == "0336667945" and [c.email for c in dealer.contacts] == [EMAIL]
    assert account.phones[0].number == "0336667945"
    assert _count(MailLink, MailLink.email == EMAIL, MailLink.used_at.is_(None)) == 0
    assert _count(AuditEvent, AuditEvent.action == "club.dealer_signup") == 1
    assert outbox(EMAIL, "activation") == []  # the link proved the address already

    deliver_pending(limit=50)
    welcome = [m for m in smtp.to(EMAIL) if "会員登録ありがとうございます" in m["Subject"]]
    assert len(welcome) == 1
    body = SmtpServer.text_of(welcome[0])
    assert f"販売店ID: {dealer.dealer_code}" in body
    assert f"http://{smtp_app.config['PUBLIC_HOST']}/dealers/" in body
    assert smtp_app.config["OPERATOR_NAME"] in body

    # 003-25: the dealer signs in from 「販売店・業者様向け 管理画面」 and lands on the console.
    browser = smtp_app.test_client()
    login_page = browser.get("/club/dealer/login").get_data(as_text=True)
    assert "販売店・業者様向け 管理画面" in login_page and "新規会員登録はこちら" in login_page
    action = "/account/login?next=/dealers/"
    assert f'action="{action}"' in login_page.replace("%2F", "/")
    response = browser.post(action, data={"email": EMAIL, "password": PASSWORD,
                                          "csrf_token": csrf_from(login_page)})
    assert response.status_code == 303 and response.headers["Location"].endswith("/dealers/")
    assert browser.get("/dealers/").status_code == 200
    assert browser.get("/club/dealer/login").status_code == 302


def test_the_flow_with_htmx(app):
    client = app.test_client()
    sent = ask(client, htmx=True)
    assert sent.status_code == 200
    assert "仮登録メールを送信しました" in sent.get_data(as_text=True)
    assert "<html" not in sent.get_data(as_text=True)
    client.get(signup_link())
    bad = post(client, "info", {**INFO, "company_name": ""}, htmx=True)
    assert bad.status_code == 422 and "<html" not in bad.get_data(as_text=True)
    good = post(client, "info", INFO, htmx=True)
    assert good.status_code == 200 and good.headers["HX-Push-Url"] == f"{FORM}/confirm"
    assert "登録する" in good.get_data(as_text=True)
    done = post(client, "confirm", CONFIRM, htmx=True)
    assert done.headers["HX-Redirect"] == "/club/dealer/signup/done"
    assert dealer_account().company_id is not None


def test_invalid_address_on_the_first_page(client):
    page = client.get("/club/dealer/signup")
    for bad in ("", "not-an-address", "a\x00@example.com", "x" * 400 + "@example.com"):
        response = client.post("/club/dealer/signup", data={
            "email": bad, "csrf_token": csrf_from(page.get_data(as_text=True))})
        assert response.status_code == 422
        assert "field-error" in response.get_data(as_text=True)
    assert client.post("/club/dealer/signup", data={"email": EMAIL}).status_code == 400
    assert _count(MailLink) == 0 and outbox() == []


# -- no enumeration ------------------------------------------------------------------------
def test_an_address_with_an_id_gets_the_other_mail_and_the_same_page(app):
    make_owner("owner@example.com")
    client = app.test_client()
    known = ask(client, "owner@example.com").get_data(as_text=True)
    unknown = ask(client, "nobody@example.com").get_data(as_text=True)

    def page(html, email):  # the CSRF token carries the time it was made
        return without_csrf(html).replace(email, "X")

    assert page(known, "owner@example.com") == page(unknown, "nobody@example.com")
    assert outbox("owner@example.com", "club_dealer_signup") == []
    [other] = outbox("owner@example.com", "club_dealer_signup_existing")
    assert "/account/login" in other.text_body or "/club/dealer/login" in other.text_body
    assert "/dealers/register" in other.text_body and "/signup/link/" not in other.text_body
    assert _count(MailLink, MailLink.email == "owner@example.com") == 0
    assert len(outbox("nobody@example.com", "club_dealer_signup")) == 1


def test_an_address_with_an_id_is_told_at_most_once_an_interval(app):
    """Anyone can type an address: its owner gets the "you already have an ID" mail once
    per ACCOUNT_EXISTS_MAIL_INTERVAL however often it is asked for; the page is the same
    every time."""
    make_owner("owner@example.com")
    client = app.test_client()
    for _ in range(3):
        assert ask(client, "owner@example.com").status_code == 200
    assert len(outbox("owner@example.com", "club_dealer_signup_existing")) == 1
    assert outbox("owner@example.com", "club_dealer_signup") == []


def test_the_existing_id_mail_goes_over_smtp(smtp_app, smtp):
    from mail.relay import deliver_pending

    make_owner("owner@example.com")
    ask(smtp_app.test_client(), "owner@example.com")
    deliver_pending(limit=50)
    [mail] = smtp.to("owner@example.com")
    assert "/dealers/register" in SmtpServer.text_of(mail)


# -- the link ------------------------------------------------------------------------------
def test_an_expired_link_shows_the_way_to_ask_again(client):
    ask(client)
    link = signup_link()
    db.session.execute(update(MailLink).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    response = client.get(link)
    page = response.get_data(as_text=True)
    assert response.status_code == 410 and "有効期限が切れています" in page
    assert 'action="/club/dealer/signup"' in page and EMAIL in page
    assert client.get(f"{FORM}/info").status_code == 404


def test_the_link_expiring_while_typing_stops_the_wizard(client):
    ask(client)
    client.get(signup_link())
    assert post(client, "info", INFO).status_code == 303
    db.session.execute(update(MailLink).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    token = csrf_from(client.get("/club/dealer/signup").get_data(as_text=True))
    response = client.post(f"{FORM}/confirm", data={**CONFIRM, "csrf_token": token},
                           headers=HX)
    assert response.headers["HX-Redirect"] == f"{FORM}/confirm"  # htmx swaps no 410
    response = client.post(f"{FORM}/confirm", data={**CONFIRM, "csrf_token": token})
    assert response.status_code == 410 and "有効期限が切れています" in response.get_data(as_text=True)
    assert dealer_account() is None


def test_an_altered_link_and_no_link(client):
    ask(client)
    link = signup_link()
    assert client.get(link[:-3] + "xyz").status_code == 404
    assert client.get("/club/dealer/signup/link/" + "a" * 300).status_code == 404
    assert client.get("/club/dealer/signup/link/%00").status_code == 404
    # Without an opened link the wizard does not open, nor by jumping to a step.
    assert client.get(f"{FORM}/confirm").status_code == 404
    assert client.get(f"{FORM}/nope").status_code == 404


def test_a_spent_link_and_a_newer_link_replacing_an_older(client):
    ask(client)
    first = signup_link()
    ask(client)
    second = signup_link()
    assert first != second
    assert client.get(first).status_code == 410  # only the newest mail's link opens
    sign_up_dealer_from(client, second)
    again = client.get(second)
    assert again.status_code == 410 and "すでに使用されています" in again.get_data(as_text=True)


def sign_up_dealer_from(client, link):
    client.get(link)
    post(client, "info", INFO)
    return post(client, "confirm", CONFIRM)


def test_jumping_ahead_goes_to_the_first_unfinished_step(client):
    ask(client)
    client.get(signup_link())
    response = client.get(f"{FORM}/confirm")
    assert response.status_code == 303 and response.headers["Location"].endswith(f"{FORM}/info")
    token = csrf_from(client.get(f"{FORM}/info").get_data(as_text=True))
    response = client.post(f"{FORM}/confirm", data={**CONFIRM, "csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"{FORM}/info")
    assert dealer_account() is None


# -- bad input -----------------------------------------------------------------------------
@pytest.mark.parametrize("field,value", [
    ("company_name", ""), ("company_name", "株" * 101), ("company_name", "会社\x00"),
    ("family_name", ""), ("family_name", "Yamada"), ("family_name", "長" * 15),
    ("given_name", ""), ("family_kana", ""), ("family_kana", "yamada"), ("given_kana", "漢字"),
    ("address-postal_code", ""), ("address-postal_code", "12345"),
    ("address-postal_code", "abcdefg"),
    ("address-prefecture", ""), ("address-prefecture", "東京"), ("address-city", ""),
    ("address-city", "市" * 61), ("address-street", ""), ("phone", ""), ("phone", "12345"),
    ("phone", "abc"), ("password", ""), ("password", "short1A!"), ("password", "alllowercase12345"),
    ("password", "Shop-Secret-2026!"),  # contains the address's local part
    ("password_confirm", "Different-2026!"),
])
def test_every_bad_input_is_shown_next_to_its_field_and_kept(client, field, value):
    ask(client)
    client.get(signup_link())
    response = post(client, "info", {**INFO, field: value})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="{field}-error"' in page
    if field not in ("password", "password_confirm") and value and "\x00" not in value:
        assert INFO["company_name"] in page or field == "company_name"
    assert _count(Account) == 0


def test_hostile_text_is_escaped_on_the_confirm_page(client):
    ask(client)
    client.get(signup_link())
    hostile = {**INFO, "company_name": "<script>x</script>株式会社"}
    assert post(client, "info", hostile).status_code == 303
    page = client.get(f"{FORM}/confirm").get_data(as_text=True)
    assert "<script>x</script>" not in page and "&lt;script&gt;" in page


def test_the_terms_must_be_accepted(client):
    ask(client)
    client.get(signup_link())
    post(client, "info", INFO)
    response = post(client, "confirm", {})
    assert response.status_code == 422 and dealer_account() is None


def test_without_csrf_nothing_happens(client):
    ask(client)
    client.get(signup_link())
    assert client.post(f"{FORM}/info", data=INFO).status_code in (400, 422)
    assert _count(Account) == 0


# -- double submits and races --------------------------------------------------------------
def test_a_double_submit_of_register_makes_one_account(client):
    ask(client)
    client.get(signup_link())
    post(client, "info", INFO)
    token = csrf_from(client.get(f"{FORM}/confirm").get_data(as_text=True))
    first = client.post(f"{FORM}/confirm", data={**CONFIRM, "csrf_token": token})
    second = client.post(f"{FORM}/confirm", data={**CONFIRM, "csrf_token": token})
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert _count(Account, Account.email == EMAIL) == 1 and _count(Dealer) == 1
    assert len(outbox(EMAIL, "club_dealer_welcome")) == 1


def test_two_tabs_with_the_same_link_make_one_account(app):
    first, second = app.test_client(), app.test_client()
    ask(first)
    link = signup_link()
    first.get(link)
    second.get(link)
    post(first, "info", INFO)
    post(second, "info", INFO)
    assert post(first, "confirm", CONFIRM).status_code == 303
    late = post(second, "confirm", CONFIRM)
    assert late.status_code == 410  # the link is spent: nothing more is created
    assert _count(Account, Account.email == EMAIL) == 1 and _count(Dealer) == 1


def test_an_address_that_got_an_id_meanwhile_gets_no_second_account(client):
    ask(client)
    client.get(signup_link())
    post(client, "info", INFO)
    make_owner(EMAIL)  # a sign-up elsewhere, while this one was being typed
    response = post(client, "confirm", CONFIRM)
    assert response.status_code == 303
    page = client.get("/club/dealer/signup/done").get_data(as_text=True)
    assert "すでに登録されています" in page
    assert _count(Account, Account.email == EMAIL) == 1 and _count(Dealer) == 0
    assert _count(Company) == 0
    assert len(outbox(EMAIL, "account_exists")) == 1
    assert outbox(EMAIL, "club_dealer_welcome") == []


def test_asking_for_the_mail_is_rate_limited(make_app):
    app = make_app(RATELIMIT_ENABLED=True, MAIL_SENDING_LIMIT="2 per hour")
    client = app.test_client()
    assert ask(client).status_code == 200
    assert ask(client).status_code == 200
    assert ask(client).status_code == 429


# -- the dealer info page --------------------------------------------------------------------
def test_the_info_page_and_its_edit(client):
    sign_up_dealer(client)
    assert login(client, EMAIL).status_code == 303
    page = client.get("/club/dealer/info").get_data(as_text=True)
    dealer = db.session.scalar(select(Dealer))
    for shown in (dealer.dealer_code, "テスト販売株式会社", "販売 太郎", "ハンバイ タロウ", "103-0026",
                  "東京都", "中央区", "日本橋兜町14-9 兜町ビル2F", "03-3666-7945", EMAIL,
                  "登録情報を変更する"):
        assert shown in page, shown
    assert "/club/dealer/info" in client.get("/").get_data(as_text=True)  # launcher tile

    edit = client.get("/club/dealer/info/edit").get_data(as_text=True)
    assert 'value="テスト販売株式会社"' in edit
    token = csrf_from(edit)
    changed = {"company_name": "新販売株式会社", "family_name": "新田", "given_name": "花子",
               "family_kana": "ニッタ", "given_kana": "ハナコ", "address-postal_code": "5410055",
               "address-prefecture": "大阪府", "address-city": "大阪市中央区",
               "address-street": "船場中央1-4-5", "address-building": "",
               "phone": "06-1234-5678", "person_phone": "090-8765-4321", "csrf_token": token}
    bad = client.post("/club/dealer/info/edit", data={**changed, "phone": "12"})
    assert bad.status_code == 422 and 'id="phone-error"' in bad.get_data(as_text=True)
    confirm = client.post("/club/dealer/info/edit", data=changed)
    text = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "新販売株式会社" in text and "変更する" in text
    assert db.session.scalar(select(Company.name)) == "テスト販売株式会社"  # not yet
    back = client.post("/club/dealer/info/edit", data={**changed, "step": "confirm", "back": "1"})
    assert back.status_code == 200 and 'value="新販売株式会社"' in back.get_data(as_text=True)
    saved = client.post("/club/dealer/info/edit", data={**changed, "step": "confirm"})
    assert saved.status_code == 303
    db.session.expire_all()
    company = db.session.scalar(select(Company))
    account = dealer_account()
    assert (company.name, company.prefecture, company.phone) == ("新販売株式会社", "大阪府",
                                                                  "0612345678")
    assert db.session.scalar(select(Dealer.phone)) == "0612345678"
    assert (account.family_name, account.given_kana) == ("新田", "ハナコ")
    assert account.phones[0].number == "09087654321"
    assert _count(AuditEvent, AuditEvent.action == "club.dealer_info_update") == 1
    page = client.get("/club/dealer/info").get_data(as_text=True)
    assert "新販売株式会社" in page and "06-1234-5678" in page and "大阪市中央区" in page


def test_others_cannot_see_or_change_the_info(app):
    dealer_company = make_company(1)
    from blueprints.dealers.services import become_dealer
    become_dealer(dealer_company, "0312345678")
    make_owner("owner@example.com")
    make_company(2)  # a company that is not a dealer
    anonymous = app.test_client()
    assert anonymous.get("/club/dealer/info").status_code == 302
    owner = app.test_client()
    login(owner, "owner@example.com")
    assert owner.get("/club/dealer/info").status_code == 403
    assert owner.get("/club/dealer/info/edit").status_code == 403
    token = csrf_from(owner.get("/account/settings").get_data(as_text=True))
    assert owner.post("/club/dealer/info/edit", data={"csrf_token": token, "step": "confirm",
                                                      "company_name": "乗っ取り"}).status_code == 403
    other = app.test_client()
    login(other, "admin2@dealer2.example")
    assert other.get("/club/dealer/info").status_code == 403
    assert "/club/dealer/info" not in other.get("/").get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Company, dealer_company.id).name == "販売店1株式会社"


def test_an_employee_sees_the_info_but_cannot_change_it(app):
    company = make_company(1)
    from blueprints.dealers.services import become_dealer
    become_dealer(company, "0312345678")
    now = utcnow()
    from tests.flows.test_dealer_links import _password_hash
    db.session.add(Account(email="member@dealer1.example", password_hash=_password_hash(),
                           family_name="鈴木", given_name="一郎",
                           account_type=AccountType.COMMERCIAL, company_id=company.id,
                           company_role=CompanyRole.MEMBER, activated_at=now,
                           terms_accepted_at=now, privacy_accepted_at=now))
    db.session.commit()
    client = app.test_client()
    login(client, "member@dealer1.example")
    page = client.get("/club/dealer/info").get_data(as_text=True)
    assert "販売店1株式会社" in page and "佐藤 花子" in page and "登録情報を変更する" not in page
    assert client.get("/club/dealer/info/edit").status_code == 403


def test_the_info_edit_is_refused_while_acting_for_an_owner(app, client, monkeypatch):
    """Whoever acts for an owner (proxy login) never changes a dealer's registration."""
    import copy

    from blueprints.core import registry

    sign_up_dealer(client)
    login(client, EMAIL)
    assert client.get("/club/dealer/info/edit").status_code == 200
    scratch = copy.copy(registry._registry)
    scratch.acting = {"test": lambda: True}
    monkeypatch.setattr(registry, "_registry", scratch)
    response = client.get("/club/dealer/info/edit")
    assert response.status_code == 403
    assert "代理ログイン中はこの操作はできません" in response.get_data(as_text=True)
    assert client.get("/club/dealer/info").status_code == 200  # reading stays allowed
