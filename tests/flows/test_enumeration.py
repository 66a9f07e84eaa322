"""Nobody learns from the ID's public forms whether an address has an account: password
reset and a new activation link answer the same for known and unknown addresses and do
the same work (the same SQL statements) for both; the relay decides what is mailed."""
from __future__ import annotations

import re
from contextlib import contextmanager

from sqlalchemy import event

from mail.relay import deliver_pending
from models import db
from tests.conftest import page_token
from tests.helpers import last_link, outbox, sign_up, signed_up_and_active

KNOWN, UNKNOWN = "taro@example.com", "hanako@example.com"
CSRF_VALUE = re.compile(r'(name="csrf_token"[^>]*value="|"X-CSRFToken": ")[^"]+(")')


def _same_shape(body: str, address: str) -> str:
    """A page with what differs by design taken out: the typed address, CSRF tokens."""
    return CSRF_VALUE.sub(r"\1-\2", body.replace(address, "ADDRESS"))


# -- the same work for every address ---------------------------------------------------------
@contextmanager
def statements():
    """The SQL statements run meanwhile (their text, not their parameters)."""
    seen: list[str] = []

    def listener(_conn, _cursor, statement, _parameters, _context, _executemany):
        seen.append(statement)

    db.session.commit()
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)


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
