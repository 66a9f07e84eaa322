"""The eco programme through the test client (seed 001 §1, 001-24, 002-27): the main
menu entry, 会員規約 (同意する / 同意しない), 申込状態の照会・申込・解約, 申込 with the two
declarations and the confirmation, the completion page and mail, 解約 and a new 申込, the
STEP4 offer, gateway events and account deletion, as plain posts and as HTMX."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from blueprints.eco import services
from models import JST, db, utcnow
from models.account import AccountConsent, AccountType
from models.audit import AuditEvent
from models.eco import EcoEnd, EcoMembership
from models.gateway import Gateway
from models.telemetry import DailyEnergy
from tests.conftest import csrf_from
from tests.flows.test_gateway_manage import (NEW_ID, OLD_ID, OTHER, OWNER, base, exchange,
                                             fresh, owned_gateway, post)
from tests.flows.test_slips import make_account
from tests.helpers import HX, PASSWORD, login, outbox

GW = OLD_ID
SERIAL = "A1B2C3D4"  # the first power conditioner of owned_gateway()
DECLARED = {"no_private_generator": "y", "no_other_scheme": "y"}


def make_eligible(gateway: Gateway, pv: int = 3000, battery: int = 1500) -> Gateway:
    """A gateway that reports: a reading 5 minutes ago, operating since 30 days, and
    today's rollup with generation and battery."""
    now = utcnow()
    gateway.last_reading_at = now - timedelta(minutes=5)
    gateway.first_report_at = now - timedelta(days=30)
    db.session.add(DailyEnergy(gateway_id=gateway.id, day=now.astimezone(JST).date(),
                               slots=12, pv_wsum=pv, charge_wsum=battery, discharge_wsum=0,
                               load_wsum=0, self_wsum=0, supplied_wsum=0, sell_wsum=0,
                               buy_wsum=0))
    db.session.commit()
    return gateway


def signed_in(app, email=OWNER, account_type=AccountType.PERSONAL):
    account = make_account(email)
    account.account_type = account_type
    db.session.commit()
    client = app.test_client()
    assert login(client, email=email).status_code in (302, 303)
    return account, client


def agree(client, htmx=False):
    token = csrf_from(client.get("/eco/").get_data(as_text=True))
    return client.post("/eco/terms", data={"csrf_token": token, "agree": "1"},
                       headers=HX if htmx else {})


def apply_url(gateway_id=GW) -> str:
    return f"/eco/gateways/{gateway_id}/apply"


def apply(client, gateway_id=GW, htmx=False, declared=DECLARED):
    """Both steps: the declarations, then 申込を確定する."""
    token = csrf_from(client.get(apply_url(gateway_id)).get_data(as_text=True))
    headers = HX if htmx else {}
    first = client.post(apply_url(gateway_id), data={**declared, "csrf_token": token},
                        headers=headers)
    assert first.status_code == 200, first.get_data(as_text=True)
    return client.post(apply_url(gateway_id), data={**declared, "step": "confirm",
                                                    "csrf_token": token}, headers=headers)


def memberships(*where) -> list[EcoMembership]:
    db.session.expire_all()
    return list(db.session.scalars(select(EcoMembership).where(*where)
                                   .order_by(EcoMembership.id)))


def count_actions(action: str) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == action))


@pytest.fixture
def owner(app):
    return signed_in(app)


