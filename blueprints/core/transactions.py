"""Read-only views: on SQLite their transactions begin deferred, so that reading a long
list (the dealer console) does not hold the database's write lock meanwhile and stall
every writer (the gateway API's readings, sign-ins …).

Every other transaction of the app begins with BEGIN IMMEDIATE (app.py
`_configure_sqlite`): it takes the write lock at once, so concurrent writers queue on the
busy timeout instead of failing with 'database is locked' when a read transaction later
tries to write. A transaction of a view marked here begins with a plain BEGIN and takes
no lock until it writes. Should one write all the same (a hook of the request: ending an
expired step, the session's last use is written in a transaction of its own), the write
does not upgrade the read transaction (which fails when another connection wrote
meanwhile): what was read is let go and the transaction starts again with BEGIN
IMMEDIATE, so the write queues as any other. On PostgreSQL a marked view's reads run
without a transaction block, and a request's transaction that only read ends with COMMIT
(`postgres_read_transactions`).

    @bp.get("/")
    @login_required
    @read_only
    def console(): ...
"""
from __future__ import annotations

import re

from flask import current_app, has_request_context, request
from sqlalchemy import event

READ_METHODS = ("GET", "HEAD")
# Marks a pooled connection put in autocommit mode for a read-only view's reads.
_READS_IN_AUTOCOMMIT = "enelink_reads_in_autocommit"
# What makes a WITH statement a write (its values are parameters, never in its text)
_WRITES = re.compile(r"\b(INSERT|UPDATE|DELETE|MERGE)\b", re.IGNORECASE)
# SELECTs that lock what they read (until the end of their transaction)
_LOCKS = re.compile(r"\bFOR\s+(UPDATE|NO\s+KEY\s+UPDATE|SHARE|KEY\s+SHARE)\b|pg_advisory",
                    re.IGNORECASE)


def read_only(view):
    """Mark a view whose GET does not write (decorators made with functools.wraps, such
    as login_required, keep the mark)."""
    view.reads_only = True
    return view


def request_reads_only() -> bool:
    """This request is a GET or HEAD of a view marked read_only."""
    if not has_request_context() or request.method not in READ_METHODS:
        return False
    view = current_app.view_functions.get(request.endpoint)
    return getattr(view, "reads_only", False)


def reads(statement: str) -> bool:
    """A statement that only reads: a SELECT, or a WITH whose parts are all SELECTs
    (anything else counts as a write)."""
    head = statement.lstrip()[:6].upper()
    return head == "SELECT" or (head[:4] == "WITH" and not _WRITES.search(statement))


# statement text → whether it writes or locks; the app's statements are a few hundred
# texts (SQLAlchemy's compiled cache), each searched once instead of on every run
_WRITES_OR_LOCKS: dict[str, bool] = {}
_WRITES_OR_LOCKS_KEPT = 4096


def writes_or_locks(statement: str) -> bool:
    """A statement that writes, or reads and locks what it read (`reads`, `_LOCKS`)."""
    known = _WRITES_OR_LOCKS.get(statement)
    if known is None:
        if len(_WRITES_OR_LOCKS) >= _WRITES_OR_LOCKS_KEPT:
            _WRITES_OR_LOCKS.clear()
        known = _WRITES_OR_LOCKS[statement] = (not reads(statement)
                                                or bool(_LOCKS.search(statement)))
    return known


def postgres_read_transactions(app, engine) -> None:
    """PostgreSQL: a read-only view's reads run without a transaction block, and a request
    whose transaction only read ends it with COMMIT, not ROLLBACK.

    A transaction block costs two round trips (BEGIN before the first statement, COMMIT
    after the last) that a view which only reads does not need: under READ COMMITTED
    every statement sees its own snapshot whether in a block or not. Its statements run
    in autocommit mode until one writes or locks rows (SELECT … FOR UPDATE, advisory
    locks): that one begins a block, which ends as any other request's.

    psycopg prepares a statement on a connection once it has run five times there, so
    that PostgreSQL parses and plans it no more, but it forgets every prepared statement
    (and deallocates them all on the server) whenever the connection rolls back. Flask
    ends each request's session with a rollback, so the statements every page runs (the
    sign-in query above all) were parsed and planned on every request. For a transaction
    that ran only SELECTs, COMMIT ends it just as ROLLBACK does. A read-only view whose
    reads all ran without a block has nothing to end: the rollback then finds psycopg
    idle, sends nothing and keeps what it prepared. A request that wrote, or left changes
    unflushed, or failed, still ends with the rollback it always had."""
    if engine.dialect.name != "postgresql":
        return
    from flask import g

    from models import db

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.info["wrote"] = False
        # A read-only view's statements run without a transaction block (each is its own,
        # as every statement sees its own snapshot under READ COMMITTED anyway): no BEGIN
        # and no COMMIT round trips. The first statement that writes or locks opens one.
        # (A connection SQLAlchemy itself puts in autocommit, isolation_level="AUTOCOMMIT",
        # is left as it is: only what was set here is undone, at the latest when the
        # connection goes back to the pool.)
        pooled = connection.connection
        if request_reads_only() and not pooled.driver_connection.autocommit:
            pooled.driver_connection.autocommit = True
            pooled.info[_READS_IN_AUTOCOMMIT] = True
        if has_request_context():
            g.transaction_connection = connection

    @event.listens_for(engine, "checkin")
    def _back_in_the_pool(dbapi_connection, record):
        if (record.info.pop(_READS_IN_AUTOCOMMIT, False) and dbapi_connection is not None
                and not dbapi_connection.closed):  # (None: invalidated)
            dbapi_connection.autocommit = False

    @event.listens_for(engine, "before_cursor_execute")
    def _before_execute(connection, _cursor, statement, _parameters, _context, _many):
        if writes_or_locks(statement):
            connection.info["wrote"] = True
            pooled = connection.connection
            if pooled.info.pop(_READS_IN_AUTOCOMMIT, False):
                pooled.driver_connection.autocommit = False  # this one begins a block

    @app.teardown_request
    def _commit_reads(error):
        connection = g.pop("transaction_connection", None)
        if error is not None or connection is None or connection.closed:
            return
        if connection.connection.info.get(_READS_IN_AUTOCOMMIT):
            # Its reads ran without a transaction block: there is nothing to end, and the
            # teardown's rollback finds psycopg idle, which then sends nothing and keeps
            # its prepared statements.
            return
        session = db.session()
        if (not connection.in_transaction() or connection.info.get("wrote", True)
                or session.new or session.dirty or session.deleted):
            return
        # What the request loaded stays loaded, as after the rollback: a streamed answer
        # (a file download) may still read its objects after this.
        expire, session.expire_on_commit = session.expire_on_commit, False
        try:
            session.commit()
        except Exception:  # the rollback that follows in teardown is what it always was
            session.rollback()
        finally:
            session.expire_on_commit = expire

