"""Remote settings of the storage system (遠隔設定, issue 13, checklist 002-43): the owner
and every linked dealer employee change them on the monitoring page's 設定 tab; each
change is a new version (history, audit, the owner mailed when a dealer made it); a form
based on an older version changes nothing; bad input is a 422 with the typed values kept;
the timeout alert opens and ends with its mails; the simulator obeys the settings."""
from __future__ import annotations

import random
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import func, select

from blueprints.dealers.services import LinkResult, link_dealer
from blueprints.monitoring import settings, simulator
from models import db, utcnow
from models.account import Account, AccountType, CompanyRole
from models.audit import AuditEvent
from models.remote import GatewaySettings
from models.telemetry import GatewayAlert
from tests.conftest import csrf_from
from tests.flows.test_dealer_links import _password_hash, make_dealer, make_owner
from tests.flows.test_gateway_api import GATEWAY_ID, reporting_gateway
from tests.helpers import HX, login, outbox, statements

PAGE = f"/monitoring/gateways/{GATEWAY_ID}/settings"
OWNER = "owner@example.com"
DEALER_ADMIN = "admin1@dealer1.example"
EMPLOYEE = "member@dealer1.example"
CONTACT = "maint1@dealer1.example"
FORM = {"operation_mode": "economy", "charge_start": "23:00", "charge_end": "07:00",
        "discharge_floor": "30", "sell_when_discharging": "no", "islanding": "auto"}


def linked_world():
    """The owner's reporting gateway, linked to dealer 1 (admin, one more employee and a
    maintenance contact); dealer 2 not linked; another owner. Returns (owner, gateway, key)."""
    owner = make_owner(OWNER)
    make_owner("other@example.com", "佐藤", "次郎")
    gateway, key = reporting_gateway(owner)
    dealer = make_dealer(1, contacts=[CONTACT])
    assert link_dealer(owner, gateway, dealer.dealer_code, dealer.phone) is LinkResult.LINKED
    make_dealer(2)
    now = utcnow()
    db.session.add(Account(email=EMPLOYEE, password_hash=_password_hash(), family_name="鈴木",
                           given_name="一郎", account_type=AccountType.COMMERCIAL,
                           company_id=dealer.company_id, company_role=CompanyRole.MEMBER,
                           activated_at=now, terms_accepted_at=now, privacy_accepted_at=now))
    db.session.commit()
    return owner, gateway, key


def signed_in(app, email: str):
    client = app.test_client()
    assert login(client, email).status_code == 303
    return client


def save(client, base: int | None = None, htmx: bool = False, **changes):
    page = client.get(PAGE).get_data(as_text=True)
    data = {**FORM, **changes, "csrf_token": csrf_from(page)}
    data["base_version"] = str(base) if base is not None else re.search(
        r'name="base_version"[^>]*value="(\d+)"', page).group(1)
    return client.post(PAGE, data=data, headers=HX if htmx else None)


def versions(gateway) -> list[GatewaySettings]:
    db.session.expire_all()
    return list(db.session.scalars(select(GatewaySettings).where(
        GatewaySettings.gateway_id == gateway.id).order_by(GatewaySettings.version)))


def text(response) -> str:
    return response.get_data(as_text=True)


