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
IMMEDIATE, so the write queues as any other. On PostgreSQL nothing changes.

    @bp.get("/")
    @login_required
    @read_only
    def console(): ...
"""
from __future__ import annotations

from flask import current_app, has_request_context, request

READ_METHODS = ("GET", "HEAD")


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
    """A statement that only reads (anything else counts as a write)."""
    return statement.lstrip()[:6].upper() == "SELECT"
