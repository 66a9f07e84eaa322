"""Sign-in, sign-out, sessions, password reset and change, links in mail."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from models import db, utcnow
from models.account import Account, LoginSession
from models.audit import AuditEvent
from models.link import MailLink
from tests.conftest import csrf_from, page_token
from tests.helpers import PASSWORD, last_link, login, outbox, sign_up, signed_up_and_active

NEW_PASSWORD = "Battery-Cloud-77?"


def audit_actions() -> list[str]:
    db.session.expire_all()
    return [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_sign_in_and_out(client):
    signed_up_and_active(client)
    response = login(client)
    assert response.status_code == 303
    assert client.get("/account/settings").status_code == 200
    token = page_token(client, "/account/settings")
    out = client.post("/account/logout", data={"csrf_token": token})
    assert out.status_code == 303
    assert client.get("/account/settings").status_code == 302
    assert {"account.login", "account.logout"} <= set(audit_actions())


def test_logout_needs_post_and_csrf(client):
    signed_up_and_active(client)
    login(client)
    assert client.get("/account/logout").status_code == 200  # a page with a button
    assert client.post("/account/logout", data={}).status_code == 400
    assert client.get("/account/settings").status_code == 200


def test_replayed_cookie_is_refused_after_sign_out(client, app):
    signed_up_and_active(client)
    login(client)
    cookie = client.get_cookie("session").value
    client.post("/account/logout", data={"csrf_token": page_token(client, "/account/settings")})
    replay = app.test_client()
    replay.set_cookie("session", cookie)
    response = replay.get("/account/settings")
    assert response.status_code == 302 and "/account/login" in response.headers["Location"]


def test_wrong_password_and_unknown_address_look_the_same(client):
    signed_up_and_active(client)
    wrong = login(client, password="Wrong-Password-1!")
    unknown = login(client, email="nobody@example.com")
    assert wrong.status_code == unknown.status_code == 401
    message = "メールアドレスまたはパスワードが正しくありません"
    assert message in wrong.get_data(as_text=True)
    assert message in unknown.get_data(as_text=True)
    assert 'value="taro@example.com"' in wrong.get_data(as_text=True)


def test_sign_in_is_rate_limited_per_client(client):
    """Failures from one client: 10 a minute by default, whatever the addresses tried."""
    codes = [login(client, email=f"x{i}@example.com", password="Wrong-1!aaaa").status_code
             for i in range(11)]
    assert codes[:10] == [401] * 10
    assert codes[10] == 429
    assert "しばらくしてから" in login(client).get_data(as_text=True)


def test_one_address_is_limited_sooner_from_one_client(client):
    """Failures for one e-mail from one client: 5 in 15 minutes by default."""
    codes = [login(client, email="x@example.com", password="Wrong-1!aaaa").status_code
             for _ in range(6)]
    assert codes == [401] * 5 + [429]


def test_remember_me_sets_a_lasting_cookie(client):
    signed_up_and_active(client)
    login(client, remember=True)
    remember = client.get_cookie("remember_token")
    assert remember is not None and remember.http_only
    session_row = db.session.scalars(select(LoginSession)).one()
    assert session_row.remember is True
    assert session_row.expires_at > utcnow() + timedelta(days=29)
    # Without the session cookie, the remember cookie alone signs the browser in.
    client.delete_cookie("session")
    assert client.get("/account/settings").status_code == 200


def test_without_remember_no_lasting_cookie(client):
    signed_up_and_active(client)
    login(client)
    assert client.get_cookie("remember_token") is None


def test_open_redirect_after_sign_in_is_refused(client):
    signed_up_and_active(client)
    token = page_token(client)
    response = client.post("/account/login?next=//evil.example/x", data={
        "email": "taro@example.com", "password": PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == "/"


def test_password_reset_by_mail(client, app):
    signed_up_and_active(client)
    other_browser = app.test_client()
    login(other_browser)
    token = page_token(client, "/account/password/reset")
    response = client.post("/account/password/reset",
                           data={"email": "taro@example.com", "csrf_token": token})
    assert response.status_code == 200
    link = last_link("taro@example.com", "password_reset")
    page = client.get(link)
    assert page.status_code == 200
    posted = client.post(link, data={"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD,
                                     "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert posted.status_code == 303
    # The link is spent, the other browser is signed out, the change was mailed.
    assert client.get(link).status_code == 410
    assert other_browser.get("/account/settings").status_code == 302
    assert outbox("taro@example.com", "password_changed")
    assert login(client).status_code == 401
    assert login(client, password=NEW_PASSWORD).status_code == 303
    assert "account.password_reset" in audit_actions()


def test_reset_answer_is_the_same_for_unknown_addresses(client):
    signed_up_and_active(client)
    token = page_token(client, "/account/password/reset")
    known = client.post("/account/password/reset",
                        data={"email": "taro@example.com", "csrf_token": token})
    unknown = client.post("/account/password/reset",
                          data={"email": "ghost@example.com", "csrf_token": token})
    assert known.status_code == unknown.status_code == 200

    def strip(body: str) -> str:
        return body.replace("taro@example.com", "X").replace("ghost@example.com", "X")

    assert strip(known.get_data(as_text=True)) == strip(unknown.get_data(as_text=True))
    assert outbox("ghost@example.com") == []


def test_resend_activation_same_answer_and_new_link_only_for_unopened(client):
    sign_up(client)
    token = page_token(client, "/account/activation/resend")
    first_link = last_link("taro@example.com", "activation")
    known = client.post("/account/activation/resend",
                        data={"email": "taro@example.com", "csrf_token": token})
    unknown = client.post("/account/activation/resend",
                          data={"email": "ghost@example.com", "csrf_token": token})
    assert known.status_code == unknown.status_code == 200
    assert len(outbox("taro@example.com", "activation")) == 2
    # Only the newest link works.
    assert client.get(first_link).status_code == 410
    assert client.get(last_link("taro@example.com", "activation")).status_code == 200


def test_expired_link_page_sends_a_fresh_link_in_one_tap(client):
    sign_up(client)
    link = last_link("taro@example.com", "activation")
    db.session.execute(update(MailLink).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    page = client.get(link)
    assert page.status_code == 410
    body = page.get_data(as_text=True)
    assert "有効期限が切れています" in body
    response = client.post("/account/links/renew", data={
        "csrf_token": csrf_from(body), "purpose": "activation", "token": link.rsplit("/", 1)[1]})
    assert response.status_code == 200
    fresh = last_link("taro@example.com", "activation")
    assert fresh != link
    assert client.get(fresh).status_code == 200


def test_altered_link_shows_a_clear_page(client):
    sign_up(client)
    link = last_link("taro@example.com", "activation")
    page = client.get(link[:-3] + "abc")
    assert page.status_code == 404
    body = page.get_data(as_text=True)
    assert "リンクが正しくありません" in body and 'name="email"' in body
    assert client.post("/account/links/renew", data={
        "csrf_token": csrf_from(body), "purpose": "activation", "token": "forged"}
    ).status_code == 404


def test_second_tap_on_the_activation_link_says_already_active(client):
    sign_up(client)
    link = last_link("taro@example.com", "activation")
    opened = client.get(link).get_data(as_text=True)
    assert "アカウントが有効になりました" in opened
    # 本登録完了 (002-26): the sign-in ID is the address the mail went to, case-sensitive.
    assert "確認メールをお送りしたメールアドレス（taro@example.com）です" in opened
    assert "大文字と小文字を区別します" in opened
    again = client.get(link)
    assert again.status_code == 200
    assert "アカウントはすでに有効です" in again.get_data(as_text=True)


def test_spent_link_of_an_unopened_account_offers_a_new_one(client):
    """An older activation link is spent when a new one is sent; it may not open the
    account, and its page offers a fresh link."""
    sign_up(client)
    first = last_link("taro@example.com", "activation")
    token = csrf_from(client.get("/account/activation/resend").get_data(as_text=True))
    client.post("/account/activation/resend",
                data={"email": "taro@example.com", "csrf_token": token})
    assert last_link("taro@example.com", "activation") != first
    stale = client.get(first)
    assert stale.status_code in (404, 410)
    assert 'action="/account/links/renew"' in stale.get_data(as_text=True)
    assert account_is_open("taro@example.com") is False


def test_reset_link_is_bound_to_its_purpose(client):
    sign_up(client)
    activation = last_link("taro@example.com", "activation")
    token = activation.rsplit("/", 1)[1]
    assert client.get(f"/account/password/reset/{token}").status_code == 404


def test_change_password_needs_the_current_one(client, app):
    signed_up_and_active(client)
    login(client)
    other_browser = app.test_client()
    login(other_browser)
    token = page_token(client, "/account/settings/login")
    wrong = client.post("/account/settings/login", data={
        "current_password": "Not-The-One-1!", "password": NEW_PASSWORD,
        "password_confirm": NEW_PASSWORD, "csrf_token": token})
    assert wrong.status_code == 422
    assert "現在のパスワードが正しくありません" in wrong.get_data(as_text=True)
    right = client.post("/account/settings/login", data={
        "current_password": PASSWORD, "password": NEW_PASSWORD,
        "password_confirm": NEW_PASSWORD, "csrf_token": token})
    assert right.status_code == 303
    assert client.get("/account/settings").status_code == 200  # this browser stays
    assert other_browser.get("/account/settings").status_code == 302  # others are out
    assert outbox("taro@example.com", "password_changed")
    assert "account.password_change" in audit_actions()


def test_new_password_may_not_contain_the_email_local_part(client):
    signed_up_and_active(client)
    login(client)
    token = page_token(client, "/account/settings/login")
    response = client.post("/account/settings/login", data={
        "current_password": PASSWORD, "password": "Taro-1234-Secret!",
        "password_confirm": "Taro-1234-Secret!", "csrf_token": token})
    assert response.status_code == 422
    assert "メールアドレス" in response.get_data(as_text=True)


def account_is_open(email: str) -> bool:
    db.session.expire_all()
    found = db.session.scalar(select(Account).where(Account.email == email))
    return found.activated_at is not None


def test_rate_limits_live_in_redis_when_configured(make_app):
    """With REDIS_URL the counts are kept in Redis, where every worker shares them."""
    import os
    import uuid

    import pytest
    import redis

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is not reachable at {url}")
        pytest.skip(f"Redis is not reachable at {url}")
    prefix = f"enelink-test-{uuid.uuid4().hex}"
    settings = {"RATELIMIT_STORAGE_URI": url, "RATELIMIT_KEY_PREFIX": prefix}
    app = make_app(**settings)
    codes = [login(app.test_client(), email=f"x{i}@example.com",
                   password="Wrong-1!aaaa").status_code for i in range(11)]
    assert codes[:10] == [401] * 10 and codes[10] == 429
    client = redis.Redis.from_url(url)
    assert list(client.scan_iter(f"*{prefix}*"))
    for key in client.scan_iter(f"*{prefix}*"):
        client.delete(key)
