"""The points ledger (issue 10): the member's page, the monthly accrual from the rollups,
exchanges (also 20 at once), 退会, pseudonymisation on ID deletion, gateway events,
staff corrections, the staff list and the credit report, the monitoring panel.

Sign-up is another part of the service: members are made here directly in the database,
with an eco membership on their gateway."""
from __future__ import annotations

import csv
import io
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError

from blueprints.core import registry
from blueprints.core.staff import PROGRAMME
from blueprints.points import ledger
from forms.validators import today_in_japan
from mail.relay import deliver_pending
from models import JST, db, utcnow
from models.account import Account
from models.audit import AuditEvent
from models.eco import EcoMembership
from models.mail import OutboxMail
from models.points import EntryKind, PointsEntry, PointsMember
from models.telemetry import MonthlyEnergy
from tests.conftest import csrf_from
from tests.flows.test_dealer_links import make_gateway, make_owner
from tests.helpers import PASSWORD, outbox, statements
from tests.helpers import make_staff as grant_staff
from tests.helpers import login as _login

GATEWAY = "01AB12345678"
MONTH = date(2026, 5, 1)           # a month long over in every test run
WSUM_PER_KWH = 12000               # 5-minute watt-sums per kWh


def login(client, email="owner@example.com"):
    response = _login(client, email)
    assert response.status_code == 303
    return response


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=JST)


def make_member(email="owner@example.com", gateway_id=GATEWAY, joined=None, eco_since=None,
                eco_ended=None, owner=None) -> PointsMember:
    """An owner with a gateway in the eco programme and a points membership."""
    owner = owner or make_owner(email)
    gateway = make_gateway(owner, gateway_id)
    eco = EcoMembership(gateway_id=gateway.id, account_id=owner.id, gateway_code=gateway_id,
                        pcs_serial="PC000001", applied_at=eco_since or at(date(2026, 1, 10)),
                        ended_at=eco_ended)
    db.session.add(eco)
    db.session.flush()
    now = utcnow()
    member = PointsMember(account_id=owner.id, gateway_id=gateway.id, eco_membership_id=eco.id,
                          service="monitoring", terms_accepted_at=now, privacy_accepted_at=now,
                          joined_at=joined or at(date(2026, 1, 20)))
    db.session.add(member)
    db.session.commit()
    return member


def rollup(member_or_gateway_id, month: date, self_wsum: int) -> None:
    gateway_id = getattr(member_or_gateway_id, "gateway_id", member_or_gateway_id)
    db.session.add(MonthlyEnergy(gateway_id=gateway_id, month=month, self_wsum=self_wsum,
                                 slots=100, pv_wsum=self_wsum * 2, load_wsum=self_wsum,
                                 supplied_wsum=0, sell_wsum=self_wsum, buy_wsum=0,
                                 charge_wsum=0, discharge_wsum=0))
    db.session.commit()


def give(member: PointsMember, points: int, note="テスト付与") -> None:
    db.session.add(PointsEntry(member_id=member.id, kind=EntryKind.CORRECTION.value,
                               points=points, note=note))
    db.session.commit()


def entries(member_id: int, kind: EntryKind | None = None) -> list[PointsEntry]:
    db.session.expire_all()
    query = select(PointsEntry).where(PointsEntry.member_id == member_id)
    if kind is not None:
        query = query.where(PointsEntry.kind == kind.value)
    return list(db.session.scalars(query.order_by(PointsEntry.id)))


def make_staff(email="staff@example.com") -> Account:
    staff = make_owner(email, "高橋", "美咲")
    return grant_staff(staff, PROGRAMME)


# -- the monthly accrual -----------------------------------------------------------------
def test_accrual_is_floor_of_kwh_times_factor_and_shown_on_the_page(app, client):
    member = make_member()
    rollup(member, MONTH, 123 * WSUM_PER_KWH + 6000)  # 123.5 kWh
    assert ledger.accrue(MONTH) == 1
    [entry] = entries(member.id, EntryKind.ACCRUAL)
    assert (entry.points, str(entry.kwh), str(entry.factor), entry.month) == (
        123, "123.500", "1.000", MONTH)
    login(client)
    page = client.get("/points/").get_data(as_text=True)
    assert "2026-05" in page and "123.500 kWh × 1.000 = 123" in page
    assert 'id="balance">123<' in page


