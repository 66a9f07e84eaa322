"""The eco programme's guidance mail (001-02, 001-03), concurrency of 申込, and the
three mails over real SMTP (aiosmtpd): 【お申込みのご案内】, 【お申込み完了のお知らせ】 and
【解約完了のお知らせ】."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from threading import Barrier

from sqlalchemy import func, select

from blueprints.core import registry
from blueprints.eco import services
from mail.relay import deliver_pending
from models import db, utcnow
from models.account import AccountType
from models.eco import EcoGuidance, EcoMembership
from models.gateway import GatewayStatus
from models.mail import OutboxMail
from tests.conftest import SmtpServer, csrf_from
from tests.flows.test_eco import (DECLARED, GW, OWNER, SERIAL, agree, apply, apply_url,
                                  make_eligible, signed_in)
from tests.flows.test_gateway_manage import fresh, owned_gateway
from tests.flows.test_slips import make_account
from tests.helpers import login, outbox, statements

WORKERS = 6


def guidance_mails(recipient: str | None = None) -> list[OutboxMail]:
    return outbox(recipient, "eco_guidance")


def _count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def numbered(n: int) -> str:
    return f"05EC{n:08d}"


# -- the guidance job ----------------------------------------------------------------------
def test_guidance_goes_once_to_an_eligible_owner(app):
    owner = make_account(OWNER)
    make_eligible(owned_gateway(owner))
    assert services.send_guidance() == 1
    [mail] = guidance_mails(OWNER)
    assert "お申込みのご案内" in mail.subject
    for shown in ("お申込みが可能なお客様にのみ", GW, "エコ活の申込/照会/解約", "/eco/",
                  "PVユニットもしくは蓄電池ユニット"):
        assert shown in mail.text_body, shown
    # A second run, and the periodic job, send nothing more.
    assert services.send_guidance() == 0
    assert registry.run_periodic_jobs() == []
    assert len(guidance_mails(OWNER)) == 1
    assert _count(EcoGuidance) == 1


def test_guidance_skips_whoever_does_not_meet_every_condition(app):
    cases = []
    # 001-03: generation but no battery (a unit left out during a failure exchange).
    no_battery = make_account("nobattery@example.com")
    make_eligible(owned_gateway(no_battery, numbered(1)), battery=0)
    cases.append("nobattery@example.com")
    no_pv = make_account("nopv@example.com")
    make_eligible(owned_gateway(no_pv, numbered(2)), pv=0)
    cases.append("nopv@example.com")
    company = make_account("company@example.com")
    company.account_type = AccountType.COMMERCIAL
    make_eligible(owned_gateway(company, numbered(3)))
    cases.append("company@example.com")
    silent = make_account("silent@example.com")
    gateway = make_eligible(owned_gateway(silent, numbered(4)))
    gateway.last_reading_at = utcnow() - timedelta(days=2)
    cases.append("silent@example.com")
    old = make_account("old@example.com")
    gateway = make_eligible(owned_gateway(old, numbered(5)))
    gateway.operation_started_on = (utcnow() - timedelta(days=365 * 3)).date()
    cases.append("old@example.com")
    other_model = make_account("m003@example.com")
    gateway = make_eligible(owned_gateway(other_model, numbered(6)))
    gateway.model = "GW-M003"
    cases.append("m003@example.com")
    retired = make_account("retired@example.com")
    make_eligible(owned_gateway(retired, numbered(7), status=GatewayStatus.RETIRED))
    cases.append("retired@example.com")
    member = make_account("member@example.com")
    make_eligible(owned_gateway(member, numbered(8)))
    services.accept_terms(member)
    assert services.apply(member, numbered(8), True, True).result is services.ApplyResult.APPLIED
    cases.append("member@example.com")
    db.session.commit()
    assert services.send_guidance() == 0
    assert guidance_mails() == []
    # The battery comes back: the guidance goes out on the next run.
    from models.telemetry import DailyEnergy

    gateway = fresh(numbered(1))
    row = db.session.scalar(select(DailyEnergy).where(DailyEnergy.gateway_id == gateway.id))
    row.discharge_wsum = 500
    db.session.commit()
    assert services.send_guidance() == 1
    assert [m.recipient for m in guidance_mails()] == ["nobattery@example.com"]


def test_guidance_uses_yesterdays_rollup_but_not_older_ones(app):
    from models import JST
    from models.telemetry import DailyEnergy

    owner = make_account(OWNER)
    gateway = owned_gateway(owner)
    gateway.last_reading_at = utcnow()
    gateway.first_report_at = utcnow() - timedelta(days=30)
    today = utcnow().astimezone(JST).date()
    db.session.add(DailyEnergy(gateway_id=gateway.id, day=today - timedelta(days=2),
                               pv_wsum=5000, charge_wsum=5000))
    db.session.commit()
    assert services.send_guidance() == 0
    db.session.add(DailyEnergy(gateway_id=gateway.id, day=today - timedelta(days=1),
                               pv_wsum=5000, charge_wsum=5000))
    db.session.commit()
    assert services.send_guidance() == 1


def test_a_new_owner_of_the_same_gateway_gets_their_own_guidance(app):
    first = make_account(OWNER)
    gateway = make_eligible(owned_gateway(first))
    assert services.send_guidance() == 1
    second = make_account("buyer@example.com")
    gateway = db.session.get(type(gateway), gateway.id)
    gateway.owner_id = second.id
    db.session.commit()
    assert services.send_guidance() == 1
    assert [m.recipient for m in guidance_mails()] == [OWNER, "buyer@example.com"]


def test_the_number_of_queries_does_not_grow_with_the_gateways_checked(app):
    """Gateways checked but not mailed (no battery today) cost nothing per gateway."""
    def queries_for_a_run() -> int:
        with statements() as seen:
            assert services.send_guidance() == 0
        return len(seen)

    for n in range(2):
        make_eligible(owned_gateway(make_account(f"a{n}@example.com"), numbered(n)), battery=0)
    queries_for_a_run()  # the first run fills the system-model catalogue
    few = queries_for_a_run()
    for n in range(2, 14):
        make_eligible(owned_gateway(make_account(f"a{n}@example.com"), numbered(n)), battery=0)
    many = queries_for_a_run()
    assert few == many, (few, many, statements)
    assert many <= 6


def test_the_cli_command_sends_the_guidance(app, runner):
    make_eligible(owned_gateway(make_account(OWNER)))
    result = runner.invoke(args=["eco", "guide"])
    assert result.exit_code == 0 and "1 guidance mail(s) queued" in result.output
    result = runner.invoke(args=["eco", "guide"])
    assert "0 guidance mail(s) queued" in result.output
    assert len(guidance_mails(OWNER)) == 1


def test_concurrent_guidance_runs_send_one_mail(make_app):
    app = make_app(RATELIMIT_ENABLED=False)
    with app.app_context():
        for n in range(3):
            make_eligible(owned_gateway(make_account(f"o{n}@example.com"), numbered(n)))
    barrier = Barrier(WORKERS, timeout=60)

    def run(_):
        with app.app_context():
            barrier.wait()
            try:
                return services.send_guidance()
            finally:
                db.session.remove()

    with ThreadPoolExecutor(WORKERS) as pool:
        sent = list(pool.map(run, range(WORKERS)))
    assert sum(sent) == 3
    with app.app_context():
        assert _count(EcoGuidance) == 3
        assert len(guidance_mails()) == 3


# -- concurrency of 申込 ---------------------------------------------------------------------
def test_concurrent_applications_make_one_membership(make_app):
    """The same owner in several tabs presses 申込を確定する at once: one membership, one
    mail; every tab ends on a page (the completion, or "already applied"), never a 500."""
    app = make_app(RATELIMIT_ENABLED=False)
    with app.app_context():
        owner = make_account(OWNER)
        make_eligible(owned_gateway(owner))
        services.accept_terms(owner)
    clients = [app.test_client() for _ in range(WORKERS)]
    tokens = []
    for client in clients:
        assert login(client, email=OWNER).status_code in (302, 303)
        tokens.append(csrf_from(client.get(apply_url()).get_data(as_text=True)))
    barrier = Barrier(WORKERS, timeout=60)

    def confirm(i: int) -> tuple[int, str]:
        barrier.wait()
        response = clients[i].post(apply_url(), data={**DECLARED, "step": "confirm",
                                                      "csrf_token": tokens[i]})
        return response.status_code, response.headers.get("Location", "")

    with ThreadPoolExecutor(WORKERS) as pool:
        answers = list(pool.map(confirm, range(WORKERS)))
    assert all(code == 303 for code, _ in answers), answers
    assert sum(location.endswith("/applied") for _, location in answers) == 1
    with app.app_context():
        assert _count(EcoMembership) == 1
        assert len(outbox(OWNER, "eco_applied")) == 1


def test_concurrent_service_applications_end_with_one_row(make_app):
    """Below the pre-check: the partial unique index decides, as ALREADY, not a 500."""
    app = make_app(RATELIMIT_ENABLED=False)
    with app.app_context():
        owner = make_account(OWNER)
        make_eligible(owned_gateway(owner))
        services.accept_terms(owner)
        owner_id = owner.id
    barrier = Barrier(WORKERS, timeout=60)

    def one(_):
        from models.account import Account

        with app.app_context():
            try:
                barrier.wait()
                account = db.session.get(Account, owner_id)
                return services.apply(account, GW, True, True).result
            finally:
                db.session.remove()

    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(one, range(WORKERS)))
    assert results.count(services.ApplyResult.APPLIED) == 1
    assert results.count(services.ApplyResult.ALREADY) == WORKERS - 1
    with app.app_context():
        assert _count(EcoMembership) == 1


# -- the three mails over real SMTP -----------------------------------------------------------
def test_guidance_completion_and_cancel_mails_over_smtp(smtp_app, smtp):
    owner, client = signed_in(smtp_app)
    make_eligible(owned_gateway(owner))
    assert services.send_guidance() == 1
    assert agree(client).status_code == 303
    assert apply(client).status_code == 303
    token = csrf_from(client.get(f"/eco/gateways/{GW}/cancel").get_data(as_text=True))
    assert client.post(f"/eco/gateways/{GW}/cancel", data={"csrf_token": token}).status_code == 303
    assert deliver_pending(limit=50) == 3
    messages = smtp.to(OWNER)
    subjects = [m["Subject"] for m in messages]
    assert any("みんなでつくるエコ活サークル お申込みのご案内" in s for s in subjects)
    [guidance] = [m for m in messages if "ご案内" in m["Subject"]]
    [applied] = [m for m in messages if "お申込み完了のお知らせ" in m["Subject"]]
    [cancelled] = [m for m in messages if "解約完了のお知らせ" in m["Subject"]]
    host = smtp_app.config["PUBLIC_HOST"]
    body = SmtpServer.text_of(guidance)
    assert f"http://{host}/eco/" in body and smtp_app.config["ECO_CONTACT_PHONE"] in body
    body = SmtpServer.text_of(applied)
    membership = db.session.scalar(select(EcoMembership))
    for shown in (f"ゲートウェイID: {GW}", f"パワーコンディショナ製造番号: {SERIAL}",
                  f"http://{host}/points/signup", "申込完了日時", "【参考情報】",
                  smtp_app.config["ECO_CONTACT_PHONE"]):
        assert shown in body, shown
    assert membership.applied_at is not None
    assert applied.get_body(preferencelist=("html",)) is not None
    body = SmtpServer.text_of(cancelled)
    assert GW in body and "解約完了日時" in body and "改めてお申し込みいただけます" in body
