"""Extra alert recipients of a gateway (family members): the owner adds up to three
addresses, each confirmed by a mailed link before it receives anything; every alert
mail to a recipient carries a stop link; the owner removes them; they follow the
gateway's exchange and end with its disposal."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from blueprints.dealers.services import become_dealer
from blueprints.gateways.slips import new_gateway
from blueprints.monitoring import recipients as recipients_service
from blueprints.monitoring.alerts import check_silence
from mail.relay import deliver_pending
from models import db, utcnow
from models.account import Account
from models.audit import AuditEvent
from models.link import MailLink
from models.mail import OutboxMail
from models.trust import AlertRecipient
from tests.conftest import SmtpServer, csrf_from, links_in, path_of
from tests.flows.test_club_proxy import acting_client, make_employee, permit
from tests.flows.test_dealer_links import make_company, make_gateway, make_owner
from tests.flows.test_gateway_api import GATEWAY_ID, SLOT, error_units, post as api_post
from tests.flows.test_gateway_api import reporting_gateway
from tests.helpers import PASSWORD, login, outbox, reading, slot_end

OWNER = "owner@example.com"
OTHER = "other@example.com"
FAMILY = ["hanako@family.example", "jiro@family.example", "mother@family.example"]
PAGE = f"/monitoring/gateways/{GATEWAY_ID}/alert-recipients"
CONFIRM_SUBJECT = "【Enelink】アラートメールの受信確認"
ERROR_SUBJECT = f"【Enelink】ゲートウェイの異常を検知しました（{GATEWAY_ID}）"
SILENT_SUBJECT = f"【Enelink】ゲートウェイからの通信が途絶えています（{GATEWAY_ID}）"
RECOVERED_SUBJECT = f"【Enelink】ゲートウェイが復旧しました（{GATEWAY_ID}）"
MONITOR_PATH = f"/monitoring/gateways/{GATEWAY_ID}/monitor"
DUPLICATE = "このメールアドレスはすでに登録されています"
LIMIT = "1台のゲートウェイに登録できる宛先は3件までです"
OWN = "ご自身のメールアドレスには、すでにアラートメールが届きます"


# -- helpers ---------------------------------------------------------------------------
def owner_client(app, email=OWNER):
    client = app.test_client()
    assert login(client, email).status_code == 303
    return client


def add(client, email: str, page: str = PAGE):
    token = csrf_from(client.get(page).get_data(as_text=True))
    return client.post(page, data={"email": email, "csrf_token": token})


def rows() -> list[AlertRecipient]:
    db.session.expire_all()
    return list(db.session.scalars(select(AlertRecipient).order_by(AlertRecipient.id)))


def recipient(email: str) -> AlertRecipient | None:
    db.session.expire_all()
    return db.session.scalar(select(AlertRecipient).where(
        func.lower(AlertRecipient.email) == email.lower()))


def confirm_path(email: str) -> str:
    [mail] = [m for m in outbox(email) if m.kind == "alert_recipient_confirm"][-1:]
    return path_of(links_in(mail.text_body)[0])


def press(client, path: str):
    """GET the page of a mailed link, then press its button."""
    page = client.get(path)
    assert page.status_code == 200, page.get_data(as_text=True)
    return client.post(path, data={"csrf_token": csrf_from(page.get_data(as_text=True))})


def confirmed(app, client, email: str) -> AlertRecipient:
    assert add(client, email).status_code == 303
    response = press(app.test_client(), confirm_path(email))  # another browser, no sign-in
    assert response.status_code == 303
    return recipient(email)


def new_mail(smtp) -> list:
    deliver_pending(limit=200)
    with smtp.lock:
        arrived = list(smtp.messages)
        smtp.messages.clear()
    return arrived


def audit_rows(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                   .order_by(AuditEvent.id)))


@pytest.fixture
def owner(app):
    account = make_owner(OWNER)
    make_gateway(account, GATEWAY_ID)
    return account


# -- adding and confirming -------------------------------------------------------------
def test_a_recipient_confirms_by_the_mailed_link_over_smtp(smtp_app, smtp):
    owner = make_owner(OWNER)
    reporting_gateway(owner)
    client = owner_client(smtp_app)
    page = client.get(PAGE).get_data(as_text=True)
    assert "アラートメールの宛先" in page and "追加の宛先はまだありません" in page

    response = add(client, "Hanako@Family.EXAMPLE")
    assert response.status_code == 303 and response.location.endswith(PAGE)
    listing = client.get(PAGE).get_data(as_text=True)
    assert "Hanako@family.example" in listing and "確認待ち" in listing
    assert "受信中" not in listing

    [mail] = new_mail(smtp)
    assert mail["To"] == "Hanako@family.example" and mail["Subject"] == CONFIRM_SUBJECT
    body = SmtpServer.text_of(mail)
    assert "山田 様" in body and "案件90051" in body and "Enelink" in body
    assert "いつでも停止できます" in body and "異常や通信途絶" in body
    assert "太郎" not in body and OWNER not in body  # only the family name
    assert mail.get_body(preferencelist=("html",)) is not None
    [link] = [u for u in links_in(body) if "/alert-recipients/confirm/" in u]

    stranger = smtp_app.test_client()   # the recipient's own browser: no sign-in
    page = stranger.get(path_of(link))
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "受信を開始する" in text and "山田 様" in text and "案件90051" in text
    assert recipient("hanako@family.example").confirmed_at is None  # GET changes nothing
    response = stranger.post(path_of(link),
                             data={"csrf_token": csrf_from(text)})
    assert response.status_code == 303
    assert "受信を開始しました" in stranger.get(response.location).get_data(as_text=True)
    assert recipient("hanako@family.example").confirmed_at is not None

    [told] = new_mail(smtp)
    assert told["To"] == OWNER and "受信先が確認されました" in told["Subject"]
    assert "Hanako@family.example" in SmtpServer.text_of(told)
    listing = client.get(PAGE).get_data(as_text=True)
    assert "受信中" in listing and "確認待ち" not in listing

    # The link is spent: a second press and a second visit show the problem page.
    again = stranger.post(path_of(link), data={"csrf_token": csrf_from(text)})
    assert again.status_code == 410 and "すでに使用されています" in again.get_data(as_text=True)
    assert stranger.get(path_of(link)).status_code == 410
    assert [e.gateway_id for e in audit_rows("alert_recipient.added")] == [GATEWAY_ID]
    assert [e.gateway_id for e in audit_rows("alert_recipient.confirmed")] == [GATEWAY_ID]


def test_at_most_three_per_gateway_counting_unconfirmed_ones(app, owner):
    client = owner_client(app)
    for address in FAMILY:
        assert add(client, address).status_code == 303
    full = client.get(PAGE).get_data(as_text=True)
    assert "3件まで登録できます" in full and 'name="email"' not in full
    token = csrf_from(full)
    response = client.post(PAGE, data={"email": "fourth@family.example", "csrf_token": token})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert LIMIT in html and 'value="fourth@family.example"' in html  # kept as typed
    assert len(rows()) == 3
    assert outbox("fourth@family.example") == []
    # Removing one makes room again.
    first = recipient(FAMILY[0])
    remove = f"{PAGE}/{first.id}/remove"
    assert client.post(remove, data={"csrf_token": token}).status_code == 303
    assert add(client, "fourth@family.example").status_code == 303
    assert sorted(r.email for r in rows()) == sorted([*FAMILY[1:], "fourth@family.example"])


@pytest.mark.parametrize("typed, message", [
    ("Owner@EXAMPLE.com", OWN),                # the owner's own, in another case
    ("", "入力してください"),
    ("   ", "入力してください"),
    ("not-an-address", "メールアドレスの形式が正しくありません"),
    ("a\x00b@family.example", "使用できない文字"),
    ("x" * 10_000 + "@family.example", "文字以内で入力してください"),
    ("はなこ@family.example", "半角英数字"),
])
def test_bad_addresses_are_refused_at_the_field(app, owner, typed, message):
    client = owner_client(app)
    response = add(client, typed)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html and 'class="field-error"' in html
    assert rows() == []
    assert db.session.scalar(select(func.count()).select_from(OutboxMail)) == 0


def test_a_duplicate_in_another_case_is_refused(app, owner):
    client = owner_client(app)
    assert add(client, "hanako@family.example").status_code == 303
    response = add(client, "HANAKO@Family.Example")
    assert response.status_code == 422 and DUPLICATE in response.get_data(as_text=True)
    assert len(rows()) == 1
    assert len(outbox(kind="alert_recipient_confirm")) == 1


def test_adding_and_removing_again_and_again_stops_mailing(make_app):
    """One owner may have ten confirmation mails sent in 24 hours; then the field says
    so and nothing is added or mailed. Another owner is not affected. (The per-address
    request limit is off here: it would stop this sooner.)"""
    app = make_app(RATELIMIT_ENABLED=False)
    with app.app_context():
        owner = make_owner(OWNER)
        make_gateway(owner, GATEWAY_ID)
        _add_and_remove_until_refused(app)


def test_the_request_limit_counts_adds_per_client_address(app, owner):
    client = owner_client(app)
    codes = [add(client, f"person{n}@family.example").status_code for n in range(6)]
    assert codes[:3] == [303, 303, 303] and codes[3:5] == [422, 422] and codes[5] == 429
    assert len(rows()) == 3


def _add_and_remove_until_refused(app):
    client = owner_client(app)
    token = csrf_from(client.get(PAGE).get_data(as_text=True))
    for _ in range(recipients_service.CONFIRMATIONS_PER_DAY):
        assert add(client, FAMILY[0]).status_code == 303
        assert client.post(f"{PAGE}/{recipient(FAMILY[0]).id}/remove",
                           data={"csrf_token": token}).status_code == 303
    response = add(client, FAMILY[0])
    assert response.status_code == 422
    assert "確認メールの送信回数が上限に達しました" in response.get_data(as_text=True)
    assert rows() == []
    assert len(outbox(FAMILY[0])) == recipients_service.CONFIRMATIONS_PER_DAY
    other = make_owner(OTHER, "佐藤", "次郎")
    make_gateway(other, "02CD87654321")
    assert add(owner_client(app, OTHER), FAMILY[0],
               page="/monitoring/gateways/02CD87654321/alert-recipients").status_code == 303


def test_two_adds_of_one_address_at_once_make_one(make_app):
    app = make_app(RATELIMIT_ENABLED=False)
    with app.app_context():
        owner = make_owner(OWNER)
        make_gateway(owner, GATEWAY_ID)
        clients = [owner_client(app) for _ in range(4)]
        tokens = [csrf_from(c.get(PAGE).get_data(as_text=True)) for c in clients]

        def submit(i: int) -> int:
            return clients[i].post(PAGE, data={"email": "same@family.example",
                                               "csrf_token": tokens[i]}).status_code

        with ThreadPoolExecutor(4) as pool:
            codes = list(pool.map(submit, range(4)))
        assert sorted(codes) == [303, 422, 422, 422], codes
        assert len(rows()) == 1
        assert len(outbox("same@family.example")) == 1


def test_the_same_address_may_serve_two_owners(app, owner):
    """Another owner naming the same family member does not end the first one's link."""
    other = make_owner(OTHER, "佐藤", "次郎")
    make_gateway(other, "02CD87654321")
    assert add(owner_client(app), "hanako@family.example").status_code == 303
    first = confirm_path("hanako@family.example")
    assert add(owner_client(app, OTHER), "hanako@family.example",
               page="/monitoring/gateways/02CD87654321/alert-recipients").status_code == 303
    assert press(app.test_client(), first).status_code == 303
    assert [r.confirmed_at is not None for r in rows()] == [True, False]


