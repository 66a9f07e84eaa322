"""Remote settings over the gateway API (issue 13): the gateway reads its newest settings,
applies them and acknowledges the version; the readings answer announces a version not
applied yet; every malformed or foreign request is a 4xx JSON error and changes nothing."""
from __future__ import annotations

from sqlalchemy import select

from blueprints.gateways.management import dispose_gateway
from blueprints.monitoring import settings
from models import db
from models.remote import GatewaySettings
from tests.flows.test_dealer_links import make_owner
from tests.flows.test_gateway_api import GATEWAY_ID, OTHER_ID, post, reporting_gateway, series

URL = f"/api/v1/gateways/{GATEWAY_ID}/settings"
ACK = URL + "/ack"


def new_version(gateway, owner, **changes) -> int:
    current = settings.ensure_settings(gateway)
    values = settings.Values(**{**settings.Values.of(current).__dict__, **changes})
    result = settings.change(owner, gateway, owner, False, current.version, values)
    assert result.outcome is settings.Outcome.SAVED
    return result.current.version


def row(gateway, version: int) -> GatewaySettings:
    db.session.expire_all()
    return db.session.scalar(select(GatewaySettings).where(
        GatewaySettings.gateway_id == gateway.id, GatewaySettings.version == version))


def test_the_gateway_reads_applies_and_acknowledges_its_settings(client):
    owner = make_owner()
    gateway, key = reporting_gateway(owner)
    auth = {"Authorization": f"Bearer {key}"}
    answer = client.get(URL, headers=auth)
    assert answer.status_code == 200
    assert answer.get_json() == {"version": 1, "acknowledged": False, "settings": {
        "operation_mode": "green", "charge_start": "00:00", "charge_end": "00:00",
        "discharge_floor": 10, "sell_when_discharging": False, "islanding": "auto"}}
    # The factory version waits for nothing: readings answer without an announcement.
    response = post(client, GATEWAY_ID, key, series(1))
    assert response.status_code == 200 and "settings_pending" not in response.get_json()
    version = new_version(gateway, owner, operation_mode="economy", charge_start=23 * 60,
                          charge_end=7 * 60, sell_when_discharging=True)
    response = post(client, GATEWAY_ID, key, series(1, newest_minutes_ago=-5))
    assert response.get_json()["settings_version"] == 2
    assert response.get_json()["settings_pending"] is True
    assert row(gateway, 2).delivered_at is None
    answer = client.get(URL, headers=auth).get_json()
    assert answer["version"] == version == 2 and answer["acknowledged"] is False
    assert answer["settings"]["charge_start"] == "23:00" and answer["settings"]["sell_when_discharging"]
    delivered = row(gateway, 2).delivered_at
    assert delivered is not None
    client.get(URL, headers=auth)
    assert row(gateway, 2).delivered_at == delivered  # the first fetch counts
    response = client.post(ACK, json={"version": 2}, headers=auth)
    assert response.status_code == 200
    assert response.get_json() == {"acknowledged": 2, "settings_version": 2,
                                   "settings_pending": False}
    acked = row(gateway, 2).acked_at
    assert acked is not None
    assert client.post(ACK, json={"version": 2}, headers=auth).status_code == 200
    assert row(gateway, 2).acked_at == acked
    assert client.get(URL, headers=auth).get_json()["acknowledged"] is True


def test_an_older_acknowledgement_does_not_apply_a_newer_version(client):
    owner = make_owner()
    gateway, key = reporting_gateway(owner)
    auth = {"Authorization": f"Bearer {key}"}
    new_version(gateway, owner, discharge_floor=20)
    assert client.get(URL, headers=auth).get_json()["version"] == 2
    new_version(gateway, owner, discharge_floor=30)
    # Version 3 was never fetched: its acknowledgement is refused.
    response = client.post(ACK, json={"version": 3}, headers=auth)
    assert response.status_code == 409 and response.get_json()["error"] == "version_not_fetched"
    assert row(gateway, 3).acked_at is None
    # Version 2 was applied (late): 3 still waits.
    response = client.post(ACK, json={"version": 2}, headers=auth)
    assert response.status_code == 200
    assert response.get_json() == {"acknowledged": 2, "settings_version": 3,
                                   "settings_pending": True}
    assert row(gateway, 3).acked_at is None and row(gateway, 2).acked_at is not None
    assert settings.state_of(row(gateway, 3)) is settings.State.PENDING


def test_malformed_unknown_and_foreign_acknowledgements_are_4xx_json(client):
    owner = make_owner()
    gateway, key = reporting_gateway(owner)
    _other, other_key = reporting_gateway(owner, gateway_id=OTHER_ID)
    auth = {"Authorization": f"Bearer {key}"}
    client.get(URL, headers=auth)
    cases = [
        (dict(json={"version": 99}), 404, "unknown_version"),
        (dict(json={"version": 0}), 400, "malformed_ack"),
        (dict(json={"version": "1"}), 400, "malformed_ack"),
        (dict(json={"version": True}), 400, "malformed_ack"),
        (dict(json={"version": 1.5}), 400, "malformed_ack"),
        (dict(json={"version": 2**40}), 400, "malformed_ack"),
        (dict(json=[1]), 400, "malformed_ack"),
        (dict(json={}), 400, "malformed_ack"),
        (dict(data="{not json", content_type="application/json"), 400, "malformed_ack"),
        (dict(data="version=1", content_type="application/x-www-form-urlencoded"), 415,
         "unsupported_media_type"),
        (dict(data='{"version": 1, "x": "' + "a" * 5000 + '"}',
              content_type="application/json"), 413, None),
    ]
    for kwargs, status, error in cases:
        response = client.post(ACK, headers=auth, **kwargs)
        assert response.status_code == status, (kwargs, response.get_data(as_text=True)[:200])
        assert response.is_json
        if error:
            assert response.get_json()["error"] == error
    assert row(gateway, 1).acked_at is None
    # Another gateway's key, no key: 401 for both routes.
    for headers in ({"Authorization": f"Bearer {other_key}"}, {}):
        assert client.get(URL, headers=headers).status_code == 401
        assert client.post(ACK, json={"version": 1}, headers=headers).status_code == 401
    assert row(gateway, 1).acked_at is None
    # A retired gateway: 403 for both.
    dispose_gateway(owner, GATEWAY_ID)
    response = client.get(URL, headers=auth)
    assert response.status_code == 403 and response.get_json()["error"] == "gateway_retired"
    assert client.post(ACK, json={"version": 1}, headers=auth).status_code == 403
