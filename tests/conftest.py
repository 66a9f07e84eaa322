"""Shared fixtures: an app on a migrated database (SQLite, or PostgreSQL when
TEST_DATABASE_URL is set), emptied after every test; a test client with CSRF helpers;
a real SMTP server on loopback.

Under pytest-xdist (`-n 2`) each worker is a process of its own with its own database:
SQLite in the worker's own temporary folder, PostgreSQL in `<TEST_DATABASE_URL's
database>_<worker>` (e.g. test_gw0), created when missing. Nothing else is shared
between workers but loopback ports, which are chosen so as not to collide.

What keeps the per-test cost low (see "Speed" below): each app reuses the URL builders and
compiled templates of the apps before it, the tables are emptied only where a test wrote,
test databases commit without waiting for the disk, and TestConfig hashes passwords with
the cheapest argon2id."""
from __future__ import annotations

import contextvars
import os
import re
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

import errno
import functools
import gc
import itertools
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from flask import has_app_context
from flask.testing import FlaskClient
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from sqlalchemy import create_engine, event, make_url, text

from app import create_app
from config import TestConfig, normalize_database_url
from models import db

CSRF_PATTERN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
LINK_PATTERN = re.compile(r"https?://[^\s<>\"']+")


def xdist_worker() -> str | None:
    """The pytest-xdist worker running this process ("gw0", "gw1" …), None without -n."""
    return os.environ.get("PYTEST_XDIST_WORKER") or None


def database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return worker_database_url(url, xdist_worker())
    # tmp_path_factory's folder is already the worker's own under xdist (popen-gw0 …).
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.sqlite3")


def worker_database_url(url: str, worker: str | None) -> str:
    """The database of one xdist worker: `<database>_<worker>` on the same server
    (PostgreSQL), or `<name>_<worker><suffix>` beside the file (SQLite); in-memory
    SQLite is per process anyway. Without a worker, `url` itself."""
    if not worker:
        return url
    parsed = make_url(normalize_database_url(url))
    if not parsed.database or parsed.database == ":memory:":
        return url
    if parsed.get_backend_name() == "sqlite":
        stem, dot, suffix = parsed.database.rpartition(".")
        database = f"{stem}_{worker}.{suffix}" if dot else f"{suffix}_{worker}"
    else:
        database = f"{parsed.database}_{worker}"
    return parsed.set(database=database).render_as_string(hide_password=False)


def create_postgres_database(url: str, base_url: str) -> None:
    """Create `url`'s database when it is missing, connected to `base_url`'s (which the
    suite's own runs without xdist use, so it exists and we may connect to it)."""
    name = make_url(url).database
    engine = create_engine(normalize_database_url(base_url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            exists = connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name})
            if not exists:
                quoted = connection.dialect.identifier_preparer.quote(name)
                connection.execute(text(f"CREATE DATABASE {quoted}"))
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def db_url(tmp_path_factory):
    """A database migrated once per test session (per xdist worker) with the project's
    own migrations."""
    url = database_url(tmp_path_factory)
    base_url = os.environ.get("TEST_DATABASE_URL")
    if base_url and url != base_url and make_url(
            normalize_database_url(url)).get_backend_name() == "postgresql":
        create_postgres_database(url, base_url)
    app = create_app({**_config(url)})
    with app.app_context():
        from flask_migrate import upgrade

        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
                _commit_without_waiting_for_the_disk(connection)
        upgrade()
        db.engine.dispose()
    del app
    _freeze_what_lives_as_long_as_the_process()
    return url


def _freeze_what_lives_as_long_as_the_process() -> None:
    """Python's cycle collector walks every object it tracks in each full collection:
    the modules of the app and its libraries (imported by now) were ~170,000 of them,
    walked again and again while each test's app became garbage, and the collector took
    about a third of a test run. `gc.freeze` leaves them out of its walks; they live
    as long as the process anyway. Each test's own objects are collected as before."""
    gc.collect()
    gc.freeze()


def _commit_without_waiting_for_the_disk(connection) -> None:
    """PostgreSQL: the test database's commits return before their WAL reaches the disk
    (`synchronous_commit = off`; every later connection to it). What other connections
    see is the same; only a crash of the server could lose the last commits, which a
    test database does not mind. Commits are most of what a request costs here."""
    name = connection.dialect.identifier_preparer.quote(connection.scalar(
        text("SELECT current_database()")))
    connection.execute(text(f"ALTER DATABASE {name} SET synchronous_commit = off"))


def _config(url: str, **overrides) -> dict:
    config = {key: getattr(TestConfig, key) for key in dir(TestConfig) if key.isupper()}
    config["SQLALCHEMY_DATABASE_URI"] = url
    config.update(overrides)
    return config