# -- the whole flow ---------------------------------------------------------------------
def test_the_whole_flow_with_plain_posts(owner):
    account, client = owner
    make_eligible(owned_gateway(account))
    menu = client.get("/monitoring/").get_data(as_text=True)
    assert "エコ活の申込/照会/解約" in menu and 'href="/eco/"' in menu

    terms = client.get("/eco/").get_data(as_text=True)
    for shown in ("会員規約 第2条-2記載の(1)〜(10)全ての申込条件", "一般住宅のお客様であることを意味します",
                  "第3条-1記載の温室効果ガス削減効果を価値化する権利", "第1条（総則）", "(10)",
                  "同意する", "同意しない", "0120-000-825"):
        assert shown in terms, shown
    # Before agreeing, the list sends the owner back to the terms.
    assert client.get("/eco/gateways").headers["Location"].endswith("/eco/")
    agreed = agree(client)
    assert agreed.status_code == 303 and agreed.headers["Location"].endswith("/eco/gateways")
    assert db.session.scalar(select(AccountConsent.document).where(
        AccountConsent.account_id == account.id)) == services.TERMS

    listing = client.get("/eco/gateways").get_data(as_text=True)
    assert "申込状態の照会・申込・解約" in listing and "申込可" in listing
    assert f'href="{apply_url()}"' in listing

    page = client.get(apply_url()).get_data(as_text=True)
    assert GW in page and SERIAL in page and "自家発電装置" in page and "J-クレジット" in page
    token = csrf_from(page)
    # Declarations left unticked: 422, the message next to each box, nothing made.
    missing = client.post(apply_url(), data={"csrf_token": token})
    assert missing.status_code == 422
    assert missing.get_data(as_text=True).count("この条件を満たす場合にのみお申し込みいただけます") == 2
    confirm = client.post(apply_url(), data={**DECLARED, "csrf_token": token})
    text = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "申込を確定する" in text and GW in text and SERIAL in text
    assert memberships() == []
    # 前に戻る goes back to the declarations, still nothing made.
    back = client.post(apply_url(), data={**DECLARED, "step": "confirm", "back": "1",
                                          "csrf_token": token})
    assert back.status_code == 200 and "確認する" in back.get_data(as_text=True)
    assert memberships() == []
    done = client.post(apply_url(), data={**DECLARED, "step": "confirm", "csrf_token": token})
    assert done.status_code == 303
    assert done.headers["Location"].endswith(f"/eco/gateways/{GW}/applied")

    [membership] = memberships()
    assert (membership.gateway_code, membership.pcs_serial, membership.account_id) == (
        GW, SERIAL, account.id)
    assert membership.no_private_generator and membership.no_other_scheme
    assert membership.ended_at is None
    completion = client.get(done.headers["Location"]).get_data(as_text=True)
    for shown in ("申込が完了しました", GW, SERIAL, "メモを取っておいてください", 'href="/points/signup"',
                  "メインメニューに戻る"):
        assert shown in completion, shown
    [mail] = outbox(OWNER, "eco_applied")
    assert "お申込み完了のお知らせ" in mail.subject
    for shown in ("申込完了日時", f"ゲートウェイID: {GW}", f"パワーコンディショナ製造番号: {SERIAL}",
                  "/points/signup", "【参考情報】"):
        assert shown in mail.text_body, shown
    assert count_actions("eco.apply") == 1
    # The list now says 申込済 with the date, and offers 解約.
    listing = client.get("/eco/gateways").get_data(as_text=True)
    assert "申込済" in listing and f"/eco/gateways/{GW}/cancel" in listing
    assert "申込可" not in listing


def test_the_whole_flow_as_htmx(owner):
    account, client = owner
    make_eligible(owned_gateway(account))
    assert agree(client, htmx=True).status_code == 303
    token = csrf_from(client.get(apply_url()).get_data(as_text=True))
    wrong = client.post(apply_url(), data={"no_private_generator": "y", "csrf_token": token},
                        headers=HX)
    body = wrong.get_data(as_text=True)
    assert wrong.status_code == 422 and "<html" not in body and 'id="eco-apply-form"' in body
    assert body.count("この条件を満たす場合にのみお申し込みいただけます") == 1
    assert wrong.headers.get("Vary") and "HX-Request" in wrong.headers["Vary"]
    confirm = client.post(apply_url(), data={**DECLARED, "csrf_token": token}, headers=HX)
    assert confirm.status_code == 200 and "<html" not in confirm.get_data(as_text=True)
    assert "申込を確定する" in confirm.get_data(as_text=True)
    done = client.post(apply_url(), data={**DECLARED, "step": "confirm", "csrf_token": token},
                       headers=HX)
    assert done.status_code == 200 and done.headers["HX-Redirect"] == f"/eco/gateways/{GW}/applied"
    assert len(memberships()) == 1


def test_declining_the_terms_explains_and_offers_a_way_back(owner):
    account, client = owner
    make_eligible(owned_gateway(account))
    token = csrf_from(client.get("/eco/").get_data(as_text=True))
    declined = client.post("/eco/terms", data={"csrf_token": token, "decline": "1"})
    assert declined.status_code == 303 and declined.headers["Location"].endswith("/eco/declined")
    page = client.get("/eco/declined").get_data(as_text=True)
    assert "サービスはご利用いただけません" in page and 'href="/eco/"' in page
    assert db.session.scalar(select(AccountConsent.id)) is None
    # Without the terms, neither the list nor an application goes through.
    assert client.get(apply_url()).status_code == 302
    posted = client.post(apply_url(), data={**DECLARED, "step": "confirm", "csrf_token": token})
    assert posted.status_code == 302 and memberships() == []


