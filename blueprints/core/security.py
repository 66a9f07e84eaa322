"""Sign-in sessions, security headers and error pages, bound to the app once."""
from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import datetime
from urllib.parse import urlsplit

from flask import (Flask, current_app, g, jsonify, redirect, render_template, request, session,
                   url_for)
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, generate_csrf
from sqlalchemy import and_, bindparam, select
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import SecurityError

from blueprints.core import registry
from blueprints.core.caching import app_cache
from blueprints.core.redirects import safe_next
from blueprints.core.second_step import second_step_configured
from models import db, utcnow
from models.account import Account, LoginSession

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)

API_ERRORS = {400: "bad_request", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
              413: "too_large", 429: "too_many_requests", 500: "server_error",
              503: "unavailable"}
# SQLite's answers while another connection keeps the database locked past the busy
# timeout; PostgreSQL's SQLSTATEs for a lock not granted in time and a deadlock.
BUSY_SQLITE_MESSAGES = ("database is locked", "database table is locked", "database is busy")
BUSY_SQLSTATES = {"55P03", "40P01"}
BUSY_RETRY_AFTER_SECONDS = 5


def database_busy(error: OperationalError) -> bool:
    """True when the database refused because it is busy (locked by someone else), not
    because something is wrong with the statement or the server."""
    sqlstate = getattr(error.orig, "sqlstate", None)
    if sqlstate is not None:
        return sqlstate in BUSY_SQLSTATES
    message = str(error.orig).lower()
    return any(busy in message for busy in BUSY_SQLITE_MESSAGES)


def configured_limit(name: str):
    """A Flask-Limiter limit read from the app's config at request time, so that limits
    live in config.py (and the environment) rather than in the views."""
    return lambda: current_app.config[name]


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def open_login_session(account: Account, remember: bool, lifetime, user_agent: str | None) -> str:
    """Record a new signed-in browser for `account` and return the key for its cookie."""
    key = secrets.token_urlsafe(32)
    db.session.add(
        LoginSession(
            key_hash=hash_key(key),
            account_id=account.id,
            remember=remember,
            expires_at=utcnow() + lifetime,
            user_agent=(user_agent or "")[:200],
        )
    )
    account.login_session_key = key
    return key


def revoke_login_sessions(account_id: int, keep_key: str | None = None) -> int:
    """Sign out every browser of the account (but the one holding `keep_key`)."""
    now = utcnow()
    sessions = db.session.scalars(
        select(LoginSession).where(
            LoginSession.account_id == account_id, LoginSession.revoked_at.is_(None)
        )
    ).all()
    keep = hash_key(keep_key) if keep_key else None
    revoked = []
    for login_session in sessions:
        if login_session.key_hash != keep:
            login_session.revoked_at = now
            revoked.append(login_session.id)
    registry.sessions_revoked(revoked, now)
    return len(revoked)


@functools.cache
def _sign_in_query():
    """All a request needs to know about its sign-in, in one query: the session row, the
    account and, while the session has not passed the second step, whether the account
    has one (the second-step gate asks on every request; see second_step.py). Built once
    per process: building it cost more than running it."""
    return (select(LoginSession, Account,
                   and_(LoginSession.second_step_at.is_(None),
                        second_step_configured(LoginSession.account_id)))
            .join(Account, Account.id == LoginSession.account_id)
            .where(LoginSession.key_hash == bindparam("key_hash")))


def load_account(key: str) -> Account | None:
    """Flask-Login user loader: a live, unrevoked sign-in session and an opened account."""
    if not key or len(key) > 100:
        return None
    now: datetime = utcnow()
    row = db.session.execute(_sign_in_query(), {"key_hash": hash_key(key)}).first()
    if row is None:
        return None
    login_session, account, configured = row
    if login_session.revoked_at is not None or login_session.expires_at <= now:
        return None
    if not account.is_active:
        return None
    account.login_session_key = key
    # The row itself, for what this request needs of it (the second sign-in step, the
    # device list's last use) without a second query.
    g.login_session = login_session
    if login_session.second_step_at is None:
        g.second_step_configured = (login_session, bool(configured))
    return account


# The session's CSRF token signed once per process (see csrf_token); at most this many.
SIGNED_CSRF_KEPT = 4096


def csrf_token() -> str:
    """The templates' `csrf_token()`: Flask-WTF's signed token of the session's CSRF
    token, signed once per process and session instead of on every page (a serializer
    made and a signature computed: a sixth of what a simple page's templates cost).
    Flask-WTF checks a token's signature and that it holds the session's token; with
    WTF_CSRF_TIME_LIMIT None (config.py) it never looks at when it was signed, so the
    same signed token serves every page of the session. HTML is never compressed
    (README, BREACH), so a token that stays the same leaks nothing. With a time limit,
    or before the session has a token, Flask-WTF signs as always."""
    if "csrf_token" in g:
        return g.csrf_token
    raw = session.get("csrf_token")
    config = current_app.config
    if (raw is None or config.get("WTF_CSRF_TIME_LIMIT") is not None
            or config.get("WTF_CSRF_FIELD_NAME", "csrf_token") != "csrf_token"
            or config.get("WTF_CSRF_SECRET_KEY") is not None):
        return generate_csrf()
    kept = app_cache("core.signed_csrf_tokens", SIGNED_CSRF_KEPT)
    key = (current_app.secret_key, raw)
    signed = kept.get(key) or kept.put(key, generate_csrf())
    g.csrf_token = signed
    return signed


