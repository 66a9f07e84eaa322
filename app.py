"""Enelink application factory: `create_app()` for gunicorn, `flask --app app ...` for the CLI."""
from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, session
from flask_babel import Babel
from flask_htmx import HTMX
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user
from flask_mail import Mail
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import event
from sqlalchemy.engine import Engine

from config import Config, TestConfig, default_trusted_hosts, normalize_database_url
from models import db

log = logging.getLogger(__name__)

# Extensions are created once here and bound to each app in create_app().
migrate = Migrate()
csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()
htmx = HTMX()
mail = Mail()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def create_app(config: type[Config] | dict | None = None) -> Flask:
    """Build the app. `config` is a Config class or a dict of overrides on top of Config."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_object(Config)
    if isinstance(config, dict):
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    _require_secret_key(app)
    app.config["SQLALCHEMY_DATABASE_URI"] = normalize_database_url(
        app.config["SQLALCHEMY_DATABASE_URI"])
    if app.config.get("TRUSTED_HOSTS") is None:
        app.config["TRUSTED_HOSTS"] = default_trusted_hosts(app.config["PUBLIC_HOST"])
    _trust_proxies(app)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.root_path + "/migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    babel.init_app(app, locale_selector=_select_locale)
    htmx.init_app(app)
    mail.init_app(app)
    limiter.init_app(app)

    from blueprints.core.transactions import postgres_read_transactions

    with app.app_context():
        _configure_sqlite(db.engine, app.config["DATABASE_BUSY_TIMEOUT_SECONDS"])
        postgres_read_transactions(app, db.engine)

    from blueprints.core import assets, security, templating

    security.init_app(app)
    templating.init_app(app)
    assets.init_app(app)

    _register_services(app)

    if _serving():
        _start_background_workers(app)
    return app


# The services, in the order their launcher tiles and hooks were written for. Each is a
# package under blueprints/ with a `bp` (and optionally a `staff_bp`) and a URL_PREFIX; it
# registers what the shell needs with blueprints.core.registry when imported.
SERVICES = ("account", "gateways", "monitoring", "dealers", "club", "eco", "points", "support",
            "api")
# >>> staff
SERVICES += ("staff",)
# <<< staff


def _register_services(app: Flask) -> None:
    import importlib

    from blueprints.core import bp as core_bp
    from blueprints.core.cli import register_cli

    app.register_blueprint(core_bp)
    for name in SERVICES:
        service = importlib.import_module(f"blueprints.{name}")
        app.register_blueprint(service.bp, url_prefix=service.URL_PREFIX)
        staff_bp = getattr(service, "staff_bp", None)
        if staff_bp is not None:
            app.register_blueprint(staff_bp)
    register_cli(app)


def _serving() -> bool:
    """False while a `flask` command other than `run` builds the app (db upgrade, seed,
    gateways …): background workers belong to a server, not to a one-off command."""
    import click

    context = click.get_current_context(silent=True)
    return context is None or context.command.name == "run"


def _start_background_workers(app: Flask) -> None:
    """The mail relay, the gateway silence watch and (development only) the simulated
    readings of the demo gateways, each as a daemon thread of this process when
    configured; `app.extensions["<name>_stop"]` stops one."""
    import threading

    from blueprints.monitoring.cli import run_simulator, run_watch
    from mail.relay import run_relay

    config = app.config
    workers = (
        ("mail_relay", run_relay, config.get("MAIL_RELAY_IN_PROCESS")),
        ("gateway_watch", run_watch, config.get("GATEWAY_WATCH_IN_PROCESS")),
        ("gateway_simulator", run_simulator,
         config.get("GATEWAY_SIMULATOR_IN_PROCESS") and config.get("DEVELOPMENT")),
    )
    for name, run, wanted in workers:
        if wanted:
            stop = threading.Event()
            threading.Thread(target=run, args=(app, stop), daemon=True,
                             name=name.replace("_", "-")).start()
            app.extensions[f"{name}_stop"] = stop


def _trust_proxies(app: Flask) -> None:
    """Behind TRUSTED_PROXIES reverse proxies, take the client's address and scheme from
    the X-Forwarded-For / X-Forwarded-Proto entries those proxies added (the rightmost
    ones: a client can put anything in front of them). With 0, the headers are ignored."""
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)


MIN_SECRET_KEY_BYTES = 32


def _require_secret_key(app: Flask) -> None:
    """Production needs a SECRET_KEY of at least 32 bytes (it signs sessions, CSRF
    tokens and remember cookies); development generates one for the checkout."""
    key = app.config.get("SECRET_KEY")
    if key:
        size = len(key.encode() if isinstance(key, str) else key)
        if size < MIN_SECRET_KEY_BYTES and not (app.config.get("DEVELOPMENT") or app.testing):
            raise RuntimeError(
                f"SECRET_KEY is too short ({size} bytes): production needs at least "
                f"{MIN_SECRET_KEY_BYTES} random bytes, e.g. from "
                "`python -c 'import secrets; print(secrets.token_hex(32))'`")
        return
    if app.config.get("DEVELOPMENT") or app.testing:
        # A key of this checkout only, kept under instance/ (never committed) so that
        # sign-ins survive a restart of `make run`.
        import secrets

        key_file = Path(app.instance_path) / "dev-secret-key"
        if not key_file.exists():
            key_file.write_text(secrets.token_hex(32))
            key_file.chmod(0o600)
        app.config["SECRET_KEY"] = key_file.read_text().strip()
        return
    raise RuntimeError("SECRET_KEY must be set in production (ENELINK_ENV != development)")


def _select_locale() -> str:
    languages = ("ja", "en")
    if current_user and current_user.is_authenticated:
        return current_user.language if current_user.language in languages else "ja"
    chosen = session.get("lang")
    return chosen if chosen in languages else "ja"


def _configure_sqlite(engine: Engine, busy_timeout_seconds: float) -> None:
    """SQLite: foreign keys on, WAL, a busy timeout, and BEGIN IMMEDIATE for every
    transaction so that concurrent writers queue instead of failing with
    'database is locked' when a read transaction later tries to write. While another
    connection holds the write lock, SQLite itself retries for the busy timeout; a
    request still refused after it is answered 503 (blueprints/core/security.py).

    The GET of a view marked read-only (blueprints/core/transactions.py) begins deferred
    and holds no lock while it reads; its first write, if any, starts the transaction
    again with BEGIN IMMEDIATE (what it read is let go), so that the guarantee above
    holds for it too."""
    if engine.dialect.name != "sqlite":
        return
    from blueprints.core.transactions import reads, request_reads_only

    busy_timeout_ms = max(0, int(busy_timeout_seconds * 1000))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    # connection.info["deferred"]: None (an immediate transaction, or none), "begun"
    # (deferred, nothing run yet) or "read" (deferred, has read: holds a snapshot).
    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.info["deferred"] = None
        deferred = request_reads_only()
        connection.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")
        connection.info["deferred"] = "begun" if deferred else None

    @event.listens_for(engine, "before_cursor_execute")
    def _before_execute(connection, cursor, statement, _parameters, _context, _many):
        state = connection.info.get("deferred")
        if state is None:
            return
        if reads(statement):
            connection.info["deferred"] = "read"
            return
        connection.info["deferred"] = None
        if state == "read":  # a write after reads: start again, queued for the lock
            cursor.execute("ROLLBACK")
            cursor.execute("BEGIN IMMEDIATE")
        # (a first statement that writes waits for the lock like BEGIN IMMEDIATE)

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(connection):
        connection.info["deferred"] = None


__all__ = ["create_app", "TestConfig"]
