"""A slow or absent SMTP server stalls no request, and a busy database is a 503 page.

The relay keeps no transaction open while it talks SMTP (on SQLite every transaction holds
the write lock): with a server that holds every message until the test lets it go, pages
and mail requests are answered meanwhile, and every mail is delivered exactly once
afterwards. The server "waits" on a threading.Event, so nothing here depends on timing."""
from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select, update

from mail.relay import deliver_pending
from models import db, utcnow
from models.mail import OutboxMail, OutboxStatus
from tests.conftest import SmtpServer, page_token
from tests.helpers import login, outbox, signed_up_and_active

RESET_ADDRESSES = [f"reset{i}@example.com" for i in range(4)]
BOUND_SECONDS = 60  # an upper bound for waiting on an event, never a timing assumption


class HeldSmtpServer(SmtpServer):
    """Accepts every message but answers its DATA only once `gate` is set; `arrived` is
    set as soon as a message is being held."""

    def __init__(self):
        super().__init__()
        self.gate = threading.Event()
        self.arrived = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        self.arrived.set()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.gate.wait, BOUND_SECONDS)
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append(message)
        return "250 OK"


@pytest.fixture
def held_smtp():
    server = HeldSmtpServer()
    server.start()
    yield server
    server.gate.set()
    server.stop()


def _relay_round(app) -> None:
    with app.app_context():
        deliver_pending(limit=100)
        db.session.remove()


def _deliver_everything() -> None:
    """Make every waiting mail due and run the relay until nothing is left (bounded)."""
    for _ in range(5):
        db.session.execute(update(OutboxMail).where(OutboxMail.status == OutboxStatus.PENDING)
                           .values(next_attempt_at=utcnow()))
        db.session.commit()
        if deliver_pending(limit=100) == 0 and not _waiting():
            return


def _waiting() -> list[OutboxMail]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMail).where(
        OutboxMail.status.in_([OutboxStatus.PENDING, OutboxStatus.REQUESTED]))))


def test_slow_smtp_server_stalls_no_request_and_loses_no_mail(make_app, held_smtp):
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=held_smtp.port,
                   MAIL_TIMEOUT_SECONDS=BOUND_SECONDS, RATELIMIT_ENABLED=False,
                   DATABASE_BUSY_TIMEOUT_SECONDS=5)
    with app.app_context():
        owner = app.test_client()
        signed_up_and_active(owner, email="owner@example.com")
        for address in RESET_ADDRESSES:
            signed_up_and_active(app.test_client(), email=address)
        assert login(owner, email="owner@example.com").status_code == 303
        assert outbox()  # the activation mails wait for the relay
        db.session.commit()  # the test's own read ends (on SQLite it holds the lock)

        # Two relays start delivering; the server holds the first messages.
        relays = [threading.Thread(target=_relay_round, args=(app,)) for _ in range(2)]
        for relay in relays:
            relay.start()
        try:
            assert held_smtp.arrived.wait(BOUND_SECONDS), "the relay never reached the server"
            token = page_token(owner, "/account/password/reset")

            def reset(address: str) -> int:
                return owner.post("/account/password/reset",
                                  data={"email": address, "csrf_token": token}).status_code

            def monitoring_menu(_) -> int:
                return owner.get("/monitoring/").status_code

            # While SMTP is stuck: the case (resets, then a signed-in page), at once.
            with ThreadPoolExecutor(6) as pool:
                reset_codes = list(pool.map(reset, RESET_ADDRESSES))
                page_codes = list(pool.map(monitoring_menu, range(4)))
            assert not held_smtp.gate.is_set()
            assert reset_codes == [200] * len(RESET_ADDRESSES)
            assert page_codes == [200] * 4
        finally:
            held_smtp.gate.set()
            for relay in relays:
                relay.join(BOUND_SECONDS)

        _deliver_everything()
        assert _waiting() == []
        mails = db.session.scalars(select(OutboxMail)).all()
        assert {m.status for m in mails} == {OutboxStatus.SENT}
        # Each mail reached the server exactly once.
        received = Counter(m["X-Enelink-Mail-Id"] for m in held_smtp.messages)
        assert received == Counter({str(m.id): 1 for m in mails})
        for address in RESET_ADDRESSES:
            assert len(held_smtp.to(address)) == 2  # its activation, then its reset link
            assert [m.kind for m in outbox(address)] == ["activation", "password_reset"]


