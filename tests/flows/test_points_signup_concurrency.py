"""The points sign-up under concurrency, on SQLite (file, WAL) and PostgreSQL: one ID's
browsers finishing at once make one membership; people finishing with the same gateway
at once make one running member; the others get a message, never a 500, and nothing
half-created (no ID for a mail-first loser)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from models import db
from models.account import Account
from models.points import PointsMember
from tests.conftest import csrf_from, links_in, path_of
from tests.flows.test_dealer_links import make_owner
from tests.flows.test_points_signup import (GATEWAY, INFO, MEMBER_FORM, NEW_FORM, NEW_INFO, PCS,
                                            SERVICE, eco_member, open_documents, post)
from tests.helpers import login, outbox

WORKERS = 6


def _count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _at_confirm(client, base, info):
    post(client, base, "service", SERVICE)
    open_documents(client, base)
    assert post(client, base, "consent", {"agree": "y"}).status_code == 303
    assert post(client, base, "pair", {"gateway_code": GATEWAY, "pcs_serial": PCS}).status_code == 303
    assert post(client, base, "info", info).status_code == 303
    return csrf_from(client.get(f"{base}/confirm").get_data(as_text=True))


def test_one_ids_browsers_finishing_at_once_make_one_membership(make_app):
    app = make_app(RATELIMIT_ENABLED=False)
    with app.app_context():
        owner = make_owner()
        eco_member(owner)
        clients = [app.test_client() for _ in range(WORKERS)]
        for client in clients:
            assert login(client, "owner@example.com").status_code == 303
        tokens = [_at_confirm(client, MEMBER_FORM, INFO) for client in clients]

    def finish(i: int):
        response = clients[i].post(f"{MEMBER_FORM}/confirm", data={"csrf_token": tokens[i]})
        return response.status_code, response.headers.get("Location"), \
            response.get_data(as_text=True)

    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(finish, range(WORKERS)))
    # One joins; a browser that arrives after it sees the member page (the ID is a
    # member now), one that raced it to the insert is told so on the page (422).
    assert [code for code, _, _ in results].count(303) == 1, results
    for code, location, html in results:
        if code == 302:
            assert location == "/points/"
        elif code == 422:
            assert "すでにポイントサービスの会員です" in html \
                or "すでにポイントサービスに登録されています" in html
        else:
            assert code == 303 and location.endswith("/points/signup/done")
    with app.app_context():
        assert _count(PointsMember) == 1
        assert len(outbox("owner@example.com", "points_signup_complete")) == 1


def test_people_finishing_with_one_gateway_at_once_make_one_member(make_app):
    app = make_app(RATELIMIT_ENABLED=False)
    with app.app_context():
        eco_member(make_owner(email="husband@example.com"))
        clients = [app.test_client() for _ in range(WORKERS)]
        tokens = []
        for n, client in enumerate(clients):
            page = client.get("/points/signup")
            client.post("/points/signup", data={
                "email": f"person{n}@example.com",
                "csrf_token": csrf_from(page.get_data(as_text=True))})
            mail = outbox(f"person{n}@example.com", "points_signup_link")[-1]
            client.get(path_of(links_in(mail.text_body)[0]))
            tokens.append(_at_confirm(client, NEW_FORM, NEW_INFO))

    def finish(i: int) -> int:
        return clients[i].post(f"{NEW_FORM}/confirm",
                               data={"csrf_token": tokens[i]}).status_code

    with ThreadPoolExecutor(WORKERS) as pool:
        codes = sorted(pool.map(finish, range(WORKERS)))
    assert codes == [303] + [422] * (WORKERS - 1), codes
    with app.app_context():
        assert _count(PointsMember) == 1
        # Only the winner got an ID: the others' IDs were rolled back with their member.
        assert _count(Account, Account.email.like("person%")) == 1
