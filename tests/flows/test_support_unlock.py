"""Unlock codes (the manual's PUK) through the test client: only employees of a dealer
linked to the gateway get one, for one of its units; it is shown once, stored hashed,
limited per company and day, audited; the gateway API verifies it once, and refuses an
expired one, another unit's, another gateway's, and requests with a wrong key."""
from __future__ import annotations

import hashlib
import json
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from blueprints.dealers.services import become_dealer, link_dealer
from blueprints.gateways.credentials import set_api_key
from blueprints.support import unlock
from models import db, utcnow
from blueprints.core.staff import SUPPORT
from models.account import Account, AccountType, CompanyRole
from models.audit import AuditEvent
from models.gateway import Dealer, Gateway, GatewayStatus, PcsUnit
from models.support import UnlockCode
from tests.conftest import csrf_from
from tests.flows.test_dealer_links import _password_hash, make_company, make_gateway, make_owner
from tests.helpers import login, make_staff, statements

GATEWAY = "01AB12345678"
OTHER_GATEWAY = "02CD87654321"
DEALER_PHONE = "0312345678"
CODE = re.compile(r"\b([A-HJ-NP-Z2-9]{5}-[A-HJ-NP-Z2-9]{5})\b")
EMPLOYEE = "member1@dealer1.example"


def _gateway(owner, gateway_id, units=2):
    gateway = make_gateway(owner, gateway_id)
    gateway.units = [PcsUnit(unit_no=n, model="PCS-5K", serial=f"S{gateway_id[:2]}{n:05d}")
                     for n in range(1, units + 1)]
    key = set_api_key(gateway)
    db.session.commit()
    return gateway, key


def build_world(app):
    """The owner's two gateways (2 units each, with API keys); dealer 1 linked to the
    first only (its admin and an employee), dealer 2 linked to none; staff."""
    owner = make_owner()
    gateway, key = _gateway(owner, GATEWAY)
    other, other_key = _gateway(owner, OTHER_GATEWAY)
    linked = become_dealer(make_company(1), DEALER_PHONE)
    become_dealer(make_company(2), "0312345679")
    assert link_dealer(owner, gateway, linked.dealer_code, DEALER_PHONE).name == "LINKED"
    db.session.add(Account(email=EMPLOYEE, password_hash=_password_hash(), family_name="鈴木",
                           given_name="一郎", account_type=AccountType.COMMERCIAL,
                           company_id=linked.company_id, company_role=CompanyRole.MEMBER,
                           activated_at=utcnow(), terms_accepted_at=utcnow(),
                           privacy_accepted_at=utcnow()))
    staff = make_owner("staff@example.com", "高橋", "美咲")
    make_staff(staff, SUPPORT)
    clients = {"anonymous": app.test_client()}
    for role, email in [("owner", "owner@example.com"), ("linked", "admin1@dealer1.example"),
                        ("employee", EMPLOYEE), ("unlinked", "admin2@dealer2.example"),
                        ("staff", "staff@example.com")]:
        clients[role] = app.test_client()
        assert login(clients[role], email).status_code == 303
    return {"clients": clients, "key": key, "other_key": other_key,
            "gateway": gateway.gateway_id, "other": other.gateway_id}


@pytest.fixture
def world(app):
    return build_world(app)


def request_code(client, gateway=GATEWAY, unit="1", key=None, token=None):
    """Open the page for `gateway` and post 発行 for `unit`; the response."""
    page = client.get(f"/support/unlock-codes?gateway={gateway}")
    assert page.status_code == 200, page.status_code
    html = page.get_data(as_text=True)
    key = key or re.search(r'name="request_key" type="hidden" value="([^"]+)"', html).group(1)
    return client.post("/support/unlock-codes", data={
        "csrf_token": token or csrf_from(html), "gateway": gateway, "unit": unit,
        "request_key": key})


def code_in(response) -> str:
    match = CODE.search(response.get_data(as_text=True))
    assert match, "no code on the page"
    return match.group(1)


def verify(client, gateway_id, key, body):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(f"/api/v1/gateways/{gateway_id}/unlock-codes/verify", data=data,
                       headers={"Authorization": f"Bearer {key}"},
                       content_type="application/json")


def rows() -> list[UnlockCode]:
    db.session.expire_all()
    return list(db.session.scalars(select(UnlockCode).order_by(UnlockCode.id)))


