"""How a request's transaction begins and ends (blueprints/core/transactions.py
`postgres_read_transactions`): on PostgreSQL one that only read ends with COMMIT, so that
psycopg keeps the statements it prepared (it forgets them all on a rollback), and a
read-only view's, which began no block, ends with nothing to end; one that
wrote without committing, or left changes unflushed, still has them rolled back; a
read-only view's reads run without a transaction block, its first write or locking read
begins one."""
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
            # a read-only view: its reads ran without a transaction block, there is
            # nothing to commit (the teardown's rollback finds psycopg idle: it sends
            # nothing and keeps what it prepared)
            assert client.get("/").status_code == 200
        assert "commit" not in ends
        for _ in range(7):
            # a view not marked read-only that only read: its block ends with COMMIT
            assert client.get("/healthz").status_code == 200
        assert ends.count("commit") == 7, ends
        prepared = db.session.scalars(text(
            "SELECT statement FROM pg_prepared_statements")).all()
        assert any("login_session.key_hash" in statement for statement in prepared), prepared
        assert "SELECT 1" in prepared, prepared


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


# -- PostgreSQL: a read-only view's statements run without a transaction block ------------------
def _read_only_app(make_app, then: str):
    """An app with a read-only view that reads, then does `then` (nothing, a write, a
    write followed by an error, a locking read) and answers the server's transaction
    status after each step."""
    from psycopg.pq import TransactionStatus

    from blueprints.core.transactions import read_only

    app = make_app(SQLALCHEMY_ENGINE_OPTIONS=ONE_CONNECTION)

    def status():
        return TransactionStatus(db.session.connection().connection.driver_connection
                                 .info.transaction_status).name

    @app.get("/_test/reads")
    @read_only
    def reads():
        account = db.session.scalars(db.select(Account)).one()
        steps = [status()]
        if then in ("write", "fail"):
            db.session.execute(text("UPDATE account SET language = 'en' WHERE id = :id"),
                               {"id": account.id})
        elif then == "lock":
            db.session.execute(text("SELECT id FROM account WHERE id = :id FOR UPDATE"),
                               {"id": account.id})
        steps.append(status())
        if then == "fail":
            raise RuntimeError("after the write")
        return " ".join(steps)

    @app.get("/_test/other")
    def other():
        db.session.scalars(db.select(Account)).one()
        return status()

    return app


@pytest.mark.parametrize("then, steps", [("nothing", "IDLE IDLE"), ("write", "IDLE INTRANS"),
                                         ("lock", "IDLE INTRANS")])
def test_a_read_only_view_begins_a_transaction_only_to_write_or_lock(make_app, then, steps):
    app = _read_only_app(make_app, then)
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("PostgreSQL's transaction blocks (SQLite's locks: test_concurrency)")
        make_owner()
        db.session.remove()
        client = app.test_client()
        # no BEGIN, no COMMIT for reads: the server is idle after a read-only view's
        # SELECT; a write or a locking read is in a transaction block, as everywhere else
        assert client.get("/_test/reads").get_data(as_text=True) == steps
        assert client.get("/_test/other").get_data(as_text=True) == "INTRANS"
        assert client.get("/_test/reads").get_data(as_text=True) == steps
        db.session.remove()


def test_a_read_only_view_that_writes_and_fails_leaves_nothing_written(make_app):
    app = _read_only_app(make_app, "fail")
    app.config["PROPAGATE_EXCEPTIONS"] = False
    with app.app_context():
        make_owner()
        db.session.remove()
        assert app.test_client().get("/_test/reads").status_code == 500
        db.session.remove()
        assert db.session.scalars(db.select(Account.language)).one() == "ja"



def test_sqlalchemys_own_autocommit_is_left_alone(make_app):
    """A connection SQLAlchemy puts in autocommit mode (isolation_level="AUTOCOMMIT", as
    the fleet seed's VACUUM does) stays so, after a read-only view used it as well."""
    app = _read_only_app(make_app, "nothing")
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("PostgreSQL's transaction blocks")
        make_owner()
        db.session.remove()
        client = app.test_client()
        assert client.get("/_test/reads").get_data(as_text=True) == "IDLE IDLE"
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM account")  # refused in a transaction block
        assert client.get("/_test/other").get_data(as_text=True) == "INTRANS"
        assert client.get("/_test/reads").get_data(as_text=True) == "IDLE IDLE"
        db.session.remove()
