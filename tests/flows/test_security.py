"""Security: headers, cookies, CSRF (HTMX included), health, and bad input on every form."""
from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import csrf_from, page_token
from tests.helpers import HX, NAME_STEP, PASSWORD, login, post_step, signed_up_and_active

BAD_VALUES = [
    "",
    "x" * 10_000,
    "山田\x00太郎",
    "😀🔋☀️",
    "Ｙａｍａｄａ",
    "ｱｲｳｴｵ",
    "Ωμέγα",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "１０３－００２６",
    "\r\n\t",
]


def test_security_headers(client):
    response = client.get("/account/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "no-store" in response.headers["Cache-Control"]
    assert "HX-Request" in response.headers["Vary"]


def test_pages_have_no_inline_script(client):
    body = client.get("/account/signup/name").get_data(as_text=True)
    assert "<script>" not in body
    assert re.search(r'src="/static/vendor/htmx-2\.0\.11\.min\.[0-9a-f]{8}\.js"', body)
    assert '"historyCacheSize":0' in body and '"422"' in body


def test_session_cookie_flags(client):
    signed_up_and_active(client)
    login(client)
    cookie = client.get_cookie("session")
    assert cookie.http_only and cookie.same_site == "Lax"


def test_production_cookies_are_secure(make_app):
    app = make_app(SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True)
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]
    from config import Config

    assert Config.SESSION_COOKIE_SECURE is not Config.DEVELOPMENT


def test_production_refuses_to_start_without_secret_key():
    from app import create_app

    with pytest.raises(RuntimeError):
        create_app({"SECRET_KEY": None, "DEVELOPMENT": False, "TESTING": False,
                    "SQLALCHEMY_DATABASE_URI": "sqlite://", "MAIL_RELAY_IN_PROCESS": False})


@pytest.mark.parametrize("htmx", [False, True])
def test_post_without_csrf_token_is_refused(client, htmx):
    response = client.post("/account/signup/name", data=NAME_STEP, headers=HX if htmx else {})
    assert response.status_code == 400
    assert "ページの有効期限が切れました" in response.get_data(as_text=True)


def test_htmx_csrf_token_travels_in_a_header(client):
    page = client.get("/account/signup/name").get_data(as_text=True)
    assert 'hx-headers=\'{"X-CSRFToken": "' in page
    token = csrf_from(page)
    response = client.post("/account/password/checklist", data={"password": "a"},
                           headers={**HX, "X-CSRFToken": token})
    assert response.status_code == 200


def test_tampered_csrf_token_is_refused(client):
    token = page_token(client, "/account/signup/name")
    response = client.post("/account/signup/name", data={**NAME_STEP, "csrf_token": token[:-2] + "xx"})
    assert response.status_code == 400