def audit_rows(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                   .order_by(AuditEvent.id)))


# -- who gets the page ----------------------------------------------------------------------
def test_only_dealers_open_the_page(world):
    clients = world["clients"]
    response = clients["anonymous"].get("/support/unlock-codes")
    assert response.status_code == 302 and "/account/login" in response.headers["Location"]
    for role in ("owner", "staff"):
        response = clients[role].get("/support/unlock-codes")
        assert response.status_code == 403
        assert "販売店コンソール" in response.get_data(as_text=True)
    for role in ("linked", "employee", "unlinked"):
        assert clients[role].get("/support/unlock-codes").status_code == 200
    html = clients["linked"].get("/support/unlock-codes").get_data(as_text=True)
    assert f'<option value="{GATEWAY}">' in html and OTHER_GATEWAY not in html
    html = clients["unlinked"].get("/support/unlock-codes").get_data(as_text=True)
    assert 'id="no-linked-gateways"' in html and GATEWAY not in html


def test_a_gateway_not_entrusted_is_refused(world):
    clients = world["clients"]
    # Its own company's page, but a gateway another dealer (or nobody) was entrusted with.
    assert clients["unlinked"].get(f"/support/unlock-codes?gateway={GATEWAY}").status_code == 422
    assert clients["linked"].get(f"/support/unlock-codes?gateway={OTHER_GATEWAY}").status_code == 422
    for role, gateway in (("unlinked", GATEWAY), ("linked", OTHER_GATEWAY),
                          ("linked", "ZZZZZZZZZZZZ"), ("linked", "x" * 5000)):
        client = clients[role]
        token = csrf_from(client.get("/support/unlock-codes").get_data(as_text=True))
        response = client.post("/support/unlock-codes", data={
            "csrf_token": token, "gateway": gateway, "unit": "1", "request_key": "k" * 20})
        assert response.status_code == 404, (role, gateway)
    for role in ("owner", "staff"):
        token = csrf_from(clients[role].get("/support/").get_data(as_text=True))
        response = clients[role].post("/support/unlock-codes", data={
            "csrf_token": token, "gateway": GATEWAY, "unit": "1", "request_key": "k" * 20})
        assert response.status_code == 403
    assert rows() == []


def test_the_service_refuses_anyone_not_entrusted(world):
    gateway = db.session.scalar(select(Gateway).where(Gateway.gateway_id == GATEWAY))
    other = db.session.scalar(select(Gateway).where(Gateway.gateway_id == OTHER_GATEWAY))
    unit = gateway.units[0]
    for email, target, which in (("owner@example.com", gateway, unit),
                                 ("staff@example.com", gateway, unit),
                                 ("admin2@dealer2.example", gateway, unit),
                                 ("admin1@dealer1.example", other, other.units[0]),
                                 ("admin1@dealer1.example", gateway, other.units[0])):
        account = db.session.scalar(select(Account).where(Account.email == email))
        with pytest.raises(unlock.NotEntrusted):
            unlock.issue_code(account, target, which)
    # Out of service (retired) gateways get no more codes either.
    gateway.status = GatewayStatus.RETIRED
    db.session.commit()
    admin = db.session.scalar(select(Account).where(Account.email == "admin1@dealer1.example"))
    with pytest.raises(unlock.NotEntrusted):
        unlock.issue_code(admin, gateway, unit)
    assert rows() == []