# -- alerts ----------------------------------------------------------------------------
def test_alerts_reach_the_owner_and_confirmed_recipients_only(smtp_app, smtp):
    owner = make_owner(OWNER)
    _gateway, key = reporting_gateway(owner)
    client = owner_client(smtp_app)
    confirmed(smtp_app, client, FAMILY[0])
    confirmed(smtp_app, client, FAMILY[1])
    assert add(client, FAMILY[2]).status_code == 303    # never confirmed
    new_mail(smtp)
    api = smtp_app.test_client()
    now = slot_end()

    # An error …
    assert api_post(api, GATEWAY_ID, key, [reading(now - 30 * SLOT,
                                                   units=error_units("E201"))]).status_code == 200
    arrived = new_mail(smtp)
    assert sorted(m["To"] for m in arrived) == sorted([OWNER, FAMILY[0], FAMILY[1]])
    assert all(m["Subject"] == ERROR_SUBJECT for m in arrived)
    for mail in arrived:
        if mail["To"] == OWNER:
            assert MONITOR_PATH in SmtpServer.text_of(mail)
            continue
        body = SmtpServer.text_of(mail)
        html = mail.get_body(preferencelist=("html",)).get_content()
        assert "山田 様" in body and "案件90051" in body and "1:E201" in body
        for text in (body, html):
            assert MONITOR_PATH not in text                 # no owner-only link
            assert "/support/" not in text and "サポートに相談" not in text
            assert "太郎" not in text and OWNER not in text and "大阪" not in text
            assert "/monitoring/alert-recipients/stop/" in text
    # … its recovery …
    assert api_post(api, GATEWAY_ID, key, [reading(now - 29 * SLOT)]).status_code == 200
    arrived = new_mail(smtp)
    assert sorted(m["To"] for m in arrived) == sorted([OWNER, FAMILY[0], FAMILY[1]])
    assert all(m["Subject"] == RECOVERED_SUBJECT for m in arrived)
    # … and a silence.
    assert check_silence().opened == [GATEWAY_ID]
    arrived = new_mail(smtp)
    assert sorted(m["To"] for m in arrived) == sorted([OWNER, FAMILY[0], FAMILY[1]])
    assert all(m["Subject"] == SILENT_SUBJECT for m in arrived)
    # The unconfirmed address got its confirmation mail and nothing else.
    assert [m.kind for m in outbox(FAMILY[2])] == ["alert_recipient_confirm"]