def test_accrual_uses_the_configured_factor(make_app):
    app = make_app(POINTS_PER_KWH="2.5")
    with app.app_context():
        member = make_member()
        rollup(member, MONTH, 10 * WSUM_PER_KWH + 1)   # 10.000 kWh (+1/12 Wh, cut)
        ledger.accrue(MONTH)
        [entry] = entries(member.id, EntryKind.ACCRUAL)
        assert (entry.points, str(entry.kwh), str(entry.factor)) == (25, "10.000", "2.500")


def test_accrual_twice_adds_nothing(app):
    member = make_member()
    rollup(member, MONTH, 50 * WSUM_PER_KWH)
    assert ledger.accrue(MONTH) == 1
    assert ledger.accrue(MONTH) == 0
    assert [e.points for e in entries(member.id)] == [50]


def test_two_accrual_runs_at_once_add_one_entry_per_member(make_app):
    app = make_app()
    with app.app_context():
        members = [make_member(f"owner{n}@example.com", f"01AB1234567{n}") for n in range(4)]
        for n, member in enumerate(members):
            rollup(member, MONTH, (n + 1) * WSUM_PER_KWH)
        member_ids = [m.id for m in members]

    def run(_):
        with app.app_context():
            return ledger.accrue(MONTH)

    with ThreadPoolExecutor(4) as pool:
        added = list(pool.map(run, range(4)))
    with app.app_context():
        assert sum(added) >= 4  # each run may have seen them all; the database kept one
        assert db.session.scalar(select(func.count()).select_from(PointsEntry)) == 4
        assert sorted(e.points for m in member_ids for e in entries(m)) == [1, 2, 3, 4]


def test_who_earns_in_a_month(app):
    """Joined by the month's end, not left before its start, with an eco membership
    running at some time in the month; no rollup or 0 kWh adds nothing."""
    start, end = MONTH, date(2026, 6, 1)
    cases = {
        "joined_mid_month": dict(joined=at(date(2026, 5, 31), 23)),
        "joined_after": dict(joined=at(end, 0)),
        "eco_ended_mid_month": dict(eco_ended=at(date(2026, 5, 2))),
        "eco_ended_before": dict(eco_ended=at(date(2026, 4, 30), 23)),
        "eco_from_last_day": dict(eco_since=at(date(2026, 5, 31), 23)),
        "eco_after": dict(eco_since=at(end, 0), joined=at(date(2026, 4, 1))),
        "left_mid_month": dict(),
        "left_before": dict(),
        "no_gateway": dict(),
        "zero_kwh": dict(),
        "no_rollup": dict(),
    }
    members = {}
    for n, (name, kwargs) in enumerate(cases.items()):
        members[name] = make_member(f"o{n}@example.com", f"01AB1234{n:04d}", **kwargs)
        if name != "no_rollup":
            rollup(members[name], MONTH, 0 if name == "zero_kwh" else 7 * WSUM_PER_KWH)
    members["left_mid_month"].left_at = at(date(2026, 5, 15))
    members["left_before"].left_at = at(start, 0) - timedelta(seconds=1)
    members["no_gateway"].gateway_id = None
    db.session.commit()
    ledger.accrue(MONTH)
    earned = {name for name, m in members.items() if entries(m.id, EntryKind.ACCRUAL)}
    assert earned == {"joined_mid_month", "eco_ended_mid_month", "eco_from_last_day",
                      "left_mid_month"}


def test_accrual_runs_a_constant_number_of_statements(app):
    def statements_for(count: int, offset: int) -> int:
        months = date(2026, 3 + offset, 1)
        for n in range(count):
            member = make_member(f"m{offset}-{n}@example.com", f"01AB{offset:02d}{n:06d}")
            rollup(member, months, (n + 1) * WSUM_PER_KWH)
        with statements() as seen:
            assert ledger.accrue(months) == count
        return len(seen)

    one = statements_for(1, 0)
    many = statements_for(30, 1)
    assert one == many


