"""Paper slips: the `gateways issue` CLI, the staff slip page, and the demo slips."""
from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import func, select

from blueprints.account.services import hash_password, verify_password
from blueprints.gateways.demo import DEMO_SLIPS, seed_demo_slips
from blueprints.gateways.slips import MAX_SLIPS, issue_slips
from blueprints.gateways.credentials import authenticate
from models import db, utcnow
from blueprints.core.staff import SLIPS
from models.account import Account, AccountType, Role
from models.audit import AuditEvent
from models.gateway import Gateway, GatewayStatus, PcsUnit
from tests.conftest import csrf_from, page_token
from tests.helpers import PASSWORD, login, make_staff

GATEWAY_ID = re.compile(r"[0-9A-Z]{12}")
STAFF = "staff@example.com"
USER = "user@example.com"


def make_account(email: str, role: Role = Role.USER) -> Account:
    now = utcnow()
    account = Account(email=email, password_hash=hash_password(PASSWORD), family_name="鈴木",
                      given_name="一郎", account_type=AccountType.PERSONAL, role=role,
                      activated_at=now, terms_accepted_at=now, privacy_accepted_at=now)
    db.session.add(account)
    db.session.commit()
    return account


@pytest.fixture
def staff_client(client):
    make_staff(make_account(STAFF), SLIPS)
    assert login(client, email=STAFF).status_code in (302, 303)
    return client


def gateway(gateway_id: str) -> Gateway:
    db.session.expire_all()
    return db.session.scalar(select(Gateway).where(Gateway.gateway_id == gateway_id))


def gateway_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Gateway))


def issue(runner, *args):
    return runner.invoke(args=["gateways", "issue", *args])


# -- CLI ---------------------------------------------------------------------------------
def test_cli_prints_csv_slips_and_stores_only_hashes(app, runner):
    result = issue(runner, "--count", "4", "--pcs", "3")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.output)))
    assert rows[0] == ["gateway_id", "password", "model", "pcs_serials"]
    slips = rows[1:]
    assert len(slips) == 4
    ids = [row[0] for row in slips]
    assert len(set(ids)) == 4 and all(GATEWAY_ID.fullmatch(i) for i in ids)
    for gateway_id, password, model, serials in slips:
        assert re.fullmatch(r"[a-z0-9]{12}", password)
        assert model == "GW-M001"
        stored = gateway(gateway_id)
        assert stored.status == GatewayStatus.UNREGISTERED and stored.owner_id is None
        assert verify_password(stored.slip_password_hash, password)
        assert password not in stored.slip_password_hash
        row = db.session.execute(select(Gateway.__table__).where(
            Gateway.gateway_id == gateway_id)).one()
        assert all(password not in str(value) for value in row)
        assert [u.unit_no for u in stored.units] == [1, 2, 3]
        assert [u.serial for u in stored.units] == serials.split(" ")
        assert all(re.fullmatch(r"[0-9A-Z]{8}", u.serial) for u in stored.units)
    audit = db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "gateway.slips_issued"))
    assert audit.detail["count"] == 4 and audit.detail["model"] == "GW-M001"


def test_cli_model_and_defaults(app, runner):
    result = issue(runner, "--count", "1", "--model", "GW-M002")
    assert result.exit_code == 0, result.output
    gateway_id, _password, model, serials = result.output.splitlines()[1].split(",")
    assert model == "GW-M002" and len(serials.split()) == 1
    assert gateway(gateway_id).model == "GW-M002"


@pytest.mark.parametrize("args", [["--count", "0"], ["--count", str(MAX_SLIPS + 1)],
                                  ["--count", "abc"], [], ["--count", "1", "--pcs", "0"],
                                  ["--count", "1", "--model", "X"]])
def test_cli_rejects_bad_input(app, runner, args):
    result = issue(runner, *args)
    assert result.exit_code != 0
    assert gateway_count() == 0


def test_service_bounds(app):
    for count in (0, -1, MAX_SLIPS + 1):
        with pytest.raises(ValueError):
            issue_slips(count)
    with pytest.raises(ValueError):
        issue_slips(1, model="GW-X001")
    with pytest.raises(ValueError):
        issue_slips(1, pcs_units=0)
    assert gateway_count() == 0
    assert len(issue_slips(1)) == 1
    assert db.session.scalar(select(func.count()).select_from(PcsUnit)) == 1


# -- staff page --------------------------------------------------------------------------
def test_anonymous_is_sent_to_login(client):
    response = client.get("/staff/gateways/slips")
    assert response.status_code == 302
    assert "/account/login" in response.headers["Location"]


def test_non_staff_gets_404(app, client):
    make_account(USER)
    login(client, email=USER)
    assert client.get("/staff/gateways/slips").status_code == 404
    token = page_token(client, "/account/settings")
    response = client.post("/staff/gateways/slips", data={"csrf_token": token, "count": "1",
                                                 "model": "GW-M001", "pcs": "1"})
    assert response.status_code == 404
    assert gateway_count() == 0


