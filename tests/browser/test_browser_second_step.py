"""Two-step sign-in in Chromium.

- Desktop (1280x800) with Chromium's virtual authenticator (DevTools protocol, ctap2,
  internal, resident key, user verification): an owner registers a passkey in
  2段階認証の設定 (passkeys.js asks for the options, the authenticator answers, the form
  posts it) and gets the recovery codes; signs out; signs in with the password and then
  the passkey. WebAuthn refuses IP addresses as relying party, so the browser opens the
  live server as `localhost` and PUBLIC_HOST says the same (the rp id is its host).
- Phone (360x740) without JavaScript: the authenticator app is set up from the key
  shown in groups of 4, a wrong code keeps the page with the message, the right one
  signs in.

Every page state reached is checked by `PageAudit.check` (axe-core WCAG 2.1 A/AA, no
horizontal scroll, 44 px touch targets on the phone, no console errors)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pyotp
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from blueprints.account import second_step as rules
from models import db
from models.account import LoginSession
from models.trust import AccountPasskey, AccountTotp
from tests.browser.test_browser_pages import (Person, check, expect_status, heading, in_db,
                                              main, submit, visit)
from tests.flows.test_dealer_links import make_owner
from tests.helpers import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.real_second_step]

OWNER = Person("owner@example.com", "山田", "太郎")


def _sign_in(page, audit, base: str, status: int = 303) -> None:
    visit(page, audit, base + "/account/login")
    page.locator("#email").fill(OWNER.email)
    page.locator("#password").fill(PASSWORD)
    submit(page, audit, main(page).get_by_role("button", name="ログイン", exact=True),
           "/account/login", status)


def _sign_out(page, audit, base: str) -> None:
    visit(page, audit, base + "/account/logout")
    submit(page, audit, main(page).get_by_role("button", name="ログアウトする"),
           "/account/logout", 303)


def _post(page, audit, button, path: str, status: int):
    """Like `submit`, for the form's own POST to exactly `path` (passkeys.js first posts
    to `<path>/options` for the authenticator's options)."""
    with page.expect_response(lambda r: r.request.method == "POST"
                              and urlsplit(r.url).path == path) as info:
        button.click()
    expect_status(audit, info.value, status)
    page.wait_for_load_state()


def _last_method(live) -> str | None:
    def read():
        db.session.expire_all()
        return db.session.scalar(select(LoginSession.second_step_method)
                                 .order_by(LoginSession.id.desc()))
    return in_db(live, read)


def test_passkey_registration_and_sign_in_with_the_virtual_authenticator(live_server,
                                                                         open_page):
    live = live_server
    port = live.server.server_port
    live.app.config["PUBLIC_HOST"] = f"localhost:{port}"
    base = f"http://localhost:{port}"
    in_db(live, lambda: make_owner(OWNER.email, OWNER.family_name, OWNER.given_name))
    page, audit = open_page("desktop")
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True}})

    _sign_in(page, audit, base)
    visit(page, audit, base + "/account/settings/second-step")
    expect(heading(page)).to_have_text("2段階認証の設定")
    check(page, audit, "settings")
    # A missing name: the server says so next to the field (the authenticator is not asked).
    submit(page, audit, main(page).get_by_role("button", name="パスキーを登録する"),
           "/account/settings/second-step/passkeys", 422)
    expect(page.locator("#name-error")).to_have_text("入力してください")
    check(page, audit, "settings-passkey-name-missing")
    page.locator("#name").fill("仕事用のパソコン")
    _post(page, audit, main(page).get_by_role("button", name="パスキーを登録する"),
          "/account/settings/second-step/passkeys", 200)
    expect(heading(page)).to_have_text("リカバリーコード")
    expect(page.locator(".recovery-codes li")).to_have_count(10)
    check(page, audit, "recovery-codes")
    visit(page, audit, base + "/account/settings/second-step")
    expect(main(page).locator("td").first).to_have_text("仕事用のパソコン")
    check(page, audit, "settings-with-passkey")
    assert in_db(live, lambda: db.session.scalar(select(AccountPasskey.name))) == "仕事用のパソコン"

    _sign_out(page, audit, base)
    _sign_in(page, audit, base)
    assert page.url.startswith(base + "/account/login/verify")
    expect(heading(page)).to_have_text("2段階認証")
    check(page, audit, "verify-passkey")
    _post(page, audit, main(page).get_by_role("button", name="パスキーでログイン"),
          "/account/login/verify/passkey", 303)
    expect(page).to_have_url(base + "/")
    expect(heading(page)).to_have_text(f"ようこそ、{OWNER.full_name}さん")
    assert _last_method(live) == "passkey"
    assert in_db(live, lambda: db.session.scalar(select(AccountPasskey.last_used_at))) is not None


