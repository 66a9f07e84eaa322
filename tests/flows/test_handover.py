"""ゲートウェイの譲渡: the owner hands a gateway over with the house. The new slip password
is shown once and mailed (real SMTP), the dealers and programme parties are told, the next
owner registers with the new slip and sees nothing of the earlier history (readings,
energy, alerts, CSV), the previous owner keeps exactly their rows as CSV; blockers (open
case, running proxy login), wrong passwords, double and concurrent submits, other
people's gateways and proxy logins change nothing."""
from __future__ import annotations

import csv
import io
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from blueprints.dealers.services import become_dealer, link_dealer
from blueprints.gateways import handover as handover_service
from blueprints.gateways.slips import new_gateway
from blueprints.monitoring import telemetry
from blueprints.monitoring.telemetry import local_day
from mail.relay import deliver_pending
from models import db, utcnow
from models.account import Account
from models.audit import AuditEvent
from models.club import LoginPermission, PermissionState, ProxySession
from models.eco import EcoMembership
from models.gateway import DealerLink, Gateway, GatewayStatus
from models.points import PointsMember
from models.telemetry import GatewayAlert, Reading
from models.trust import GatewayHandover
from tests.conftest import SmtpServer, csrf_from
from tests.flows.test_dealer_links import make_company, make_owner
from tests.helpers import PASSWORD, login, outbox, reading, slot_end

GATEWAY = "01AB12345678"
OLD_SLIP = "abc23456789x"
URL = f"/monitoring/gateways/{GATEWAY}/handover"
OWNER = "owner@example.com"
NEXT = "next@example.com"
MAINT = "maint1@dealer1.example"
BEFORE_PV, AFTER_PV = 9.9, 1.1
N_BEFORE, N_AFTER = 12, 6


# -- the world ------------------------------------------------------------------------------
def _gateway() -> Gateway:
    db.session.expire_all()
    return db.session.scalar(select(Gateway).where(Gateway.gateway_id == GATEWAY))


def _count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def make_world():
    owner = make_owner(OWNER)
    gateway = new_gateway(GATEWAY, OLD_SLIP, "GW-M001", ["A1B2C3D4", "E5F6G7H8"])
    gateway.status = GatewayStatus.ACTIVE
    gateway.owner_id = owner.id
    gateway.site_name = "山田様邸"
    gateway.postal_code, gateway.prefecture = "5410055", "大阪府"
    gateway.city, gateway.street = "大阪市中央区", "船場中央1-4-5"
    gateway.registered_at = utcnow() - timedelta(days=30)
    db.session.commit()
    dealer = become_dealer(make_company(1), "0312345678", [MAINT])
    assert link_dealer(owner, gateway, dealer.dealer_code, "0312345678").name == "LINKED"
    eco = EcoMembership(gateway_id=gateway.id, account_id=owner.id, gateway_code=GATEWAY,
                        pcs_serial="A1B2C3D4")
    db.session.add(eco)
    db.session.flush()
    db.session.add(PointsMember(account_id=owner.id, gateway_id=gateway.id,
                                eco_membership_id=eco.id, service="monitoring",
                                terms_accepted_at=utcnow(), privacy_accepted_at=utcnow()))
    db.session.add(LoginPermission(owner_id=owner.id, email="admin1@dealer1.example",
                                   dealer_id=dealer.id, state=PermissionState.APPROVED,
                                   decided_at=utcnow()))
    db.session.commit()
    return owner, gateway, dealer


@pytest.fixture
def world(app):
    return make_world()


def signed_in(app, email=OWNER):
    client = app.test_client()
    assert login(client, email).status_code == 303
    return client


def post_handover(client, password=PASSWORD, confirm="y", token=None):
    if token is None:
        token = csrf_from(client.get(URL).get_data(as_text=True))
    data = {"csrf_token": token, "password": password}
    if confirm:
        data["confirm"] = confirm
    return client.post(URL, data=data)


def slip_password_of(response) -> str:
    match = re.search(r'id="handover-slip-password">([a-z0-9]+)<', response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)
    return match.group(1)