# -- the page and versions -------------------------------------------------------------------
def test_the_owner_changes_a_setting_and_sees_it_waiting_with_its_history(app):
    owner, gateway, _key = linked_world()
    client = signed_in(app, OWNER)
    page = text(client.get(PAGE))
    assert "工場出荷時の設定" in page and "運転モード" in page and "10〜90%" in page
    assert 'aria-current="page">設定' in page  # the tab
    assert "設定" in text(client.get(f"/monitoring/gateways/{GATEWAY_ID}/monitor"))
    response = save(client)
    assert response.status_code == 303 and response.location.endswith(PAGE)
    rows = versions(gateway)
    assert [r.version for r in rows] == [1, 2]
    assert (rows[1].operation_mode, rows[1].charge_start, rows[1].charge_end,
            rows[1].discharge_floor, rows[1].changed_by_id, rows[1].dealer_id) == (
        "economy", 23 * 60, 7 * 60, 30, owner.id, None)
    page = text(client.get(PAGE))
    assert "反映待ち" in page
    assert "運転モード: 環境優先（自家消費） → 経済優先" in page
    assert "充電開始時刻: 00:00 → 23:00" in page and "山田 太郎" in page
    event = db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "gateway.settings_changed"))
    assert event.gateway_id == GATEWAY_ID and event.actor_id == owner.id
    assert event.detail["changes"]["discharge_floor"] == [10, 30]
    assert outbox(OWNER, "settings_changed") == []  # the owner made it: no mail
    # The same values again make no version.
    assert save(client).status_code == 303 and len(versions(gateway)) == 2


def test_a_linked_dealers_employee_changes_them_and_the_owner_is_mailed(app):
    _owner, gateway, _key = linked_world()
    client = signed_in(app, EMPLOYEE)
    assert save(client, discharge_floor="50").status_code == 303
    newest = versions(gateway)[-1]
    assert newest.dealer_id is not None and newest.discharge_floor == 50
    [mail] = outbox(OWNER, "settings_changed")
    assert "販売店1株式会社" in mail.text_body and "鈴木 一郎" in mail.text_body
    assert "放電下限の蓄電残量: 10% → 50%" in mail.text_body
    assert f"/monitoring/gateways/{GATEWAY_ID}/settings" in mail.text_body
    assert outbox(CONTACT, "settings_changed") == []
    owner_page = text(signed_in(app, OWNER).get(PAGE))
    assert "販売店1株式会社 鈴木 一郎" in owner_page


def test_a_form_based_on_an_older_version_changes_nothing_and_shows_the_new_values(app):
    _owner, gateway, _key = linked_world()
    owner = signed_in(app, OWNER)
    stale_page = text(owner.get(PAGE))
    token = csrf_from(stale_page)
    assert save(signed_in(app, DEALER_ADMIN), discharge_floor="60").status_code == 303
    response = owner.post(PAGE, data={**FORM, "discharge_floor": "20", "base_version": "1",
                                      "csrf_token": token})
    assert response.status_code == 422
    page = text(response)
    assert "ほかの方が設定を変更しました" in page
    assert 'value="60"' in page and 'value="2"' in page  # the new values and base
    assert "放電下限の蓄電残量: 最新 60% ／ あなたの入力 20%" in page
    assert [r.version for r in versions(gateway)] == [1, 2]
    # htmx: the form alone, swapped in place (422).
    response = owner.post(PAGE, data={**FORM, "base_version": "1", "csrf_token": token},
                          headers=HX)
    assert response.status_code == 422 and "<html" not in text(response)
    assert "ほかの方が設定を変更しました" in text(response)
    # A missing or tampered base is stale too, never a 500.
    for base in ("", "abc", "\x00", "9" * 40):
        response = owner.post(PAGE, data={**FORM, "base_version": base, "csrf_token": token})
        assert response.status_code == 422
    assert len(versions(gateway)) == 2


def test_two_saves_of_the_same_base_make_one_version(make_app):
    app = make_app(RATELIMIT_ENABLED=False)
    with app.app_context():
        _owner, gateway, _key = linked_world()
        gateway_pk = gateway.id
        clients = [signed_in(app, OWNER), signed_in(app, DEALER_ADMIN),
                   signed_in(app, EMPLOYEE), signed_in(app, OWNER)]
        tokens = [csrf_from(text(c.get(PAGE))) for c in clients]

    def one(i: int) -> int:
        return clients[i].post(PAGE, data={**FORM, "discharge_floor": str(20 + i * 10),
                                           "base_version": "1",
                                           "csrf_token": tokens[i]}).status_code

    with ThreadPoolExecutor(len(clients)) as pool:
        codes = sorted(pool.map(one, range(len(clients))))
    assert codes == [303, 422, 422, 422]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(GatewaySettings).where(
            GatewaySettings.gateway_id == gateway_pk)) == 2