def test_authenticator_app_set_up_and_sign_in_on_a_phone_without_javascript(live_server,
                                                                            open_page):
    live = live_server
    base = live.url
    in_db(live, lambda: make_owner(OWNER.email, OWNER.family_name, OWNER.given_name))
    page, audit = open_page("phone", javascript=False)

    _sign_in(page, audit, base)
    visit(page, audit, base + "/account/settings/login")
    expect(main(page).locator("#second-step")).to_contain_text("未設定")
    check(page, audit, "settings-login")
    main(page).get_by_role("link", name="2段階認証を設定する").click()
    expect(heading(page)).to_have_text("2段階認証の設定")
    expect(main(page)).to_contain_text("JavaScript")
    check(page, audit, "settings-no-js")
    main(page).get_by_role("link", name="認証アプリを設定する").click()
    expect(heading(page)).to_have_text("認証アプリの設定")
    expect(page.locator(".totp-qr svg")).to_have_count(1)

    def secret():
        row = db.session.scalar(select(AccountTotp))
        return rules.decrypt_secret(row.secret)
    seed = in_db(live, secret)
    expect(page.locator(".totp-secret")).to_have_text(
        " ".join(seed[i:i + 4] for i in range(0, len(seed), 4)))
    check(page, audit, "totp-setup")
    page.locator("#code").fill("000000" if pyotp.TOTP(seed).now() != "000000" else "111111")
    submit(page, audit, main(page).get_by_role("button", name="設定する"),
           "/account/settings/second-step/totp", 422)
    expect(page.locator("#code-error")).to_contain_text("認証コードが正しくありません")
    check(page, audit, "totp-setup-wrong")
    page.locator("#code").fill(pyotp.TOTP(seed).now())
    submit(page, audit, main(page).get_by_role("button", name="設定する"),
           "/account/settings/second-step/totp", 200)
    expect(page.locator(".recovery-codes li")).to_have_count(10)
    check(page, audit, "recovery-codes-phone")

    _sign_out(page, audit, base)
    _sign_in(page, audit, base)
    expect(heading(page)).to_have_text("2段階認証")
    check(page, audit, "verify-totp")
    page.locator("#code").fill("123 456" if pyotp.TOTP(seed).now() != "123456" else "654321")
    submit(page, audit, main(page).get_by_role("button", name="確認"),
           "/account/login/verify", 422)
    expect(page.locator("#code-error")).to_have_text(
        "認証コードが正しくありません。もう一度入力してください")
    check(page, audit, "verify-wrong")
    # The next step's code (the set-up used this step's): full-width digits are fine.
    later = datetime.now(timezone.utc) + timedelta(seconds=30)
    code = pyotp.TOTP(seed).at(later)
    page.locator("#code").fill(code.translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789"}))
    submit(page, audit, main(page).get_by_role("button", name="確認"),
           "/account/login/verify", 303)
    expect(heading(page)).to_have_text(f"ようこそ、{OWNER.full_name}さん")
    assert _last_method(live) == "totp"