def test_a_recipient_stops_by_the_link_in_an_alert(smtp_app, smtp):
    owner = make_owner(OWNER)
    _gateway, key = reporting_gateway(owner)
    client = owner_client(smtp_app)
    confirmed(smtp_app, client, FAMILY[0])
    new_mail(smtp)
    api = smtp_app.test_client()
    now = slot_end()
    api_post(api, GATEWAY_ID, key, [reading(now - 30 * SLOT, units=error_units("E201"))])
    [mail] = [m for m in new_mail(smtp) if m["To"] == FAMILY[0]]
    [stop] = [u for u in links_in(SmtpServer.text_of(mail)) if "/stop/" in u]

    browser = smtp_app.test_client()  # no sign-in
    page = browser.get(path_of(stop))
    assert page.status_code == 200 and FAMILY[0] in page.get_data(as_text=True)
    assert recipient(FAMILY[0]) is not None  # the GET changes nothing
    response = browser.post(path_of(stop), data={"csrf_token": csrf_from(
        page.get_data(as_text=True))})
    assert response.status_code == 303
    assert "受信を停止しました" in browser.get(response.location).get_data(as_text=True)
    assert recipient(FAMILY[0]) is None
    [told] = new_mail(smtp)
    assert told["To"] == OWNER and "受信が停止されました" in told["Subject"]
    assert [e.gateway_id for e in audit_rows("alert_recipient.stopped")] == [GATEWAY_ID]

    # Pressed again (already gone): the same page, nothing mailed.
    page = browser.get(path_of(stop))
    assert page.status_code == 200
    again = browser.post(path_of(stop), data={"csrf_token": csrf_from(
        page.get_data(as_text=True))})
    assert again.status_code == 303 and new_mail(smtp) == []
    # The recovery no longer reaches it.
    api_post(api, GATEWAY_ID, key, [reading(now - 29 * SLOT)])
    assert [m["To"] for m in new_mail(smtp)] == [OWNER]