def feed(readings, now=None):
    result = telemetry.ingest(_gateway(), readings, now=now)
    assert not result.rejected, result.rejected
    assert result.accepted == len(readings)


def unchanged(owner) -> None:
    gateway = _gateway()
    assert gateway.owner_id == owner.id and gateway.status == GatewayStatus.ACTIVE
    assert gateway.history_from is None and gateway.site_name == "山田様邸"
    assert _count(GatewayHandover) == 0 and _count(DealerLink) == 1
    assert outbox(kind="gateway_handover") == []


# -- the confirmation page ---------------------------------------------------------------------
def test_the_page_says_what_happens_and_the_detail_page_offers_it(world, app):
    client = signed_in(app)
    assert URL in client.get(f"/monitoring/gateways/{GATEWAY}").get_data(as_text=True)
    page = client.get(URL)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for text in (GATEWAY, "山田様邸", "新しいゲートウェイパスワード", "販売店1株式会社",
                 "表示されません", "現在のパスワード", "譲渡する", "エコ活"):
        assert text in html, text
    assert "現在は譲渡できません" not in html


# -- end to end ----------------------------------------------------------------------------------
def test_hand_over_end_to_end(world, app, monkeypatch):
    owner, gateway, dealer = world
    registered_at, api_key_hash = gateway.registered_at, gateway.api_key_hash
    handed_at = slot_end(N_AFTER * 5) + timedelta(minutes=2)  # between the two runs
    before = [reading(slot_end(N_AFTER * 5 + 5 * i), pv_kw=BEFORE_PV) for i in range(N_BEFORE)]
    # The newest reading before the hand-over reports an error: an alert is open.
    before[0] = reading(slot_end(N_AFTER * 5), pv_kw=BEFORE_PV, units=[
        {"unit": 1, "status": "error", "error_code": "E901"},
        {"unit": 2, "status": "normal", "error_code": None}])
    feed(before)
    assert _count(GatewayAlert, GatewayAlert.ended_at.is_(None)) == 1
    owner_client = signed_in(app)
    assert "E901" in owner_client.get(f"/monitoring/gateways/{GATEWAY}/monitor").get_data(
        as_text=True)

    monkeypatch.setattr(handover_service, "utcnow", lambda: handed_at)
    done = post_handover(owner_client)
    monkeypatch.undo()
    assert done.status_code == 200
    assert "no-store" in done.headers["Cache-Control"]
    html = done.get_data(as_text=True)
    new_slip = slip_password_of(done)
    assert GATEWAY in html and "伝票を印刷" in html and new_slip != OLD_SLIP
    # Shown once: the page is the POST's response; reloading the form shows no password.
    assert owner_client.get(URL).status_code == 404
    assert new_slip not in owner_client.get("/monitoring/").get_data(as_text=True)

    handed = _gateway()
    assert handed.status == GatewayStatus.UNREGISTERED and handed.owner_id is None
    assert handed.site_name is None and handed.registered_at is None
    assert handed.history_from == handed_at and handed.api_key_hash == api_key_hash
    assert len(handed.units) == 2
    assert _count(Reading) == N_BEFORE  # the readings stay
    assert _count(DealerLink) == 0
    record = db.session.scalars(select(GatewayHandover)).one()
    assert (record.previous_owner_id, record.site_name) == (owner.id, "山田様邸")
    assert record.owned_from == registered_at and record.handed_over_at == handed_at
    # The open alert ended; the programmes and permissions of the gateway ended.
    alert = db.session.scalars(select(GatewayAlert)).one()
    assert alert.ended_at == handed_at and alert.ended_by == "handed_over"
    eco = db.session.scalars(select(EcoMembership)).one()
    assert eco.ended_at == handed_at and eco.end_reason == "released"
    assert db.session.scalars(select(PointsMember)).one().gateway_id is None
    assert db.session.scalars(select(LoginPermission)).one().state == PermissionState.WITHDRAWN
    # The parties are told: the owner (slip), the dealer, the eco member.
    [slip_mail] = outbox(OWNER, "gateway_handover")
    assert GATEWAY in slip_mail.text_body and new_slip in slip_mail.text_body
    assert new_slip in slip_mail.html_body and "住宅と一緒に" in slip_mail.text_body
    [dealer_mail] = outbox(MAINT, "dealer_unlinked")
    assert GATEWAY in dealer_mail.text_body
    assert len(outbox(OWNER, "eco_cancelled")) == 1
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "gateway.handover"))
    assert audit.gateway_id == GATEWAY and audit.actor_id == owner.id

    # The previous owner no longer sees the gateway, but lists the hand-over with its CSV.
    assert owner_client.get(f"/monitoring/gateways/{GATEWAY}/monitor").status_code == 404
    assert "/monitoring/handovers" in owner_client.get("/monitoring/").get_data(as_text=True)
    listing = owner_client.get("/monitoring/handovers").get_data(as_text=True)
    csv_url = f"/monitoring/handovers/{record.id}.csv"
    assert GATEWAY in listing and "山田様邸" in listing and csv_url in listing
    previous_csv = owner_client.get(csv_url, buffered=True)
    assert previous_csv.status_code == 200 and previous_csv.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(previous_csv.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:2] == ["日時", "発電(kW)"] and len(rows[0]) == 9
    assert len(rows) == 1 + N_BEFORE and {row[1] for row in rows[1:]} == {"9.900"}
    expected = sorted(r["timestamp"][:16].replace("T", " ") for r in before)
    assert [row[0] for row in rows[1:]] == expected

    # The old slip no longer works; the new one registers the gateway for the next owner.
    make_owner(NEXT, "佐藤", "次郎")
    next_client = signed_in(app, NEXT)
    add = {"gateway_id": GATEWAY, "site_name": "佐藤様邸",
           "site_address-postal_code": "1000001", "site_address-prefecture": "東京都",
           "site_address-city": "千代田区", "site_address-street": "千代田1-1",
           "site_address-building": "", "accept_monitoring_terms": "y"}
    token = csrf_from(next_client.get("/monitoring/gateways/add").get_data(as_text=True))
    refused = next_client.post("/monitoring/gateways/add",
                               data={**add, "gateway_password": OLD_SLIP, "csrf_token": token})
    assert refused.status_code == 422 and _gateway().owner_id is None
    added = next_client.post("/monitoring/gateways/add",
                             data={**add, "gateway_password": new_slip, "csrf_token": token})
    assert added.status_code == 303
    next_owner = db.session.scalar(select(Account).where(Account.email == NEXT))
    assert _gateway().owner_id == next_owner.id

    # Before any new reading: nothing at all (no earlier values, no alert, no CSV rows).
    monitor = f"/monitoring/gateways/{GATEWAY}/monitor"
    page = next_client.get(monitor).get_data(as_text=True)
    assert "E901" not in page and "9.9" not in page
    menu = next_client.get("/monitoring/").get_data(as_text=True)
    assert "異常" not in menu
    assert owner_client.get("/monitoring/handovers").status_code == 200

    after = [reading(slot_end(5 * i), pv_kw=AFTER_PV) for i in range(N_AFTER)]
    feed(after)
    days = sorted({local_day(slot_end(5 * i)) for i in range(N_AFTER + N_BEFORE)})
    for day in days:
        text = next_client.get(f"{monitor}.csv?period=day&date={day.isoformat()}").get_data(
            as_text=True)
        assert "9.900" not in text
        day_rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))[1:]
        assert {row[1] for row in day_rows} <= {"1.100"}
    shown = sum(len(list(csv.reader(io.StringIO(next_client.get(
        f"{monitor}.csv?period=day&date={day.isoformat()}").get_data(as_text=True)))))
                - 1 for day in days)
    assert shown == N_AFTER
    # The rollups (month and year) count only the readings after the hand-over.
    after_kwh = N_AFTER * AFTER_PV * 5 / 60
    months = sorted({day.replace(day=1) for day in days})
    year_total = 0.0
    for year in sorted({month.year for month in months}):
        text = next_client.get(f"{monitor}.csv?period=year&date={year}").get_data(as_text=True)
        year_total += sum(float(row[1]) for row in
                          list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))[1:])
    assert year_total == pytest.approx(after_kwh, abs=0.002)
    month_total = 0.0
    for month in months:
        text = next_client.get(f"{monitor}.csv?period=month&date={month:%Y-%m}").get_data(
            as_text=True)
        month_total += sum(float(row[1]) for row in
                           list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))[1:])
    assert month_total == pytest.approx(after_kwh, abs=0.002)
    page = next_client.get(monitor).get_data(as_text=True)
    assert "E901" not in page
    # The previous owner's CSV still has exactly their rows.
    again = owner_client.get(csv_url, buffered=True).get_data(as_text=True)
    assert again == previous_csv.get_data(as_text=True)
    # The next owner does not see the previous owner's hand-over.
    assert next_client.get(csv_url, buffered=True).status_code == 404
    assert GATEWAY not in next_client.get("/monitoring/handovers").get_data(as_text=True)


