"""Proxy login (代理ログイン): who may start one and with what reason, the banner on every
page, the actions refused while acting, the audit of changes and the owner's アクセス履歴,
and every way it ends (return button, time over, permission withdrawn, owner's 今すぐ終了,
sign-out, the dealer's own session gone), with htmx and plain requests."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from blueprints.account.services import delete_account
from blueprints.club import proxy as proxy_service
from blueprints.core.security import revoke_login_sessions
from blueprints.core.staff import SUPPORT
from blueprints.dealers.services import become_dealer
from mail.relay import deliver_pending
from models import db, utcnow
from models.account import Account, AccountType, CompanyRole, LoginSession
from models.audit import AuditEvent
from models.club import LoginPermission, PermissionState, ProxySession
from tests.conftest import SmtpServer, csrf_from
from tests.flows.test_dealer_links import _password_hash, make_company, make_gateway, make_owner
from tests.helpers import HX, PASSWORD, login, make_staff, outbox

GATEWAY = "01AB12345678"
EMPLOYEE = "member1@dealer1.example"
SITE = {
    "site_name": "山田様邸（代理で変更）", "address-postal_code": "103-0026",
    "address-prefecture": "東京都", "address-city": "中央区",
    "address-street": "日本橋兜町1丁目2番3号", "address-building": "兜町ハイツ101",
}


def make_employee(company_id: int, email: str = EMPLOYEE, family="鈴木", given="一郎") -> Account:
    now = utcnow()
    employee = Account(email=email, password_hash=_password_hash(), family_name=family,
                       given_name=given, account_type=AccountType.COMMERCIAL,
                       company_id=company_id, company_role=CompanyRole.MEMBER,
                       activated_at=now, terms_accepted_at=now, privacy_accepted_at=now)
    db.session.add(employee)
    db.session.commit()
    return employee


def permit(owner: Account, dealer, state=PermissionState.APPROVED) -> LoginPermission:
    permission = LoginPermission(owner_id=owner.id, email=EMPLOYEE, dealer_id=dealer.id,
                                 state=state, decided_at=utcnow())
    db.session.add(permission)
    db.session.commit()
    return permission


@pytest.fixture
def world(app):
    """An owner with a gateway who approved dealer 1 (whose employee acts); dealer 2 is
    not approved."""
    owner = make_owner()
    make_gateway(owner, GATEWAY)
    dealer = become_dealer(make_company(1), "0312345678")
    become_dealer(make_company(2), "0312345679")
    employee = make_employee(dealer.company_id)
    permission = permit(owner, dealer)
    return {"owner": owner, "dealer": dealer, "employee": employee, "permission": permission,
            "number": owner.customer_number}


def start_url(number: str) -> str:
    return f"/club/dealer/users/{number}/proxy"


def start(client, number: str, reason="ご依頼の設定変更のため", htmx=False):
    url = start_url(number)
    page = client.get(url)
    token = csrf_from(page.get_data(as_text=True)) if page.status_code == 200 else \
        csrf_from(client.get("/account/settings").get_data(as_text=True))
    return client.post(url, data={"reason": reason, "csrf_token": token},
                       headers=HX if htmx else {})


def dealer_client(app, email=EMPLOYEE):
    client = app.test_client()
    assert login(client, email).status_code == 303
    return client


def acting_client(app, world, reason="ご依頼の設定変更のため"):
    client = dealer_client(app)
    response = start(client, world["number"], reason)
    assert response.status_code == 303, response.get_data(as_text=True)
    return client


def token_of(client, url="/account/settings") -> str:
    return csrf_from(client.get(url).get_data(as_text=True))


def running() -> ProxySession:
    db.session.expire_all()
    return db.session.scalar(select(ProxySession).order_by(ProxySession.id.desc()))


def count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


BANNER = "様として操作中"


# -- start ------------------------------------------------------------------------------
def test_start_signs_in_as_the_owner_records_audits_and_mails(app, world):
    client = dealer_client(app)
    response = start(client, world["number"], "蓄電池の設定を\r\n一緒に確認するため")
    assert response.status_code == 303
    assert response.headers["Location"] in ("/", "/club/mypage")
    proxy = running()
    assert proxy.owner_id == world["owner"].id and proxy.actor_id == world["employee"].id
    assert proxy.dealer_id == world["dealer"].id and proxy.dealer_name == "販売店1株式会社"
    assert proxy.actor_name == "鈴木 一郎" and proxy.reason == "蓄電池の設定を 一緒に確認するため"
    assert proxy.ended_at is None and proxy.permission_id == world["permission"].id
    minutes = app.config["PROXY_SESSION_MINUTES"]
    assert timedelta(minutes=minutes - 1) < proxy.expires_at - proxy.started_at \
        <= timedelta(minutes=minutes)
    owner_side = db.session.get(LoginSession, proxy.login_session_id)
    parent = db.session.get(LoginSession, proxy.parent_session_id)
    assert owner_side.account_id == world["owner"].id and owner_side.expires_at == proxy.expires_at
    assert parent.account_id == world["employee"].id
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "club.proxy_start"))
    assert (event.actor_id, event.subject_id) == (world["employee"].id, world["owner"].id)
    # The browser is now the owner: the owner's gateway opens, the dealer console does not.
    assert client.get(f"/monitoring/gateways/{GATEWAY}").status_code == 200
    assert client.get("/dealers/").status_code == 403
    mail = outbox("owner@example.com", "proxy_started")[-1]
    for text in ("販売店1株式会社", "鈴木 一郎", "蓄電池の設定を 一緒に確認するため",
                 "/account/access", "/club/mypage/access-history"):
        assert text in mail.text_body


@pytest.mark.parametrize("reason, message", [
    ("", "入力してください"),
    ("　 \r\n ", "入力してください"),
    ("あ" * 201, "200文字以内"),
    ("点検\x00のため", "制御文字"),
    ("点検\u202eのため", "制御文字"),
])
def test_a_bad_reason_is_refused_next_to_the_field(app, world, reason, message):
    client = dealer_client(app)
    for htmx in (False, True):
        response = start(client, world["number"], reason, htmx=htmx)
        assert response.status_code == 422
        body = response.get_data(as_text=True)
        assert message in body and 'aria-invalid="true"' in body
        assert ("<html" in body) is not htmx
    assert count(ProxySession) == 0
    assert client.get("/dealers/").status_code == 200  # still the dealer


def test_hostile_reason_is_escaped_in_pages_and_mail(app, world):
    client = acting_client(app, world, "<script>alert(1)</script>")
    owner = app.test_client()
    login(owner, "owner@example.com")
    for url in ("/account/access", "/club/mypage/access-history"):
        body = owner.get(url).get_data(as_text=True)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "<script>alert" not in body
    mail = outbox("owner@example.com", "proxy_started")[-1]
    assert "&lt;script&gt;" in mail.html_body and "<script>alert" not in mail.html_body
    assert client.get("/").status_code == 200


def test_only_an_approved_dealers_employee_may_start(app, world):
    number = world["number"]
    other_owner = make_owner("other@example.com", "佐藤", "次郎")
    staff = make_owner("staff@example.com", "高橋", "美咲")
    make_staff(staff, SUPPORT)
    # dealer 2 (not approved), the owner, another owner, staff: all 404, no hint.
    for email in ("admin2@dealer2.example", "owner@example.com", "other@example.com",
                  "staff@example.com"):
        client = dealer_client(app, email)
        assert client.get(start_url(number)).status_code == 404, email
        token = token_of(client)
        assert client.post(start_url(number), data={"reason": "確認", "csrf_token": token}
                           ).status_code == 404, email
    # The approved dealer: forged, malformed or other owners' numbers are 404 too.
    client = dealer_client(app)
    for forged in ("0000000000", "abc", "1" * 11, "１２３４５６７８９０", other_owner.customer_number,
                   "1234567890%00", "x" * 500):
        assert client.get(start_url(forged)).status_code == 404, forged
    # A permission still pending, rejected or withdrawn is no permission.
    for state in (PermissionState.PENDING, PermissionState.REJECTED, PermissionState.WITHDRAWN):
        world["permission"].state = state
        db.session.commit()
        assert start(client, number).status_code == 404, state
    # Anonymous: sign in first.
    assert app.test_client().get(start_url(number)).status_code == 302
    assert count(ProxySession) == 0


def test_a_double_click_opens_one_session_and_never_a_500(app, world):
    client = dealer_client(app)
    url = start_url(world["number"])
    token = token_of(client, url)
    first = client.post(url, data={"reason": "確認", "csrf_token": token})
    second = client.post(url, data={"reason": "確認", "csrf_token": token})
    assert first.status_code == 303
    assert second.status_code == 403  # the browser already acts: no proxy inside a proxy
    assert "代理ログイン中はこの操作はできません" in second.get_data(as_text=True)
    assert count(ProxySession) == 1


def test_a_second_start_from_the_same_dealer_session_ends_the_first(app, world):
    """Two starts racing from one dealer browser (e.g. two tabs): the second supersedes
    the first, so at most one proxy session of that browser is running."""
    employee = world["employee"]
    from blueprints.core.security import open_login_session

    key = open_login_session(employee, False, timedelta(hours=1), "test")
    db.session.commit()
    employee.login_session_key = key
    first = proxy_service.start_proxy(employee, world["number"], "一回目", "ua")
    employee.login_session_key = key
    second = proxy_service.start_proxy(employee, world["number"], "二回目", "ua")
    assert first is not None and second is not None
    db.session.expire_all()
    assert db.session.get(ProxySession, first.proxy.id).end_reason == "superseded"
    assert db.session.get(ProxySession, second.proxy.id).ended_at is None
    assert count(ProxySession, ProxySession.ended_at.is_(None)) == 1
    old_side = db.session.get(LoginSession, db.session.get(ProxySession, first.proxy.id)
                              .login_session_id)
    assert old_side.revoked_at is not None


def test_start_with_htmx_redirects_the_whole_page(app, world):
    client = dealer_client(app)
    response = start(client, world["number"], htmx=True)
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] in ("/", "/club/mypage")


# -- while acting -----------------------------------------------------------------------
def test_the_banner_is_on_every_page_but_not_in_partials(app, world):
    client = acting_client(app, world)
    for url in ("/", "/account/settings", "/account/settings/personal", "/account/access",
                "/monitoring/", f"/monitoring/gateways/{GATEWAY}",
                f"/monitoring/gateways/{GATEWAY}/monitor", "/dealers/my",
                "/club/mypage/access-history"):
        response = client.get(url)
        body = response.get_data(as_text=True)
        assert response.status_code == 200, url
        assert body.count(BANNER) == 1, url
        assert "販売店1株式会社の鈴木 一郎さんが 山田 太郎 様として操作中" in body
        assert "販売店の画面に戻る" in body
    partial = client.get(f"/monitoring/gateways/{GATEWAY}/monitor/now", headers=HX)
    assert partial.status_code == 200 and BANNER not in partial.get_data(as_text=True)
    # The owner's own browser shows no banner.
    owner = app.test_client()
    login(owner, "owner@example.com")
    assert BANNER not in owner.get("/").get_data(as_text=True)


@pytest.mark.parametrize("url, data", [
    ("/account/settings/login", {"current_password": PASSWORD, "password": "An0ther-Pass!word",
                                 "password_confirm": "An0ther-Pass!word"}),
    ("/account/delete", {"password": PASSWORD, "confirm": "y"}),
    ("/dealers/my/link", {"gateway_id": GATEWAY, "dealer_code": "X", "phone": "0312345679"}),
    (f"/monitoring/gateways/{GATEWAY}/dispose", {"confirm": "y"}),
    ("/club/dealer/users/NUMBER/proxy", {"reason": "入れ子"}),
])
def test_refused_actions_show_a_clear_page_and_change_nothing(app, world, url, data):
    client = acting_client(app, world)
    url = url.replace("NUMBER", world["number"])
    token = token_of(client)
    for method in ("get", "post"):
        response = getattr(client, method)(url, data={**data, "csrf_token": token})
        assert response.status_code == 403, (method, url)
        assert "代理ログイン中はこの操作はできません" in response.get_data(as_text=True)
    db.session.expire_all()
    owner = db.session.get(Account, world["owner"].id)
    assert owner is not None and login(app.test_client(), "owner@example.com").status_code == 303
    assert running().changes == []
    assert count(AuditEvent, AuditEvent.action == "club.proxy_change") == 0


def test_the_access_page_is_read_only_while_acting(app, world):
    client = acting_client(app, world)
    proxy = running()
    body = client.get("/account/access").get_data(as_text=True)
    assert "代理ログイン中は、このページの取り消しや変更はできません" in body
    assert "今すぐ終了" not in body and f"/club/proxy/{proxy.id}/end" not in body
    # Ending it from inside is refused (the owner does it from their own browser).
    response = client.post(f"/club/proxy/{proxy.id}/end", data={"csrf_token": token_of(client)})
    assert response.status_code == 403
    assert running().ended_at is None
    # The owner's own browser offers 今すぐ終了.
    owner = app.test_client()
    login(owner, "owner@example.com")
    body = owner.get("/account/access").get_data(as_text=True)
    assert "今すぐ終了" in body and f"/club/proxy/{proxy.id}/end" in body
    assert "アクセス履歴を見る" in body


def test_a_change_is_allowed_audited_with_both_people_and_listed(app, world):
    client = acting_client(app, world)
    url = f"/monitoring/gateways/{GATEWAY}/edit"
    response = client.post(url, data={**SITE, "csrf_token": token_of(client, url)})
    assert response.status_code == 303
    # A refused validation (422) is no change.
    assert client.post(url, data={**SITE, "site_name": "",
                                  "csrf_token": token_of(client, url)}).status_code == 422
    # HTMX posts are recorded the same way.
    client.post("/language", data={"language": "ja", "next": "/",
                                   "csrf_token": token_of(client)}, headers=HX)
    proxy = running()
    assert [change["path"] for change in proxy.changes] == [url, "/language"]
    events = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "club.proxy_change").order_by(AuditEvent.id)).all()
    assert [(e.actor_id, e.subject_id) for e in events] == \
        [(world["employee"].id, world["owner"].id)] * 2
    assert events[0].detail["endpoint"] == "gateways.gateway_edit"
    assert events[0].detail["proxy_id"] == proxy.id
    owner = app.test_client()
    login(owner, "owner@example.com")
    body = owner.get("/club/mypage/access-history").get_data(as_text=True)
    assert url in body and "ご依頼の設定変更のため" in body and "鈴木 一郎" in body
    assert "実行中" in body


# -- how it ends ------------------------------------------------------------------------
def test_return_button_goes_back_to_the_dealer(app, world):
    client = acting_client(app, world)
    proxy = running()
    response = client.post("/club/proxy/return", data={"csrf_token": token_of(client)})
    assert response.status_code == 303 and response.headers["Location"].startswith(
        ("/dealers/", "/club/dealer/users/"))
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "販売店の画面に戻りました" in page and BANNER not in page
    assert client.get("/dealers/").status_code == 200
    assert client.get(f"/monitoring/gateways/{GATEWAY}").status_code == 404
    proxy = running()
    assert proxy.end_reason == "returned"
    assert db.session.get(LoginSession, proxy.login_session_id).revoked_at is not None
    assert db.session.get(LoginSession, proxy.parent_session_id).revoked_at is None
    # Without a proxy session the button just goes home.
    again = client.post("/club/proxy/return", data={"csrf_token": token_of(client)})
    assert again.status_code == 303 and again.headers["Location"] == "/"


def _expire(proxy_id: int) -> None:
    proxy = db.session.get(ProxySession, proxy_id)
    proxy.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()


def test_after_the_time_the_next_request_returns_to_the_dealer(app, world):
    client = acting_client(app, world)
    _expire(running().id)
    response = client.get(f"/monitoring/gateways/{GATEWAY}")
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "代理ログインの時間が終了しました" in page
    assert client.get("/dealers/").status_code == 200
    assert running().end_reason == "expired"


def test_an_expired_session_answers_htmx_with_a_redirect(app, world):
    client = acting_client(app, world)
    _expire(running().id)
    response = client.get(f"/monitoring/gateways/{GATEWAY}/monitor/now", headers=HX)
    assert response.status_code == 200
    assert response.headers["HX-Redirect"].startswith(("/dealers/", "/club/dealer/users/"))
    assert response.get_data(as_text=True) == ""


def test_a_post_after_the_time_changes_nothing(app, world):
    client = acting_client(app, world)
    url = f"/monitoring/gateways/{GATEWAY}/edit"
    token = token_of(client, url)
    _expire(running().id)
    response = client.post(url, data={**SITE, "csrf_token": token})
    assert response.status_code == 303
    db.session.expire_all()
    from models.gateway import Gateway

    assert db.session.scalar(select(Gateway.site_name).where(Gateway.gateway_id == GATEWAY)) \
        == "案件90051"
    assert running().changes == []


def test_withdrawing_the_permission_ends_it_on_the_next_request(app, world):
    client = acting_client(app, world)
    token = token_of(client)
    world["permission"].state = PermissionState.WITHDRAWN
    world["permission"].withdrawn_at = utcnow()
    db.session.commit()
    response = client.post(f"/monitoring/gateways/{GATEWAY}/edit",
                           data={**SITE, "csrf_token": token})
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "許可を取り消したため" in page
    assert running().end_reason == "withdrawn"
    assert client.get("/dealers/").status_code == 200


def test_the_owner_ends_it_now_from_the_access_page(app, world):
    client = acting_client(app, world)
    proxy = running()
    owner = app.test_client()
    login(owner, "owner@example.com")
    url = f"/club/proxy/{proxy.id}/end"
    confirm = owner.get(url)
    assert confirm.status_code == 200 and "今すぐ終了" in confirm.get_data(as_text=True)
    response = owner.post(url, data={"csrf_token": csrf_from(confirm.get_data(as_text=True))})
    assert response.status_code == 303 and response.headers["Location"] == "/account/access"
    assert running().end_reason == "owner_ended"
    # Twice (another tab): fine, nothing more.
    assert owner.post(url, data={"csrf_token": token_of(owner)}).status_code == 303
    assert owner.get(url).status_code == 303
    # The dealer's next request is refused and goes back to the dealer's own session.
    response = client.get("/")
    assert response.status_code == 303
    assert "お客様が代理ログインを終了しました" in client.get(
        response.headers["Location"]).get_data(as_text=True)
    # Another owner cannot see or end it.
    other = make_owner("other@example.com", "佐藤", "次郎")
    assert other is not None
    intruder = app.test_client()
    login(intruder, "other@example.com")
    assert intruder.get(url).status_code == 404
    assert intruder.post(url, data={"csrf_token": token_of(intruder)}).status_code == 404


def test_sign_out_in_the_proxy_browser_signs_the_dealer_out_too(app, world):
    client = acting_client(app, world)
    response = client.post("/account/logout", data={"csrf_token": token_of(client)})
    assert response.status_code == 303
    proxy = running()
    assert proxy.end_reason == "signed_out"
    assert db.session.get(LoginSession, proxy.login_session_id).revoked_at is not None
    assert db.session.get(LoginSession, proxy.parent_session_id).revoked_at is not None
    assert client.get("/dealers/").status_code == 302  # to the sign-in page


def test_the_dealer_signed_out_elsewhere_ends_it(app, world):
    client = acting_client(app, world)
    revoke_login_sessions(world["employee"].id)  # e.g. the password changed elsewhere
    db.session.commit()
    response = client.get("/account/settings")
    assert response.status_code == 303 and response.headers["Location"] == "/account/login"
    assert "もう一度ログインしてください" in client.get("/account/login").get_data(as_text=True)
    assert running().end_reason == "dealer_gone"
    assert client.get("/dealers/").status_code == 302


def test_the_dealers_own_sign_out_ends_its_proxy_sessions(app, world):
    client = acting_client(app, world)
    proxy = running()
    # The dealer's own session signs out (e.g. from another tab's cookie): its key is kept.
    parent = db.session.get(LoginSession, proxy.parent_session_id)
    employee = db.session.get(Account, world["employee"].id)
    from blueprints.account.services import sign_out

    with client.session_transaction() as flask_session:
        employee.login_session_key = flask_session["club_proxy"]["back"]
    assert parent.id == proxy.parent_session_id
    sign_out(employee)
    assert running().end_reason == "signed_out"
    assert client.get("/").status_code == 303


def test_the_employee_leaving_the_company_ends_it(app, world):
    client = acting_client(app, world)
    employee = db.session.get(Account, world["employee"].id)
    employee.company_id = None
    employee.account_type = AccountType.PERSONAL
    db.session.commit()
    assert client.get("/").status_code == 303
    assert running().end_reason == "left_company"


# -- the owner's pages ------------------------------------------------------------------
def test_access_history_is_paginated_newest_first(app, world):
    now = utcnow()
    for n in range(25):
        db.session.add(ProxySession(
            owner_id=world["owner"].id, dealer_id=world["dealer"].id, dealer_name="販売店1株式会社",
            actor_id=world["employee"].id, actor_name="鈴木 一郎", reason=f"理由{n:02d}",
            started_at=now - timedelta(days=n), expires_at=now - timedelta(days=n) + timedelta(minutes=30),
            ended_at=now - timedelta(days=n) + timedelta(minutes=10), end_reason="returned",
            changes=[]))
    db.session.commit()
    owner = app.test_client()
    login(owner, "owner@example.com")
    first = owner.get("/club/mypage/access-history").get_data(as_text=True)
    assert first.index("理由00") < first.index("理由01") and "理由19" in first
    assert "理由20" not in first and "販売店が終了" in first
    second = owner.get("/club/mypage/access-history?page=2").get_data(as_text=True)
    assert "理由20" in second and "理由24" in second and "理由19" not in second
    for page in ("abc", "-4", "99999999999999999999"):
        assert owner.get(f"/club/mypage/access-history?page={page}").status_code == 200
    # The access page lists the last 90 days only; the sessions above are all ended.
    access = owner.get("/account/access").get_data(as_text=True)
    assert "代理ログイン（終了）。理由：理由24" in access and "今すぐ終了" not in access
    # Someone else's history is their own (empty).
    other = app.test_client()
    make_owner("other@example.com", "佐藤", "次郎")
    login(other, "other@example.com")
    assert "理由00" not in other.get("/club/mypage/access-history").get_data(as_text=True)


def test_deleting_the_employee_keeps_the_history_and_deleting_the_owner_removes_it(app, world):
    client = acting_client(app, world)
    client.post("/club/proxy/return", data={"csrf_token": token_of(client)})
    employee = db.session.get(Account, world["employee"].id)
    assert delete_account(employee, PASSWORD)
    proxy = running()
    assert proxy.actor_id is None and proxy.actor_name == "鈴木 一郎"
    owner = app.test_client()
    login(owner, "owner@example.com")
    assert "鈴木 一郎" in owner.get("/club/mypage/access-history").get_data(as_text=True)
    assert delete_account(db.session.get(Account, world["owner"].id), PASSWORD)
    assert count(ProxySession) == 0


def test_the_proxy_mail_goes_out_by_real_smtp(smtp_app, smtp: SmtpServer):
    owner = make_owner()
    dealer = become_dealer(make_company(1), "0312345678")
    make_employee(dealer.company_id)
    permit(owner, dealer)
    client = dealer_client(smtp_app)
    assert start(client, owner.customer_number, "<b>点検</b>のため").status_code == 303
    deliver_pending()
    [message] = smtp.to("owner@example.com")
    assert "代理ログインのお知らせ" in message["Subject"]
    text = SmtpServer.text_of(message)
    assert "販売店1株式会社" in text and "鈴木 一郎" in text and "<b>点検</b>のため" in text
    assert "/account/access" in text
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "&lt;b&gt;点検&lt;/b&gt;" in html
