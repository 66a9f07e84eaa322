"""個人データのダウンロード (issue 15): the request, the background build, the mailed link and
the archive's contents against what the test created; a year of history in bounded
memory; the link's owner, expiry and tampering; double submits, the daily limit, a
failing service and a proxy login."""
from __future__ import annotations

import csv
import io
import json
import tracemalloc
import zipfile
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, insert, select, update

from blueprints.account import data_export
from blueprints.core import registry
from blueprints.dealers.services import become_dealer, link_dealer
from blueprints.monitoring import telemetry
from blueprints.support import cases, desk, files
from models import JST, db, utcnow
from models.account import Account, AccountPhone, LoginSession
from models.audit import AuditEvent
from models.club import LoginPermission, PermissionState
from models.eco import EcoMembership
from models.link import MailLink
from models.points import PointsEntry, PointsMember
from models.telemetry import DailyEnergy, GatewayAlert, Reading, energy_kwh
from models.trust import AccountTotp, DataExport, DataExportChunk, RecoveryCode
from tests.conftest import csrf_from, links_in, path_of
from tests.flows.test_dealer_links import _password_hash, make_company, make_gateway, make_owner
from tests.helpers import add_units, login, outbox, reading, slot_end

PAGE = "/account/settings/data-export"
OWNER = "owner@example.com"
GATEWAY = "01AB12345678"
OTHER_GATEWAY = "01AB87654321"
INTERNAL_NOTE = "社内メモ：この顧客は要注意（外部に出さないこと）"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def sign_in_owner(client) -> None:
    """The owner signs in; the `people` owner has an authenticator app, whose step (tested
    in test_second_step) is taken as passed here: the sessions are marked so."""
    assert login(client, OWNER).status_code == 303
    owner_id = db.session.scalar(select(Account.id).where(Account.email == OWNER))
    db.session.execute(update(LoginSession).where(LoginSession.account_id == owner_id)
                       .values(second_step_at=utcnow(), second_step_method="totp"))
    db.session.commit()


def _request(client):
    token = csrf_from(client.get(PAGE).get_data(as_text=True))
    return client.post(PAGE, data={"csrf_token": token})


def _ready_link(email: str = "owner@example.com") -> str:
    mails = outbox(email, "data_export_ready")
    assert mails, "no data export mail"
    return path_of(links_in(mails[-1].text_body)[0])