def test_bad_input_is_a_message_next_to_the_field_with_the_typed_value_kept(app):
    _owner, gateway, _key = linked_world()
    client = signed_in(app, OWNER)
    cases = [
        ({"discharge_floor": "95"}, "10から90までの半角数字"),
        ({"discharge_floor": "5"}, "10から90までの半角数字"),
        ({"discharge_floor": "3\x000"}, "制御文字"),
        ({"discharge_floor": "1" * 5000}, "10から90までの半角数字"),
        ({"discharge_floor": ""}, "入力してください"),
        ({"charge_start": "07:15"}, "30分単位の時刻"),
        ({"charge_end": "25:00"}, "30分単位の時刻"),
        ({"charge_end": "\x00"}, "制御文字"),
        ({"operation_mode": "turbo"}, "一覧から選択してください"),
        ({"sell_when_discharging": ""}, "選択してください"),
        ({"islanding": "x" * 3000}, "一覧から選択してください"),
    ]
    for changes, message in cases:
        response = save(client, **changes)
        assert response.status_code == 422, changes
        assert message in text(response), changes
    response = save(client, discharge_floor="95", htmx=True)
    assert response.status_code == 422 and 'value="95"' in text(response)
    assert "<html" not in text(response)
    assert len(versions(gateway)) == 1
    # Full-width digits and colon are what a Japanese keyboard types: accepted.
    assert save(client, discharge_floor="４５", charge_start="２２：３０").status_code == 303
    newest = versions(gateway)[-1]
    assert (newest.discharge_floor, newest.charge_start) == (45, 22 * 60 + 30)
    # Without the CSRF token nothing is saved.
    response = client.post(PAGE, data={**FORM, "base_version": "2"})
    assert response.status_code == 400 and len(versions(gateway)) == 2


def test_who_may_open_and_change_the_settings(app):
    _owner, gateway, _key = linked_world()
    make_owner("staff@example.com", "高橋", "美咲")
    from blueprints.core.staff import ADMIN
    from tests.helpers import make_staff
    make_staff(db.session.scalar(select(Account).where(Account.email == "staff@example.com")),
               ADMIN)
    expected = {OWNER: 200, DEALER_ADMIN: 200, EMPLOYEE: 200, "admin2@dealer2.example": 404,
                "other@example.com": 404, "staff@example.com": 404}
    for email, status in expected.items():
        client = signed_in(app, email)
        assert client.get(PAGE).status_code == status, email
        if status == 404:
            token = csrf_from(text(client.get("/account/access")))
            response = client.post(PAGE, data={**FORM, "base_version": "1",
                                               "csrf_token": token})
            assert response.status_code == 404, email
    assert app.test_client().get(PAGE).status_code == 302
    assert len(versions(gateway)) == 1  # nobody outside changed anything


def test_the_page_costs_the_same_with_one_or_ten_versions(app):
    _owner, gateway, _key = linked_world()
    client = signed_in(app, OWNER)
    client.get(PAGE)
    with statements() as few:
        assert client.get(PAGE).status_code == 200
    for n in range(9):
        assert save(client, discharge_floor=str(20 + n)).status_code == 303
    with statements() as many:
        assert client.get(PAGE).status_code == 200
    assert len(versions(gateway)) == 10
    assert len(many) == len(few)


def test_the_history_is_paged(app):
    _owner, gateway, _key = linked_world()
    app.config["SETTINGS_HISTORY_PER_PAGE"] = 3
    client = signed_in(app, OWNER)
    for n in range(4):
        assert save(client, discharge_floor=str(20 + n)).status_code == 303
    first = text(client.get(PAGE))
    assert "1 / 2 ページ（全5件）" in first and "22% → 23%" in first
    second = text(client.get(PAGE + "?page=2"))
    assert "工場出荷時の設定" in second and "22% → 23%" not in second
    assert client.get(PAGE + "?page=%00").status_code == 200