def test_staff_form_and_invalid_input(staff_client):
    page = staff_client.get("/staff/gateways/slips")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    token = csrf_from(html)
    response = staff_client.post("/staff/gateways/slips", data={
        "csrf_token": token, "count": "101", "model": "GW-X1", "pcs": "7"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    count_field = html.split('id="count-field"', 1)[1].split('id="model-field"', 1)[0]
    assert "1から100までの数字で入力してください" in count_field and 'value="101"' in count_field
    model_field = html.split('id="model-field"', 1)[1].split('id="pcs-field"', 1)[0]
    assert "GW-M と数字3桁" in model_field and 'value="GW-X1"' in model_field
    assert "1から6までの数字で入力してください" in html.split('id="pcs-field"', 1)[1]
    assert gateway_count() == 0


def test_staff_issues_printable_slips(staff_client):
    token = page_token(staff_client, "/staff/gateways/slips")
    response = staff_client.post("/staff/gateways/slips", data={
        "csrf_token": token, "count": "３", "model": "gw-m001", "pcs": "2"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    assert html.count('class="slip card"') == 3
    assert html.count("<svg") >= 3 and 'class="slip-qr"' in html
    assert "http://enelink.test/monitoring/register" in html
    assert "お客様用 遠隔モニタリングサービスご登録にあたって" in html
    assert "<script>" not in html and "style=" not in html
    db.session.expire_all()
    gateways = list(db.session.scalars(select(Gateway)))
    assert len(gateways) == 3
    for stored in gateways:
        assert stored.gateway_id in html and stored.model == "GW-M001"
        assert len(stored.units) == 2
        printed = re.search(re.escape(stored.gateway_id) + r".*?slip-code\">([a-z0-9]{12})<",
                            html, re.S).group(1)
        assert verify_password(stored.slip_password_hash, printed)
        # The device's API key is shown once too, below the slips (not printed on them).
        key = re.search(re.escape(stored.gateway_id) + r"</td><td[^>]*><code>(gwk_[\w-]+)<",
                        html).group(1)
        assert authenticate(stored.gateway_id, key).id == stored.id
    assert html.index("機器のAPIキー") > html.rindex('class="slip card"')
    # The passwords are not shown again.
    again = staff_client.get("/staff/gateways/slips").get_data(as_text=True)
    assert gateways[0].gateway_id not in again
    audit = db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "gateway.slips_issued"))
    assert audit.actor_id is not None and audit.detail["count"] == 3


def test_staff_post_without_csrf_is_400(staff_client):
    response = staff_client.post("/staff/gateways/slips", data={"count": "1", "model": "GW-M001",
                                                       "pcs": "1"})
    assert response.status_code == 400
    assert gateway_count() == 0


@pytest.mark.parametrize("value", ["1\x00", "9" * 10_000, "😀", "１\u202e", "-1", "1.5",
                                   " ", "1e3"])
def test_staff_bad_input_never_5xx(staff_client, value):
    token = page_token(staff_client, "/staff/gateways/slips")
    for name in ("count", "model", "pcs"):
        data = {"csrf_token": token, "count": "1", "model": "GW-M001", "pcs": "1", name: value}
        response = staff_client.post("/staff/gateways/slips", data=data)
        assert response.status_code == 422, (name, value)
    assert gateway_count() == 0


# -- demo --------------------------------------------------------------------------------
def test_demo_slips_idempotent(app, runner, monkeypatch):
    monkeypatch.setenv("ENELINK_ENV", "development")
    first = runner.invoke(args=["seed", "demo"])
    assert first.exit_code == 0, first.output
    assert runner.invoke(args=["seed", "demo"]).exit_code == 0
    seed_demo_slips()
    assert gateway_count() == len(DEMO_SLIPS) + 1  # and the monitored demo gateway
    for spec in DEMO_SLIPS:
        assert spec["gateway_id"] in first.output and spec["password"] in first.output
        stored = gateway(spec["gateway_id"])
        assert verify_password(stored.slip_password_hash, spec["password"])
        assert tuple(u.serial for u in stored.units) == spec["serials"]
        assert stored.status == GatewayStatus.UNREGISTERED


def test_launcher_offers_slips_to_staff_only(app, client):
    make_account("owner@example.com")
    login(client, email="owner@example.com")
    assert "/staff/gateways/slips" not in client.get("/").get_data(as_text=True)
    staff = app.test_client()
    make_staff(make_account("staff@example.com"), SLIPS)
    login(staff, email="staff@example.com")
    assert 'href="/staff/gateways/slips"' in staff.get("/").get_data(as_text=True)
