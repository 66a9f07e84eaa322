"""Settings derived from the environment: the database URL's driver, the trusted hosts."""
from __future__ import annotations

import pytest

from config import default_trusted_hosts, normalize_database_url


@pytest.mark.parametrize("given, used", [
    ("postgresql://enelink@db/enelink", "postgresql+psycopg://enelink@db/enelink"),
    ("postgres://enelink:pw@db:5432/enelink?sslmode=require",
     "postgresql+psycopg://enelink:pw@db:5432/enelink?sslmode=require"),
    ("postgresql+psycopg://enelink@db/enelink", "postgresql+psycopg://enelink@db/enelink"),
    ("postgresql+psycopg2://enelink@db/enelink", "postgresql+psycopg2://enelink@db/enelink"),
    ("sqlite:///instance/enelink.sqlite3", "sqlite:///instance/enelink.sqlite3"),
    ("sqlite://", "sqlite://"),
])
def test_postgres_urls_use_the_installed_psycopg_driver(given, used):
    assert normalize_database_url(given) == used


@pytest.mark.parametrize("public_host, hosts", [
    ("portal.example.jp", ["portal.example.jp", "localhost", "127.0.0.1"]),
    ("portal.example.jp:8443", ["portal.example.jp", "localhost", "127.0.0.1"]),
    ("127.0.0.1:5000", ["127.0.0.1", "localhost"]),
    ("[::1]:5000", ["[::1]", "localhost", "127.0.0.1"]),
])
def test_trusted_hosts_default_to_the_public_host_and_the_health_check(public_host, hosts):
    assert default_trusted_hosts(public_host) == hosts