def test_tampered_and_foreign_stop_tokens(app, owner):
    client = owner_client(app)
    first = confirmed(app, client, FAMILY[0])
    token = recipients_service.stop_token(first)
    browser = app.test_client()
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "x", "a" * 400,
                "%00", token + "."):
        assert browser.get(f"/monitoring/alert-recipients/stop/{bad}").status_code == 404
    # A token signed for another address (the id of a real recipient) removes nothing.
    from itsdangerous import URLSafeSerializer
    forged = URLSafeSerializer(app.config["SECRET_KEY"], salt=recipients_service.STOP_SALT) \
        .dumps([first.id, "someone@else.example"])
    page = browser.get(f"/monitoring/alert-recipients/stop/{forged}")
    assert page.status_code == 200
    assert browser.post(f"/monitoring/alert-recipients/stop/{forged}", data={
        "csrf_token": csrf_from(page.get_data(as_text=True))}).status_code == 303
    assert recipient(FAMILY[0]) is not None
    # An id no row can have, signed properly: the same "stopped" answer, no error.
    huge = URLSafeSerializer(app.config["SECRET_KEY"], salt=recipients_service.STOP_SALT) \
        .dumps([2**70, FAMILY[0]])
    page = browser.get(f"/monitoring/alert-recipients/stop/{huge}")
    assert page.status_code == 200
    assert browser.post(f"/monitoring/alert-recipients/stop/{huge}", data={
        "csrf_token": csrf_from(page.get_data(as_text=True))}).status_code == 303
    assert recipient(FAMILY[0]) is not None
    # Without a CSRF token nothing happens either.
    assert browser.post(f"/monitoring/alert-recipients/stop/{token}").status_code in (400, 422)
    assert recipient(FAMILY[0]) is not None


