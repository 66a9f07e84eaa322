"""Gateway alerts over a real SMTP server: an error code or a silence is one incident,
mailed once when it starts and once when it ends to the owner and to every maintenance
contact of every linked dealer, and to nobody else."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import select

from blueprints.dealers.services import LinkResult, link_dealer, unlink_dealer
from blueprints.monitoring.alerts import check_silence
from blueprints.gateways.management import dispose_gateway
from blueprints.monitoring.telemetry import JST
from mail.relay import deliver_pending
from models import db, utcnow
from models.gateway import GatewayStatus
from models.mail import OutboxMail, OutboxStatus
from models.telemetry import GatewayAlert, Reading
from tests.conftest import SmtpServer, path_of
from tests.flows.test_dealer_links import make_dealer, make_owner
from tests.flows.test_gateway_api import (GATEWAY_ID, SLOT, count, error_units, post,
                                          reporting_gateway)
from tests.flows.test_mail import make_due
from tests.helpers import login, reading, slot_end

OWNER = "owner@example.com"
CONTACTS = ["maint-a@dealer1.example", "maint-b@dealer1.example"]
OUTSIDER = "maint@dealer2.example"  # a dealer never linked to the gateway
FORMER = "maint@dealer3.example"    # linked, then unlinked by the owner
EVERYONE = sorted([OWNER, *CONTACTS])
ERROR_SUBJECT = f"【Enelink】ゲートウェイの異常を検知しました（{GATEWAY_ID}）"
SILENT_SUBJECT = f"【Enelink】ゲートウェイからの通信が途絶えています（{GATEWAY_ID}）"
RECOVERED_SUBJECT = f"【Enelink】ゲートウェイが復旧しました（{GATEWAY_ID}）"
MONITOR_LINK = f"http://enelink.test/monitoring/gateways/{GATEWAY_ID}/monitor"


def linked_gateway(smtp=None):
    """The owner's gateway, entrusted to a dealer with two maintenance contacts; another
    dealer never linked and a third one unlinked again. Returns (owner, gateway, key),
    with the link mails already delivered and forgotten."""
    owner = make_owner(OWNER)
    gateway, key = reporting_gateway(owner)
    dealer = make_dealer(1, contacts=CONTACTS)
    assert link_dealer(owner, gateway, dealer.dealer_code, dealer.phone) is LinkResult.LINKED
    make_dealer(2, contacts=[OUTSIDER])
    former = make_dealer(3, contacts=[FORMER])
    assert link_dealer(owner, gateway, former.dealer_code, former.phone) is LinkResult.LINKED
    assert unlink_dealer(owner, gateway, former)
    if smtp is not None:
        new_mail(smtp)
    return owner, gateway, key


def new_mail(smtp) -> list:
    """Deliver what is due and return what arrived since the last call."""
    deliver_pending(limit=200)
    with smtp.lock:
        arrived = list(smtp.messages)
        smtp.messages.clear()
    return arrived


def recipients(messages, subject: str) -> list[str]:
    assert all(m["Subject"] == subject for m in messages), [m["Subject"] for m in messages]
    return sorted(m["To"] for m in messages)


def alerts(kind: str | None = None) -> list[GatewayAlert]:
    db.session.expire_all()
    statement = select(GatewayAlert).order_by(GatewayAlert.id)
    if kind:
        statement = statement.where(GatewayAlert.kind == kind)
    return list(db.session.scalars(statement))


def send(client, key, *readings) -> None:
    response = post(client, GATEWAY_ID, key, list(readings))
    assert response.status_code == 200, response.get_data(as_text=True)


# -- error codes -------------------------------------------------------------------------
def test_an_error_is_one_mail_per_recipient_until_it_ends(smtp_app, smtp):
    _owner, _gateway, key = linked_gateway(smtp)
    client = smtp_app.test_client()
    now = slot_end()

    send(client, key, reading(now - 30 * SLOT, units=error_units("E201")))
    arrived = new_mail(smtp)
    assert recipients(arrived, ERROR_SUBJECT) == EVERYONE
    by_address = {m["To"]: SmtpServer.text_of(m) for m in arrived}
    for body in by_address.values():
        assert GATEWAY_ID in body and "1:E201" in body and MONITOR_LINK in body
        assert "エラーコード" in body
    assert "山田 太郎 様" in by_address[OWNER]
    for contact in CONTACTS:
        assert "販売店1株式会社 御中" in by_address[contact]
        assert "お客様: 山田 太郎 様" in by_address[contact]
    assert all(m.get_body(preferencelist=("html",)) is not None for m in arrived)
    browser = smtp_app.test_client()
    assert login(browser, OWNER).status_code == 303
    assert browser.get(path_of(MONITOR_LINK)).status_code == 200  # the link opens
    [alert] = alerts()
    assert (alert.kind, alert.error_codes, alert.ended_at) == ("error", "1:E201", None)
    assert alert.started_at == now - 30 * SLOT

    # The same incident goes on: ten more errors, then a batch with another code.
    send(client, key, *[reading(now - (29 - i) * SLOT, units=error_units("E201"))
                        for i in range(10)])
    send(client, key, reading(now - 19 * SLOT, units=error_units("E305")),
         reading(now - 18 * SLOT, units=error_units("E305")))
    assert new_mail(smtp) == []
    [alert] = alerts()
    assert alert.ended_at is None and alert.error_codes == "1:E305"

    send(client, key, reading(now - 17 * SLOT))
    arrived = new_mail(smtp)
    assert recipients(arrived, RECOVERED_SUBJECT) == EVERYONE
    assert all("正常な状態に戻りました" in SmtpServer.text_of(m) for m in arrived)
    [alert] = alerts()
    assert alert.ended_at is not None and alert.ended_by == "recovered"

    send(client, key, *[reading(now - (16 - i) * SLOT) for i in range(5)])
    assert new_mail(smtp) == []

    # A new error later is a new incident.
    send(client, key, reading(now - 5 * SLOT, units=error_units("E777")))
    assert recipients(new_mail(smtp), ERROR_SUBJECT) == EVERYONE
    assert [(a.kind, a.ended_at is None) for a in alerts()] == [("error", False),
                                                                ("error", True)]
    for address in (OUTSIDER, FORMER):
        assert smtp.to(address) == []
        assert db.session.scalars(select(OutboxMail).where(
            OutboxMail.recipient == address, OutboxMail.kind.like("gateway%"))).all() == []


def test_an_alert_begins_at_the_first_reading_of_the_run_of_errors(smtp_app, smtp):
    """A batch that ends in errors: the alert (and its mail) says when they began."""
    _owner, gateway, key = linked_gateway(smtp)
    now = slot_end()
    normal = [reading(now - SLOT * i) for i in (8, 7, 6)]
    failing = [reading(now - SLOT * i, units=error_units("E305")) for i in (5, 4, 3, 2, 1, 0)]
    failing[2] = reading(now - SLOT * 3)   # recovered for a slot, then failing again
    send(smtp_app.test_client(), key, *normal, *failing)
    alert = db.session.scalar(select(GatewayAlert).where(GatewayAlert.gateway_id == gateway.id))
    assert alert.started_at == now - SLOT * 2 and alert.error_codes == "1:E305"
    started = (now - SLOT * 2).astimezone(JST).strftime("%Y年%m月%d日 %H:%M")
    mail = next(m for m in new_mail(smtp) if m["To"] == OWNER)
    assert f"発生日時: {started}" in SmtpServer.text_of(mail)


def test_backfilled_errors_open_no_alert(smtp_app, smtp):
    """Only the newest reading says what state a gateway is in: errors in readings older
    than the newest one stored are history, and an old normal reading ends nothing."""
    _owner, gateway, key = linked_gateway(smtp)
    client = smtp_app.test_client()
    now = slot_end()

    send(client, key, reading(now - 10 * SLOT))
    send(client, key, reading(now - 20 * SLOT, units=error_units()),
         reading(now - 19 * SLOT, units=error_units()))
    # A batch whose newest reading is normal: the errors before it are history too.
    send(client, key, reading(now - 9 * SLOT, units=error_units()),
         reading(now - 7 * SLOT), reading(now - 8 * SLOT, units=error_units()))
    assert count(Reading, Reading.has_error) == 4
    assert alerts() == []
    assert new_mail(smtp) == []

    send(client, key, reading(now - 5 * SLOT, units=error_units()))
    assert recipients(new_mail(smtp), ERROR_SUBJECT) == EVERYONE
    # A late normal reading from before the error does not end it.
    send(client, key, reading(now - 6 * SLOT), reading(now - 11 * SLOT))
    assert new_mail(smtp) == []
    assert [a.ended_at for a in alerts()] == [None]
    send(client, key, reading(now - 4 * SLOT))
    assert recipients(new_mail(smtp), RECOVERED_SUBJECT) == EVERYONE


def test_the_owner_is_mailed_in_the_owner_language(smtp_app, smtp):
    owner, _gateway, key = linked_gateway(smtp)
    owner.language = "en"
    db.session.commit()
    client = smtp_app.test_client()
    now = slot_end()
    send(client, key, reading(now - SLOT, units=error_units()))
    arrived = {m["To"]: m for m in new_mail(smtp)}
    assert sorted(arrived) == EVERYONE
    assert arrived[OWNER]["Subject"] == (
        f"[Enelink] An error was detected on your gateway ({GATEWAY_ID})")
    body = SmtpServer.text_of(arrived[OWNER])
    assert GATEWAY_ID in body and "1:E201" in body and MONITOR_LINK in body
    assert "ゲートウェイID" not in body
    for contact in CONTACTS:  # a company has no language of its own: Japanese
        assert arrived[contact]["Subject"] == ERROR_SUBJECT

    send(client, key, reading(now))
    arrived = {m["To"]: m["Subject"] for m in new_mail(smtp)}
    assert arrived == {OWNER: f"[Enelink] Your gateway is back to normal ({GATEWAY_ID})",
                       **dict.fromkeys(CONTACTS, RECOVERED_SUBJECT)}


# -- silence -----------------------------------------------------------------------------
def test_silence_is_mailed_once_and_its_end_too(smtp_app, smtp):
    _owner, _gateway, key = linked_gateway(smtp)
    client = smtp_app.test_client()
    now = slot_end()
    send(client, key, reading(now - 24 * SLOT), reading(now - 25 * SLOT))  # 2 hours ago

    result = check_silence()
    assert result.opened == [GATEWAY_ID]
    arrived = new_mail(smtp)
    assert recipients(arrived, SILENT_SUBJECT) == EVERYONE
    assert all("30分以上" in SmtpServer.text_of(m) and MONITOR_LINK in SmtpServer.text_of(m)
               for m in arrived)
    [alert] = alerts("silent")
    assert alert.started_at == now - 24 * SLOT and alert.ended_at is None

    assert check_silence().opened == []
    assert check_silence(utcnow() + timedelta(hours=3)).opened == []
    assert new_mail(smtp) == []

    # A backfill that is still old ends nothing; a current reading does.
    send(client, key, reading(now - 12 * SLOT))
    assert new_mail(smtp) == []
    send(client, key, reading(now))
    arrived = new_mail(smtp)
    assert recipients(arrived, RECOVERED_SUBJECT) == EVERYONE
    assert all("通信が再開" in SmtpServer.text_of(m) for m in arrived)
    [alert] = alerts("silent")
    assert alert.ended_by == "recovered"
    assert check_silence().opened == []

    # Silent again later: a new incident.
    assert check_silence(utcnow() + timedelta(minutes=45)).opened == [GATEWAY_ID]
    assert recipients(new_mail(smtp), SILENT_SUBJECT) == EVERYONE


def test_silence_is_not_checked_before_the_threshold(smtp_app, smtp):
    _owner, _gateway, key = linked_gateway(smtp)
    now = slot_end()
    send(smtp_app.test_client(), key, reading(now))
    threshold = timedelta(minutes=smtp_app.config["GATEWAY_SILENCE_MINUTES"])
    assert check_silence(now + threshold).opened == []
    assert check_silence(now + threshold + timedelta(seconds=1)).opened == [GATEWAY_ID]


def test_only_gateways_in_service_that_reported_are_silent(smtp_app, smtp):
    owner, gateway, key = linked_gateway(smtp)
    client = smtp_app.test_client()
    long_ago = slot_end() - 36 * SLOT
    send(client, key, reading(long_ago))

    reporting_gateway(owner, gateway_id="03EF00000001")  # never reported
    provisional, provisional_key = reporting_gateway(owner, gateway_id="03EF00000002")
    exchanged, exchanged_key = reporting_gateway(owner, gateway_id="03EF00000003")
    _disposed, disposed_key = reporting_gateway(owner, gateway_id="03EF00000004")
    for gateway_id, other_key in (("03EF00000002", provisional_key),
                                  ("03EF00000003", exchanged_key),
                                  ("03EF00000004", disposed_key)):
        assert post(client, gateway_id, other_key, [reading(long_ago)]).status_code == 200
    provisional.status = GatewayStatus.PROVISIONAL
    exchanged.status = GatewayStatus.RETIRED  # keeps its last reading, as after 交換
    exchanged.retired_at = utcnow()
    db.session.commit()
    assert dispose_gateway(owner, "03EF00000004")
    new_mail(smtp)

    result = check_silence()
    assert result.opened == [GATEWAY_ID]
    arrived = new_mail(smtp)
    assert recipients(arrived, SILENT_SUBJECT) == EVERYONE
    assert [a.gateway_id for a in alerts()] == [gateway.id]


def test_concurrent_watches_make_one_alert(smtp_app, smtp):
    _owner, _gateway, key = linked_gateway(smtp)
    send(smtp_app.test_client(), key, reading(slot_end() - 24 * SLOT))
    db.session.commit()
    now = utcnow()

    def watch(_):
        with smtp_app.app_context():
            try:
                return check_silence(now).opened
            finally:
                db.session.remove()

    with ThreadPoolExecutor(6) as pool:
        opened = [gid for result in pool.map(watch, range(6)) for gid in result]
    assert opened == [GATEWAY_ID]
    assert len(alerts("silent")) == 1
    assert recipients(new_mail(smtp), SILENT_SUBJECT) == EVERYONE


def test_watch_once_prints_the_newly_silent_gateways(smtp_app, smtp):
    _owner, _gateway, key = linked_gateway(smtp)
    send(smtp_app.test_client(), key, reading(slot_end() - 24 * SLOT))
    runner = smtp_app.test_cli_runner()
    result = runner.invoke(args=["gateways", "watch", "--once"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"checked 1, newly silent: {GATEWAY_ID}"
    assert recipients(new_mail(smtp), SILENT_SUBJECT) == EVERYONE
    again = runner.invoke(args=["gateways", "watch", "--once"])
    assert again.exit_code == 0 and again.output.strip().endswith("newly silent: none")
    assert new_mail(smtp) == []


# -- SMTP outages ------------------------------------------------------------------------
def test_alert_mail_waits_while_smtp_is_down(make_app, smtp):
    port = smtp.port
    smtp.stop()
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_TIMEOUT_SECONDS=2)
    with app.app_context():
        _owner, _gateway, key = linked_gateway()
        send(app.test_client(), key, reading(slot_end(), units=error_units()))
        assert deliver_pending(limit=200) == 0
        waiting = db.session.scalars(select(OutboxMail).where(
            OutboxMail.kind == "gateway_alert")).all()
        assert sorted(m.recipient for m in waiting) == EVERYONE
        assert all(m.status == OutboxStatus.PENDING and m.attempts == 1 for m in waiting)

        smtp.port = port
        smtp.start()
        make_due()
        deliver_pending(limit=200)
        assert sorted(m["To"] for m in smtp.messages if m["Subject"] == ERROR_SUBJECT) \
            == EVERYONE
        make_due()
        assert deliver_pending(limit=200) == 0