def test_the_slip_mail_arrives_over_smtp(smtp_app, smtp):
    make_world()
    client = smtp_app.test_client()
    assert login(client, OWNER).status_code == 303
    done = post_handover(client)
    assert done.status_code == 200
    new_slip = slip_password_of(done)
    deliver_pending()
    [message] = [m for m in smtp.to(OWNER) if "ゲートウェイ譲渡のお知らせ" in m["Subject"]]
    text = SmtpServer.text_of(message)
    assert GATEWAY in text and new_slip in text and "住宅と一緒に" in text
    html = message.get_body(preferencelist=("html",)).get_content()
    assert GATEWAY in html and new_slip in html and "ゲートウェイ伝票" in html
    dealer_mails = smtp.to(MAINT)
    assert dealer_mails and GATEWAY in SmtpServer.text_of(dealer_mails[0])


# -- blockers ----------------------------------------------------------------------------------------
def test_an_open_case_blocks_with_409_until_it_is_resolved(world, app):
    owner, gateway, _dealer = world
    from blueprints.support import cases
    cases.ensure_default_categories()
    category = cases.active_categories()[0]
    case, _created = cases.file_case(owner, cases.CaseFields(
        subject="蓄電池が充電しない", body="昨日から", site_name="自宅",
        category_id=category.id, gateway_id=gateway.id), [], None)
    client = signed_in(app)
    page = client.get(URL).get_data(as_text=True)
    assert "現在は譲渡できません" in page and case.number in page
    response = post_handover(client)
    assert response.status_code == 409 and case.number in response.get_data(as_text=True)
    unchanged(owner)
    from models.support import CaseState, SupportCase
    db.session.get(SupportCase, case.id).state = CaseState.RESOLVED
    db.session.commit()
    assert post_handover(client).status_code == 200