# -- issuing --------------------------------------------------------------------------------
def test_the_code_is_shown_once_stored_hashed_and_audited(world, app):
    client = world["clients"]["linked"]
    page = client.get(f"/support/unlock-codes?gateway={GATEWAY}").get_data(as_text=True)
    assert "No.1 ・ 製造番号 S0100001" in page and "No.2 ・ 製造番号 S0100002" in page
    response = request_code(client, unit="2")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    code = code_in(response)
    assert "この画面を閉じると再表示できません" in html and "有効期限" in html
    [row] = rows()
    assert "機器 No.2（製造番号 S0100002）" in html
    from blueprints.core.templating import format_datetime_jst
    expiry = html.split('id="unlock-expiry">', 1)[1].split("</p>")[0]
    with app.test_request_context():
        assert format_datetime_jst(row.expires_at) in expiry
    plain = code.replace("-", "")
    assert row.code_hash == hashlib.sha256(plain.encode()).hexdigest()
    assert row.unit_id == db.session.scalar(select(PcsUnit.id).join(Gateway).where(
        Gateway.gateway_id == GATEWAY, PcsUnit.unit_no == 2))
    assert timedelta(hours=23, minutes=59) < row.expires_at - row.issued_at <= timedelta(hours=24)
    assert row.used_at is None
    # Never again: not on a reload of the page, not in the history, not in the audit.
    for again in (client.get("/support/unlock-codes"),
                  client.get(f"/support/unlock-codes?gateway={GATEWAY}")):
        text = again.get_data(as_text=True)
        assert plain not in text and code not in text and CODE.search(text) is None
        assert again.headers["Cache-Control"] == "no-store"
    history = client.get("/support/unlock-codes").get_data(as_text=True)
    table = history.split('id="unlock-history"', 1)[1].split("</table>")[0]
    assert GATEWAY in table and "No.2" in table and "佐藤 花子" in table and "未使用" in table
    [event] = audit_rows(unlock.ISSUED)
    assert event.actor_id == db.session.scalar(
        select(Account.id).where(Account.email == "admin1@dealer1.example"))
    assert event.detail["gateway"] == GATEWAY and event.detail["unit"] == 2
    assert plain not in json.dumps(event.detail) and code not in json.dumps(event.detail)


def test_codes_use_the_unambiguous_alphabet_and_differ(world):
    codes = {code_in(request_code(world["clients"]["linked"])) for _ in range(5)}
    assert len(codes) == 5
    for code in codes:
        assert not set(code) & set("01OI")


def test_any_employee_of_the_linked_company_may_issue(world):
    response = request_code(world["clients"]["employee"])
    assert response.status_code == 200 and code_in(response)
    # The whole company sees it in its history; another company does not.
    history = world["clients"]["linked"].get("/support/unlock-codes").get_data(as_text=True)
    assert "鈴木 一郎" in history.split('id="unlock-history"', 1)[1]
    assert 'id="unlock-history"' not in world["clients"]["unlinked"].get(
        "/support/unlock-codes").get_data(as_text=True)


def test_the_same_form_posted_twice_issues_one_code(world):
    client = world["clients"]["linked"]
    page = client.get(f"/support/unlock-codes?gateway={GATEWAY}").get_data(as_text=True)
    key = re.search(r'name="request_key" type="hidden" value="([^"]+)"', page).group(1)
    first = request_code(client, key=key)
    assert first.status_code == 200 and code_in(first)
    second = request_code(client, key=key)
    assert second.status_code == 409
    assert "すでにコードを発行しました" in second.get_data(as_text=True)
    assert CODE.search(second.get_data(as_text=True)) is None
    assert len(rows()) == 1


@pytest.mark.parametrize("unit, message", [
    ("", "選択してください"), ("3", "一覧から選択してください"), ("abc", "一覧から選択してください"),
    ("1\x00", "一覧から選択してください"), ("<script>", "一覧から選択してください"),
    ("9" * 5000, "一覧から選択してください"),
])
def test_a_bad_unit_gets_a_message_next_to_the_field(world, unit, message):
    response = request_code(world["clients"]["linked"], unit=unit)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    field = html.split('id="unit-field"', 1)[1].split("</div>")[0]
    assert message in field and "<script>" not in html.split('id="unit-field"', 1)[1]
    assert rows() == []


def test_a_post_without_csrf_is_refused(world):
    client = world["clients"]["linked"]
    response = request_code(client, token="forged")
    assert response.status_code in (400, 403) and rows() == []


def test_daily_limit_per_dealer_company(make_app):
    app = make_app(SUPPORT_UNLOCK_CODES_PER_DAY=2)
    with app.app_context():
        world = build_world(app)
        assert request_code(world["clients"]["linked"]).status_code == 200
        # An employee's code counts against the same company.
        assert request_code(world["clients"]["employee"]).status_code == 200
        refused = request_code(world["clients"]["linked"])
        assert refused.status_code == 429
        assert "本日発行できるコードの上限に達しました" in refused.get_data(as_text=True)
        assert CODE.search(refused.get_data(as_text=True)) is None
        assert len(rows()) == 2
        # Yesterday's codes do not count (the day is Japan's).
        db.session.execute(update(UnlockCode).values(issued_at=utcnow() - timedelta(days=1, hours=1)))
        db.session.commit()
        assert request_code(world["clients"]["linked"]).status_code == 200