def test_cli_accrues_only_finished_months(app, runner):
    member = make_member()
    rollup(member, MONTH, 9 * WSUM_PER_KWH)
    result = runner.invoke(args=["points", "accrue", "--month", "2026-05"])
    assert result.exit_code == 0 and "1 accrual entries added" in result.output
    result = runner.invoke(args=["points", "accrue", "--month", "2026-05"])
    assert "0 accrual entries added" in result.output
    this_month = today_in_japan().strftime("%Y-%m")
    result = runner.invoke(args=["points", "accrue", "--month", this_month])
    assert result.exit_code != 0 and "not over" in result.output
    for bad in ("2026-13", "x", "2026-05\x00"):
        assert runner.invoke(args=["points", "accrue", "--month", bad]).exit_code != 0
    assert runner.invoke(args=["points", "accrue"]).exit_code != 0
    rollup(member, date(2026, 4, 1), 4 * WSUM_PER_KWH)
    result = runner.invoke(args=["points", "accrue", "--history"])
    assert result.exit_code == 0 and "2026-04: 1" in result.output
    assert sorted(e.points for e in entries(member.id)) == [4, 9]


# -- the member's page --------------------------------------------------------------------
def test_a_non_member_is_sent_to_the_sign_up(app, client):
    make_owner()
    login(client)
    response = client.get("/points/")
    assert response.status_code == 303 and response.headers["Location"] == "/points/signup"
    assert client.get("/points/exchange").headers["Location"] == "/points/signup"
    assert client.get("/points/leave").headers["Location"] == "/points/signup"


def test_member_page_shows_estimate_exchanges_and_corrections_of_this_member_only(app, client):
    member = make_member()
    rollup(member, today_in_japan().replace(day=1), 12 * WSUM_PER_KWH + 3000)
    give(member, 800, "キャンペーン加算")
    other = make_member("other@example.com", "01AB99999999")
    give(other, 5555, "他人の加算")
    login(client)
    page = client.get("/points/").get_data(as_text=True)
    assert "12.250 kWh × 1.000 = 12 ポイント（見込み）" in page
    assert "キャンペーン加算" in page and "+800" in page and GATEWAY in page
    assert "他人の加算" not in page and "5,555" not in page and "01AB99999999" not in page


def test_member_page_says_when_the_eco_membership_is_not_running(app, client):
    member = make_member(eco_ended=at(date(2026, 4, 1)))
    rollup(member, today_in_japan().replace(day=1), 5 * WSUM_PER_KWH)
    login(client)
    page = client.get("/points/").get_data(as_text=True)
    assert "会員資格が終了しているため、ポイントは付与されません" in page
    assert "見込み）" not in page


# -- exchange -----------------------------------------------------------------------------
def _confirm(client, item="GIFT500"):
    response = client.get(f"/points/exchange/confirm?item={item}")
    return response, csrf_from(response.get_data(as_text=True))


def _key(html: str) -> str:
    import re
    return re.search(r'name="request_key"[^>]*value="([^"]+)"', html).group(1)


def test_exchange_choose_confirm_request_mail_and_history(app, client):
    member = make_member()
    give(member, 1200)
    login(client)
    choose = client.get("/points/exchange").get_data(as_text=True)
    assert "デジタルギフト 500円分" in choose and "1,200" in choose
    response, token = _confirm(client)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "交換後の残高" in html and "700" in html
    assert not entries(member.id, EntryKind.EXCHANGE)  # confirming takes nothing
    answer = client.post("/points/exchange/confirm", data={
        "csrf_token": token, "item": "GIFT500", "request_key": _key(html)})
    assert answer.status_code == 303
    [entry] = entries(member.id, EntryKind.EXCHANGE)
    assert (entry.points, entry.item) == (-500, "GIFT500")
    assert answer.headers["Location"] == f"/points/exchange/{entry.id}"
    assert "交換受付完了" in client.get(answer.headers["Location"]).get_data(as_text=True)
    [mail] = outbox("owner@example.com", "points_exchange")
    assert "デジタルギフト 500円分" in mail.text_body and "交換後の残高: 700" in mail.text_body
    assert "使用ポイント: 500" in mail.text_body
    page = client.get("/points/").get_data(as_text=True)
    assert 'id="balance">700<' in page and "-500" in page


