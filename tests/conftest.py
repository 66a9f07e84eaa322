"""Shared fixtures: an app on a migrated database (SQLite, or PostgreSQL when
TEST_DATABASE_URL is set), emptied after every test; a test client with CSRF helpers;
a real SMTP server on loopback."""
from __future__ import annotations

import contextvars
import os
import re
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from flask import has_app_context
from flask.testing import FlaskClient
from sqlalchemy import text

from app import create_app
from config import TestConfig
from models import db

CSRF_PATTERN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
LINK_PATTERN = re.compile(r"https?://[^\s<>\"']+")


def database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.sqlite3")


@pytest.fixture(scope="session")
def db_url(tmp_path_factory):
    """A database migrated once per test session with the project's own migrations."""
    url = database_url(tmp_path_factory)
    app = create_app({**_config(url)})
    with app.app_context():
        from flask_migrate import upgrade

        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        upgrade()
        db.engine.dispose()
    return url


def _config(url: str, **overrides) -> dict:
    config = {key: getattr(TestConfig, key) for key in dir(TestConfig) if key.isupper()}
    config["SQLALCHEMY_DATABASE_URI"] = url
    config.update(overrides)
    return config


def empty_database() -> None:
    tables = list(reversed(db.metadata.sorted_tables))
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(table.delete())
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


@pytest.fixture
def make_app(db_url, tmp_path):
    """Build an app on the test database with config overrides; emptied afterwards. Its
    instance folder is the test's own, not the checkout's (which `make run` uses)."""
    apps = []

    def factory(**overrides):
        application = create_app(_config(db_url, **overrides))
        application.instance_path = str(tmp_path)
        application.test_client_class = BrowserLikeClient
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- SMTP ----------------------------------------------------------------------------------
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
        self.port = self.port or free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        self.port = self.controller.port

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