def test_the_daily_limit_holds_under_concurrency(make_app):
    app = make_app(SUPPORT_UNLOCK_CODES_PER_DAY=3)
    with app.app_context():
        build_world(app)
        admin_id = db.session.scalar(select(Account.id).where(
            Account.email == "admin1@dealer1.example"))
        gateway_pk = db.session.scalar(select(Gateway.id).where(Gateway.gateway_id == GATEWAY))

    def one(n):
        with app.app_context():
            try:
                account = db.session.get(Account, admin_id)
                gateway = db.session.get(Gateway, gateway_pk)
                unlock.issue_code(account, gateway, gateway.units[0], f"key-{n:020d}")
                return "issued"
            except unlock.DailyLimitReached:
                return "limit"
            finally:
                db.session.remove()

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(one, range(8)))
    assert sorted(outcomes) == ["issued"] * 3 + ["limit"] * 5
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(UnlockCode)) == 3


# -- verifying through the gateway API ------------------------------------------------------
def test_a_code_verifies_once(world, app):
    code = code_in(request_code(world["clients"]["linked"], unit="2"))
    api = app.test_client()
    # Another unit of the same gateway: no.
    assert verify(api, GATEWAY, world["key"], {"unit": 1, "code": code}).get_json() == {
        "valid": False}
    # Typed loosely (lower case, full width, no dash) it is the same code.
    loose = code.replace("-", " ").lower()
    response = verify(api, GATEWAY, world["key"], {"unit": 2, "code": loose})
    assert response.status_code == 200 and response.get_json() == {"valid": True}
    assert rows()[0].used_at is not None
    again = verify(api, GATEWAY, world["key"], {"unit": 2, "code": code})
    assert again.status_code == 200 and again.get_json() == {"valid": False}
    assert len(audit_rows(unlock.USED)) == 1 and len(audit_rows(unlock.REFUSED)) == 2
    assert all(code.replace("-", "") not in json.dumps(e.detail)
               for e in audit_rows(unlock.USED) + audit_rows(unlock.REFUSED))
    history = world["clients"]["linked"].get("/support/unlock-codes").get_data(as_text=True)
    assert "使用済み" in history.split('id="unlock-history"', 1)[1]


def test_an_expired_code_is_refused(world, app):
    code = code_in(request_code(world["clients"]["linked"]))
    db.session.execute(update(UnlockCode).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    response = verify(app.test_client(), GATEWAY, world["key"], {"unit": 1, "code": code})
    assert response.status_code == 200 and response.get_json() == {"valid": False}
    assert rows()[0].used_at is None
    history = world["clients"]["linked"].get("/support/unlock-codes").get_data(as_text=True)
    assert "期限切れ" in history.split('id="unlock-history"', 1)[1]


def test_wrong_codes_and_other_gateways_are_refused(world, app):
    code = code_in(request_code(world["clients"]["linked"]))
    api = app.test_client()
    for body in ({"unit": 1, "code": "AAAAA-AAAAA"}, {"unit": 1, "code": "0000000000"},
                 {"unit": 1, "code": code + "A"}, {"unit": 99, "code": code},
                 {"unit": 1, "code": "<script>"}, {"unit": 1, "code": "AB\x00CDE-23456"}):
        response = verify(api, GATEWAY, world["key"], body)
        assert response.status_code == 200 and response.get_json() == {"valid": False}, body
    # The other gateway, with its own right key, cannot use this gateway's code.
    response = verify(api, OTHER_GATEWAY, world["other_key"], {"unit": 1, "code": code})
    assert response.status_code == 200 and response.get_json() == {"valid": False}
    # The other gateway's key on this gateway's URL: not authenticated.
    response = verify(api, GATEWAY, world["other_key"], {"unit": 1, "code": code})
    assert response.status_code == 401
    assert verify(api, GATEWAY, "wrong", {"unit": 1, "code": code}).status_code == 401
    no_key = api.post(f"/api/v1/gateways/{GATEWAY}/unlock-codes/verify",
                      json={"unit": 1, "code": code})
    assert no_key.status_code == 401
    # After all that, the code is still good once.
    assert verify(api, GATEWAY, world["key"], {"unit": 1, "code": code}).get_json() == {
        "valid": True}


@pytest.mark.parametrize("body", [
    "", "not json", "[]", "null", '{"unit": 1}', '{"code": "AAAAA-AAAAA"}',
    '{"unit": "1", "code": "AAAAA-AAAAA"}', '{"unit": true, "code": "AAAAA-AAAAA"}',
    '{"unit": 1.5, "code": "AAAAA-AAAAA"}', '{"unit": 0, "code": "AAAAA-AAAAA"}',
    '{"unit": 1, "code": 12345}', '{"unit": 1, "code": ""}',
    '{"unit": 1, "code": "' + "A" * 41 + '"}', "[" * 3000,
])
def test_malformed_requests_are_400(world, app, body):
    response = verify(app.test_client(), GATEWAY, world["key"], body)
    assert response.status_code == 400
    assert response.get_json()["error"] == "malformed_request"


def test_a_huge_body_is_413_and_verifies_nothing(world, app):
    code = code_in(request_code(world["clients"]["linked"]))
    body = json.dumps({"unit": 1, "code": code, "pad": "x" * 100_000})
    assert verify(app.test_client(), GATEWAY, world["key"], body).status_code == 413
    assert rows()[0].used_at is None


def test_a_retired_or_unregistered_gateway_is_403(world, app):
    api = app.test_client()
    gateway = db.session.scalar(select(Gateway).where(Gateway.gateway_id == GATEWAY))
    for status, error in ((GatewayStatus.RETIRED, "gateway_retired"),
                          (GatewayStatus.UNREGISTERED, "gateway_not_registered")):
        gateway.status = status
        db.session.commit()
        response = verify(api, GATEWAY, world["key"], {"unit": 1, "code": "AAAAA-AAAAA"})
        assert response.status_code == 403 and response.get_json()["error"] == error


def test_two_verifications_at_once_succeed_once(world, app):
    code = code_in(request_code(world["clients"]["linked"]))
    key = world["key"]
    db.session.commit()

    def one(_n):
        return verify(app.test_client(), GATEWAY, key,
                      {"unit": 1, "code": code}).get_json()["valid"]

    with ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(one, range(6)))
    assert sorted(outcomes) == [False] * 5 + [True]
    assert len(audit_rows(unlock.USED)) == 1