def test_terms_post_without_csrf_is_refused(owner):
    _account, client = owner
    assert client.post("/eco/terms", data={"agree": "1"}).status_code == 400
    assert db.session.scalar(select(AccountConsent.id)) is None


# -- who may see what ---------------------------------------------------------------------
def test_another_owners_gateway_is_404_and_anonymous_signs_in(app, owner):
    account, client = owner
    make_eligible(owned_gateway(account))
    assert agree(client).status_code == 303
    assert apply(client).status_code == 303
    other, intruder = signed_in(app, OTHER)
    assert agree(intruder).status_code == 303
    token = csrf_from(intruder.get("/eco/").get_data(as_text=True))
    for path in (apply_url(), f"/eco/gateways/{GW}/applied", f"/eco/gateways/{GW}/cancel",
                 "/eco/gateways/ZZZZ/apply", "/eco/gateways/" + "9" * 200 + "/apply"):
        assert intruder.get(path).status_code == 404, path
        if not path.endswith("/applied"):  # a page only
            assert intruder.post(path, data={**DECLARED, "step": "confirm",
                                             "csrf_token": token}).status_code == 404, path
    assert GW not in intruder.get("/eco/gateways").get_data(as_text=True)
    anonymous = app.test_client()
    for path in ("/eco/", "/eco/gateways", apply_url(), f"/eco/gateways/{GW}/cancel"):
        response = anonymous.get(path)
        assert response.status_code == 302 and "/account/login" in response.headers["Location"]
    [membership] = memberships()
    assert membership.ended_at is None and membership.account_id == account.id


def test_a_commercial_account_is_refused_with_the_reason(app):
    account, client = signed_in(app, "company@example.com", AccountType.COMMERCIAL)
    make_eligible(owned_gateway(account))
    # No main-menu entry for a business account.
    assert "エコ活の申込/照会/解約" not in client.get("/monitoring/").get_data(as_text=True)
    assert agree(client).status_code == 303
    listing = client.get("/eco/gateways").get_data(as_text=True)
    assert "対象外" in listing and "法人名（商用アカウント）で登録されたお客様" in listing
    assert "申込可" not in listing
    page = client.get(apply_url()).get_data(as_text=True)
    assert "法人名" in page and "申込を確定する" not in page
    token = csrf_from(page)
    entry = client.post(apply_url(), data={**DECLARED, "csrf_token": token})
    assert entry.status_code == 409 and "申込を確定する" not in entry.get_data(as_text=True)
    refused = client.post(apply_url(), data={**DECLARED, "step": "confirm", "csrf_token": token})
    assert refused.status_code == 409 and "法人名" in refused.get_data(as_text=True)
    assert memberships() == [] and outbox(kind="eco_applied") == []


def test_an_ineligible_gateway_lists_each_reason(owner):
    account, client = owner
    gateway = owned_gateway(account)
    gateway.model = "GW-M003"  # not eco-eligible, and it never reported
    db.session.commit()
    assert agree(client).status_code == 303
    listing = client.get("/eco/gateways").get_data(as_text=True)
    assert "対象外" in listing
    for reason in ("この機種（GW-M003）", "まだ通信がありません", "太陽光発電と蓄電池の両方の運転を確認できません",
                   "運転開始日がまだわかりません"):
        assert reason in listing, reason
    assert f'href="{apply_url()}"' not in listing


def test_eligibility_is_checked_again_when_the_application_is_confirmed(owner):
    """The page said 申込可; the gateway went silent before 申込を確定する: refused, 409,
    with the reason, and no membership."""
    account, client = owner
    gateway = make_eligible(owned_gateway(account))
    assert agree(client).status_code == 303
    token = csrf_from(client.get(apply_url()).get_data(as_text=True))
    assert client.post(apply_url(), data={**DECLARED, "csrf_token": token}).status_code == 200
    gateway = fresh(GW)
    gateway.last_reading_at = utcnow() - timedelta(days=3)
    db.session.commit()
    late = client.post(apply_url(), data={**DECLARED, "step": "confirm", "csrf_token": token})
    assert late.status_code == 409 and "通信がありません" in late.get_data(as_text=True)
    assert memberships() == []
    # A forged confirmation without the declarations is refused too.
    gateway = fresh(GW)
    gateway.last_reading_at = utcnow()
    db.session.commit()
    forged = client.post(apply_url(), data={"step": "confirm", "csrf_token": token})
    assert forged.status_code == 422 and memberships() == []


