"""Accounts imported from the old portal (000-27, 000-28): sign-in by e-mail or old user
name with the old password leads to the one-time 移行手続き (data, terms, a new password),
after which the old hash is gone and only the new password works; password reset works
for an account that never signed in; the step's pages need the verified marker."""
from __future__ import annotations

import re

from sqlalchemy import select

from models import db
from models.account import Account, LegacyLogin
from models.wizard import WizardDraft
from tests.conftest import LEGACY_HEADER, csrf_from, legacy_row, page_token
from tests.helpers import last_link, login, statements

OLD = "Old-Pass-2019"
NEW = "Fresh-Start-2026!"
STEP = "/account/migration"


def _imported(legacy_import, **row):
    result = legacy_import(f"{LEGACY_HEADER}\n{legacy_row(**row)}\n")
    assert "imported 1," in result.output, result.output
    db.session.expire_all()
    return db.session.scalar(select(LegacyLogin))


def _post(client, url, data):
    token = csrf_from(client.get(url).get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token})


SELECT = re.compile(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', re.S)


def prefilled(page: str) -> dict:
    """What the form posts as shown: its text inputs and each select's chosen option."""
    fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page))
    for name, options in SELECT.findall(page):
        chosen = re.search(r'<option[^>]*selected[^>]*value="([^"]*)"|'
                           r'<option[^>]*value="([^"]*)"[^>]*selected', options)
        if chosen:
            fields[name] = chosen.group(1) or chosen.group(2)
    for button in ("address-lookup", "add_phone"):
        fields.pop(button, None)
    return fields


def _data_step(client, url=f"{STEP}/data", **changes):
    """Post the data step as it was filled in from the import (plus `changes`)."""
    fields = prefilled(client.get(url).get_data(as_text=True))
    fields.update(changes)
    return client.post(url, data=fields)


def _walk(client, password=NEW, **changes):
    assert _data_step(client, **changes).headers["Location"] == f"{STEP}/terms"
    assert _post(client, f"{STEP}/terms", {"accept_terms": "y", "accept_privacy": "y"}
                 ).headers["Location"] == f"{STEP}/password"
    return _post(client, f"{STEP}/password", {"password": password,
                                              "password_confirm": password})


def test_first_sign_in_with_the_user_name_runs_the_one_time_step(app, legacy_import):
    legacy = _imported(legacy_import)
    client = app.test_client()
    response = login(client, "OldUser", OLD)  # the user name, whatever its case
    assert response.status_code == 303 and response.headers["Location"] == f"{STEP}/data"
    # No session yet: a signed-in page still sends to sign in.
    assert client.get("/account/settings").status_code == 302
    page = client.get(f"{STEP}/data").get_data(as_text=True)
    assert "田中" in page and "タナカ" in page and "olduser" in page and "old@example.com" in page
    # A wrong field keeps what was typed and says why, next to it.
    bad = _data_step(client, **{"phones-0-number": "12345"})
    assert bad.status_code == 422 and "市外局番から" in bad.get_data(as_text=True)
    # The terms must be accepted.
    _data_step(client, family_name="田中", given_name="太一")
    refused = _post(client, f"{STEP}/terms", {})
    assert refused.status_code == 422 and "同意が必要です" in refused.get_data(as_text=True)
    # Today's password rule.
    _post(client, f"{STEP}/terms", {"accept_terms": "y", "accept_privacy": "y"})
    weak = _post(client, f"{STEP}/password", {"password": "short", "password_confirm": "short"})
    assert weak.status_code == 422 and "パスワードの条件" in weak.get_data(as_text=True)
    named = _post(client, f"{STEP}/password", {"password": "Olduser-2026!x",
                                               "password_confirm": "Olduser-2026!x"})
    assert named.status_code == 422
    done = _post(client, f"{STEP}/password", {"password": NEW, "password_confirm": NEW})
    assert done.status_code == 303 and done.headers["Location"] == "/"
    assert client.get("/account/settings").status_code == 200

    db.session.expire_all()
    legacy = db.session.get(LegacyLogin, legacy.id)
    account = legacy.account
    assert legacy.old_hash is None and legacy.hash_format is None
    assert legacy.migrated_at is not None
    assert account.given_name == "太一"
    assert account.terms_accepted_at is not None and account.privacy_accepted_at is not None
    # Only the new password works now, by e-mail and by user name.
    other = app.test_client()
    assert login(other, "olduser", OLD).status_code == 401
    assert login(other, "old@example.com", OLD).status_code == 401
    assert login(other, "olduser", NEW).headers["Location"] == "/"
    assert login(app.test_client(), "old@example.com", NEW).headers["Location"] == "/"


def test_first_sign_in_with_the_e_mail_and_a_pbkdf2_hash(app, legacy_import):
    import base64
    import hashlib

    digest = hashlib.pbkdf2_hmac("sha256", OLD.encode(), b"pepper12", 1000)
    django = f"pbkdf2_sha256$1000$pepper12${base64.b64encode(digest).decode()}"
    legacy = _imported(legacy_import, password_hash=django, hash_format="pbkdf2_sha256")
    client = app.test_client()
    assert login(client, "old@example.com", OLD).headers["Location"] == f"{STEP}/data"
    assert _walk(client).headers["Location"] == "/"
    db.session.expire_all()
    assert db.session.get(LegacyLogin, legacy.id).old_hash is None


