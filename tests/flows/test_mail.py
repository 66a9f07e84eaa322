"""Mail over a real SMTP server on loopback: delivery, following links, SMTP outages."""
from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select, update

from mail.relay import backoff, deliver_pending
from models import db, utcnow
from models.mail import OutboxMail, OutboxStatus
from tests.conftest import SmtpServer, links_in, path_of
from tests.helpers import login, sign_up


def make_due() -> None:
    """Make every waiting mail due now (instead of sleeping through the backoff)."""
    db.session.execute(update(OutboxMail).values(next_attempt_at=utcnow()))
    db.session.commit()


def test_activation_mail_arrives_over_smtp_and_its_link_opens_the_account(smtp_app, smtp):
    client = smtp_app.test_client()
    sign_up(client)
    assert deliver_pending() == 1
    messages = smtp.to("taro@example.com")
    assert len(messages) == 1
    message = messages[0]
    assert "アカウント登録のご確認" in message["Subject"]
    assert message.get_body(preferencelist=("html",)) is not None
    body = SmtpServer.text_of(message)
    assert "山田 太郎 様" in body
    link = links_in(body)[0]
    assert link.startswith("http://enelink.test/account/activate/")
    assert client.get(path_of(link)).status_code == 200
    assert login(client).status_code == 303
    sent = db.session.scalars(select(OutboxMail)).one()
    assert sent.status == OutboxStatus.SENT and sent.sent_at is not None
    assert deliver_pending() == 0  # delivered once, never again


def test_links_use_the_configured_host_not_the_request_host(smtp_app, smtp):
    """A forged Host header must not end up in the links of a mail (link poisoning)."""
    client = smtp_app.test_client()
    client.environ_base["HTTP_HOST"] = "evil.example"
    assert sign_up(client).status_code == 303
    deliver_pending()
    [message] = smtp.to("taro@example.com")
    body = SmtpServer.text_of(message)
    assert "evil.example" not in body
    assert "http://enelink.test/account/activate/" in body


def test_smtp_down_loses_no_mail(make_app, smtp):
    port = smtp.port
    smtp.stop()
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_TIMEOUT_SECONDS=2)
    with app.app_context():
        addresses = [f"user{i}@example.com" for i in range(5)]
        for address in addresses:
            sign_up(app.test_client(), email=address)
        assert deliver_pending() == 0
        waiting = db.session.scalars(select(OutboxMail)).all()
        assert len(waiting) == 5
        assert all(m.status == OutboxStatus.PENDING and m.attempts == 1 for m in waiting)
        assert all(m.next_attempt_at > utcnow() for m in waiting)
        assert "Connection" in waiting[0].last_error or "refused" in waiting[0].last_error
        assert deliver_pending() == 0  # not due yet: backoff
        smtp.port = port
        smtp.start()
        make_due()
        assert deliver_pending() == 5
        assert sorted(m["To"] for m in smtp.messages) == sorted(addresses)
        make_due()
        assert deliver_pending() == 0


def test_backoff_grows_and_is_capped():
    assert backoff(1) == timedelta(seconds=5)
    assert backoff(2) == timedelta(seconds=10)
    assert backoff(5) == timedelta(seconds=80)
    assert backoff(50) == timedelta(hours=1)


def test_gives_up_after_max_attempts(make_app, smtp):
    port = smtp.port
    smtp.stop()
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_MAX_ATTEMPTS=2,
                   MAIL_TIMEOUT_SECONDS=2)
    with app.app_context():
        sign_up(app.test_client())
        deliver_pending()
        make_due()
        deliver_pending()
        mail = db.session.scalars(select(OutboxMail)).one()
        db.session.refresh(mail)
        assert mail.status == OutboxStatus.FAILED and mail.attempts == 2


def test_concurrent_relays_deliver_each_mail_once(smtp_app, smtp):
    for i in range(12):  # from 12 addresses: sign-up's mailing step is limited per client
        client = smtp_app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"192.0.2.{i + 1}"
        sign_up(client, email=f"c{i}@example.com")
    results = []

    def relay():
        with smtp_app.app_context():
            results.append(deliver_pending(limit=50))
            db.session.remove()

    threads = [threading.Thread(target=relay) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(results) == 12
    assert len(smtp.messages) == 12
    assert len({m["To"] for m in smtp.messages}) == 12


def test_nothing_is_mailed_when_the_change_fails(client):
    """The outbox row is part of the change's transaction: a refused sign-up mails nothing."""
    from tests.helpers import post_step, NAME_STEP

    post_step(client, "name", {**NAME_STEP, "email": "bad"})
    assert db.session.scalars(select(OutboxMail)).all() == []


def test_dev_mailbox_lists_mail_and_links(make_app):
    app = make_app(DEV_MAILBOX=True)
    with app.app_context():
        client = app.test_client()
        sign_up(client)
        assert deliver_pending() == 1
        listing = client.get("/dev/mail")
        assert listing.status_code == 200 and "アカウント登録のご確認" in listing.get_data(as_text=True)
        mail = db.session.scalars(select(OutboxMail)).one()
        assert mail.status == OutboxStatus.DEV
        detail = client.get(f"/dev/mail/{mail.id}").get_data(as_text=True)
        assert "/account/activate/" in detail


def test_dev_mailbox_is_hidden_outside_development(client):
    assert client.get("/dev/mail").status_code == 404