def test_a_double_submit_makes_one_membership(owner):
    account, client = owner
    make_eligible(owned_gateway(account))
    assert agree(client).status_code == 303
    token = csrf_from(client.get(apply_url()).get_data(as_text=True))
    data = {**DECLARED, "step": "confirm", "csrf_token": token}
    first = client.post(apply_url(), data=data)
    second = client.post(apply_url(), data=data)
    assert (first.status_code, second.status_code) == (303, 303)
    assert second.headers["Location"].endswith("/eco/gateways")
    assert len(memberships()) == 1 and len(outbox(OWNER, "eco_applied")) == 1


def test_the_apply_service_answers_already_for_a_second_application(owner):
    account, client = owner
    make_eligible(owned_gateway(account))
    assert agree(client).status_code == 303
    first = services.apply(account, GW, True, True)
    second = services.apply(account, GW, True, True)
    assert first.result is services.ApplyResult.APPLIED
    assert second.result is services.ApplyResult.ALREADY
    assert len(memberships()) == 1


# -- 照会 and 解約 -------------------------------------------------------------------------
def test_cancel_then_apply_again(owner):
    account, client = owner
    make_eligible(owned_gateway(account))
    assert agree(client).status_code == 303
    assert apply(client).status_code == 303
    cancel_url = f"/eco/gateways/{GW}/cancel"
    page = client.get(cancel_url).get_data(as_text=True)
    for shown in (GW, SERIAL, "解約の前にご確認ください", "ポイントサービスへの新規登録には", "解約する"):
        assert shown in page, shown
    token = csrf_from(page)
    assert client.post(cancel_url, data={}).status_code == 400  # no CSRF token
    assert memberships()[0].ended_at is None
    done = client.post(cancel_url, data={"csrf_token": token})
    assert done.status_code == 303 and done.headers["Location"].endswith("/eco/gateways")
    [ended] = memberships()
    assert ended.ended_at is not None and ended.end_reason == EcoEnd.CANCELLED
    assert count_actions("eco.cancel") == 1
    [mail] = outbox(OWNER, "eco_cancelled")
    assert "解約完了のお知らせ" in mail.subject and GW in mail.text_body
    listing = client.get("/eco/gateways").get_data(as_text=True)
    assert "申込可" in listing and "解約しました" in listing
    # A second cancel (double submit) finds nothing to cancel.
    assert client.post(cancel_url, data={"csrf_token": token}).status_code == 404
    assert len(outbox(OWNER, "eco_cancelled")) == 1
    # Applying again makes a new row; the ended one stays.
    assert apply(client).status_code == 303
    rows = memberships()
    assert len(rows) == 2 and rows[0].ended_at is not None and rows[1].ended_at is None


def test_cancel_as_htmx(owner):
    account, client = owner
    make_eligible(owned_gateway(account))
    assert agree(client).status_code == 303
    assert apply(client).status_code == 303
    cancel_url = f"/eco/gateways/{GW}/cancel"
    token = csrf_from(client.get(cancel_url).get_data(as_text=True))
    done = client.post(cancel_url, data={"csrf_token": token}, headers=HX)
    assert done.status_code == 200 and done.headers["HX-Redirect"] == "/eco/gateways"
    assert memberships()[0].end_reason == EcoEnd.CANCELLED


def test_the_access_page_lists_the_membership_with_its_cancel_link(owner):
    account, client = owner
    make_eligible(owned_gateway(account))
    assert agree(client).status_code == 303
    page = client.get("/account/access").get_data(as_text=True)
    assert "みんなでつくるエコ活サークル" not in page
    assert apply(client).status_code == 303
    page = client.get("/account/access").get_data(as_text=True)
    assert "みんなでつくるエコ活サークル" in page and f"/eco/gateways/{GW}/cancel" in page


# -- gateway events and account deletion ---------------------------------------------------
def test_an_exchange_moves_the_membership_to_the_new_gateway(owner):
    account, client = owner
    make_eligible(owned_gateway(account))
    owned_gateway(None, NEW_ID)
    assert agree(client).status_code == 303
    assert apply(client).status_code == 303
    assert exchange(client).status_code == 303
    assert post(client, base() + "/exchange/confirm", {}).status_code == 303
    [membership] = memberships()
    new = fresh(NEW_ID)
    assert (membership.gateway_id, membership.gateway_code, membership.ended_at) == (
        new.id, NEW_ID, None)
    assert membership.pcs_serial == SERIAL  # owned_gateway() gives every slip these units
    listing = client.get("/eco/gateways").get_data(as_text=True)
    assert NEW_ID in listing and "申込済" in listing