def test_wrong_old_password_is_the_same_answer_as_any_wrong_password(app, legacy_import):
    _imported(legacy_import)
    answers = []
    for who in ("olduser", "old@example.com", "nobody", "nobody@example.com"):
        response = login(app.test_client(), who, "Wrong-Pass-2019")
        body = response.get_data(as_text=True)
        answers.append((response.status_code, "メールアドレスまたはパスワードが正しくありません" in body))
    assert answers == [(401, True)] * 4
    failures = db.session.scalars(select(LegacyLogin.old_hash)).all()
    assert failures[0] is not None  # nothing changed
    assert db.session.scalar(select(WizardDraft)) is None


def test_unknown_user_name_runs_the_statements_of_an_unknown_e_mail(app, legacy_import):
    _imported(legacy_import)
    seen = {}
    for who in ("ghost-user", "ghost@example.com"):
        client = app.test_client()
        token = page_token(client)
        with statements() as ran:
            response = client.post("/account/login", data={
                "email": who, "password": "Wrong-Pass-2019", "csrf_token": token})
        seen[who] = (response.status_code, ran)
    assert seen["ghost-user"] == seen["ghost@example.com"]
    assert seen["ghost-user"][0] == 401


def test_step_pages_need_the_verified_marker(app, legacy_import):
    _imported(legacy_import)
    stranger = app.test_client()
    for path in (f"{STEP}/data", f"{STEP}/terms", f"{STEP}/password",
                 f"{STEP}/continue/data"):
        response = stranger.get(path)
        assert response.status_code == 302 and response.headers["Location"] == "/account/login"
    token = page_token(stranger)
    assert stranger.post(f"{STEP}/data", data={"csrf_token": token}).status_code == 302
    # A marker past LEGACY_STEP_MINUTES no longer opens the step.
    client = app.test_client()
    login(client, "olduser", OLD)
    assert client.get(f"{STEP}/data").status_code == 200
    app.config["LEGACY_STEP_MINUTES"] = 0
    assert client.get(f"{STEP}/data").headers["Location"] == "/account/login"
    app.config["LEGACY_STEP_MINUTES"] = 30


def test_leaving_midway_keeps_the_old_password(app, legacy_import):
    legacy = _imported(legacy_import)
    client = app.test_client()
    login(client, "olduser", OLD)
    _data_step(client)
    db.session.expire_all()
    assert db.session.get(LegacyLogin, legacy.id).old_hash is not None
    # Back later, in another browser: the old password still leads to the step.
    again = app.test_client()
    assert login(again, "olduser", OLD).headers["Location"] == f"{STEP}/data"
    assert _walk(again).headers["Location"] == "/"


def test_password_reset_of_an_imported_account(app, legacy_import):
    legacy = _imported(legacy_import)
    client = app.test_client()
    _post(client, "/account/password/reset", {"email": "old@example.com"})
    link = last_link("old@example.com", "password_reset")
    assert _post(client, link, {"password": NEW, "password_confirm": NEW}).status_code == 303
    db.session.expire_all()
    legacy = db.session.get(LegacyLogin, legacy.id)
    assert legacy.old_hash is None and legacy.migrated_at is None
    # The old password is gone; the new one leads to the rest of the step (data, terms).
    assert login(app.test_client(), "olduser", OLD).status_code == 401
    assert login(client, "olduser", NEW).headers["Location"] == f"{STEP}/continue/data"
    assert client.get("/account/settings").status_code == 302
    assert _data_step(client, f"{STEP}/continue/data").headers["Location"] == (
        f"{STEP}/continue/terms")
    done = _post(client, f"{STEP}/continue/terms", {"accept_terms": "y", "accept_privacy": "y"})
    assert done.headers["Location"] == "/"
    assert client.get("/account/settings").status_code == 200
    db.session.expire_all()
    assert db.session.get(LegacyLogin, legacy.id).migrated_at is not None
    assert login(app.test_client(), "olduser", NEW).headers["Location"] == "/"


def test_personal_data_export_names_the_user_name_never_the_hash(app, legacy_import):
    from blueprints.account.personal_data import account_tables

    legacy = _imported(legacy_import)
    tables = account_tables(db.session.get(Account, legacy.account_id))
    rows = tables["legacy_login"].rows
    rows = list(rows)
    assert rows[0]["username"] == "olduser" and rows[0]["imported_at"]
    assert "old_hash" not in rows[0] and legacy.old_hash not in repr(rows)


def test_bad_input_on_the_step_is_a_message_never_an_error(app, legacy_import):
    _imported(legacy_import)
    client = app.test_client()
    login(client, "olduser", OLD)
    for changes in ({"family_name": "田\x00中"}, {"phones-0-number": "0" * 5000},
                    {"address-prefecture": "Ｔｏｋｙｏ"}, {"language": "xx"}):
        response = _data_step(client, **changes)
        assert response.status_code == 422, changes
    # Without the CSRF token nothing is saved.
    fields = prefilled(client.get(f"{STEP}/data").get_data(as_text=True))
    fields.pop("csrf_token")
    assert client.post(f"{STEP}/data", data=fields).status_code in (400, 422)
    assert client.get(f"{STEP}/terms").headers["Location"] == f"{STEP}/data"


def test_a_second_browser_finds_the_step_done_by_the_first(app, legacy_import):
    _imported(legacy_import)
    first, second = app.test_client(), app.test_client()
    login(first, "olduser", OLD)
    login(second, "old@example.com", OLD)
    _data_step(second)
    assert _walk(first).headers["Location"] == "/"
    # The second browser's marker is void: the password changed since it was verified.
    assert second.get(f"{STEP}/terms").headers["Location"] == "/account/login"
    assert login(app.test_client(), "olduser", NEW).headers["Location"] == "/"