def test_a_sessions_csrf_token_is_signed_once_and_still_checked(app, client):
    """The templates' csrf_token() signs the session's token once per process
    (core/security.py): every page of a session carries the same signed token, another
    session its own, and the token is checked as always."""
    from tests.flows.test_dealer_links import make_owner

    make_owner()
    make_owner(email="other@example.com")
    assert login(client, "owner@example.com").status_code == 303
    first = csrf_from(client.get("/").get_data(as_text=True))
    again = csrf_from(client.get("/account/settings").get_data(as_text=True))
    other = app.test_client()
    assert login(other, "other@example.com").status_code == 303
    theirs = csrf_from(other.get("/").get_data(as_text=True))
    assert first == again != theirs
    # another session's token, or a tampered one, is refused; the session's own works
    for wrong in (theirs, first[:-2] + ("xx" if not first.endswith("xx") else "yy")):
        refused = client.post("/language", data={"csrf_token": wrong, "language": "en"})
        assert refused.status_code == 400
    assert client.post("/language", data={"csrf_token": first,
                                          "language": "en"}).status_code == 303
    # with a time limit, the token is signed afresh for each page (its age is checked)
    kept = app.extensions["process_caches"]["core.signed_csrf_tokens"]
    assert len(kept) == 2  # the two sessions'
    app.config["WTF_CSRF_TIME_LIMIT"] = 3600
    app.extensions["process_caches"].pop("core.signed_csrf_tokens")
    try:
        assert csrf_from(client.get("/").get_data(as_text=True))
        assert "core.signed_csrf_tokens" not in app.extensions["process_caches"]
    finally:
        app.config["WTF_CSRF_TIME_LIMIT"] = None


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_not_found_page_is_japanese(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "ページが見つかりません" in response.get_data(as_text=True)


def test_language_switch(client):
    token = page_token(client, "/account/login")
    response = client.post("/language", data={"csrf_token": token, "language": "en",
                                              "next": "/account/login"})
    assert response.status_code == 303
    page = client.get("/account/login").get_data(as_text=True)
    assert 'lang="en"' in page and "Sign in" in page
    assert client.post("/language", data={"csrf_token": token, "language": "xx"}).status_code == 400


FORMS = {
    "/account/signup/name": ["family_name", "given_name", "email", "password", "password_confirm"],
    "/account/login": ["email", "password"],
    "/account/password/reset": ["email"],
    "/account/activation/resend": ["email"],
}
SIGNED_IN_FORMS = {
    "/account/settings/personal": ["family_name", "given_name", "phones-0-number",
                                   "department", "position", "language"],
    "/account/settings/login": ["current_password", "password", "password_confirm"],
    "/account/delete": ["password", "confirm"],
}


def _bad_posts(client, url, fields, base):
    token = page_token(client, url)
    for field in fields:
        for value in BAD_VALUES:
            response = client.post(url, data={**base, field: value, "csrf_token": token})
            assert response.status_code < 500, (url, field, value)
            if response.status_code in (400, 422):
                body = response.get_data(as_text=True)
                assert "field-error" in body or "notice-error" in body or "有効期限" in body, (
                    url, field, value)


@pytest.mark.parametrize("url", list(FORMS))
def test_bad_input_on_public_forms(make_app, url):
    app = make_app(RATELIMIT_ENABLED=False)
    with app.app_context():
        client = app.test_client()
        base = {**NAME_STEP} if "signup" in url else {"email": "taro@example.com",
                                                      "password": PASSWORD}
        _bad_posts(client, url, FORMS[url], base)


@pytest.mark.parametrize("url", list(SIGNED_IN_FORMS))
def test_bad_input_on_signed_in_forms(make_app, url):
    app = make_app(RATELIMIT_ENABLED=False)
    with app.app_context():
        client = app.test_client()
        signed_up_and_active(client)
        login(client)
        base = {"family_name": "山田", "given_name": "太郎", "phones-0-kind": "mobile",
                "phones-0-number": "09012345678", "language": "ja",
                "current_password": "Wrong-Password-1!", "password": "Wrong-Password-1!"}
        _bad_posts(client, url, SIGNED_IN_FORMS[url], base)
        assert client.get("/account/settings").status_code == 200  # still signed in


def test_bad_input_on_signup_details(make_app):
    app = make_app(RATELIMIT_ENABLED=False)
    with app.app_context():
        client = app.test_client()
        post_step(client, "name", NAME_STEP)
        post_step(client, "type", {"account_type": "commercial"})
        from tests.helpers import COMMERCIAL_DETAILS

        fields = [k for k in COMMERCIAL_DETAILS if not k.startswith("accept")]
        _bad_posts(client, "/account/signup/details", fields, COMMERCIAL_DETAILS)


def test_bad_tokens_in_links(client):
    for token in ["", "x" * 5000, "%00", "😀", "../../etc/passwd", "' OR 1=1 --"]:
        for prefix in ["/account/activate/", "/account/password/reset/", "/account/invitation/"]:
            response = client.get(prefix + token)
            assert response.status_code in (404, 410), (prefix, token)


def test_another_users_ids_are_not_reachable(client, app):
    """Settings act only on the signed-in account: there are no ids to tamper with,
    and the dev mailbox (which lists ids) is off outside development."""
    signed_up_and_active(client)
    login(client)
    assert client.get("/dev/mail/1").status_code == 404
    assert client.get("/account/settings/employees").status_code == 404


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(family=st.text(max_size=40), email=st.text(max_size=60), password=st.text(max_size=60))
def test_signup_step_one_never_fails_on_any_text(client, family, email, password):
    token = page_token(client, "/account/signup/name")
    response = client.post("/account/signup/name", data={
        "family_name": family, "given_name": "太郎", "email": email, "password": password,
        "password_confirm": password, "csrf_token": token})
    assert response.status_code in (303, 422)
