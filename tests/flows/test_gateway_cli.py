"""`flask --app app gateways issue|api-key`: the factory's slips and the devices' API keys,
checked by using each key at the gateway API."""
from __future__ import annotations

import csv
import io
import stat

from sqlalchemy import select

from models import db
from models.gateway import Gateway, GatewayStatus
from tests.flows.test_gateway_api import GATEWAY_ID, post, reporting_gateway
from tests.helpers import reading, slot_end


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _register(gateway_id: str) -> None:
    """What an owner's registration does to the gateway, as far as the API cares."""
    gateway = db.session.scalar(select(Gateway).where(Gateway.gateway_id == gateway_id))
    gateway.status = GatewayStatus.ACTIVE
    db.session.commit()


def _posts(client, gateway_id: str, key: str) -> int:
    return post(client, gateway_id, key, [reading(slot_end())]).status_code


def test_issue_writes_the_keys_file_and_each_key_works_for_its_gateway(app, runner, client,
                                                                       tmp_path):
    keys_file = tmp_path / "keys.csv"
    result = runner.invoke(args=["gateways", "issue", "--count", "2", "--pcs", "2",
                                 "--keys-file", str(keys_file)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "gateway_id,password,model,pcs_serials"
    slips = list(csv.reader(io.StringIO(result.stdout)))[1:]
    assert len(slips) == 2
    assert all("gwk_" not in line for line in lines)  # keys only in the private file
    assert str(keys_file) in result.stderr

    assert _mode(keys_file) == 0o600
    rows = list(csv.reader(io.StringIO(keys_file.read_text(encoding="utf-8"))))
    assert rows[0] == ["gateway_id", "api_key"]
    keys = dict(rows[1:])
    assert sorted(keys) == sorted(slip[0] for slip in slips)
    assert len(set(keys.values())) == 2
    for gateway_id, key in keys.items():
        stored = db.session.scalar(select(Gateway).where(Gateway.gateway_id == gateway_id))
        assert stored.api_key_hash and key not in stored.api_key_hash

    first, second = sorted(keys)
    # A key is valid from the start, but an unregistered gateway may not report yet.
    response = post(client, first, keys[first], [reading(slot_end())])
    assert response.status_code == 403
    assert response.get_json()["error"] == "gateway_not_registered"
    _register(first)
    _register(second)
    assert _posts(client, first, keys[first]) == 200
    assert _posts(client, second, keys[second]) == 200
    assert _posts(client, first, keys[second]) == 401
    assert _posts(client, second, keys[first]) == 401


def test_issue_makes_an_existing_keys_file_private(app, runner, tmp_path):
    keys_file = tmp_path / "keys.csv"
    keys_file.write_text("old content that is much longer than the new keys file " * 50)
    keys_file.chmod(0o644)
    result = runner.invoke(args=["gateways", "issue", "--count", "1",
                                 "--keys-file", str(keys_file)])
    assert result.exit_code == 0, result.output
    assert _mode(keys_file) == 0o600
    text = keys_file.read_text(encoding="utf-8")
    assert text.startswith("gateway_id,api_key\n") and "old content" not in text
    assert len(text.splitlines()) == 2


def test_issue_without_a_keys_file_prints_no_key(app, runner):
    result = runner.invoke(args=["gateways", "issue", "--count", "1"])
    assert result.exit_code == 0, result.output
    assert "gwk_" not in result.output
    assert result.stdout.splitlines()[0] == "gateway_id,password,model,pcs_serials"


def test_api_key_replaces_the_old_key(app, runner, client):
    _gateway, old_key = reporting_gateway()
    assert _posts(client, GATEWAY_ID, old_key) == 200
    result = runner.invoke(args=["gateways", "api-key", "01ab-1234-5678"])
    assert result.exit_code == 0, result.output
    new_key = result.stdout.strip()
    assert new_key.startswith("gwk_") and new_key != old_key and len(new_key) > 40
    assert post(client, GATEWAY_ID, old_key, [reading(slot_end())]).status_code == 401
    response = client.get(f"/api/v1/gateways/{GATEWAY_ID}",
                          headers={"Authorization": f"Bearer {new_key}"})
    assert response.status_code == 200
    assert _posts(client, GATEWAY_ID, new_key) == 200


def test_api_key_of_an_unknown_gateway_fails(app, runner):
    reporting_gateway()
    for gateway_id in ("99ZZ99999999", "nonsense", ""):
        result = runner.invoke(args=["gateways", "api-key", gateway_id])
        assert result.exit_code != 0
        assert "gwk_" not in result.output
    db.session.expire_all()
    assert db.session.scalar(select(Gateway.api_key_issued_at)) is not None


def test_background_workers_start_only_for_a_server():
    """`flask run` (and gunicorn, outside any click command) run the relay, the watch and
    the simulator in-process; `flask db upgrade`, `seed demo` … must not start them."""
    import click

    from app import _serving

    assert _serving()
    for name, serving in (("run", True), ("upgrade", False), ("demo", False)):
        with click.Context(click.Command(name)):
            assert _serving() is serving