def empty_database() -> None:
    """Delete every row, children first, and restart the ids (PostgreSQL's sequences; on
    SQLite ids restart after the table's highest). Only tables that hold rows are
    touched, found with one query: a test writes to a few of them, and a TRUNCATE of all
    (the way before) cost PostgreSQL ~0.15 s per test in new files for every table."""
    tables = list(reversed(db.metadata.sorted_tables))
    quote = db.engine.dialect.identifier_preparer.quote
    filled = set(db.session.scalars(text(" UNION ALL ".join(
        f"SELECT '{t.name}' WHERE EXISTS (SELECT 1 FROM {quote(t.name)})" for t in tables))))
    for table in tables:
        if table.name in filled:
            db.session.execute(table.delete())
    if db.engine.dialect.name == "postgresql":
        # Every sequence taken from since its last restart (a rolled-back insert takes
        # one too) starts again, as after TRUNCATE … RESTART IDENTITY.
        db.session.execute(text(
            "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass,"
            " start_value, false) FROM pg_sequences"
            " WHERE schemaname = current_schema() AND last_value IS NOT NULL"))
    db.session.commit()


class BrowserLikeClient(FlaskClient):
    """A test client whose every request gets its own app context, `g` and database
    session, as in a real server, even while the test holds an app context to look
    at the database."""

    def open(self, *args, **kwargs):
        if has_app_context():
            # End the test's own transaction first, as a finished request would: on
            # SQLite an open one holds the write lock; afterwards objects reload fresh.
            db.session.commit()
        return contextvars.Context().run(super().open, *args, **kwargs)


# -- speed ---------------------------------------------------------------------------
# Every test builds its own app (create_app) on the worker's database. What each app
# would otherwise pay again, and a test can neither see nor change, is shared here.
def _share_url_builders() -> None:
    """Werkzeug compiles two URL-builder functions (Python source, `compile`) for every
    route of every app: most of create_app's time. A builder is made only from the
    rule's parts (its `_trace`), the names of its defaults, the defaults' converted
    values and `append_unknown`, and reaches its rule only through the `self` it is
    bound to, so one function per set of those serves every app of the process.
    Werkzeug without these internals: left as it is."""
    from werkzeug.routing.rules import Rule

    compile_builder = getattr(Rule, "_compile_builder", None)
    if compile_builder is None or getattr(compile_builder, "shared", False):
        return
    builders: dict = {}

    @functools.wraps(compile_builder)
    def shared_builder(self, append_unknown: bool = True):
        try:
            defaults = self.defaults or {}
            key = (self.rule, tuple(self._trace), tuple(str(k) for k in defaults),
                   tuple((name, self._converters[name].to_url(value))
                         for name, value in defaults.items() if name in self._converters),
                   bool(append_unknown))
            hash(key)
        except (AttributeError, TypeError):
            return compile_builder(self, append_unknown)
        builder = builders.get(key)
        if builder is None:
            builder = builders[key] = compile_builder(self, append_unknown)
        return builder

    shared_builder.shared = True
    Rule._compile_builder = shared_builder


_share_url_builders()


class SharedTemplateCode(BytecodeCache):
    """Jinja's bytecode cache in memory, for every app of this process: a template is
    compiled once, not once per test (its first render was ~10 ms). The key holds the
    template's name and file and every setting of the environment that changes the
    generated code; the source's checksum is checked on each load (Jinja's Bucket)."""

    def __init__(self) -> None:
        self.code: dict[str, bytes] = {}
        self.lock = threading.Lock()

    @staticmethod
    def _settings(environment, name: str | None) -> tuple:
        autoescape = environment.autoescape
        return (tuple(sorted(environment.extensions)),
                autoescape(name) if callable(autoescape) else autoescape,
                environment.finalize is not None, environment.optimized,
                environment.block_start_string, environment.block_end_string,
                environment.variable_start_string, environment.variable_end_string,
                environment.comment_start_string, environment.comment_end_string,
                environment.line_statement_prefix, environment.line_comment_prefix,
                environment.trim_blocks, environment.lstrip_blocks,
                environment.newline_sequence, environment.keep_trailing_newline,
                bool(getattr(environment, "newstyle_gettext", False)),
                environment.policies.get("ext.i18n.trimmed"),
                environment.policies.get("compiler.ascii_str"))

    def get_bucket(self, environment, name, filename, source) -> Bucket:
        key = repr((self._settings(environment, name), name, filename))
        bucket = Bucket(environment, key, self.get_source_checksum(source))
        self.load_bytecode(bucket)
        return bucket

    def load_bytecode(self, bucket: Bucket) -> None:
        with self.lock:
            code = self.code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        code = bucket.bytecode_to_string()
        with self.lock:
            self.code[bucket.key] = code

    def clear(self) -> None:
        with self.lock:
            self.code.clear()


