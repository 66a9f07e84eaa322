"""Nobody learns from the ID's public forms whether an address has an account: sign-up,
password reset and a new activation link answer the same for known and unknown
addresses (status, page, number of mails), and the reset and resend requests do the same
work (the same SQL statements) for both; the relay decides what is mailed."""
from __future__ import annotations

from sqlalchemy import func, select

from mail.relay import deliver_pending
from models import db
from models.account import Account
from models.mail import OutboxMail
from tests.conftest import SmtpServer, links_in, page_token, path_of
from tests.helpers import (
    NAME_STEP,
    PERSONAL_DETAILS,
    last_link,
    outbox,
    post_step,
    sign_up,
    signed_up_and_active,
    statements,
    without_csrf,
)

KNOWN, UNKNOWN = "taro@example.com", "hanako@example.com"


def _mail_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(OutboxMail))


def _same_shape(body: str, address: str) -> str:
    """A page with what differs by design taken out: the typed address, CSRF tokens."""
    return without_csrf(body.replace(address, "ADDRESS"))


def _walk_sign_up(client, email: str) -> list[tuple[int, str | None]]:
    answers = []
    for step, data in (("name", {**NAME_STEP, "email": email}),
                       ("type", {"account_type": "personal"}),
                       ("details", PERSONAL_DETAILS)):
        response = post_step(client, step, data)
        answers.append((response.status_code, response.headers.get("Location")))
    return answers


# -- sign-up -------------------------------------------------------------------------------
def test_sign_up_goes_on_the_same_way_for_a_registered_address(app):
    signed_up_and_active(app.test_client(), email=KNOWN)
    outbox()  # everything so far is written; count from here
    results = {}
    for email in (KNOWN, UNKNOWN):
        client = app.test_client()
        before = _mail_count()
        steps = _walk_sign_up(client, email)
        done = client.get("/account/signup/done")
        results[email] = (steps, done.status_code,
                          _same_shape(done.get_data(as_text=True), email),
                          len(outbox()) - before)
    assert results[KNOWN] == results[UNKNOWN]
    steps, status, _, mails = results[KNOWN]
    assert steps == [(303, "/account/signup/type"), (303, "/account/signup/details"),
                     (303, "/account/signup/done")]
    assert status == 200 and mails == 1
    # The new address got its activation mail; the registered one no second account and
    # no activation mail, but a word to its owner.
    assert [m.kind for m in outbox(UNKNOWN)] == ["activation"]
    assert [m.kind for m in outbox(KNOWN)] == ["activation", "account_exists"]
    assert db.session.scalar(select(func.count()).select_from(Account)
                             .where(Account.email == KNOWN)) == 1


def test_sign_up_with_htmx_answers_the_same_for_a_registered_address(app):
    signed_up_and_active(app.test_client(), email=KNOWN)
    answers = {}
    for email in (KNOWN, UNKNOWN):
        client = app.test_client()
        post_step(client, "name", {**NAME_STEP, "email": email}, htmx=True)
        post_step(client, "type", {"account_type": "personal"}, htmx=True)
        last = post_step(client, "details", PERSONAL_DETAILS, htmx=True)
        answers[email] = (last.status_code, last.headers.get("HX-Redirect"),
                          _same_shape(last.get_data(as_text=True), email))
    assert answers[KNOWN] == answers[UNKNOWN] == (200, "/account/signup/done", "")


def test_the_owner_is_told_with_links_to_sign_in_and_to_reset(smtp_app, smtp):
    owner = smtp_app.test_client()
    signed_up_and_active(owner, email=KNOWN)
    deliver_pending()
    sign_up(smtp_app.test_client(), email=KNOWN)
    assert deliver_pending() == 1
    [_, message] = smtp.to(KNOWN)
    assert "アカウントはすでに登録されています" in message["Subject"]
    body = SmtpServer.text_of(message)
    assert "山田 太郎 様" in body and "新しいアカウントは作成していません" in body
    sign_in, reset = links_in(body)
    assert path_of(sign_in) == "/account/login" and path_of(reset) == "/account/password/reset"
    visitor = smtp_app.test_client()
    assert visitor.get(path_of(sign_in)).status_code == 200
    assert visitor.get(path_of(reset)).status_code == 200


