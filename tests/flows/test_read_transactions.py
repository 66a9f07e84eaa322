"""How a request's transaction ends (blueprints/core/transactions.py
`end_reads_with_commit`): on PostgreSQL one that only read ends with COMMIT, so that
psycopg keeps the statements it prepared (it forgets them all on a rollback); one that
wrote without committing, or left changes unflushed, still has them rolled back."""
from __future__ import annotations

import pytest
from sqlalchemy import event, text

from models import db
from models.account import Account
from tests.flows.test_dealer_links import make_owner
from tests.helpers import login

ONE_CONNECTION = {"pool_size": 1, "max_overflow": 0, "pool_pre_ping": True}


def _ends(app):
    """Record how each transaction of the app's engine ends."""
    seen: list[str] = []
    event.listen(db.engine, "commit", lambda _c: seen.append("commit"))
    event.listen(db.engine, "rollback", lambda _c: seen.append("rollback"))
    return seen


def test_a_page_that_only_reads_keeps_its_prepared_statements(make_app):
    app = make_app(SQLALCHEMY_ENGINE_OPTIONS=ONE_CONNECTION)
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("prepared statements are PostgreSQL's (psycopg)")
        make_owner()
        client = app.test_client()
        assert login(client, "owner@example.com").status_code == 303
        db.session.remove()
        ends = _ends(app)
        for _ in range(7):  # psycopg prepares a statement on its 5th run
            assert client.get("/").status_code == 200
        assert ends.count("commit") == 7 and "rollback" not in ends
        prepared = db.session.scalars(text(
            "SELECT statement FROM pg_prepared_statements")).all()
        assert any("login_session.key_hash" in statement for statement in prepared), prepared


@pytest.mark.parametrize("kind", ["statement", "unflushed"])
def test_what_a_request_did_not_commit_is_still_rolled_back(make_app, kind):
    app = make_app(SQLALCHEMY_ENGINE_OPTIONS=ONE_CONNECTION)

    @app.get("/_test/uncommitted")
    def uncommitted():
        account = db.session.scalars(db.select(Account)).one()
        if kind == "statement":
            db.session.execute(text("UPDATE account SET language = 'en' WHERE id = :id"),
                               {"id": account.id})
        else:
            account.language = "en"
        return "done"

    with app.app_context():
        make_owner()
        db.session.remove()
        assert app.test_client().get("/_test/uncommitted").status_code == 200
        db.session.remove()
        assert db.session.scalars(db.select(Account.language)).one() == "ja"


def test_the_support_queue_reads_without_taking_the_write_lock(app):
    """The staff desk's queue is read-only (on SQLite its GET takes no write lock, so two
    agents' queues do not queue behind each other) and writes nothing."""
    from blueprints.core.staff import SUPPORT
    from blueprints.core.transactions import request_reads_only
    from tests.flows.test_slips import make_account
    from tests.helpers import make_staff, statements

    make_staff(make_account("desk@example.com"), SUPPORT)
    client = app.test_client()
    assert login(client, "desk@example.com").status_code in (302, 303)
    with app.test_request_context("/staff/support/"):
        assert request_reads_only()
    assert client.get("/staff/support/").status_code == 200
    with statements() as seen:
        assert client.get("/staff/support/").status_code == 200
    assert "BEGIN IMMEDIATE" not in seen
    assert seen and not [s for s in seen
                         if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]