TEMPLATE_CODE = SharedTemplateCode()


def _sqlite_without_waiting_for_the_disk(engine) -> None:
    """SQLite test files: `synchronous=OFF` on each new connection, after the app's own
    settings (WAL, busy timeout, foreign keys: unchanged). A commit then never waits
    for fsync; only a crash of the machine could lose it."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return

    @event.listens_for(engine, "connect")
    def _no_fsync(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.close()


@pytest.fixture
def make_app(db_url, tmp_path):
    """Build an app on the test database with config overrides; emptied afterwards. Its
    instance folder is the test's own, not the checkout's (which `make run` uses)."""
    apps = []

    def factory(**overrides):
        application = create_app(_config(db_url, **overrides))
        application.instance_path = str(tmp_path)
        application.test_client_class = BrowserLikeClient
        application.jinja_env.bytecode_cache = TEMPLATE_CODE
        with application.app_context():
            _sqlite_without_waiting_for_the_disk(db.engine)
        apps.append(application)
        return application

    yield factory
    for application in apps:
        with application.app_context():
            db.session.remove()
            empty_database()
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    application = make_app()
    with application.app_context():
        yield application


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def csrf_from(html: str) -> str:
    match = CSRF_PATTERN.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def page_token(client, url: str = "/account/login") -> str:
    """A CSRF token valid for this client's session, read from a page."""
    return csrf_from(client.get(url).get_data(as_text=True))


def links_in(text_body: str) -> list[str]:
    return LINK_PATTERN.findall(text_body)


def path_of(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


# -- ports ---------------------------------------------------------------------------
# Servers the tests start (SMTP) take their ports from a block of this xdist worker's
# own below the kernel's ephemeral range, walked forward from a random point: no other
# worker, no `bind(0)` and no outgoing connection can get one of them, and a test that
# stops its server and starts it again on the same port (to watch mail wait) finds the
# port still free. Ports in use by anything else are skipped.
PORTS_FROM = 20000
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def port_block(worker: str | None, workers: int, ephemeral_from: int) -> range:
    """The ports of `worker` ("gw0" …) out of `workers`: one slice each of
    PORTS_FROM..ephemeral_from."""
    index = int(worker[2:]) if worker and worker[2:].isdigit() else 0
    workers = max(workers, index + 1)
    # An unusual ephemeral range starting low: overlap it rather than have no block.
    size = (max(ephemeral_from, PORTS_FROM + 1000 * workers) - PORTS_FROM) // workers
    return range(PORTS_FROM + index * size, PORTS_FROM + (index + 1) * size)


def _ephemeral_from() -> int:
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def _port_walk() -> Iterator[int]:
    block = port_block(xdist_worker(),
                       int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1), _ephemeral_from())
    first = random.SystemRandom().randrange(len(block))
    for offset in itertools.count():
        yield block[(first + offset) % len(block)]


_PORTS = _port_walk()
_PORTS_LOCK = threading.Lock()


def free_port() -> int:
    """A free port of this worker's own, never handed out before in this run."""
    with _PORTS_LOCK:
        for _attempt in range(1000):
            port = next(_PORTS)
            with socket.socket() as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    continue  # another program's
                return port
    raise RuntimeError("no free port in this worker's block")


# -- SMTP ----------------------------------------------------------------------------------
class FailFastController(Controller):
    """aiosmtpd's Controller, except that a port it cannot bind ends `start()` with the
    error at once: aiosmtpd itself waits out its whole ready_timeout (5 s) first."""

    def _run(self, ready_event: threading.Event) -> None:
        super()._run(ready_event)
        if self._thread_exception is not None:
            ready_event.set()  # start() goes on to _trigger_server, which raises it

    def _trigger_server(self) -> None:
        if self._thread_exception is not None:
            raise self._thread_exception
        super()._trigger_server()