def test_a_running_proxy_login_blocks_with_409(world, app):
    owner, _gateway_row, dealer = world
    now = utcnow()
    proxy = ProxySession(owner_id=owner.id, dealer_id=dealer.id, dealer_name="販売店1株式会社",
                         actor_name="鈴木 一郎", reason="設定変更", started_at=now,
                         expires_at=now + timedelta(minutes=30), changes=[])
    db.session.add(proxy)
    db.session.commit()
    client = signed_in(app)
    assert "代理ログインが実行中" in client.get(URL).get_data(as_text=True)
    response = post_handover(client)
    assert response.status_code == 409
    assert "販売店1株式会社" in response.get_data(as_text=True)
    unchanged(owner)
    proxy.ended_at = utcnow()
    db.session.commit()
    assert post_handover(client).status_code == 200


# -- bad input --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("password, confirm, message", [
    ("wrong-password-1", "y", "現在のパスワードが正しくありません"),
    ("", "y", "入力してください"),
    (PASSWORD, None, "譲渡するにはチェックを入れてください"),
    ("x" * 5000, "y", "128文字以内"),
    ("pass\x00word", "y", None),
])
def test_bad_input_is_422_and_changes_nothing(world, app, password, confirm, message):
    owner, _gateway_row, _dealer = world
    client = signed_in(app)
    response = post_handover(client, password=password, confirm=confirm)
    assert response.status_code == 422
    if message:
        assert message in response.get_data(as_text=True)
    unchanged(owner)