def test_double_submit_of_an_exchange_adds_one_entry(app, client):
    member = make_member()
    give(member, 5000)
    login(client)
    response, token = _confirm(client)
    data = {"csrf_token": token, "item": "GIFT500",
            "request_key": _key(response.get_data(as_text=True))}
    first = client.post("/points/exchange/confirm", data=data)
    second = client.post("/points/exchange/confirm", data=data)
    assert first.headers["Location"] == second.headers["Location"]
    assert len(entries(member.id, EntryKind.EXCHANGE)) == 1
    assert len(outbox("owner@example.com", "points_exchange")) == 1


def test_a_double_submit_at_once_adds_one_entry(make_app):
    app = make_app(RATELIMIT_ENABLED=False)
    with app.app_context():
        member = make_member()
        give(member, 5000)
        member_id = member.id
    client = app.test_client()
    login(client)
    response, token = _confirm(client)
    data = {"csrf_token": token, "item": "GIFT500",
            "request_key": _key(response.get_data(as_text=True))}

    def submit(_):
        answer = client.post("/points/exchange/confirm", data=data)
        return answer.status_code, answer.headers.get("Location")

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(submit, range(2)))
    assert answers[0] == answers[1] and answers[0][0] == 303
    with app.app_context():
        assert len(entries(member_id, EntryKind.EXCHANGE)) == 1
        assert ledger.balance(member_id) == 4500


def test_not_enough_points_and_unknown_items_are_refused(app, client):
    member = make_member()
    give(member, 499)
    login(client)
    response, token = _confirm(client)
    assert "交換を申し込む" not in response.get_data(as_text=True)
    answer = client.post("/points/exchange/confirm", data={
        "csrf_token": token, "item": "GIFT500", "request_key": "A" * 22})
    assert answer.status_code == 422 and "ポイントが足りません" in answer.get_data(as_text=True)
    for bad in ("NOPE", "", "GIFT500\x00", "ギフト", "G" * 5000):
        response = client.get("/points/exchange/confirm", query_string={"item": bad})
        assert response.status_code == 422
        assert "一覧から選択してください" in response.get_data(as_text=True) or \
            "選択してください" in response.get_data(as_text=True)
        posted = client.post("/points/exchange/confirm", data={
            "csrf_token": token, "item": bad, "request_key": "A" * 22})
        assert posted.status_code == 303
    assert client.post("/points/exchange/confirm", data={
        "item": "GIFT500", "request_key": "A" * 22}).status_code in (400, 422)  # no CSRF
    assert entries(member.id, EntryKind.EXCHANGE) == []
    assert [e.points for e in entries(member.id)] == [499]


def test_another_members_exchange_is_404(app, client):
    member = make_member()
    give(member, 1000)
    other = make_member("other@example.com", "01AB99999999")
    give(other, 1000)
    login(client, "other@example.com")
    response, token = _confirm(client)
    client.post("/points/exchange/confirm", data={
        "csrf_token": token, "item": "GIFT500",
        "request_key": _key(response.get_data(as_text=True))})
    [foreign] = entries(other.id, EntryKind.EXCHANGE)
    owner = app.test_client()
    login(owner)
    assert owner.get(f"/points/exchange/{foreign.id}").status_code == 404
    assert owner.get("/points/exchange/999999").status_code == 404


def test_twenty_exchanges_at_once_never_go_below_zero(make_app):
    app = make_app(RATELIMIT_ENABLED=False)
    with app.app_context():
        member = make_member()
        give(member, 1500)
        member_id = member.id
    clients, forms = [], []
    for _ in range(20):
        client = app.test_client()
        assert login(client).status_code == 303
        html = client.get("/points/exchange/confirm?item=GIFT500").get_data(as_text=True)
        clients.append(client)
        forms.append({"csrf_token": csrf_from(html), "item": "GIFT500",
                      "request_key": _key(html)})

    def submit(i: int) -> int:
        return clients[i].post("/points/exchange/confirm", data=forms[i]).status_code

    with ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(submit, range(20)))
    assert sorted(codes) == [303] * 3 + [422] * 17
    with app.app_context():
        assert ledger.balance(member_id) == 0
        assert len(entries(member_id, EntryKind.EXCHANGE)) == 3
        assert len(outbox("owner@example.com", "points_exchange")) == 3