def test_a_proxy_login_sees_the_settings_read_only(app):
    owner, gateway, _key = linked_world()
    from models.club import LoginPermission, PermissionState
    from models.gateway import Dealer
    dealer = db.session.scalar(select(Dealer).where(Dealer.dealer_code.is_not(None))
                               .order_by(Dealer.id))
    db.session.add(LoginPermission(owner_id=owner.id, email=DEALER_ADMIN, dealer_id=dealer.id,
                                   state=PermissionState.APPROVED, decided_at=utcnow()))
    db.session.commit()
    acting = signed_in(app, DEALER_ADMIN)
    url = f"/club/dealer/users/{owner.customer_number}/proxy"
    token = csrf_from(text(acting.get(url)))
    assert acting.post(url, data={"reason": "設定の確認", "csrf_token": token}).status_code == 303
    page = text(acting.get(PAGE))
    assert "代理ログイン中は設定を変更できません" in page and 'name="base_version"' not in page
    response = acting.post(PAGE, data={**FORM, "base_version": "1", "csrf_token": token})
    assert response.status_code in (400, 403)
    response = acting.post(PAGE, data={**FORM, "base_version": "1",
                                       "csrf_token": csrf_from(text(acting.get("/account/access")))})
    assert response.status_code == 403
    assert len(versions(gateway)) == 1


# -- the timeout alert ---------------------------------------------------------------------
def test_an_unapplied_version_opens_an_alert_that_the_acknowledgement_ends(smtp_app, smtp):
    from tests.flows.test_alerts import new_mail
    _owner, gateway, key = linked_world()
    new_mail(smtp)
    assert save(signed_in(smtp_app, OWNER)).status_code == 303
    assert settings.check_unapplied(utcnow() + timedelta(minutes=29)) == []
    newest = versions(gateway)[-1]
    newest.created_at = utcnow() - timedelta(minutes=31)  # saved 31 minutes ago
    db.session.commit()
    assert settings.check_unapplied() == [GATEWAY_ID]
    assert settings.check_unapplied() == []  # one incident
    subject = f"【Enelink】設定がゲートウェイに反映されていません（{GATEWAY_ID}）"
    arrived = [m for m in new_mail(smtp) if "設定" in m["Subject"]]
    assert sorted(m["To"] for m in arrived) == [CONTACT, OWNER]
    assert all(m["Subject"] == subject for m in arrived)
    assert "30分以上たってもゲートウェイに反映されていません" in smtp.text_of(arrived[0])
    page = text(signed_in(smtp_app, OWNER).get(PAGE))
    assert "反映されていません" in page
    client = smtp_app.test_client()
    auth = {"Authorization": f"Bearer {key}"}
    assert client.get(f"/api/v1/gateways/{GATEWAY_ID}/settings", headers=auth).status_code == 200
    response = client.post(f"/api/v1/gateways/{GATEWAY_ID}/settings/ack", json={"version": 2},
                           headers=auth)
    assert response.status_code == 200
    db.session.expire_all()
    alert = db.session.scalar(select(GatewayAlert).where(GatewayAlert.kind == "unapplied"))
    assert alert.ended_at is not None and alert.ended_by == "recovered"
    recovered = [m for m in new_mail(smtp) if "設定" in m["Subject"]]
    assert sorted(m["To"] for m in recovered) == [CONTACT, OWNER]
    assert all(m["Subject"] == f"【Enelink】設定がゲートウェイに反映されました（{GATEWAY_ID}）"
               for m in recovered)
    assert "反映済み" in text(signed_in(smtp_app, OWNER).get(PAGE))
    # The gateway lists do not show a settings alert as a gateway state.
    from blueprints.monitoring import energy
    assert energy.list_states([gateway])[gateway.id] in ("normal", "none", "silent")