def _unzip(body: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


def _csv(raw: bytes) -> list[dict]:
    assert raw.startswith(b"\xef\xbb\xbf"), "CSV without BOM"
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


@pytest.fixture
def people(app):
    """The owner (with a gateway, readings over three days, a dealer link, a case with a
    file, a reply and an internal note, eco and points, second steps) and another owner
    with data of their own."""
    owner = make_owner()
    owner.customer_number = "1234567890"
    db.session.add(AccountPhone(account_id=owner.id, position=0, kind="mobile",
                                number="09012345678"))
    gateway = make_gateway(owner, GATEWAY, site="山田邸")
    gateway.api_key_hash = "f" * 63 + "a"
    gateway.slip_password_hash = "$argon2id$v=19$slip-secret-hash"
    db.session.add(AccountTotp(account_id=owner.id, secret=TOTP_SECRET, confirmed_at=utcnow()))
    for n in range(3):
        db.session.add(RecoveryCode(account_id=owner.id, code_hash=f"{n}" * 64,
                                    used_at=utcnow() if n == 0 else None))
    db.session.commit()
    add_units(gateway, 2)
    newest = slot_end(60)
    for days_ago in (2, 1, 0):
        batch = [reading(newest - timedelta(days=days_ago, minutes=5 * i), pv_kw=2.0 + days_ago)
                 for i in range(4)]
        result = telemetry.ingest(gateway, batch)
        assert result.accepted == 4, result.rejected

    dealer = become_dealer(make_company(1), "0312345678")
    assert link_dealer(owner, gateway, dealer.dealer_code, "0312345678").name == "LINKED"
    db.session.add(LoginPermission(owner_id=owner.id, email="admin1@dealer1.example",
                                   dealer_id=dealer.id, state=PermissionState.APPROVED,
                                   decided_at=utcnow()))
    eco = EcoMembership(gateway_id=gateway.id, account_id=owner.id, gateway_code=GATEWAY,
                        pcs_serial="PC000001", no_private_generator=True, no_other_scheme=True)
    db.session.add(eco)
    db.session.flush()
    member = PointsMember(account_id=owner.id, gateway_id=gateway.id, eco_membership_id=eco.id,
                          service="monitoring", terms_accepted_at=utcnow(),
                          privacy_accepted_at=utcnow())
    db.session.add(member)
    db.session.flush()
    db.session.add(PointsEntry(member_id=member.id, kind="accrual", points=123,
                               month=date(2026, 10, 1), kwh=Decimal("41.000"),
                               factor=Decimal("3.000")))
    db.session.commit()

    cases.ensure_default_categories()
    category = cases.active_categories()[0]
    with app.test_request_context():  # its messages are for a request
        upload = files.inspect(io.BytesIO("ログ 1行目\n".encode()), "運転ログ.txt")
    case, _created = cases.file_case(owner, cases.CaseFields(
        subject="蓄電池が充電しない", body="昨日から充電されません。", site_name="山田邸",
        category_id=category.id, gateway_id=gateway.id), [upload], None)
    staff = make_owner("staff@example.com", "高橋", "美咲")
    staff.role = "staff"
    db.session.commit()
    desk.reply(case, staff, "設定をご確認ください。", [], None, cases.CaseState.WAITING)
    desk.add_note(case, staff, INTERNAL_NOTE, [], None)

    other = make_owner("other@example.com", "佐藤", "次郎")
    other_gateway = make_gateway(other, OTHER_GATEWAY, site="佐藤邸")
    add_units(other_gateway, 2)
    telemetry.ingest(other_gateway, [reading(newest)])
    cases.file_case(other, cases.CaseFields(
        subject="他人のケース", body="佐藤の問い合わせ", site_name="佐藤邸",
        category_id=category.id), [], None)
    db.session.commit()
    return owner, other, case


def _export_for(client, email="owner@example.com") -> tuple[dict[str, bytes], bytes]:
    assert _request(client).status_code == 303
    assert data_export.run_exports() == 1
    response = client.get(_ready_link(email), buffered=True)
    assert response.status_code == 200
    return _unzip(response.data), response.data


def test_the_archive_holds_what_the_services_keep_and_nothing_else(app, people):
    owner, other, case = people
    client = app.test_client()
    sign_in_owner(client)
    archive, raw = _export_for(client)

    services = json.loads(archive["data.json"])["services"]
    expected = {
        "account": {"profile", "company", "phones", "consents", "sessions", "browsers",
                    "second_steps", "audit", "company_join_requests"},
        "gateways": {"gateways", "units", "handovers"}, "dealers": {"links"},
        "monitoring": {"daily_energy", "alerts", "settings"},
        "alert_recipients": {"alert_recipients"},
        "club": {"products", "subscriptions", "login_permissions", "proxy_sessions"},
        "eco": {"memberships"}, "points": {"members", "entries"},
        "support": {"cases", "messages", "files", "phone_requests"}}
    assert {name: set(tables) for name, tables in services.items()} == expected
    # Every table is a CSV too, with the same rows (CSV cells are text).
    for service, tables in services.items():
        for table, rows in tables.items():
            csv_rows = _csv(archive[f"{service}/{table}.csv"])
            assert len(csv_rows) == len(rows), f"{service}/{table}"
            header = archive[f"{service}/{table}.csv"].decode("utf-8-sig").splitlines()[0]
            assert header, f"{service}/{table} has no header row"
            for json_row, csv_row in zip(rows, csv_rows):
                assert list(csv_row) == list(json_row)
    readme = archive["README.txt"].decode("utf-8-sig")
    assert "個人データ" in readme and "data.json" in readme and "support/cases.csv" in readme

    account = services["account"]
    assert account["profile"][0]["email"] == "owner@example.com"
    assert account["profile"][0]["customer_number"] == "1234567890"
    assert [p["number"] for p in account["phones"]] == ["09012345678"]
    assert {c["document"] for c in account["consents"]} >= {"enelink_terms", "enelink_privacy"}
    [session_row] = account["sessions"]
    assert session_row["device"] and session_row["created_at"] and not session_row["signed_out_at"]
    steps = {s["method"]: s for s in account["second_steps"]}
    assert steps["totp"]["confirmed_at"] and steps["recovery_codes"][
        "recovery_codes_remaining"] == 2
    actions = {row["action"] for row in account["audit"]}
    assert {"dealer.link", "support.case_filed", "support.staff_replied",
            "account.data_export_requested"} <= actions
    assert "support.note_added" not in actions  # nor that staff wrote a note

    gateways = services["gateways"]
    assert [(g["gateway_id"], g["site_name"]) for g in gateways["gateways"]] == [
        (GATEWAY, "山田邸")]
    assert [u["unit_no"] for u in gateways["units"]] == [1, 2]

    db.session.expire_all()
    days = list(db.session.scalars(select(DailyEnergy).where(
        DailyEnergy.gateway_id == owner_gateway_pk()).order_by(DailyEnergy.day)))
    assert len(days) >= 3
    exported = services["monitoring"]["daily_energy"]
    assert [(r["day"], r["slots"], r["pv_kwh"]) for r in exported] == [
        (d.day.isoformat(), d.slots, round(energy_kwh(d.pv_wsum), 3)) for d in days]
    assert sum(r["slots"] for r in exported) == 12
    assert {r["gateway_id"] for r in exported} == {GATEWAY}

    link = services["dealers"]["links"][0]
    assert (link["dealer_name"], link["gateway_id"], link["linked_by_you"]) == (
        "販売店1株式会社", GATEWAY, True)
    assert services["club"]["login_permissions"][0]["dealer_name"] == "販売店1株式会社"
    assert services["eco"]["memberships"][0]["pcs_serial"] == "PC000001"
    assert [(e["kind"], e["points"], e["kwh"]) for e in services["points"]["entries"]] == [
        ("accrual", 123, "41.000")]

    support = services["support"]
    assert [c["case_number"] for c in support["cases"]] == [case.number]
    assert [(m["from"], m["body"]) for m in support["messages"]] == [
        ("you", "昨日から充電されません。"), ("support", "設定をご確認ください。")]
    assert [(f["name"], f["size"]) for f in support["files"]] == [
        ("運転ログ.txt", len("ログ 1行目\n".encode()))]

    # Nothing secret and nothing of anyone else, in any file of the archive.
    everything = b"".join(archive.values()).decode("utf-8", "replace")
    db.session.expire_all()
    owner = db.session.get(Account, owner.id)
    secrets = [owner.password_hash, "f" * 63 + "a", "slip-secret-hash", TOTP_SECRET, "0" * 64,
               "1" * 64] + list(db.session.scalars(select(LoginSession.key_hash)))
    for secret in secrets:
        assert secret not in everything, f"secret {secret[:12]}… in the archive"
    assert "password" not in everything.lower() or "password_changed_at" in everything
    for column in ("password_hash", "api_key", "key_hash", "code_hash", "token_hash", "secret"):
        assert column not in everything, column
    for foreign in ("other@example.com", OTHER_GATEWAY, "他人のケース", "佐藤の問い合わせ",
                    INTERNAL_NOTE, "staff@example.com", "高橋", "admin1@dealer1.example"):
        assert foreign not in everything, foreign
    assert b"PK" == raw[:2]


def owner_gateway_pk() -> int:
    from models.gateway import Gateway
    return db.session.scalar(select(Gateway.id).where(Gateway.gateway_id == GATEWAY))


def test_a_formula_in_a_cell_is_not_run_by_a_spreadsheet(app):
    owner = make_owner()
    owner.department = "=HYPERLINK(\"http://evil.example\")"
    db.session.commit()
    client = app.test_client()
    sign_in_owner(client)
    archive, _raw = _export_for(client)
    profile = _csv(archive["account/profile.csv"])[0]
    assert profile["department"] == "'=HYPERLINK(\"http://evil.example\")"
    data = json.loads(archive["data.json"])["services"]["account"]["profile"][0]
    assert data["department"] == "=HYPERLINK(\"http://evil.example\")"


# -- the request page ----------------------------------------------------------------------
def test_page_states_from_request_to_ready_to_expired(app):
    make_owner()
    client = app.test_client()
    sign_in_owner(client)
    page = client.get(PAGE).get_data(as_text=True)
    assert "個人データのダウンロードを申し込む" in page
    section = client.get("/account/settings/login").get_data(as_text=True)
    assert 'id="data-export"' in section and "個人データのダウンロードを申し込む" in section
    assert section.count('id="csrf_token"') == 1  # the password form's; ids stay unique

    response = _request(client)
    assert response.status_code == 303 and response.headers["Location"].endswith(PAGE)
    page = client.get(PAGE).get_data(as_text=True)
    assert "個人データの準備を始めました" in page and "準備中" in page
    assert "個人データのダウンロードを申し込む" not in page

    result = app.test_cli_runner().invoke(args=["account", "export-run"])
    assert result.exit_code == 0 and "1 export(s) ready" in result.output
    assert data_export.run_exports() == 0  # a second round builds and mails nothing more
    assert len(outbox(OWNER, "data_export_ready")) == 1
    page = client.get(PAGE).get_data(as_text=True)
    assert "準備完了" in page and "個人データのダウンロードを申し込む" not in page
    again = client.get(_request(client).headers["Location"]).get_data(as_text=True)
    assert "お送りしたメールのリンクからダウンロードしてください" in again
    assert _count(DataExport) == 1

    db.session.execute(update(DataExport).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    page = client.get(PAGE).get_data(as_text=True)
    assert "ダウンロード期限" in page and "個人データのダウンロードを申し込む" in page


def test_a_double_submit_queues_one_export(app):
    make_owner()
    client = app.test_client()
    sign_in_owner(client)
    token = csrf_from(client.get(PAGE).get_data(as_text=True))
    first = client.post(PAGE, data={"csrf_token": token})
    second = client.post(PAGE, data={"csrf_token": token})
    assert first.status_code == second.status_code == 303
    assert _count(DataExport) == 1
    assert "個人データは準備中です" in client.get(PAGE).get_data(as_text=True)
    # Without a CSRF token nothing is queued.
    db.session.execute(DataExport.__table__.delete())
    db.session.commit()
    assert client.post(PAGE, data={}).status_code == 400
    assert _count(DataExport) == 0


def test_requests_per_day_are_limited(app):
    make_owner()
    client = app.test_client()
    sign_in_owner(client)
    for _n in range(app.config["DATA_EXPORTS_PER_DAY"]):
        assert _request(client).status_code == 303
        db.session.execute(update(DataExport).where(DataExport.failed_at.is_(None))
                           .values(failed_at=utcnow()))
        db.session.commit()
    page = client.get(_request(client).headers["Location"]).get_data(as_text=True)
    assert "1日3回まで" in page
    assert _count(DataExport) == app.config["DATA_EXPORTS_PER_DAY"]
    # A day later the owner may ask again.
    db.session.execute(update(DataExport).values(requested_at=utcnow() - timedelta(days=1,
                                                                                   minutes=1)))
    db.session.commit()
    _request(client)
    assert _count(DataExport) == app.config["DATA_EXPORTS_PER_DAY"] + 1


def test_a_failing_service_marks_the_export_failed_and_mails_nothing(app, monkeypatch):
    make_owner()
    client = app.test_client()
    sign_in_owner(client)
    _request(client)

    def broken(_account):
        raise RuntimeError("provider broken")

    monkeypatch.setitem(registry._registry.personal_data, "broken", (99, broken))
    assert data_export.run_exports() == 0
    db.session.expire_all()
    export = db.session.scalar(select(DataExport))
    assert export.failed_at is not None and export.ready_at is None
    assert _count(DataExportChunk) == 0
    assert outbox("owner@example.com", "data_export_ready") == []
    assert "account.data_export_failed" in _actions()
    page = client.get(PAGE).get_data(as_text=True)
    assert "準備できませんでした" in page and "個人データのダウンロードを申し込む" in page
    # A second run does not try the failed one again.
    monkeypatch.delitem(registry._registry.personal_data, "broken")
    assert data_export.run_exports() == 0


# -- the link ----------------------------------------------------------------------------------
def test_link_by_real_smtp_for_the_right_account_until_it_expires(smtp_app, smtp):
    from mail.relay import deliver_pending

    make_owner()
    make_owner("other@example.com", "佐藤", "次郎")
    owner = smtp_app.test_client()
    assert login(owner, OWNER).status_code == 303
    _request(owner)
    assert data_export.run_exports() == 1
    deliver_pending(limit=50)
    [mail] = smtp.to("owner@example.com")
    assert "個人データのダウンロードの準備ができました" in mail["Subject"]
    text = smtp.text_of(mail)
    assert "ダウンロードの有効期限" in text
    html = mail.get_body(preferencelist=("html",)).get_content()
    url = [link for link in links_in(text) if "/account/data-export/" in link][0]
    assert url.startswith("http://enelink.test/") and url in html
    path = path_of(url)

    anonymous = smtp_app.test_client()
    response = anonymous.get(path)
    assert response.status_code == 302 and "/account/login" in response.headers["Location"]
    intruder = smtp_app.test_client()
    assert login(intruder, "other@example.com").status_code == 303
    assert intruder.get(path, buffered=True).status_code == 404

    first = owner.get(path, buffered=True)
    assert first.status_code == 200
    assert first.mimetype == "application/zip"
    assert first.headers["Content-Disposition"].startswith("attachment;")
    assert "no-store" in first.headers["Cache-Control"]
    assert int(first.headers["Content-Length"]) == len(first.data)
    # Not spent: a download broken off is tried again.
    assert owner.get(path, buffered=True).data == first.data
    actions = _actions()
    assert actions.count("account.data_export_downloaded") == 2
    assert actions.index("account.data_export_requested") < actions.index(
        "account.data_export_ready") < actions.index("account.data_export_downloaded")

    tampered = path[:-3] + ("aaa" if not path.endswith("aaa") else "bbb")
    response = owner.get(tampered)
    assert response.status_code == 404 and "リンクが正しくありません" in response.get_data(
        as_text=True)
    assert owner.get("/account/data-export/" + "x" * 300).status_code == 404
    assert owner.get("/account/data-export/%00abc").status_code == 404

    # Past the expiry: the link page, and the next run drops the bytes.
    past = utcnow() - timedelta(seconds=1)
    db.session.execute(update(DataExport).values(expires_at=past))
    db.session.execute(update(MailLink).where(MailLink.purpose == "data_export")
                       .values(expires_at=past))
    db.session.commit()
    response = owner.get(path, buffered=True)
    assert response.status_code == 410
    assert "有効期限" in response.get_data(as_text=True)
    assert _count(DataExportChunk) > 0
    data_export.run_exports()
    assert _count(DataExportChunk) == 0
    assert _count(DataExport) == 1


def test_an_export_is_stored_in_512_kb_pieces(app):
    owner = make_owner()
    # Incompressible history: audit rows with random details make the archive > 512 KB.
    import secrets as random_bytes
    db.session.execute(insert(AuditEvent), [
        {"action": "test.filler", "actor_id": owner.id, "subject_id": owner.id, "at": utcnow(),
         "detail": {"noise": random_bytes.token_hex(200)}} for _n in range(3000)])
    db.session.commit()
    client = app.test_client()
    sign_in_owner(client)
    archive, raw = _export_for(client)
    export = db.session.scalar(select(DataExport))
    sizes = [len(data) for data in db.session.scalars(
        select(DataExportChunk.data).order_by(DataExportChunk.position))]
    assert len(sizes) >= 2 and all(size == 512 * 1024 for size in sizes[:-1])
    assert sum(sizes) == export.size == len(raw)
    assert len(_csv(archive["account/audit.csv"])) >= 3000


# -- a year of history in bounded memory -------------------------------------------------------
# Measured: about 2.3 MB (SQLite) for the history below; the same export with every long
# table read whole (`.all()`) peaks at about 21 MB, and fails this bound.
MEMORY_BOUND = 10 * 1024 * 1024


def test_a_year_of_history_is_exported_in_bounded_memory(app):
    owner = make_owner()
    gateway = make_gateway(owner, GATEWAY)
    today = utcnow().astimezone(JST).date()
    sums = dict(slots=288, pv_wsum=288 * 2500, load_wsum=288 * 900, self_wsum=288 * 1200,
                supplied_wsum=288 * 700, sell_wsum=288 * 1300, buy_wsum=288 * 200,
                charge_wsum=288 * 400, discharge_wsum=288 * 300)
    db.session.execute(insert(DailyEnergy), [
        {"gateway_id": gateway.id, "day": today - timedelta(days=n), **sums}
        for n in range(365)])
    # ~100 000 five-minute readings (a year of one gateway is 105 120): present in the
    # database, summarised by the rollups, never loaded by the export.
    start = utcnow().replace(minute=0, second=0, microsecond=0) - timedelta(days=350)
    unit = [{"unit": 1, "status": "normal", "error_code": None}]
    for block in range(10):
        db.session.execute(insert(Reading), [
            {"gateway_id": gateway.id, "ts": start + timedelta(minutes=5 * (block * 10000 + n)),
             "pv_w": 2500, "load_w": 900, "battery_w": 400, "battery_state": "charging",
             "soc": 80, "sell_w": 1300, "buy_w": 200, "units": unit, "has_error": False,
             "received_at": utcnow()} for n in range(10000)])
    # And a long audit trail of the account: 20 000 rows.
    db.session.execute(insert(AuditEvent), [
        {"action": "account.login", "actor_id": owner.id, "subject_id": owner.id,
         "at": utcnow() - timedelta(minutes=n), "ip": "192.0.2.1",
         "detail": {"remember": False}} for n in range(20000)])
    export = DataExport(account_id=owner.id)
    db.session.add(export)
    db.session.commit()
    export_id = export.id
    db.session.expunge_all()

    tracemalloc.start()
    try:
        assert data_export.build_export(export_id)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"export peak memory: {peak / 1024 / 1024:.1f} MB")
    assert peak < MEMORY_BOUND
    body = b"".join(data_export.read_chunks(export_id))
    archive = _unzip(body)
    assert len(_csv(archive["monitoring/daily_energy.csv"])) == 365
    assert len(_csv(archive["account/audit.csv"])) >= 20000
    services = json.loads(archive["data.json"])["services"]
    assert services["monitoring"]["daily_energy"][0]["pv_kwh"] == round(
        energy_kwh(288 * 2500), 3)


# -- proxy login ---------------------------------------------------------------------------------
def test_a_dealer_acting_for_the_owner_can_neither_ask_nor_download(app):
    owner = make_owner()
    dealer = become_dealer(make_company(1), "0312345678")
    db.session.add(LoginPermission(owner_id=owner.id, email="admin1@dealer1.example",
                                   dealer_id=dealer.id, state=PermissionState.APPROVED,
                                   decided_at=utcnow()))
    db.session.commit()
    own = app.test_client()
    assert login(own, OWNER).status_code == 303
    _request(own)
    data_export.run_exports()
    path = _ready_link()

    acting = app.test_client()
    assert login(acting, "admin1@dealer1.example").status_code == 303
    url = f"/club/dealer/users/{owner.customer_number}/proxy"
    token = csrf_from(acting.get(url).get_data(as_text=True))
    assert acting.post(url, data={"reason": "確認", "csrf_token": token}).status_code == 303
    for response in (acting.get(PAGE), acting.post(PAGE, data={"csrf_token": token}),
                     acting.get(path, buffered=True)):
        assert response.status_code == 403
        assert "代理ログイン中はこの操作はできません" in response.get_data(as_text=True)
    assert _count(DataExport) == 1
    assert "account.data_export_downloaded" not in _actions()


def _count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def _actions() -> list[str]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


# -- whose history -------------------------------------------------------------------------------
def _day_rows(gateway_pk: int, days: list[date]) -> None:
    db.session.execute(insert(DailyEnergy), [
        {"gateway_id": gateway_pk, "day": day, "slots": 1, "pv_wsum": 1000 + n, "load_wsum": 0,
         "self_wsum": 0, "supplied_wsum": 0, "sell_wsum": 0, "buy_wsum": 0, "charge_wsum": 0,
         "discharge_wsum": 0} for n, day in enumerate(days)])


def test_a_handed_over_gateway_history_goes_to_whoever_owned_it_then(app):
    """The previous owner's archive has the whole days it owned the gateway (from 0:00 JST
    on 1 May); the next owner's starts at `history_from` and holds nothing earlier."""
    from datetime import datetime, timezone

    from models.trust import GatewayHandover

    previous = make_owner("previous@example.com", "前田", "一郎")
    following = make_owner()
    gateway = make_gateway(following, GATEWAY)
    handed = datetime(2026, 6, 1, 3, 0, tzinfo=timezone.utc)  # 12:00 JST on 1 June
    gateway.history_from = handed
    db.session.add(GatewayHandover(gateway_id=gateway.id, previous_owner_id=previous.id,
                                   site_name="前田邸",
                                   owned_from=datetime(2026, 4, 30, 15, tzinfo=timezone.utc),
                                   handed_over_at=handed))
    # The hand-over's day mixes both owners' energy: it is in neither archive.
    _day_rows(gateway.id, [date(2026, 4, 30), date(2026, 5, 1), date(2026, 5, 31),
                           date(2026, 6, 1), date(2026, 6, 2), date(2026, 6, 3)])
    db.session.add_all([
        GatewayAlert(gateway_id=gateway.id, kind="silent", started_at=handed - timedelta(hours=1),
                     ended_at=handed - timedelta(minutes=30)),
        GatewayAlert(gateway_id=gateway.id, kind="error", error_codes="1:E201",
                     started_at=handed + timedelta(hours=1))])
    db.session.commit()

    def days_of(email: str) -> list[str]:
        client = app.test_client()
        assert login(client, email).status_code == 303
        archive, _raw = _export_for(client, email)
        return [row["day"] for row in _csv(archive["monitoring/daily_energy.csv"])], archive

    earlier, archive = days_of("previous@example.com")
    assert earlier == ["2026-05-01", "2026-05-31"]
    handovers = _csv(archive["gateways/handovers.csv"])
    assert [(h["gateway_id"], h["site_name"]) for h in handovers] == [(GATEWAY, "前田邸")]
    assert [a["kind"] for a in _csv(archive["monitoring/alerts.csv"])] == ["silent"]
    later, archive = days_of(OWNER)
    assert later == ["2026-06-02", "2026-06-03"]
    assert [a["kind"] for a in _csv(archive["monitoring/alerts.csv"])] == ["error"]
    assert "前田" not in b"".join(archive.values()).decode()


def test_a_company_members_archive_has_the_company_and_no_colleague(app):
    from models.account import CompanyRole, AccountType

    company = make_company(1)
    db.session.add(Account(email="colleague@dealer1.example", password_hash=_password_hash(),
                           family_name="鈴木", given_name="一郎",
                           account_type=AccountType.COMMERCIAL, company_id=company.id,
                           company_role=CompanyRole.MEMBER, activated_at=utcnow(),
                           street="同僚の住所1-2-3"))
    db.session.commit()
    client = app.test_client()
    assert login(client, "admin1@dealer1.example").status_code == 303
    archive, _raw = _export_for(client, "admin1@dealer1.example")
    [row] = _csv(archive["account/company.csv"])
    assert (row["name"], row["email"]) == ("販売店1株式会社", "info1@dealer1.example")
    assert _csv(archive["account/profile.csv"])[0]["company_role"] == "admin"
    everything = b"".join(archive.values()).decode()
    for colleague in ("colleague@dealer1.example", "鈴木", "同僚の住所"):
        assert colleague not in everything


def test_the_build_lets_others_write_between_batches(app, monkeypatch):
    """SQLite: every transaction holds the database's write lock, so a long table is read
    a batch per transaction; while its rows are written, another connection can write."""
    import sqlite3

    if db.engine.dialect.name != "sqlite":
        pytest.skip("the write lock of every transaction is SQLite's")
    owner = make_owner()
    db.session.execute(insert(AuditEvent), [
        {"action": "test.filler", "actor_id": owner.id, "subject_id": owner.id, "at": utcnow(),
         "detail": {}} for _n in range(5)])
    export = DataExport(account_id=owner.id)
    db.session.add(export)
    db.session.commit()
    written: list[int] = []

    def other_writer(row) -> dict:
        other = sqlite3.connect(db.engine.url.database, timeout=0.2, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # fails with 'database is locked' if held
            other.execute("ROLLBACK")
            written.append(row.id)
        finally:
            other.close()
        return {"id": row.id}

    def probe(account) -> dict:
        statement = select(AuditEvent.id).where(AuditEvent.actor_id == account.id).order_by(
            AuditEvent.id)
        return {"rows": data_export.streamed(statement, other_writer, batch=2)}

    monkeypatch.setitem(registry._registry.personal_data, "probe", (99, probe))
    assert data_export.build_export(export.id)
    assert len(written) == 5