# -- 退会 -----------------------------------------------------------------------------------
def test_leave_warns_forfeits_mails_and_can_never_rejoin(app, client):
    member = make_member()
    give(member, 640)
    login(client)
    page = client.get("/points/leave").get_data(as_text=True)
    assert "再び申し込むことはできません" in page and "640" in page and "失効" in page
    token = csrf_from(page)
    refused = client.post("/points/leave", data={"csrf_token": token})
    assert refused.status_code == 422
    assert "チェックを入れてください" in refused.get_data(as_text=True)
    leave = {"csrf_token": token, "confirm": "y"}
    assert client.post("/points/leave", data=leave).status_code == 303
    db.session.expire_all()
    member = db.session.get(PointsMember, member.id)
    assert member.left_at is not None
    assert ledger.balance(member.id) == 0
    assert entries(member.id)[-1].note == ledger.FORFEIT_NOTE
    [mail] = outbox("owner@example.com", "points_left")
    assert "失効したポイント: 640" in mail.text_body
    assert "再びお申し込みいただくことはできません" in mail.text_body
    page = client.get("/points/").get_data(as_text=True)
    assert "退会しました" in page and "ポイントを交換する" not in page
    assert client.get("/points/exchange").headers["Location"] == "/points/"
    leave = {"csrf_token": token, "confirm": "y"}
    assert client.post("/points/leave", data=leave).status_code == 303
    assert len(outbox("owner@example.com", "points_left")) == 1
    # The database refuses a second membership of this ID.
    now = utcnow()
    db.session.add(PointsMember(account_id=member.account_id, gateway_id=None,
                                service="monitoring", terms_accepted_at=now,
                                privacy_accepted_at=now))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_access_page_offers_the_same_leave_confirmation(app, client):
    make_member()
    login(client)
    page = client.get("/account/access").get_data(as_text=True)
    assert f"ポイントサービス会員（ゲートウェイ {GATEWAY}）" in page
    assert 'href="/points/leave"' in page and "退会する" in page


def test_real_smtp_delivers_the_exchange_and_leave_mails(smtp_app, smtp):
    client = smtp_app.test_client()
    member = make_member()
    give(member, 1000)
    login(client)
    response, token = _confirm(client, "GIFT1000")
    client.post("/points/exchange/confirm", data={
        "csrf_token": token, "item": "GIFT1000",
        "request_key": _key(response.get_data(as_text=True))})
    token = csrf_from(client.get("/points/leave").get_data(as_text=True))
    client.post("/points/leave", data={"csrf_token": token, "confirm": "y"})
    deliver_pending(limit=50)
    messages = smtp.to("owner@example.com")
    subjects = [m["Subject"] for m in messages]
    assert any("ポイント交換受付のお知らせ" in s for s in subjects)
    assert any("ポイントサービス退会のお知らせ" in s for s in subjects)
    exchange = next(m for m in messages if "ポイント交換" in m["Subject"])
    body = smtp.text_of(exchange)
    assert "デジタルギフト 1,000円分" in body and "交換後の残高: 0" in body


# -- ID deletion ------------------------------------------------------------------------------
def test_deleting_the_id_pseudonymises_the_member_and_keeps_the_ledger(app, client):
    member = make_member()
    member.install_postal_code, member.install_prefecture = "5410055", "大阪府"
    member.install_city, member.install_street = "大阪市中央区", "船場中央1-4-5"
    db.session.commit()
    rollup(member, MONTH, 30 * WSUM_PER_KWH)
    ledger.accrue(MONTH)
    staff = make_staff()
    login(client)
    token = csrf_from(client.get("/account/delete").get_data(as_text=True))
    assert client.post("/account/delete", data={"csrf_token": token, "confirm": "y",
                                                 "password": PASSWORD}).status_code == 303
    db.session.expire_all()
    row = db.session.get(PointsMember, member.id)
    assert row.account_id is None and row.pseudonymised_at is not None and row.left_at
    assert (row.install_postal_code, row.install_prefecture, row.install_city,
            row.install_street, row.install_building) == (None,) * 5
    assert [e.kind for e in entries(member.id)] == ["accrual", "correction"]
    assert ledger.balance(member.id) == 0
    texts = [str(getattr(row, c.key)) for c in PointsMember.__table__.columns]
    texts += [str(getattr(e, c.key)) for e in entries(member.id)
              for c in PointsEntry.__table__.columns]
    for personal in ("山田", "太郎", "owner@example.com", "日本橋", "船場", "大阪"):
        assert not any(personal in text for text in texts)
    staff_client = app.test_client()
    login(staff_client, staff.email)
    for url in ("/staff/points/", f"/staff/points/members/{member.id}"):
        page = staff_client.get(url).get_data(as_text=True)
        assert "仮名化" in page and "owner@example.com" not in page and "山田" not in page