# -- the simulator obeys the settings ------------------------------------------------------
def test_the_battery_obeys_any_settings(app):
    """A property over random settings and slots: no charging outside the window, no
    discharge below the floor, no selling from the battery when it is off, no discharge
    in 安心 mode, and the balance of power holds."""
    rng = random.Random(13)
    for _ in range(4000):
        control = simulator.Control(
            mode=rng.choice(list(settings.MODES)),
            charge_start=rng.randrange(0, 1440, 30), charge_end=rng.randrange(0, 1440, 30),
            floor=rng.randint(settings.FLOOR_MIN, settings.FLOOR_MAX),
            sell=rng.random() < 0.5)
        minute = rng.randrange(0, 1440, 5)
        pv, load = rng.choice([0, rng.randint(0, 7000)]), rng.randint(100, 6000)
        soc = rng.randint(0, 100)
        flows = simulator.battery_step(pv, load, soc, rng.random(), control, minute)
        if not control.in_window(minute):
            assert flows.charge == 0, (control, minute)
        if flows.discharge:
            assert flows.soc >= control.floor and soc > control.floor
            assert control.mode != "backup"
            if not control.sell:
                assert flows.sell == 0 and flows.discharge <= max(0, load - pv)
        assert flows.pv + flows.buy + flows.discharge == flows.load + flows.sell + flows.charge
        assert not (flows.charge and flows.discharge)


def test_a_simulated_gateway_fetches_runs_by_and_acknowledges_the_settings(app):
    owner, gateway, _key = linked_world()
    gateway.registered_at = utcnow() - timedelta(days=2)
    db.session.commit()
    client = signed_in(app, OWNER)
    # 経済優先, charging 01:00–05:00 only, never selling from the battery.
    assert save(client, charge_start="01:00", charge_end="05:00").status_code == 303
    assert "反映待ち" in text(client.get(PAGE))
    result = simulator.feed(gateway, days=2)
    assert result.accepted > 0
    newest = versions(gateway)[-1]
    assert newest.delivered_at is not None and newest.acked_at is not None
    assert "反映済み" in text(client.get(PAGE))
    from models.telemetry import Reading
    for reading in db.session.scalars(select(Reading).where(Reading.gateway_id == gateway.id)):
        minute = simulator.slot_index(reading.ts) * 5
        if not 60 <= minute < 300:
            assert reading.battery_state != "charging", reading.ts


# -- hand-over and personal data -------------------------------------------------------------
def test_after_a_hand_over_the_next_owner_keeps_the_values_but_not_the_history(app):
    from blueprints.monitoring.personal_data import monitoring_tables
    owner, gateway, _key = linked_world()
    client = signed_in(app, OWNER)
    assert save(client, discharge_floor="40").status_code == 303
    assert save(client, discharge_floor="50").status_code == 303
    exported = list(monitoring_tables(owner)["settings"].rows)
    assert [(r["version"], r["discharge_floor"], r["made_by_you"]) for r in exported] == [
        (1, 10, False), (2, 40, True), (3, 50, True)]
    # The gateway changes hands (what gateways/handover.py does to it).
    successor = db.session.scalar(select(Account).where(Account.email == "other@example.com"))
    gateway.owner_id = successor.id
    gateway.history_from = utcnow()
    db.session.commit()
    page = text(signed_in(app, "other@example.com").get(PAGE))
    assert 'value="50"' in page  # the current values stay
    history = page.split("変更履歴", 1)[1]
    assert "譲渡前の設定" in history  # the current version, but not who made it or how
    assert "% → " not in history and "山田 太郎" not in history
    assert list(monitoring_tables(successor)["settings"].rows) == []
    # The previous owner keeps what it made, in its own archive.
    assert [r["version"] for r in monitoring_tables(owner)["settings"].rows] == [2, 3]