def test_repeated_sign_ups_with_a_registered_address_mail_its_owner_once(app):
    """A sign-up form cannot be used to flood someone's mailbox."""
    signed_up_and_active(app.test_client(), email=KNOWN)
    for _ in range(3):
        assert sign_up(app.test_client(), email=KNOWN).status_code == 303
    assert [m.kind for m in outbox(KNOWN)] == ["activation", "account_exists"]


def test_sign_up_with_an_unopened_address_sends_no_second_activation(app):
    sign_up(app.test_client(), email=KNOWN)
    first = last_link(KNOWN, "activation")
    assert sign_up(app.test_client(), email=KNOWN).status_code == 303
    assert [m.kind for m in outbox(KNOWN)] == ["activation", "account_exists"]
    assert app.test_client().get(first).status_code == 200  # the first link still opens


# -- the same work for every address ---------------------------------------------------------
def _statements_of_post(client, url: str, token: str, email: str) -> tuple[int, str, list[str]]:
    with statements() as seen:
        response = client.post(url, data={"email": email, "csrf_token": token})
    return response.status_code, _same_shape(response.get_data(as_text=True), email), seen


def test_password_reset_does_the_same_work_for_known_and_unknown_addresses(app, client):
    signed_up_and_active(client, email=KNOWN)
    token = page_token(client, "/account/password/reset")
    known = _statements_of_post(client, "/account/password/reset", token, KNOWN)
    unknown = _statements_of_post(client, "/account/password/reset", token, UNKNOWN)
    assert known[0] == unknown[0] == 200
    assert known[1] == unknown[1]
    assert known[2] == unknown[2]
    assert any("INSERT INTO outbox_mail" in statement for statement in known[2])
    # The relay decides: a reset link for the account, nothing for the unknown address.
    assert len(outbox(KNOWN, "password_reset")) == 1
    assert outbox(UNKNOWN) == []


def test_resend_activation_does_the_same_work_for_every_address(app, client):
    opened, unopened = "open@example.com", "waiting@example.com"
    signed_up_and_active(client, email=opened)
    sign_up(app.test_client(), email=unopened)
    token = page_token(client, "/account/activation/resend")
    runs = [_statements_of_post(client, "/account/activation/resend", token, email)
            for email in (unopened, opened, UNKNOWN)]
    assert {run[0] for run in runs} == {200}
    assert runs[0][1] == runs[1][1] == runs[2][1]
    assert runs[0][2] == runs[1][2] == runs[2][2]
    # Only the unopened account gets a fresh link (and only the newest link opens).
    assert len(outbox(unopened, "activation")) == 2
    assert len(outbox(opened, "activation")) == 1
    assert outbox(UNKNOWN) == []
    assert client.get(last_link(unopened, "activation")).status_code == 200


def test_a_mail_request_is_decided_once_by_concurrent_relays(smtp_app, smtp):
    import threading

    client = smtp_app.test_client()
    signed_up_and_active(client, email=KNOWN)
    deliver_pending()
    token = page_token(client, "/account/password/reset")
    for _ in range(3):
        client.post("/account/password/reset", data={"email": KNOWN, "csrf_token": token})
    db.session.commit()

    def relay():
        with smtp_app.app_context():
            deliver_pending()
            db.session.remove()

    threads = [threading.Thread(target=relay) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    resets = [m for m in smtp.to(KNOWN) if "パスワード再設定" in m["Subject"]]
    assert len(resets) == 3  # one per request
    assert len({m["X-Enelink-Mail-Id"] for m in resets}) == 3  # none twice
    # Each request's link replaced the one before: the newest opens.
    assert client.get(last_link(KNOWN, "password_reset")).status_code == 200