# -- the dealer console ----------------------------------------------------------------------
def test_the_dealer_console_links_to_the_unlock_page_for_the_gateway(world):
    html = world["clients"]["linked"].get(f"/dealers/gateways/{GATEWAY}").get_data(as_text=True)
    assert "設定ロック解除コード" in html
    assert f'href="/support/unlock-codes?gateway={GATEWAY}"' in html


def test_the_history_runs_the_same_statements_however_many_codes(world):
    client = world["clients"]["linked"]
    request_code(client)
    with_one = client.get("/support/unlock-codes")
    with statements() as few:
        client.get("/support/unlock-codes")
    for _ in range(6):
        request_code(client)
    with statements() as many:
        html = client.get("/support/unlock-codes").get_data(as_text=True)
    assert html.count("<tr>") == 1 + 7 and with_one.status_code == 200
    assert len(many) == len(few)


def test_self_help_offers_the_unlock_codes_to_dealers_only(world):
    clients = world["clients"]
    for role in ("linked", "employee", "unlinked"):
        for path in ("/support/", "/support/search"):
            html = clients[role].get(path).get_data(as_text=True)
            assert 'id="unlock-link"' in html and 'href="/support/unlock-codes"' in html, role
    for role in ("owner", "staff"):
        for path in ("/support/", "/support/search"):
            html = clients[role].get(path).get_data(as_text=True)
            assert 'id="unlock-link"' not in html and "/support/unlock-codes" not in html, role


def test_the_history_and_the_count_stay_with_the_company_when_the_issuer_leaves(world):
    """Codes belong to the dealer company they were issued to: after the employee who
    asked leaves (or deletes the ID), they are still in the company's history and still
    count against its day."""
    assert request_code(world["clients"]["employee"]).status_code == 200
    employee = db.session.scalar(select(Account).where(Account.email == EMPLOYEE))
    employee.company_id, employee.company_role = None, None
    db.session.commit()
    history = world["clients"]["linked"].get("/support/unlock-codes").get_data(as_text=True)
    assert "鈴木 一郎" in history and GATEWAY in history
    [row] = rows()
    assert row.dealer_id == db.session.scalar(select(Dealer.id).where(
        Dealer.company_id == db.session.scalar(select(Account.company_id).where(
            Account.email == "admin1@dealer1.example"))))
