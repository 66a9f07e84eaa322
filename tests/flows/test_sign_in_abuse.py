"""Sign-in under attack: failures are limited per client (no account lock that an attacker
could turn against the owner), known and unknown addresses answer and work alike, the
client address behind trusted proxies, and the remember cookie gone after sign-out."""
from __future__ import annotations

import re

from argon2 import PasswordHasher, extract_parameters
from sqlalchemy import event, select

from blueprints.account import services
from models import db
from models.account import Account
from models.audit import AuditEvent
from tests.conftest import page_token
from tests.helpers import login, signed_up_and_active

WRONG = "Wrong-Password-1!"
OWNER_ADDRESS = "192.0.2.10"
ATTACKER_ADDRESS = "203.0.113.66"
# Small limits keep the number of (deliberately slow) password checks down.
LIMITS = {"LOGIN_FAILURE_LIMIT_PER_ADDRESS": "4 per minute",
          "LOGIN_FAILURE_LIMIT_PER_ACCOUNT": "2 per 15 minutes"}


def browser(app, address: str = OWNER_ADDRESS):
    """A test client whose requests come from `address` (the socket's peer)."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def comparable(body: str) -> str:
    """A page without what may differ between two answers: the address typed and the
    CSRF token."""
    body = body.replace("taro@example.com", "EMAIL").replace("ghost@example.com", "EMAIL")
    return re.sub(r"[A-Za-z0-9_.-]{40,}", "TOKEN", body)


def login_failures() -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "account.login_failed").order_by(AuditEvent.id)))


def test_owner_signs_in_after_an_attacker_failed_many_times(make_app):
    app = make_app(**LIMITS)
    with app.app_context():
        owner = browser(app)
        signed_up_and_active(owner)
        attacker = browser(app, ATTACKER_ADDRESS)
        codes = [login(attacker, password=WRONG).status_code for _ in range(6)]
        assert codes == [401, 401, 429, 429, 429, 429]
        # The attacker's address is refused even with the right password…
        assert login(attacker).status_code == 429
        # …but the owner, elsewhere, is not: no account lock.
        assert login(owner).status_code == 303
        assert owner.get("/account/settings").status_code == 200


def test_the_right_password_from_a_quiet_address_always_signs_in(make_app):
    """Successes do not count against the limits: many sign-ins in a row all work."""
    app = make_app(**LIMITS)
    with app.app_context():
        signed_up_and_active(browser(app))
        assert [login(browser(app)).status_code for _ in range(11)] == [303] * 11


def test_an_address_that_keeps_failing_is_limited_for_every_email(make_app):
    app = make_app(**LIMITS)
    with app.app_context():
        signed_up_and_active(browser(app))
        attacker = browser(app, ATTACKER_ADDRESS)
        codes = [login(attacker, email=f"guess{i}@example.com", password=WRONG).status_code
                 for i in range(5)]
        assert codes == [401, 401, 401, 401, 429]
        for email in ("taro@example.com", "ghost@example.com"):
            refused = login(attacker, email=email)
            assert refused.status_code == 429
            assert "しばらくしてから" in refused.get_data(as_text=True)
        # A client elsewhere is not affected.
        assert login(browser(app, "198.51.100.5")).status_code == 303


def test_known_and_unknown_addresses_get_the_same_answers(make_app):
    """Same status and page, below the limit and past it, whether the address has an ID."""
    app = make_app(**LIMITS)
    with app.app_context():
        signed_up_and_active(browser(app))
        known_client, unknown_client = browser(app, "198.51.100.3"), browser(app, "198.51.100.4")
        known, unknown = [], []
        for _ in range(4):
            known.append(login(known_client, email="taro@example.com", password=WRONG))
            unknown.append(login(unknown_client, email="ghost@example.com", password=WRONG))
        assert [r.status_code for r in known] == [r.status_code for r in unknown] \
            == [401, 401, 429, 429]
        for mine, theirs in zip(known, unknown):
            assert comparable(mine.get_data(as_text=True)) == \
                comparable(theirs.get_data(as_text=True))
            assert mine.headers.get("Content-Type") == theirs.headers.get("Content-Type")
        assert "メールアドレスまたはパスワードが正しくありません" in known[0].get_data(as_text=True)
        assert "しばらくしてから" in known[2].get_data(as_text=True)


def test_unknown_address_checks_a_hash_of_the_same_cost_and_runs_the_same_statements(
        make_app, monkeypatch):
    """The time of an answer does not tell whether the address has an ID: the unknown
    path verifies a password hash of the same algorithm and parameters as a real one,
    and runs the same SQL statements as a wrong password for a known address."""
    app = make_app(**LIMITS)
    with app.app_context():
        signed_up_and_active(browser(app))
        stored = db.session.scalar(select(Account.password_hash))
        verified: list[str] = []

        class CountingHasher(PasswordHasher):
            def verify(self, hash, password):  # noqa: A002 (argon2's own signature)
                verified.append(hash)
                return super().verify(hash, password)

        monkeypatch.setattr(services, "_hasher", CountingHasher())
        statements: list[str] = []

        def count(_conn, _cursor, statement, *_args):
            statements.append(re.sub(r"\s+", " ", statement).split(" (", 1)[0])

        tried = {}
        for email, address in (("taro@example.com", "198.51.100.1"),
                               ("ghost@example.com", "198.51.100.2")):
            client = browser(app, address)
            token = page_token(client)
            verified.clear()
            statements.clear()
            event.listen(db.engine, "before_cursor_execute", count)
            try:
                client.post("/account/login", data={"email": email, "password": WRONG,
                                                    "csrf_token": token})
            finally:
                event.remove(db.engine, "before_cursor_execute", count)
            tried[email] = (list(verified), list(statements))
        known_hashes, known_statements = tried["taro@example.com"]
        unknown_hashes, unknown_statements = tried["ghost@example.com"]
        assert known_hashes == [stored]
        assert len(unknown_hashes) == 1 and unknown_hashes[0] != stored
        assert extract_parameters(unknown_hashes[0]) == extract_parameters(stored)
        assert unknown_statements == known_statements
        assert len(login_failures()) == 2


# -- client address behind proxies ------------------------------------------------------
def test_without_trusted_proxies_x_forwarded_for_is_ignored(make_app):
    app = make_app(TRUSTED_PROXIES=0, **LIMITS)
    with app.app_context():
        client = browser(app, "10.0.0.5")
        codes = [client_post_login(client, f"guess{i}@example.com", f"198.51.100.{i + 1}")
                 for i in range(5)]
        # Another X-Forwarded-For on every try changes nothing: one socket, one limit.
        assert codes == [401, 401, 401, 401, 429]
        assert {row.ip for row in login_failures()} == {"10.0.0.5"}


def test_behind_one_trusted_proxy_the_forwarded_client_is_limited_and_audited(make_app):
    app = make_app(TRUSTED_PROXIES=1, **LIMITS)
    with app.app_context():
        proxy = browser(app, "10.0.0.5")
        # Every client behind the proxy has its own limit…
        codes = [client_post_login(proxy, f"guess{i}@example.com", f"198.51.100.{i + 1}")
                 for i in range(6)]
        assert codes == [401] * 6
        assert [row.ip for row in login_failures()] == [f"198.51.100.{i + 1}" for i in range(6)]
        # …and a client that keeps failing is limited by its own address; a value it
        # puts in front of the proxy's entry is not believed.
        codes = [client_post_login(proxy, f"again{i}@example.com",
                                   f"192.0.2.{i}, 203.0.113.9") for i in range(5)]
        assert codes == [401, 401, 401, 401, 429]
        assert login_failures()[-1].ip == "203.0.113.9"


def client_post_login(client, email: str, forwarded_for: str) -> int:
    """A failed sign-in as forwarded by a proxy that appended `forwarded_for`."""
    token = page_token(client)
    return client.post("/account/login", data={
        "email": email, "password": WRONG, "csrf_token": token},
        headers={"X-Forwarded-For": forwarded_for}).status_code


# -- sign-out ----------------------------------------------------------------------------
def test_sign_out_deletes_the_remember_cookie(client):
    signed_up_and_active(client)
    login(client, remember=True)
    assert client.get_cookie("remember_token") is not None
    out = client.post("/account/logout",
                      data={"csrf_token": page_token(client, "/account/settings")})
    assert out.status_code == 303
    expiring = [header for header in out.headers.getlist("Set-Cookie")
                if header.startswith("remember_token=")]
    assert expiring and "Expires=Thu, 01 Jan 1970" in expiring[0]
    assert client.get_cookie("remember_token") is None
    assert client.get("/account/settings").status_code == 302
