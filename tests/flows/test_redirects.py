"""No open redirect: `next` after sign-in (signed in already, or the sign-in POST), the
language switch and the sign-in page an htmx request is sent to, with the payloads of
issue 9 as an attacker writes them in a link."""
from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from tests.conftest import page_token
from tests.helpers import HX, PASSWORD, login, signed_up_and_active

# The `next` parameter exactly as written in the query string of a crafted link.
HOSTILE_QUERIES = [
    "/%09/evil.example",
    "/%0D%0A/evil.example",
    "%5C%5Cevil.example",
    "/%5Cevil.example",
    "/%5C/evil.example",
    "/\\evil.example",
    "//evil.example",
    "///evil.example",
    "https:evil.example",
    "https://evil.example/account",
    "javascript:alert(1)",
    "%2F%2Fevil.example",
    "/%252F%252Fevil.example",
    "/%255Cevil.example",
    "/%2509/evil.example",
]
GOOD_TARGET = "/account/settings/personal"


def _location(response) -> str:
    assert response.status_code in (302, 303), response.status_code
    return response.headers["Location"]


def test_signed_in_visit_of_the_sign_in_page_goes_home_for_a_foreign_target(client):
    signed_up_and_active(client)
    login(client)
    for query in HOSTILE_QUERIES:
        response = client.get("/account/login", query_string=f"next={query}")
        assert _location(response) == "/", query
    assert _location(client.get("/account/login", query_string={"next": GOOD_TARGET})
                     ) == GOOD_TARGET


def test_sign_in_post_goes_home_for_a_foreign_target(app):
    signed_up_and_active(app.test_client())
    for query in HOSTILE_QUERIES + [f"{GOOD_TARGET}"]:
        browser = app.test_client()  # signed out: the POST itself signs in
        token = page_token(browser)
        response = browser.post("/account/login", query_string=f"next={query}", data={
            "email": "taro@example.com", "password": PASSWORD, "csrf_token": token})
        expected = GOOD_TARGET if query == GOOD_TARGET else "/"
        assert _location(response) == expected, query


def test_language_switch_goes_home_for_a_foreign_target(client):
    for query in HOSTILE_QUERIES:
        value = parse_qs(f"next={query}")["next"][0]
        token = page_token(client, "/")
        response = client.post("/language", data={"language": "en", "next": value,
                                                   "csrf_token": token})
        assert _location(response) == "/", query
    token = page_token(client, "/")
    response = client.post("/language", data={"language": "ja", "next": "/account/login",
                                               "csrf_token": token})
    assert _location(response) == "/account/login"


@pytest.mark.parametrize("current_url, kept", [
    ("http://localhost//evil.example/x", False),
    ("http://localhost/%09/evil.example", False),
    ("http://localhost/%5Cevil.example", False),
    ("http://localhost/account/settings?tab=1", True),
])
def test_htmx_request_after_the_session_ended_keeps_only_a_local_page(client, current_url,
                                                                      kept):
    response = client.get("/account/settings",
                          headers={**HX, "HX-Current-URL": current_url})
    assert response.status_code == 401
    target = response.headers["HX-Redirect"]
    assert target.startswith("/account/login")
    if kept:
        assert parse_qs(target.split("?", 1)[1])["next"] == ["/account/settings?tab=1"]
    else:
        assert "next=" not in target
