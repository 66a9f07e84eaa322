"""The second sign-in step, as every request sees it (the gate).

A password sign-in opens a `LoginSession` with `second_step_at = NULL`. When the account
has a second step (a confirmed TOTP or a passkey), such a session is *pending*: every
request but the second-step pages, sign-out, static files and the health check goes to
`account.second_step` (303; htmx: `HX-Redirect`) with a safe `next`. A pending session
older than SECOND_STEP_PENDING_MINUTES is revoked: the user starts again at the password.

Pages of `registry.second_step_needed` (every staff blueprint, the dealer console, proxy
login …) open, for the accounts that must have a second step
(`registry.second_step_due`), only when this session passed it: without a second step
the browser goes to the set-up page, with one (a session older than the set-up) to the
verify page. Accounts that need not have one get whatever the page itself answers
(403/404), so the gate tells nobody that a staff page exists.

A proxy login (someone acting for the owner) is exempt: the dealer passed their own
second step to start it. Core imports no service: the account package's pages are named
by their endpoints only; the query is on the models."""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import Flask, current_app, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user
from sqlalchemy import exists, or_, select

from blueprints.core import registry
from blueprints.core.redirects import safe_next
from models import db, utcnow

VERIFY_ENDPOINT = "account.second_step"
SETUP_ENDPOINT = "account.second_step_settings"
# What a pending session may still open.
PENDING_ALLOWED = frozenset({
    "static", "core.healthz", "core.set_language", "core.terms", "core.privacy",
    "account.logout", "account.second_step", "account.second_step_passkey_options",
    "account.second_step_passkey",
})
# The set-up pages an account that must have a second step reaches before it has one.
SETUP_ALLOWED = frozenset({
    "account.second_step_settings", "account.totp_setup", "account.recovery_codes_new",
    "account.passkey_register_options", "account.passkey_register",
})


def second_step_configured(account_id):
    """SQL: the account (an id, or a column such as `LoginSession.account_id`) has a
    confirmed authenticator app or at least one passkey."""
    from models.trust import AccountPasskey, AccountTotp

    return or_(
        exists().where(AccountTotp.account_id == account_id,
                       AccountTotp.confirmed_at.is_not(None)),
        exists().where(AccountPasskey.account_id == account_id))


def has_second_step(account_id: int) -> bool:
    """A confirmed authenticator app or at least one passkey."""
    return bool(db.session.scalar(select(second_step_configured(account_id))))


def _configured_for_this_session(login_session) -> bool:
    """has_second_step of the signed-in account, as the user loader read it with the
    session row in the same query (no second query on every page), or asked now."""
    known = g.get("second_step_configured")
    if known is not None and known[0] is login_session:
        return known[1]
    return has_second_step(current_user.id)


def _current_target() -> str:
    """Where the user was going: this page, or for htmx the page the request came from."""
    if request.headers.get("HX-Request") == "true":
        current = urlsplit(request.headers.get("HX-Current-URL", ""))
        return safe_next(current.path + (f"?{current.query}" if current.query else ""))
    if request.method != "GET":
        return "/"
    return safe_next(request.full_path.rstrip("?"))


def _go(endpoint: str, **values):
    target = url_for(endpoint, **values)
    if request.headers.get("HX-Request") == "true":
        return "", 200, {"HX-Redirect": target}
    return redirect(target, code=303)


def _next_values() -> dict:
    target = _current_target()
    return {"next": target} if target != "/" else {}


def pending_expired(login_session) -> bool:
    minutes = current_app.config["SECOND_STEP_PENDING_MINUTES"]
    return login_session.created_at <= utcnow() - timedelta(minutes=minutes)


def _end_pending(login_session):
    """The password was typed too long ago: the session ends, sign in again."""
    login_session.revoked_at = utcnow()
    db.session.commit()
    session.clear()
    logout_user()
    flash(_("ログインの有効期限が切れました。もう一度ログインしてください"), "info")
    return _go("account.login")


def gate():
    """The before-request check (see the module docstring)."""
    endpoint = request.endpoint
    if endpoint is None or endpoint == "static" or endpoint == "core.healthz":
        return None
    if not current_user.is_authenticated:
        return None
    login_session = g.get("login_session")
    if login_session is None or login_session.second_step_at is not None:
        return None
    if registry.acting_now():
        return None
    configured = _configured_for_this_session(login_session)
    if configured:
        if pending_expired(login_session):
            return _end_pending(login_session)
        if endpoint in PENDING_ALLOWED:
            return None
        return _go(VERIFY_ENDPOINT, **_next_values())
    if (registry.second_step_needed(endpoint) and endpoint not in SETUP_ALLOWED
            and registry.second_step_due(current_user)):
        flash(_("この画面を利用するには2段階認証の設定が必要です"), "info")
        return _go(SETUP_ENDPOINT, **_next_values())
    return None


def install(app: Flask) -> None:
    app.before_request(gate)