def test_disposing_of_the_gateway_ends_the_membership(owner):
    account, client = owner
    make_eligible(owned_gateway(account))
    assert agree(client).status_code == 303
    assert apply(client).status_code == 303
    assert post(client, base() + "/dispose", {"confirm": "y"}).status_code == 303
    [membership] = memberships()
    assert membership.end_reason == EcoEnd.DISPOSED and membership.ended_at is not None
    assert membership.account_id == account.id


def test_deleting_the_account_ends_the_membership_and_forgets_the_account(owner):
    """Deletion releases the gateways first (gateways' hook), which ends the membership as
    RELEASED; the eco deletion hook ends any other running one; the row stays without
    its account."""
    account, client = owner
    make_eligible(owned_gateway(account))
    assert agree(client).status_code == 303
    assert apply(client).status_code == 303
    token = csrf_from(client.get("/account/delete").get_data(as_text=True))
    response = client.post("/account/delete", data={"csrf_token": token, "password": PASSWORD,
                                                    "confirm": "y"})
    assert response.status_code == 303
    [membership] = memberships()
    assert membership.ended_at is not None and membership.account_id is None
    assert membership.end_reason in (EcoEnd.RELEASED, EcoEnd.ACCOUNT_DELETED)


def test_the_hooks_end_with_their_own_reason(owner):
    """Each hook by itself, inside the caller's transaction (they never commit)."""
    account, _client = owner
    gateway = make_eligible(owned_gateway(account))
    services.accept_terms(account)
    assert services.apply(account, GW, True, True).result is services.ApplyResult.APPLIED
    services.end_released([gateway.id], utcnow(), "released")
    db.session.rollback()  # not committed by the hook
    assert memberships()[0].ended_at is None
    services.end_released([gateway.id], utcnow(), "released")
    db.session.commit()
    assert memberships()[0].end_reason == EcoEnd.RELEASED
    assert services.apply(account, GW, True, True).result is services.ApplyResult.APPLIED
    services.end_for_deleted_account(fresh_account(account.id))
    db.session.commit()
    assert [m.end_reason for m in memberships()] == [EcoEnd.RELEASED, EcoEnd.ACCOUNT_DELETED]


def fresh_account(account_id):
    from models.account import Account

    db.session.expire_all()
    return db.session.get(Account, account_id)


# -- STEP4 offer on 本登録完了 ------------------------------------------------------------------
def test_step4_offer_for_an_eco_eligible_model_of_an_individual(owner):
    account, client = owner
    owned_gateway(account)  # not reported yet: the offer still shows
    page = client.get("/monitoring/register/complete").get_data(as_text=True)
    assert "引き続き「みんなでつくるエコ活サークル」へお申し込みください" in page
    assert "「みんなでつくるエコ活サークル」申込へ" in page
    assert 'href="/eco/?from=registration"' in page
    # 002-28: from there the terms offer 前に戻る to 本登録完了 as well.
    terms = client.get("/eco/?from=registration").get_data(as_text=True)
    assert 'href="/monitoring/register/complete"' in terms and "前に戻る" in terms
    assert 'href="/monitoring/register/complete"' not in client.get("/eco/").get_data(
        as_text=True)


def test_step4_offer_hidden_for_other_models_members_and_companies(app, owner):
    account, client = owner
    gateway = owned_gateway(account)
    gateway.model = "GW-M003"
    db.session.commit()
    assert "エコ活サークル" not in client.get("/monitoring/register/complete").get_data(
        as_text=True)
    company, business = signed_in(app, "company@example.com", AccountType.COMMERCIAL)
    owned_gateway(company, NEW_ID)
    assert "エコ活サークル" not in business.get("/monitoring/register/complete").get_data(
        as_text=True)


def test_step4_button_hidden_when_registered_before_pv_started(owner):
    account, client = owner
    gateway = owned_gateway(account)
    gateway.operation_started_on = date.today() + timedelta(days=30)
    db.session.commit()
    page = client.get("/monitoring/register/complete").get_data(as_text=True)
    assert "太陽光発電設備の稼働が始まってから" in page
    assert "「みんなでつくるエコ活サークル」申込へ" not in page