def test_without_a_csrf_token_nothing_happens(world, app):
    owner, _gateway_row, _dealer = world
    client = signed_in(app)
    response = client.post(URL, data={"password": PASSWORD, "confirm": "y"})
    assert response.status_code in (400, 403)
    unchanged(owner)


def test_a_double_submit_hands_over_once(world, app):
    owner, _gateway_row, _dealer = world
    client = signed_in(app)
    token = csrf_from(client.get(URL).get_data(as_text=True))
    first = post_handover(client, token=token)
    second = post_handover(client, token=token)
    assert first.status_code == 200
    assert second.status_code == 409 and "すでに譲渡しました" in second.get_data(as_text=True)
    assert slip_password_of(first) not in second.get_data(as_text=True)
    assert _count(GatewayHandover) == 1 and len(outbox(OWNER, "gateway_handover")) == 1


def test_two_posts_at_once_hand_over_once(make_app):
    app = make_app(RATELIMIT_ENABLED=False)
    with app.app_context():
        make_world()
        clients = [signed_in(app) for _ in range(4)]
        tokens = [csrf_from(c.get(URL).get_data(as_text=True)) for c in clients]
    with ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(lambda pair: post_handover(pair[0], token=pair[1]).status_code,
                              zip(clients, tokens)))
    assert sorted(codes) == [200, 409, 409, 409]
    with app.app_context():
        assert _count(GatewayHandover) == 1
        assert len(outbox(OWNER, "gateway_handover")) == 1
        assert len(outbox(MAINT, "dealer_unlinked")) == 1


# -- who may ----------------------------------------------------------------------------------------------
def test_another_owners_unknown_and_retired_gateways_are_404(world, app):
    owner, _gateway_row, _dealer = world
    make_owner("other@example.com", "佐藤", "次郎")
    intruder = signed_in(app, "other@example.com")
    assert intruder.get(URL).status_code == 404
    token = csrf_from(intruder.get("/monitoring/").get_data(as_text=True))
    assert intruder.post(URL, data={"csrf_token": token, "password": PASSWORD,
                                    "confirm": "y"}).status_code == 404
    unchanged(owner)
    client = signed_in(app)
    for gateway_id in ("99ZZ00000000", "x" * 300, "01AB1234567%00"):
        assert client.get(f"/monitoring/gateways/{gateway_id}/handover").status_code == 404
    gateway = _gateway()
    gateway.status = GatewayStatus.RETIRED
    db.session.commit()
    assert client.get(URL).status_code == 404


def test_other_accounts_never_get_a_hand_over_csv(world, app):
    owner, _gateway_row, _dealer = world
    client = signed_in(app)
    assert post_handover(client).status_code == 200
    record_id = db.session.scalar(select(GatewayHandover.id))
    make_owner("other@example.com", "佐藤", "次郎")
    other = signed_in(app, "other@example.com")
    for path in (f"/monitoring/handovers/{record_id}.csv", "/monitoring/handovers/0.csv",
                 "/monitoring/handovers/99999999999999999999.csv",
                 "/monitoring/handovers/abc.csv"):
        assert other.get(path, buffered=True).status_code == 404, path
    assert "/monitoring/handovers" not in other.get("/monitoring/").get_data(as_text=True)
    assert client.get(f"/monitoring/handovers/{record_id}.csv",
                      buffered=True).status_code == 200


def test_deleting_the_previous_owner_deletes_their_hand_overs_not_the_readings(world, app):
    owner, _gateway_row, _dealer = world
    feed([reading(slot_end(10 + 5 * i)) for i in range(3)])
    client = signed_in(app)
    assert post_handover(client).status_code == 200
    from blueprints.account.services import delete_account
    assert delete_account(db.session.get(Account, owner.id), PASSWORD)
    assert _count(GatewayHandover) == 0 and _count(Reading) == 3


