"""「メールアドレスを忘れた場合」: name + phone + a gateway ID. The page answers the same and
the request does the same work (the same SQL statements) whether or not the three match;
the relay mails the registered address only on a match, and nothing tells the address on
a page."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from mail.relay import deliver_pending
from models import db
from models.account import AccountPhone
from models.gateway import GatewayStatus
from models.mail import OutboxMail, OutboxStatus
from tests.conftest import SmtpServer, links_in, page_token, path_of
from tests.flows.test_dealer_links import make_gateway, make_owner
from tests.helpers import outbox, statements, without_csrf

URL = "/account/forgot-email"
OWNER = "owner@example.com"
MATCH = {"family_name": "山田", "given_name": "太郎", "phone": "090-1234-5678",
         "gateway_id": "01AB12345678"}


def _owner_with_gateway(status=GatewayStatus.ACTIVE):
    owner = make_owner(OWNER)
    db.session.add(AccountPhone(account_id=owner.id, position=0, kind="mobile",
                                number="09012345678"))
    db.session.commit()
    make_gateway(owner, "01AB12345678", status=status)
    return owner


def _post(client, token, **changes):
    with statements() as seen:
        response = client.post(URL, data={**MATCH, **changes, "csrf_token": token})
    body = without_csrf(response.get_data(as_text=True))
    return response.status_code, body, list(seen)


def _reminders() -> list[OutboxMail]:
    return [mail for mail in outbox() if mail.kind == "forgot_email"]


def test_same_page_and_same_work_with_a_mail_only_on_a_match(app, client):
    _owner_with_gateway()
    token = page_token(client, URL)
    matched = _post(client, token)
    wrong_name = _post(client, token, given_name="花子")
    wrong_phone = _post(client, token, phone="03-9999-0000")
    unknown_gateway = _post(client, token, gateway_id="01AB99999999")
    assert matched[0] == wrong_name[0] == wrong_phone[0] == unknown_gateway[0] == 200
    assert matched[1] == wrong_name[1] == wrong_phone[1] == unknown_gateway[1]
    assert matched[2] == wrong_name[2] == wrong_phone[2] == unknown_gateway[2]
    assert "一致する登録がある場合" in matched[1]
    assert OWNER not in matched[1]
    # The request holds neither the name nor the phone: an opaque job only.
    requested = db.session.scalars(select(OutboxMail.recipient)
                                   .where(OutboxMail.status == OutboxStatus.REQUESTED)).all()
    assert len(requested) == 4
    assert all(re.fullmatch(r"fe1:01AB\d{8}:[0-9a-f]{64}", job) for job in requested)
    # The relay mails the registered address once: for the matching request only.
    [reminder] = _reminders()
    assert reminder.recipient == OWNER
    assert "ユーザID（メールアドレス）のご案内" in reminder.subject
    assert OWNER in reminder.text_body and "大文字と小文字を区別" in reminder.text_body


def test_typing_differences_still_match(app, client):
    """Full-width digits, spaces in the name, +81 and a lower-case gateway ID."""
    _owner_with_gateway()
    token = page_token(client, URL)
    status, _, _ = _post(client, token, family_name=" 山田 ", phone="＋８１ ９０ １２３４ ５６７８",
                         gateway_id="01ab-1234-5678")
    assert status == 200
    assert [mail.recipient for mail in _reminders()] == [OWNER]


def test_a_retired_gateway_or_an_unowned_one_mails_nobody(app, client):
    _owner_with_gateway(status=GatewayStatus.RETIRED)
    make_gateway(None, "01AB00000002", status=GatewayStatus.UNREGISTERED)
    token = page_token(client, URL)
    assert _post(client, token)[0] == 200
    assert _post(client, token, gateway_id="01AB00000002")[0] == 200
    assert _reminders() == []


def test_bad_input_gets_messages_and_keeps_what_was_typed(app, client):
    token = page_token(client, URL)
    response = client.post(URL, data={"family_name": "", "given_name": "太郎",
                                      "phone": "12", "gateway_id": "ABC\x00",
                                      "csrf_token": token})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "電話番号は市外局番から数字で入力してください" in body
    assert "ゲートウェイIDは英数字12桁で入力してください" in body
    assert 'value="太郎"' in body
    huge = client.post(URL, data={**MATCH, "family_name": "山" * 100_000, "csrf_token": token})
    assert huge.status_code in (413, 422)
    assert client.post(URL, data=MATCH).status_code == 400  # no CSRF token
    assert db.session.scalar(select(func.count()).select_from(OutboxMail)) == 0


def test_the_sign_in_and_reset_pages_lead_here(client):
    for page in ("/account/login", "/account/password/reset", "/account/forgot"):
        assert f'href="{URL}"' in client.get(page).get_data(as_text=True), page
    login_page = client.get("/account/login").get_data(as_text=True)
    assert "ユーザID・パスワードを忘れた場合はこちら" in login_page
    assert 'href="/account/forgot"' in login_page
    assert "Enelink IDに関するよくある質問とその回答" in login_page


def test_requests_are_rate_limited_per_client(make_app):
    app = make_app(RATELIMIT_ENABLED=True, FORGOT_EMAIL_LIMIT="2 per minute")
    with app.app_context():
        client = app.test_client()
        token = page_token(client, URL)
        codes = [client.post(URL, data={**MATCH, "csrf_token": token}).status_code
                 for _ in range(3)]
    assert codes == [200, 200, 429]


def test_the_reminder_goes_out_over_smtp_with_working_links(smtp_app, smtp):
    _owner_with_gateway()
    client = smtp_app.test_client()
    token = page_token(client, URL)
    assert client.post(URL, data={**MATCH, "csrf_token": token}).status_code == 200
    assert deliver_pending() == 1
    [message] = smtp.to(OWNER)
    body = SmtpServer.text_of(message)
    assert "山田 太郎 様" in body and f"ユーザID: {OWNER}" in body and "01AB12345678" in body
    sign_in, reset = links_in(body)
    assert path_of(sign_in) == "/account/login" and path_of(reset) == "/account/password/reset"
    assert client.get(path_of(sign_in)).status_code == 200