# -- the confirmation link's problems --------------------------------------------------
def test_tampered_expired_and_withdrawn_confirmation_links(app, owner):
    client = owner_client(app)
    assert add(client, FAMILY[0]).status_code == 303
    path = confirm_path(FAMILY[0])
    browser = app.test_client()
    tampered = path[:-3] + ("abc" if not path.endswith("abc") else "xyz")
    for bad in (tampered, "/monitoring/alert-recipients/confirm/" + "a" * 500,
                "/monitoring/alert-recipients/confirm/%00"):
        response = browser.get(bad)
        assert response.status_code == 404
        assert "リンクが正しくありません" in response.get_data(as_text=True)
    # Expired.
    db.session.execute(update(MailLink).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    response = browser.get(path)
    assert response.status_code == 410 and "有効期限" in response.get_data(as_text=True)
    token = csrf_from(client.get(PAGE).get_data(as_text=True))
    assert recipient(FAMILY[0]).confirmed_at is None
    # The owner's page says so once the link's time is over.
    assert "確認期限切れ" not in client.get(PAGE).get_data(as_text=True)
    db.session.execute(update(AlertRecipient).values(
        created_at=utcnow() - app.config["ALERT_RECIPIENT_LINK_TTL"]))
    db.session.commit()
    assert "確認期限切れ" in client.get(PAGE).get_data(as_text=True)
    # Withdrawn: the owner removed the address before it confirmed.
    assert add(client, FAMILY[1]).status_code == 303
    path = confirm_path(FAMILY[1])
    page = browser.get(path)
    assert page.status_code == 200
    removed = recipient(FAMILY[1])
    assert client.post(f"{PAGE}/{removed.id}/remove",
                       data={"csrf_token": token}).status_code == 303
    assert browser.get(path).status_code == 404
    response = browser.post(path, data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert response.status_code == 404 and recipient(FAMILY[1]) is None


def test_a_confirmation_link_of_a_removed_and_added_again_address_is_dead(app, owner):
    client = owner_client(app)
    assert add(client, FAMILY[0]).status_code == 303
    old = confirm_path(FAMILY[0])
    token = csrf_from(client.get(PAGE).get_data(as_text=True))
    assert client.post(f"{PAGE}/{recipient(FAMILY[0]).id}/remove",
                       data={"csrf_token": token}).status_code == 303
    assert add(client, FAMILY[0]).status_code == 303
    new = confirm_path(FAMILY[0])
    assert old != new
    assert app.test_client().get(old).status_code in (404, 410)
    assert press(app.test_client(), new).status_code == 303


# -- the owner removes; strangers find nothing --------------------------------------------
def test_the_owner_removes_a_confirmed_recipient(smtp_app, smtp):
    owner = make_owner(OWNER)
    _gateway, key = reporting_gateway(owner)
    client = owner_client(smtp_app)
    first = confirmed(smtp_app, client, FAMILY[0])
    remove = f"{PAGE}/{first.id}/remove"
    page = client.get(remove)
    assert page.status_code == 200 and FAMILY[0] in page.get_data(as_text=True)
    response = client.post(remove, data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert response.status_code == 303
    assert "削除しました" in client.get(response.location).get_data(as_text=True)
    assert rows() == []
    assert [e.gateway_id for e in audit_rows("alert_recipient.removed")] == [GATEWAY_ID]
    # A double submit finds it gone.
    assert client.post(remove, data={"csrf_token": csrf_from(
        page.get_data(as_text=True))}).status_code == 404
    new_mail(smtp)
    api_post(smtp_app.test_client(), GATEWAY_ID, key,
             [reading(slot_end() - 30 * SLOT, units=error_units("E201"))])
    assert [m["To"] for m in new_mail(smtp)] == [OWNER]


def test_another_owners_gateway_and_recipients_are_404(app, owner):
    other = make_owner(OTHER, "佐藤", "次郎")
    make_gateway(other, "02CD87654321")
    client = owner_client(app)
    assert add(client, FAMILY[0]).status_code == 303
    mine = recipient(FAMILY[0])
    intruder = owner_client(app, OTHER)
    token = csrf_from(intruder.get("/monitoring/gateways/02CD87654321/alert-recipients")
                      .get_data(as_text=True))
    assert intruder.get(PAGE).status_code == 404
    assert intruder.post(PAGE, data={"email": "x@evil.example",
                                     "csrf_token": token}).status_code == 404
    for path in (f"{PAGE}/{mine.id}/remove",
                 f"/monitoring/gateways/02CD87654321/alert-recipients/{mine.id}/remove"):
        assert intruder.get(path).status_code == 404
        assert intruder.post(path, data={"csrf_token": token}).status_code == 404
    assert len(rows()) == 1 and outbox("x@evil.example") == []
    for path in ("/monitoring/gateways/01AB1234567%00/alert-recipients",
                 "/monitoring/gateways/" + "A" * 300 + "/alert-recipients",
                 f"{PAGE}/99999999999999999999/remove"):
        assert client.get(path).status_code == 404
    # Anonymous visitors are sent to sign in.
    assert app.test_client().get(PAGE).status_code == 302


def test_changes_need_the_csrf_token(app, owner):
    client = owner_client(app)
    client.get(PAGE)
    assert client.post(PAGE, data={"email": FAMILY[0]}).status_code in (400, 422)
    assert rows() == []


def test_a_dealer_acting_for_the_owner_is_refused(app, owner):
    dealer = become_dealer(make_company(1), "0312345678")
    make_employee(dealer.company_id)
    permit(owner, dealer)
    client = owner_client(app)
    assert add(client, FAMILY[0]).status_code == 303
    existing = recipient(FAMILY[0])
    acting = acting_client(app, {"number": owner.customer_number})
    token = csrf_from(acting.get("/account/settings").get_data(as_text=True))
    for path in (PAGE, f"{PAGE}/{existing.id}/remove"):
        response = acting.get(path)
        assert response.status_code == 403
        assert "代理ログイン中はこの操作はできません" in response.get_data(as_text=True)
    assert acting.post(PAGE, data={"email": FAMILY[1], "csrf_token": token}).status_code == 403
    assert acting.post(f"{PAGE}/{existing.id}/remove",
                       data={"csrf_token": token}).status_code == 403
    assert [r.email for r in rows()] == [FAMILY[0]]
    detail = acting.get(f"/monitoring/gateways/{GATEWAY_ID}").get_data(as_text=True)
    assert PAGE not in detail  # not offered either


# -- the gateway page, the access page, the gateway's life ---------------------------------
def test_the_gateway_page_links_and_the_access_page_lists_confirmed_recipients(app, owner):
    client = owner_client(app)
    detail = client.get(f"/monitoring/gateways/{GATEWAY_ID}").get_data(as_text=True)
    assert f'href="{PAGE}"' in detail
    first = confirmed(app, client, FAMILY[0])
    assert add(client, FAMILY[1]).status_code == 303  # unconfirmed: not listed
    client.get(PAGE)  # (the page shows the flash message naming it)
    access = client.get("/account/access").get_data(as_text=True)
    assert "アラートメールの受信" in access and FAMILY[0] in access
    assert FAMILY[1] not in access
    assert f"{PAGE}/{first.id}/remove" in access
    other = make_owner(OTHER, "佐藤", "次郎")
    assert FAMILY[0] not in owner_client(app, OTHER).get("/account/access").get_data(
        as_text=True)
    assert other.id != owner.id


def test_recipients_follow_an_exchange_and_end_with_a_disposal(app):
    owner = make_owner(OWNER)
    from tests.flows.test_gateway_manage import SLIP_PASSWORD, owned_gateway
    owned_gateway(owner, GATEWAY_ID)
    new_gateway("02CD87654321", SLIP_PASSWORD, "GW-M001", ["Z9Y8X7W6"])
    db.session.commit()
    client = owner_client(app)
    confirmed(app, client, FAMILY[0])
    base = f"/monitoring/gateways/{GATEWAY_ID}"
    token = csrf_from(client.get(base + "/exchange").get_data(as_text=True))
    assert client.post(base + "/exchange", data={"new_gateway_id": "02CD87654321",
                                                 "slip_password": SLIP_PASSWORD,
                                                 "csrf_token": token}).status_code == 303
    token = csrf_from(client.get(base + "/exchange/confirm").get_data(as_text=True))
    assert client.post(base + "/exchange/confirm", data={"csrf_token": token}).status_code == 303
    new_page = "/monitoring/gateways/02CD87654321/alert-recipients"
    assert FAMILY[0] in client.get(new_page).get_data(as_text=True)
    assert client.get(PAGE).status_code == 404
    [moved] = rows()
    assert moved.confirmed_at is not None

    token = csrf_from(client.get("/monitoring/gateways/02CD87654321/dispose")
                      .get_data(as_text=True))
    assert client.post("/monitoring/gateways/02CD87654321/dispose",
                       data={"confirm": "y", "csrf_token": token}).status_code == 303
    assert rows() == []


def test_account_deletion_releases_and_removes_recipients(app, owner):
    from blueprints.account.services import delete_account
    client = owner_client(app)
    confirmed(app, client, FAMILY[0])
    account = db.session.scalar(select(Account).where(Account.email == OWNER))
    assert delete_account(account, PASSWORD)
    assert rows() == []


def test_the_personal_data_lists_the_owners_recipients(app, owner):
    from blueprints.core import registry
    client = owner_client(app)
    confirmed(app, client, FAMILY[0])
    assert add(client, FAMILY[1]).status_code == 303
    tables = dict(registry.personal_data_of(owner))["alert_recipients"]
    listed = tables["alert_recipients"]
    assert [(r["gateway_id"], r["email"], r["confirmed_at"] is not None) for r in listed] == [
        (GATEWAY_ID, FAMILY[0], True), (GATEWAY_ID, FAMILY[1], False)]