def test_step4_offer_hidden_once_the_gateway_is_a_member(owner):
    account, client = owner
    make_eligible(owned_gateway(account))
    services.accept_terms(account)
    assert services.apply(account, GW, True, True).result is services.ApplyResult.APPLIED
    assert "エコ活サークル" not in client.get("/monitoring/register/complete").get_data(
        as_text=True)


def test_no_menu_entry_without_a_gateway(owner):
    _account, client = owner
    assert "エコ活の申込/照会/解約" not in client.get("/monitoring/").get_data(as_text=True)


# -- demo data --------------------------------------------------------------------------------
def test_demo_seed_makes_the_demo_gateway_a_member_once(app, runner, monkeypatch):
    monkeypatch.setenv("ENELINK_ENV", "development")
    for _ in range(2):
        result = runner.invoke(args=["seed", "demo"])
        assert result.exit_code == 0, result.output
    assert "Eco programme: 01AB00000001" in result.output
    [membership] = memberships()
    assert membership.gateway_code == "01AB00000001" and membership.pcs_serial == "DM000101"
    assert membership.ended_at is None
    assert db.session.scalar(select(func.count()).select_from(AccountConsent).where(
        AccountConsent.document == services.TERMS)) == 1


# -- a dealer acting for the owner (代理ログイン) ----------------------------------------------
def test_a_proxy_login_never_agrees_applies_or_cancels(app):
    """The dealer's employee acting for the owner sees the eco pages but cannot accept
    the 会員規約, sign the declarations or cancel: 403 with the refusal page, no change."""
    from blueprints.dealers.services import become_dealer
    from tests.flows.test_club_proxy import acting_client, make_employee, permit, token_of
    from tests.flows.test_dealer_links import make_company, make_gateway, make_owner

    # The world of tests/flows/test_club_proxy.py: the owner approved dealer 1's employee.
    owner = make_owner()
    make_gateway(owner, GW)
    dealer = become_dealer(make_company(1), "0312345678")
    make_employee(dealer.company_id)
    permit(owner, dealer)
    world = {"owner": owner, "number": owner.customer_number}
    owner = world["owner"]
    make_eligible(fresh(GW))
    acting = acting_client(app, world)
    assert acting.get("/eco/").status_code == 200
    token = token_of(acting, "/eco/")
    refused = acting.post("/eco/terms", data={"csrf_token": token, "agree": "1"})
    assert refused.status_code == 403
    assert "代理ログイン中はこの操作はできません" in refused.get_data(as_text=True)
    assert db.session.scalar(select(AccountConsent.id)) is None
    # The owner agreed themselves; the proxy still cannot apply.
    services.accept_terms(owner)
    assert acting.get(apply_url()).status_code == 403
    assert acting.post(apply_url(), data={**DECLARED, "step": "confirm",
                                          "csrf_token": token}).status_code == 403
    assert memberships() == []
    assert services.apply(owner, GW, True, True).result is services.ApplyResult.APPLIED
    assert acting.post(f"/eco/gateways/{GW}/cancel",
                       data={"csrf_token": token}).status_code == 403
    assert memberships()[0].ended_at is None
    # The access page lists the membership read-only (no 解約 while acting).
    assert "みんなでつくるエコ活サークル" in acting.get("/account/access").get_data(as_text=True)


def test_the_apply_service_checks_every_condition_itself(owner):
    """Below the view: the service refuses what the rules refuse (declarations included)."""
    account, _client = owner
    gateway = make_eligible(owned_gateway(account))
    assert services.apply(account, GW, True, True).result is services.ApplyResult.NO_TERMS
    services.accept_terms(account)
    for declared, failing in (((False, True), "no_private_generator"),
                              ((True, False), "no_other_scheme")):
        refused = services.apply(account, GW, *declared)
        assert refused.result is services.ApplyResult.NOT_ELIGIBLE
        assert [c.key for c in refused.eligibility.failed] == [failing]
    gateway = fresh(GW)
    gateway.last_reading_at = utcnow() - timedelta(days=2)
    db.session.commit()
    silent = services.apply(account, GW, True, True)
    assert silent.result is services.ApplyResult.NOT_ELIGIBLE
    assert [c.key for c in silent.eligibility.failed] == ["online"]
    assert services.apply(account, "ZZZZZZZZZZZZ", True, True).result is \
        services.ApplyResult.NOT_FOUND
    assert memberships() == [] and outbox(kind="eco_applied") == []