def test_refused_while_a_dealer_acts_for_the_owner(world, app):
    from tests.flows.test_club_proxy import acting_client, make_employee, permit

    owner, _gateway_row, dealer = world
    make_employee(dealer.company_id)
    permit(owner, dealer)
    acting = acting_client(app, {"number": owner.customer_number})
    assert acting.get(URL).status_code == 403
    token = csrf_from(acting.get(f"/monitoring/gateways/{GATEWAY}").get_data(as_text=True))
    assert acting.post(URL, data={"csrf_token": token, "password": PASSWORD,
                                  "confirm": "y"}).status_code == 403
    unchanged(owner)


# -- what ends with the gateway, and a second hand-over ---------------------------------------
def test_permissions_end_only_for_dealers_of_this_gateway_when_the_owner_keeps_others(world, app):
    from tests.flows.test_dealer_links import make_dealer, make_gateway

    owner, _gateway_row, dealer = world
    other_dealer = make_dealer(2)
    kept = make_gateway(owner, "02CD87654321", site="別荘")
    assert link_dealer(owner, kept, other_dealer.dealer_code, other_dealer.phone).name == "LINKED"
    db.session.add(LoginPermission(owner_id=owner.id, email="admin2@dealer2.example",
                                   dealer_id=other_dealer.id, state=PermissionState.APPROVED,
                                   decided_at=utcnow()))
    db.session.commit()
    assert post_handover(signed_in(app)).status_code == 200
    db.session.expire_all()
    states = {p.dealer_id: PermissionState(p.state) for p in
              db.session.scalars(select(LoginPermission))}
    assert states == {dealer.id: PermissionState.WITHDRAWN,
                      other_dealer.id: PermissionState.APPROVED}
    assert _count(DealerLink) == 1  # the kept gateway's link stays
    assert outbox("maint2@dealer2.example", "dealer_unlinked") == []


def test_a_second_hand_over_gives_each_owner_only_their_own_period(world, app):
    owner, _gateway_row, _dealer = world
    first_at = slot_end(60) + timedelta(minutes=2)
    second_at = slot_end(30) + timedelta(minutes=2)
    feed([reading(slot_end(60 + 5 * i), pv_kw=2.0) for i in range(3)])
    done = handover_service.hand_over(owner, GATEWAY, PASSWORD, now=first_at)
    assert done.result is handover_service.HandoverResult.HANDED_OVER
    second_owner = make_owner(NEXT, "佐藤", "次郎")
    gateway = _gateway()
    gateway.owner_id, gateway.status = second_owner.id, GatewayStatus.ACTIVE
    gateway.registered_at = first_at + timedelta(minutes=10)
    db.session.commit()
    feed([reading(slot_end(50 - 5 * i), pv_kw=3.0) for i in range(3)])  # 50, 45, 40 min ago
    again = handover_service.hand_over(second_owner, GATEWAY, PASSWORD, now=second_at)
    assert again.result is handover_service.HandoverResult.HANDED_OVER
    db.session.expire_all()
    records = {r.previous_owner_id: r for r in db.session.scalars(select(GatewayHandover))}
    assert records[second_owner.id].owned_from == first_at  # from the hand-over to them
    assert _gateway().history_from == second_at
    with app.test_request_context():
        first_csv = "".join(handover_service.handover_csv_rows(records[owner.id]))
        second_csv = "".join(handover_service.handover_csv_rows(records[second_owner.id]))
    assert first_csv.count("2.000") == 3 and "3.000" not in first_csv
    assert second_csv.count("3.000") == 3 and "2.000" not in second_csv
    # Each lists only their own hand-over.
    assert handover_service.owner_handover(second_owner, records[owner.id].id) is None


def test_the_extra_alert_recipients_end_with_the_hand_over(world, app):
    """The family's addresses were the previous owner's choice: the next owner's alerts
    never reach them."""
    from models.trust import AlertRecipient
    owner, gateway, _dealer = world
    db.session.add(AlertRecipient(gateway_id=gateway.id, owner_id=owner.id,
                                  email="family@example.com", confirmed_at=utcnow()))
    db.session.commit()
    assert post_handover(signed_in(app)).status_code == 200
    assert _count(AlertRecipient) == 0
