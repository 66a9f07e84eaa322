"""Production start-up: a weak secret key is refused, foreign Host headers get 400, and a
plain `postgresql://` URL uses the installed psycopg 3 driver."""
from __future__ import annotations

import pytest

from app import create_app
from models import db

STRONG_KEY = "k" * 32


def production(**overrides) -> dict:
    """A production configuration (neither development nor testing) on an in-memory
    database, without background threads."""
    return {"DEVELOPMENT": False, "TESTING": False, "SECRET_KEY": STRONG_KEY,
            "SQLALCHEMY_DATABASE_URI": "sqlite://", "MAIL_RELAY_IN_PROCESS": False,
            "GATEWAY_WATCH_IN_PROCESS": False, "GATEWAY_SIMULATOR_IN_PROCESS": False,
            "PUBLIC_HOST": "portal.example.jp", "TRUSTED_HOSTS": None, **overrides}


@pytest.mark.parametrize("key", ["x", "short-but-not-32-bytes", "k" * 31, "鍵" * 10])
def test_production_refuses_a_secret_key_shorter_than_32_bytes(key):
    with pytest.raises(RuntimeError, match="SECRET_KEY is too short.*at least 32"):
        create_app(production(SECRET_KEY=key))


def test_production_starts_with_a_32_byte_key_and_development_with_any():
    assert create_app(production(SECRET_KEY="鍵" * 11)).config["SECRET_KEY"]  # 33 bytes
    development = create_app(production(DEVELOPMENT=True, SECRET_KEY="x"))
    assert development.config["SECRET_KEY"] == "x"


def test_production_answers_only_its_own_host():
    app = create_app(production())
    assert app.config["TRUSTED_HOSTS"] == ["portal.example.jp", "localhost", "127.0.0.1"]
    client = app.test_client()
    for host in ("evil.example", "evil.example:443", "portal.example.jp.evil.example"):
        assert client.get("/account/login", headers={"Host": host}).status_code == 400
        assert client.get("/healthz", headers={"Host": host}).status_code == 400
    for host in ("portal.example.jp", "portal.example.jp:443"):
        assert client.get("/account/login", headers={"Host": host}).status_code == 200
    # The health check, made on the machine itself.
    for host in ("localhost", "127.0.0.1:8000"):
        assert client.get("/healthz", headers={"Host": host}).status_code == 200


def test_public_host_with_a_port_and_explicit_trusted_hosts():
    app = create_app(production(PUBLIC_HOST="portal.example.jp:8443"))
    client = app.test_client()
    assert client.get("/healthz", headers={"Host": "portal.example.jp:8443"}).status_code == 200
    assert client.get("/healthz", headers={"Host": "evil.example:8443"}).status_code == 400
    chosen = create_app(production(TRUSTED_HOSTS=["www.example.jp"])).test_client()
    assert chosen.get("/healthz", headers={"Host": "www.example.jp"}).status_code == 200
    assert chosen.get("/healthz", headers={"Host": "portal.example.jp"}).status_code == 400


def test_development_keeps_working_on_localhost_and_127_0_0_1():
    app = create_app(production(DEVELOPMENT=True, PUBLIC_HOST="127.0.0.1:5000"))
    client = app.test_client()
    for host in ("127.0.0.1:5000", "localhost:5000"):
        assert client.get("/healthz", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("url", ["postgresql://enelink@127.0.0.1:5432/enelink",
                                 "postgres://enelink:secret@127.0.0.1/enelink"])
def test_plain_postgres_url_builds_a_psycopg_engine(url):
    """No connection is made: building the engine is what failed (psycopg2 missing)."""
    app = create_app(production(SQLALCHEMY_DATABASE_URI=url))
    with app.app_context():
        assert db.engine.dialect.name == "postgresql"
        assert db.engine.dialect.driver == "psycopg"
        assert db.engine.url.drivername == "postgresql+psycopg"
        db.engine.dispose()