def test_smtp_down_keeps_a_requested_mail_until_the_server_is_back(make_app, smtp):
    port = smtp.port
    smtp.stop()
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_TIMEOUT_SECONDS=2)
    with app.app_context():
        client = app.test_client()
        signed_up_and_active(client)
        db.session.execute(update(OutboxMail).values(status=OutboxStatus.SENT))
        db.session.commit()
        token = page_token(client, "/account/password/reset")
        for address in ("taro@example.com", "ghost@example.com"):
            client.post("/account/password/reset", data={"email": address, "csrf_token": token})
        assert deliver_pending() == 0  # the server is down
        [waiting] = _waiting()
        assert (waiting.recipient, waiting.kind) == ("taro@example.com", "password_reset")
        assert waiting.attempts == 1 and waiting.next_attempt_at > utcnow()
        smtp.port = port
        smtp.start()
        _deliver_everything()
        [message] = smtp.to("taro@example.com")
        assert "パスワード再設定" in message["Subject"]
        assert smtp.to("ghost@example.com") == []
        assert _waiting() == []


class DatabaseLock:
    """Another connection that takes SQLite's write lock and keeps it."""

    def __init__(self, path: str):
        self.connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    def hold(self) -> None:
        db.session.commit()  # the test's own transaction ends first, as a request's would
        self.connection.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        if self.connection.in_transaction:
            self.connection.execute("ROLLBACK")


@pytest.fixture
def database_lock(app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the write lock that stalls every request is SQLite's")
    lock = DatabaseLock(db.engine.url.database)
    yield lock
    lock.release()
    lock.connection.close()


@pytest.fixture
def app(make_app):
    application = make_app(DATABASE_BUSY_TIMEOUT_SECONDS=0.2)
    with application.app_context():
        yield application


def test_a_database_that_stays_locked_answers_503_pages(app, client, database_lock):
    signed_up_and_active(client)
    assert login(client).status_code == 303
    token = page_token(client, "/account/password/reset")
    database_lock.hold()

    # A page that only reads (marked read_only) still answers: on SQLite it begins
    # deferred and takes no write lock. One that takes the lock waits, then says so.
    assert client.get("/monitoring/").status_code == 200
    assert client.get("/account/settings").status_code == 200
    signed_in_page = client.get("/eco/")
    form_post = client.post("/account/password/reset",
                            data={"email": "taro@example.com", "csrf_token": token})
    for response in (signed_in_page, form_post):
        assert response.status_code == 503
        assert response.headers["Retry-After"]
        body = response.get_data(as_text=True)
        assert "ただいま混み合っています" in body and "内容は保存されていません" in body

    api = client.get("/api/v1/gateways/01AB12345678",
                     headers={"Authorization": "Bearer not-a-key"})
    assert api.status_code == 503
    assert api.get_json()["error"] == "unavailable"

    # Once the database is free again, the same browser is still signed in, and
    # nothing of the refused post was kept.
    database_lock.release()
    assert client.get("/monitoring/").status_code == 200
    assert outbox("taro@example.com", "password_reset") == []


def test_only_a_busy_database_is_a_503():
    """Other database errors stay errors (a 500, logged), not a page that says 'busy'."""
    from sqlalchemy.exc import OperationalError

    from blueprints.core.security import database_busy

    def error(message: str) -> OperationalError:
        return OperationalError("SELECT 1", {}, sqlite3.OperationalError(message))

    assert database_busy(error("database is locked"))
    assert database_busy(error("database table is locked: outbox_mail"))
    assert not database_busy(error("no such table: outbox_mail"))
    assert not database_busy(error("disk I/O error"))