@dataclass
class SmtpServer:
    """A real SMTP server (aiosmtpd) on loopback that keeps what it receives."""

    controller: Controller | None = None
    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append(message)
        return "250 OK"

    def start(self) -> None:
        """Serve on `port` (set when restarted after `stop`), or on a free port; should
        something else bind that one first, on another."""
        if self.port:
            self._serve(self.port)
            return
        for attempt in range(20):
            port = free_port()
            try:
                self._serve(port)
            except OSError as error:
                if error.errno != errno.EADDRINUSE or attempt == 19:
                    raise
                continue
            self.port = port
            return

    def _serve(self, port: int) -> None:
        controller = FailFastController(self, hostname="127.0.0.1", port=port)
        try:
            controller.start()
        except BaseException:
            if not controller.loop.is_running():
                controller.loop.close()
            raise
        self.controller = controller

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if address in m["To"]]

    @staticmethod
    def text_of(message: EmailMessage) -> str:
        return message.get_body(preferencelist=("plain",)).get_content()


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_app(make_app, smtp):
    """An app whose relay delivers to the loopback SMTP server."""
    application = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port,
                           MAIL_TIMEOUT_SECONDS=5)
    with application.app_context():
        yield application


# >>> twostep
@pytest.fixture(autouse=True)
def second_step_passed(request):
    """Tests written before two-step sign-in sign dealers and staff in with a password
    only: every new sign-in session of an account *without* a configured second step is
    marked as passed (method "test"), unless the test is marked `real_second_step`.
    Accounts with a confirmed TOTP or a passkey always go through the real step."""
    if request.node.get_closest_marker("real_second_step"):
        yield
        return
    from sqlalchemy import event, exists, or_, select

    from models import utcnow
    from models.account import LoginSession
    from models.trust import AccountPasskey, AccountTotp

    def mark_passed(_mapper, connection, target):
        if target.second_step_at is not None:
            return
        configured = connection.scalar(select(or_(
            exists().where(AccountTotp.account_id == target.account_id,
                           AccountTotp.confirmed_at.is_not(None)),
            exists().where(AccountPasskey.account_id == target.account_id))))
        if not configured:
            target.second_step_at = utcnow()
            target.second_step_method = "test"

    event.listen(LoginSession, "before_insert", mark_passed)
    try:
        yield
    finally:
        event.remove(LoginSession, "before_insert", mark_passed)
# <<< twostep
# >>> remote
# <<< remote
# >>> legacy
LEGACY_HEADER = ("username,email,family_name,given_name,family_kana,given_kana,phone,"
                 "postal_code,prefecture,city,street,building,company,password_hash,hash_format")


def legacy_bcrypt(password: str) -> str:
    """An old portal's bcrypt hash (the lowest cost: tests check many)."""
    import bcrypt

    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()


def legacy_row(username="olduser", email="old@example.com", password_hash=None,
               hash_format="bcrypt", company="", **fields) -> str:
    """One CSV row of the old portal (a homeowner in Tokyo unless told otherwise)."""
    values = {"family_name": "田中", "given_name": "一郎", "family_kana": "たなか",
              "given_kana": "いちろう", "phone": "090-1234-5678", "postal_code": "103-0026",
              "prefecture": "東京都", "city": "中央区", "street": "日本橋兜町1-2-3",
              "building": "", **fields}
    cells = [username, email, values["family_name"], values["given_name"],
             values["family_kana"], values["given_kana"], values["phone"],
             values["postal_code"], values["prefecture"], values["city"], values["street"],
             values["building"], company,
             password_hash if password_hash is not None else legacy_bcrypt("Old-Pass-2019"),
             hash_format]
    return ",".join(cells)


@pytest.fixture
def legacy_import(app, tmp_path):
    """Run `flask accounts import` on CSV text (or bytes); returns the click result."""
    runner = app.test_cli_runner()
    counter = iter(range(1000))

    def run(content, *args):
        path = tmp_path / f"legacy-{next(counter)}.csv"
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
        return runner.invoke(args=["accounts", "import", str(path), *args])

    return run
# <<< legacy
# >>> join
# <<< join
# >>> help
# <<< help
# >>> fleet
@pytest.fixture
def fleet(app):
    """`fleet(scale=1)`: the demo data and a fleet on top of it, `scale` times the 1x
    fleet (30 owners, 40 gateways, 5 dealers, 10 gateways linked to dealer@example.com's
    company, 1 sampled gateway with a year of rollups); answers generate_fleet's result.
    Once per test (a database holds one fleet): compare 1x and 10x in two tests."""
    from blueprints.core.registry import seed_demo
    from blueprints.gateways.fleet import FleetSize, generate_fleet

    def build(scale: int = 1, **sizes):
        seed_demo()
        size = FleetSize(owners=30 * scale, gateways=40 * scale, dealers=5 * scale,
                         big_dealer=10 * scale, sample=1, **sizes)
        return generate_fleet(size)

    return build
# <<< fleet
# >>> console
# <<< console
# >>> ingest
# <<< ingest
# >>> pages
# <<< pages
# >>> static
# <<< static
