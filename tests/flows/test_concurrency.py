"""Many people at once: concurrent sign-ups and double submits on the same database
(a file SQLite in WAL mode with immediate write transactions, or PostgreSQL)."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, update

from models import db
from models.account import Account
from models.mail import OutboxMail
from tests.conftest import csrf_from
from tests.helpers import NAME_STEP, PERSONAL_DETAILS, outbox, post_step, sign_up

WORKERS = 8


def _count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def test_concurrent_sign_ups_all_succeed(make_app):
    app = make_app(RATELIMIT_ENABLED=False)

    def one(n: int) -> int:
        return sign_up(app.test_client(), email=f"user{n}@example.com").status_code

    with ThreadPoolExecutor(WORKERS) as pool:
        codes = list(pool.map(one, range(WORKERS * 2)))
    assert codes == [303] * (WORKERS * 2)
    with app.app_context():
        assert _count(Account) == WORKERS * 2
        assert _count(OutboxMail) == WORKERS * 2


def test_same_address_at_once_makes_one_account(make_app):
    app = make_app(RATELIMIT_ENABLED=False)
    clients = [app.test_client() for _ in range(WORKERS)]
    for client in clients:  # everyone has reached the last step
        post_step(client, "name", NAME_STEP)
        post_step(client, "type", {"account_type": "personal"})
    tokens = [csrf_from(c.get("/account/signup/details").get_data(as_text=True))
              for c in clients]

    def finish(i: int) -> int:
        return clients[i].post("/account/signup/details",
                               data={**PERSONAL_DETAILS, "csrf_token": tokens[i]}).status_code

    with ThreadPoolExecutor(WORKERS) as pool:
        codes = list(pool.map(finish, range(WORKERS)))
    # Everyone sees the same result (the sign-up does not tell that the address is taken);
    # one account and one activation mail; the owner is told of the others (at most
    # once an hour, give or take parallel sign-ups on PostgreSQL).
    assert codes == [303] * WORKERS
    with app.app_context():
        assert _count(Account) == 1
        kinds = [m.kind for m in outbox("taro@example.com")]
        assert kinds.count("activation") == 1
        assert 1 <= kinds.count("account_exists") <= WORKERS - 1


def test_double_submit_of_the_last_step_makes_one_account(make_app):
    app = make_app(RATELIMIT_ENABLED=False)
    client = app.test_client()
    post_step(client, "name", NAME_STEP)
    post_step(client, "type", {"account_type": "personal"})
    token = csrf_from(client.get("/account/signup/details").get_data(as_text=True))

    def submit(_):
        response = client.post("/account/signup/details",
                               data={**PERSONAL_DETAILS, "csrf_token": token})
        return response.status_code, response.headers.get("Location")

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(submit, range(2)))
    # Both land on 「一次登録完了」: the second submit replays the first one's result.
    assert answers == [(303, "/account/signup/done")] * 2
    assert "一次登録完了" in client.get("/account/signup/done").get_data(as_text=True)
    with app.app_context():
        assert _count(Account) == 1
        assert _count(OutboxMail) == 1


def test_last_step_posted_again_later_replays_the_result(client):
    """Back button, then the same form sent again after finishing: the same result page,
    no second account and no second mail."""
    post_step(client, "name", NAME_STEP)
    post_step(client, "type", {"account_type": "personal"})
    page = client.get("/account/signup/details").get_data(as_text=True)
    data = {**PERSONAL_DETAILS, "csrf_token": csrf_from(page)}
    first = client.post("/account/signup/details", data=data)
    again = client.post("/account/signup/details", data=data)
    assert first.status_code == again.status_code == 303
    assert again.headers["Location"] == "/account/signup/done"
    assert _count(Account) == 1 and _count(OutboxMail) == 1


# -- SQLite: read-only views do not hold the write lock ------------------------------------
def _sqlite_only(app):
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite's locking (PostgreSQL readers never block writers)")


def test_console_view_does_not_block_a_writer(make_app, monkeypatch):
    """A GET of the dealer console reads without the write lock: a writer meanwhile
    commits at once, instead of waiting for the view's transaction to end (the busy
    timeout is short here: a blocked writer fails with 'database is locked')."""
    from blueprints.dealers import services
    from models.gateway import Dealer
    from tests.flows.test_dealer_links import make_dealer, make_gateway, make_owner
    from tests.helpers import login

    app = make_app(RATELIMIT_ENABLED=False, DATABASE_BUSY_TIMEOUT_SECONDS=0.5)
    _sqlite_only(app)
    with app.app_context():
        dealer, owner = make_dealer(1), make_owner()
        services.link_dealer(owner, make_gateway(owner), dealer.dealer_code, dealer.phone)
    client = app.test_client()
    login(client, "admin1@dealer1.example")
    assert "01AB12345678" in client.get("/dealers/").get_data(as_text=True)
    reading, written = threading.Event(), threading.Event()
    rows_of = services._console_rows

    def rows_then_wait(*args):
        rows = rows_of(*args)  # the view's transaction has read the list
        reading.set()
        written.wait(10)
        return rows

    monkeypatch.setattr(services, "_console_rows", rows_then_wait)
    answer = {}
    viewer = threading.Thread(target=lambda: answer.update(page=client.get("/dealers/")))
    viewer.start()
    try:
        assert reading.wait(10)
        with app.app_context(), db.engine.begin() as connection:  # BEGIN IMMEDIATE
            connection.execute(update(Dealer).values(phone="0312349999"))
    finally:
        written.set()
        viewer.join(10)
    assert answer["page"].status_code == 200
    assert "01AB12345678" in answer["page"].get_data(as_text=True)


def test_a_read_only_view_that_writes_after_reading_still_gets_the_lock(make_app):
    """A view marked read-only whose request writes after reading while another
    connection wrote meanwhile: the write starts again with BEGIN IMMEDIATE instead of
    failing with 'database is locked' (SQLite refuses to upgrade a stale snapshot)."""
    from blueprints.core.transactions import read_only
    from tests.flows.test_dealer_links import make_owner

    app = make_app(RATELIMIT_ENABLED=False)
    _sqlite_only(app)

    @read_only
    def reads_then_writes():
        before = db.session.scalar(select(func.count()).select_from(Account))
        with db.engine.begin() as other:  # another connection writes meanwhile
            other.execute(update(Account).values(newsletter=True))
        db.session.execute(update(Account).values(language="en"))
        db.session.commit()
        return str(before)

    app.add_url_rule("/test/reads-then-writes", view_func=reads_then_writes)
    with app.app_context():
        make_owner()
    response = app.test_client().get("/test/reads-then-writes")
    assert response.status_code == 200 and response.get_data(as_text=True) == "1"
    with app.app_context():
        assert db.session.scalars(select(Account.language)).all() == ["en"]
        assert db.session.scalars(select(Account.newsletter)).all() == [True]
