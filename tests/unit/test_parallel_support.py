"""What lets the suite run in parallel (pytest-xdist): a database per worker and SMTP
ports no other worker can take."""
from __future__ import annotations

import smtplib
import socket

import pytest

from tests import conftest
from tests.conftest import SmtpServer, port_block, worker_database_url

PG = "postgresql+psycopg://postgres:secret@127.0.0.1:5432/test"


@pytest.mark.parametrize(("url", "worker", "expected"), [
    (PG, None, PG),
    (PG, "gw0", "postgresql+psycopg://postgres:secret@127.0.0.1:5432/test_gw0"),
    ("postgresql://postgres@db/enelink?sslmode=require", "gw3",
     "postgresql+psycopg://postgres@db/enelink_gw3?sslmode=require"),
    ("sqlite:////tmp/suite/test.sqlite3", "gw1", "sqlite:////tmp/suite/test_gw1.sqlite3"),
    ("sqlite:///suite", "gw1", "sqlite:///suite_gw1"),
    ("sqlite://", "gw1", "sqlite://"),
])
def test_each_worker_has_a_database_of_its_own(url, worker, expected):
    assert worker_database_url(url, worker) == expected


def test_workers_never_share_a_database():
    urls = {worker_database_url(PG, f"gw{n}") for n in range(4)}
    assert len(urls) == 4 and PG not in urls


@pytest.mark.parametrize("workers", [1, 2, 3, 4])
def test_workers_port_blocks_are_disjoint_and_below_the_ephemeral_range(workers):
    blocks = [port_block(f"gw{n}", workers, 32768) for n in range(workers)]
    ports = [port for block in blocks for port in block]
    assert len(ports) == len(set(ports)) > 10_000
    assert min(ports) > 1024 and max(ports) < 32768
    assert port_block(None, 1, 32768) == range(20000, 32768)  # without xdist


def test_a_low_ephemeral_range_still_leaves_every_worker_ports():
    blocks = [port_block(f"gw{n}", 4, 1025) for n in range(4)]
    assert all(len(block) >= 1000 for block in blocks)
    assert not set(blocks[0]) & set(blocks[3])


def test_free_ports_are_never_handed_out_twice():
    ports = [conftest.free_port() for _ in range(200)]
    assert len(set(ports)) == 200


def test_a_stopped_smtp_server_starts_again_on_its_port():
    server = SmtpServer()
    server.start()
    try:
        port = server.port
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
            client.sendmail("a@example.com", ["b@example.com"], "To: b@example.com\n\nhello")
        server.stop()
        with pytest.raises(ConnectionRefusedError):
            smtplib.SMTP("127.0.0.1", port, timeout=5)
        assert port not in {conftest.free_port() for _ in range(50)}
        server.start()
        assert server.port == port
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
            client.sendmail("a@example.com", ["c@example.com"], "To: c@example.com\n\nagain")
        assert [m["To"] for m in server.messages] == ["b@example.com", "c@example.com"]
    finally:
        server.stop()


def test_smtp_server_takes_another_port_when_something_binds_the_probed_one(monkeypatch):
    """Between the probe and the server's bind another program may take the port."""
    first, second = conftest.free_port(), conftest.free_port()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", first))
        squatter.listen()
        probes = iter([first, second])
        monkeypatch.setattr(conftest, "free_port", lambda: next(probes))
        server = SmtpServer()
        try:
            server.start()
            assert server.port == second
            with smtplib.SMTP("127.0.0.1", server.port, timeout=5) as client:
                assert client.noop()[0] == 250
        finally:
            server.stop()
