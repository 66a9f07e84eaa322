"""Many people at once: concurrent sign-ups and double submits on the same database
(a file SQLite in WAL mode with immediate write transactions, or PostgreSQL)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

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