# -- gateway events ---------------------------------------------------------------------------
def test_gateway_exchange_moves_the_member_and_retirement_frees_the_gateway(app):
    member = make_member()
    owner = db.session.get(Account, member.account_id)
    new = make_gateway(owner, "01AB12345699")
    old_pk = member.gateway_id
    registry.gateway_event("exchanged", old_pk, new.id, utcnow())
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(PointsMember, member.id).gateway_id == new.id
    # While the member runs, nobody else's running membership may hold that gateway.
    buyer = make_owner("buyer@example.com", "佐藤", "次郎")
    now = utcnow()

    def join():
        db.session.add(PointsMember(account_id=buyer.id, gateway_id=new.id,
                                    service="monitoring", terms_accepted_at=now,
                                    privacy_accepted_at=now))
        db.session.commit()

    with pytest.raises(IntegrityError):
        join()
    db.session.rollback()
    registry.gateway_event("released", [new.id], utcnow(), "released")
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(PointsMember, member.id).gateway_id is None
    join()  # the gateway's next owner may join
    registry.gateway_event("retired", [new.id], utcnow(), "disposed")
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(PointsMember)
                             .where(PointsMember.gateway_id.is_not(None))) == 0


# -- staff ----------------------------------------------------------------------------------
def test_staff_corrections_are_audited_and_never_make_the_balance_negative(app, client):
    member = make_member()
    give(member, 100)
    staff = make_staff()
    login(client, staff.email)
    url = f"/staff/points/members/{member.id}"
    token = csrf_from(client.get(url).get_data(as_text=True))
    post = f"{url}/corrections"
    ok = client.post(post, data={"csrf_token": token, "points": "－５０", "reason": "誤付与の取消し"})
    assert ok.status_code == 303
    assert ledger.balance(member.id) == 50
    too_much = client.post(post, data={"csrf_token": token, "points": "-51", "reason": "x"})
    assert too_much.status_code == 422 and "マイナス" in too_much.get_data(as_text=True)
    for points, reason in (("", "理由"), ("abc", "理由"), ("0", "理由"), ("9999999999", "理由"),
                           ("10", ""), ("10", "理由\x00"), ("10", "あ" * 201)):
        bad = client.post(post, data={"csrf_token": token, "points": points, "reason": reason})
        assert bad.status_code == 422, (points, reason)
    assert client.post("/staff/points/members/999999/corrections", data={
        "csrf_token": token, "points": "10", "reason": "x"}).status_code == 404
    assert ledger.balance(member.id) == 50
    audit = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "points.correction")).all()
    assert len(audit) == 1 and audit[0].actor_id == staff.id
    assert audit[0].detail["points"] == -50 and audit[0].detail["reason"] == "誤付与の取消し"
    owner = app.test_client()
    login(owner)
    assert "誤付与の取消し" in owner.get("/points/").get_data(as_text=True)


def test_staff_pages_are_for_staff_only(app, client):
    member = make_member()
    for path in ("/staff/points/", f"/staff/points/members/{member.id}",
                 "/staff/points/report.csv?month=2026-05"):
        assert app.test_client().get(path).status_code == 302
        assert client.get(path).status_code in (302, 404)
    login(client)
    for path in ("/staff/points/", f"/staff/points/members/{member.id}",
                 "/staff/points/report.csv?month=2026-05"):
        assert client.get(path).status_code == 404
    token = csrf_from(client.get("/points/").get_data(as_text=True))
    assert client.post(f"/staff/points/members/{member.id}/corrections", data={
        "csrf_token": token, "points": "100", "reason": "不正"}).status_code == 404
    assert ledger.balance(member.id) == 0