def init_app(app: Flask) -> None:
    from app import login_manager

    # (Flask-WTF gives its own both ways: as a global and from a context processor,
    # which this one, added after it, overrides)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.context_processor(lambda: {"csrf_token": csrf_token})

    login_manager.user_loader(load_account)
    login_manager.login_view = "account.login"
    login_manager.login_message = None
    login_manager.session_protection = None  # the sign-in session row is the protection

    @login_manager.unauthorized_handler
    def _sign_in_first():
        """Send the browser to the sign-in page. For an htmx request (e.g. the monitoring
        page's refresh after the session ended) the whole page goes there, instead of the
        sign-in page being swapped into a part of it."""
        if request.headers.get("HX-Request") == "true":
            current = urlsplit(request.headers.get("HX-Current-URL", ""))
            back = safe_next(current.path + (f"?{current.query}" if current.query else ""))
            target = url_for("account.login", next=back if back != "/" else None)
            return "", 401, {"HX-Redirect": target}
        return redirect(url_for("account.login", next=request.full_path.rstrip("?")))

    @app.after_request
    def _headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if not app.config.get("DEVELOPMENT") and not app.testing:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        response.vary.add("HX-Request")
        if request.endpoint != "static":
            # Pages carry personal data: keep no copies in shared caches or history.
            response.headers["Cache-Control"] = "no-store"
        return response

    def _error_page(status: int, title: str, message: str):
        if request.path.startswith("/api/"):  # machines get JSON
            return jsonify({"error": API_ERRORS.get(status, "error"), "message": message}), status
        return render_template("errors/error.html", status=status, title=title,
                               message=message), status

    @app.errorhandler(CSRFError)
    def _csrf(_e):
        return _error_page(400, _("ページの有効期限が切れました"),
                           _("お手数ですが、ページを読み込み直してからもう一度お試しください。"))

    @app.errorhandler(SecurityError)
    def _untrusted_host(_e):
        """A Host header outside TRUSTED_HOSTS: plain text, since no page can be built
        (there is no URL adapter for a host the app does not serve)."""
        return "400 Bad Request: unknown host\n", 400, {
            "Content-Type": "text/plain; charset=utf-8"}

    @app.errorhandler(400)
    def _bad_request(_e):
        return _error_page(400, _("リクエストを処理できませんでした"),
                           _("入力内容をご確認のうえ、もう一度お試しください。"))

    @app.errorhandler(403)
    def _forbidden(_e):
        return _error_page(403, _("このページは表示できません"),
                           _("このページを表示する権限がありません。"))

    @app.errorhandler(404)
    def _not_found(_e):
        return _error_page(404, _("ページが見つかりません"),
                           _("お探しのページは移動または削除された可能性があります。"))

    @app.errorhandler(405)
    def _method(_e):
        return _error_page(405, _("この操作はできません"),
                           _("ページを読み込み直してからもう一度お試しください。"))

    @app.errorhandler(413)
    def _too_large(_e):
        return _error_page(413, _("送信データが大きすぎます"),
                           _("入力内容を短くしてもう一度お試しください。"))

    @app.errorhandler(429)
    def _too_many(_e):
        return _error_page(429, _("しばらくしてからお試しください"),
                           _("短時間に多くのリクエストがありました。少し時間をおいてからもう一度お試しください。"))

    @app.errorhandler(OperationalError)
    def _database_busy(error: OperationalError):
        """A busy database (waited for the busy timeout in vain) is a 503 to try again
        later, not a 500: nothing was saved, and the page says so."""
        if not database_busy(error):
            raise error
        db.session.rollback()
        # This page must not wait for the database again: the signed-in account (its
        # attributes expired by the rollback) would reload it for the header, so the
        # page is drawn as for a visitor. The sign-in itself is untouched.
        g._login_user = login_manager.anonymous_user()
        response, status = _error_page(
            503, _("ただいま混み合っています"),
            _("アクセスが集中しているため、処理を完了できませんでした（内容は保存されていません）。少し時間をおいてから、もう一度お試しください。"))
        response = app.make_response((response, status))
        response.headers["Retry-After"] = str(BUSY_RETRY_AFTER_SECONDS)
        return response

    @app.errorhandler(500)
    def _server_error(_e):
        db.session.rollback()
        return _error_page(500, _("エラーが発生しました"),
                           _("ご迷惑をおかけしております。時間をおいてもう一度お試しください。"))

    # Flask's defaults already hold the key (None: no limit), so setdefault cannot set it.
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = 2 * 1024 * 1024
    app.config.setdefault("MAX_FORM_MEMORY_SIZE", 500 * 1024)
    # >>> twostep
    from blueprints.core import second_step
    second_step.install(app)
    # <<< twostep