def test_staff_list_shows_states_and_pages(app, client):
    members = [make_member(f"m{n}@example.com", f"01AB{n:08d}") for n in range(23)]
    members[0].left_at = utcnow()
    db.session.commit()
    db.session.execute(EcoMembership.__table__.update()
                       .where(EcoMembership.gateway_code == "01AB00000001")
                       .values(ended_at=utcnow()))
    db.session.commit()
    login(client, make_staff().email)
    first = client.get("/staff/points/").get_data(as_text=True)
    assert "m22@example.com" in first and "全23件" in first and "利用中" in first
    second = client.get("/staff/points/?page=2").get_data(as_text=True)
    assert "m0@example.com" in second and "退会" in second
    assert "m22@example.com" not in second
    eco_second = client.get("/staff/points/?eco_page=2").get_data(as_text=True)
    assert "終了" in eco_second
    assert client.get("/staff/points/?page=abc&eco_page=-1").status_code == 200
    assert client.get("/staff/points/?month=nope").status_code == 422


def test_credit_report_csv(app, client):
    member = make_member()
    rollup(member, MONTH, 41 * WSUM_PER_KWH + 1500)
    ledger.accrue(MONTH)
    late = make_member("late@example.com", "01AB77777777", joined=at(date(2026, 6, 2)))
    rollup(late, MONTH, 10 * WSUM_PER_KWH)
    login(client, make_staff().email)
    response = client.get("/staff/points/report.csv?month=2026-05")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "points-report-2026-05.csv" in response.headers["Content-Disposition"]
    raw = response.get_data()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][0] == "会員番号" and rows[0][-2] == "自家消費量(kWh)"
    assert rows[1:] == [[str(member.id), GATEWAY, "2026-01-10", "", "2026-01-20", "",
                         "41.125", "41"]]
    for bad in ("", "2026-13", "x" * 500, "2026-05\x00"):
        answer = client.get("/staff/points/report.csv", query_string={"month": bad})
        assert answer.status_code == 303


# -- the monitoring page ---------------------------------------------------------------------
def test_monitoring_page_shows_this_months_estimate(app, client):
    member = make_member()
    rollup(member, today_in_japan().replace(day=1), 8 * WSUM_PER_KWH + 9000)
    login(client)
    page = client.get(f"/monitoring/gateways/{GATEWAY}/monitor").get_data(as_text=True)
    assert "今月のポイント見込み" in page
    assert "自家消費 8.750 kWh × 1.000 = 8 ポイント（見込み）" in page
    assert 'href="/points/"' in page
    from models.gateway import Gateway
    owner = db.session.get(Account, member.account_id)
    other_gateway = make_gateway(owner, "01AB55555555")
    db.session.commit()
    gateways = [db.session.get(Gateway, member.gateway_id), other_gateway]
    assert [g.id for g in gateways] and owner.id and owner.is_authenticated  # loaded
    seen = []

    def listener(_conn, _cursor, statement, *_args):
        if not statement.startswith("BEGIN"):
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        panels = [ledger.monitoring_panel(g, owner) for g in gateways]
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert panels[1] is None and panels[0].context["estimate"].points == 8
    assert len(seen) == 2  # one query per page, whatever the ledger holds


def test_no_panel_for_someone_who_is_not_the_member(app):
    member = make_member()
    stranger = make_owner("stranger@example.com", "佐藤", "次郎")
    from models.gateway import Gateway
    gateway = db.session.get(Gateway, member.gateway_id)
    assert ledger.monitoring_panel(gateway, stranger) is None


# -- demo data ----------------------------------------------------------------------------------
def test_demo_makes_the_demo_owner_a_member_once(app):
    from blueprints.points.demo import DEMO_GATEWAY_ID, seed_demo_points_member

    assert seed_demo_points_member() == []
    owner = make_owner("owner@example.com")
    make_gateway(owner, DEMO_GATEWAY_ID)
    seed_demo_points_member()
    seed_demo_points_member()
    assert db.session.scalar(select(func.count()).select_from(PointsMember)) == 1
    assert db.session.scalar(select(func.count()).select_from(EcoMembership)) == 1
    # OutboxMail untouched: seeding sends nothing.
    assert db.session.scalar(select(func.count()).select_from(OutboxMail)) == 0
