"""Two-step sign-in through the test client: TOTP set-up and sign-in with a fixed clock
(right, wrong, neighbouring steps, expired, replayed, full width), recovery codes, the
limit, the pending session's timeout and remember-me, the requirement for dealers and
staff, removal, and staff's reset over real SMTP."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

import pyotp
import pytest
from sqlalchemy import func, select, update

from blueprints.account import second_step as rules
from blueprints.core.staff import ADMIN, SUPPORT
from models import db, utcnow
from models.account import Account, LoginSession, Role
from models.audit import AuditEvent
from models.trust import AccountPasskey, AccountTotp, RecoveryCode, StaffGrant
from tests.conftest import csrf_from
from tests.flows.test_dealer_links import PASSWORD, make_company, make_owner
from tests.helpers import login, outbox

pytestmark = pytest.mark.real_second_step

VERIFY = "/account/login/verify"
SETTINGS = "/account/settings/second-step"
TOTP_SETUP = "/account/settings/second-step/totp"
# A fixed clock in the middle of a 30-second step.
T0 = datetime(2031, 6, 1, 3, 0, 15, tzinfo=timezone.utc)  # after every real set-up


def path_of(location: str) -> str:
    """The path (and query) a Location header sends to, relative or absolute."""
    parts = urlsplit(location)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def account(email: str) -> Account:
    db.session.expire_all()
    return db.session.scalar(select(Account).where(Account.email == email))


def secret_of(email: str) -> str:
    row = db.session.scalar(select(AccountTotp).where(
        AccountTotp.account_id == account(email).id))
    return rules.decrypt_secret(row.secret)


def code_at(secret: str, when: datetime, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(when + timedelta(seconds=30 * steps))


def set_up_totp(client, email: str) -> tuple[str, list[str]]:
    """Set up the authenticator through the pages (signed in): answers (seed, codes)."""
    page = client.get(TOTP_SETUP)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    secret = secret_of(email)
    assert " ".join(secret[i:i + 4] for i in range(0, len(secret), 4)) in html
    assert "<svg" in html
    response = client.post(TOTP_SETUP, data={"csrf_token": csrf_from(html),
                                             "code": pyotp.TOTP(secret).now()})
    assert response.status_code == 200
    codes = re.findall(r"<code>([a-z2-9]{4}-[a-z2-9]{4})</code>", response.get_data(as_text=True))
    assert len(codes) == 10
    return secret, codes


def fixed_clock(monkeypatch, when: datetime):
    monkeypatch.setattr(rules, "utcnow", lambda: when)


def post_code(client, code: str, next_path: str | None = None):
    url = VERIFY + (f"?next={next_path}" if next_path else "")
    page = client.get(url)
    return client.post(url, data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                  "code": code})


@pytest.fixture
def owner_with_totp(app):
    """An owner who set up the app, signed out again: (email, seed, recovery codes)."""
    make_owner()
    client = app.test_client()
    assert login(client, "owner@example.com").status_code == 303
    secret, codes = set_up_totp(client, "owner@example.com")
    return "owner@example.com", secret, codes


def test_setup_confirms_with_a_code_shows_codes_once_and_mails(app, owner_with_totp):
    email, secret, codes = owner_with_totp
    owner = account(email)
    row = db.session.scalar(select(AccountTotp).where(AccountTotp.account_id == owner.id))
    assert row.confirmed_at is not None and secret not in row.secret  # encrypted at rest
    hashes = set(db.session.scalars(select(RecoveryCode.code_hash)
                                    .where(RecoveryCode.account_id == owner.id)))
    assert len(hashes) == 10 and all(code not in str(hashes) for code in codes)
    assert outbox(email, "second_step_added")
    # The codes are not shown again.
    client = app.test_client()
    login(client, email)
    post_code(client, code_at(secret, datetime.now(timezone.utc), 1))
    page = client.get(SETTINGS).get_data(as_text=True)
    assert "残り 10 個" in page and codes[0] not in page


def test_setup_with_a_wrong_code_keeps_the_form(app):
    make_owner()
    client = app.test_client()
    login(client, "owner@example.com")
    html = client.get(TOTP_SETUP).get_data(as_text=True)
    for bad in ["000000", "", "12345", "１２３", "abc\x00def", "9" * 5000]:
        response = client.post(TOTP_SETUP, data={"csrf_token": csrf_from(html), "code": bad})
        assert response.status_code == 422
        assert 'class="field-error"' in response.get_data(as_text=True)
    assert db.session.scalar(select(AccountTotp.confirmed_at)) is None
    # Without CSRF nothing happens.
    assert client.post(TOTP_SETUP, data={"code": "000000"}).status_code == 400


def test_sign_in_needs_the_code_and_the_pending_session_opens_nothing(app, owner_with_totp,
                                                                       monkeypatch):
    email, secret, _codes = owner_with_totp
    client = app.test_client()
    response = login(client, email)
    assert response.status_code == 303
    assert path_of(response.headers["Location"]).startswith(VERIFY)
    for path in ["/", "/account/settings", "/monitoring/", SETTINGS, TOTP_SETUP]:
        blocked = client.get(path)
        assert blocked.status_code == 303 and VERIFY in blocked.headers["Location"]
    htmx = client.get("/account/settings", headers={"HX-Request": "true",
                                                     "HX-Current-URL": "http://x/monitoring/"})
    assert VERIFY in htmx.headers["HX-Redirect"]
    fixed_clock(monkeypatch, T0)
    response = post_code(client, code_at(secret, T0), "/monitoring/")
    assert response.status_code == 303 and path_of(response.headers["Location"]) == "/monitoring/"
    assert client.get("/account/settings").status_code == 200
    session_row = db.session.scalar(select(LoginSession).where(
        LoginSession.account_id == account(email).id, LoginSession.revoked_at.is_(None))
        .order_by(LoginSession.id.desc()))
    assert session_row.second_step_method == "totp"


@pytest.mark.parametrize("steps, accepted", [(0, True), (-1, True), (1, True), (-2, False),
                                             (2, False), (-20, False)])
def test_codes_of_neighbouring_steps_count_older_ones_have_expired(app, owner_with_totp,
                                                                  monkeypatch, steps, accepted):
    email, secret, _codes = owner_with_totp
    client = app.test_client()
    login(client, email)
    fixed_clock(monkeypatch, T0)
    response = post_code(client, code_at(secret, T0, steps))
    assert (response.status_code == 303) is accepted


def test_a_code_is_accepted_once(app, owner_with_totp, monkeypatch):
    email, secret, _codes = owner_with_totp
    fixed_clock(monkeypatch, T0)
    first, second = app.test_client(), app.test_client()
    login(first, email)
    login(second, email)
    code = code_at(secret, T0)
    assert post_code(first, code).status_code == 303
    replay = post_code(second, code)
    assert replay.status_code == 422
    assert "認証コードが正しくありません" in replay.get_data(as_text=True)
    # An earlier step than the one used is refused too; the next step works.
    assert post_code(second, code_at(secret, T0, -1)).status_code == 422
    assert post_code(second, code_at(secret, T0, 1)).status_code == 303


def test_full_width_digits_and_spaces_are_accepted(app, owner_with_totp, monkeypatch):
    email, secret, _codes = owner_with_totp
    fixed_clock(monkeypatch, T0)
    client = app.test_client()
    login(client, email)
    code = code_at(secret, T0)
    typed = " ".join(code[:3]) + "\u3000" + code[3:]
    typed = typed.translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789"})
    assert post_code(client, typed).status_code == 303


def test_recovery_codes_work_once_and_regenerating_replaces_them(app, owner_with_totp):
    email, _secret, codes = owner_with_totp
    client = app.test_client()
    login(client, email)
    assert post_code(client, codes[0].upper().replace("-", "－")).status_code == 303
    row = db.session.scalar(select(LoginSession).where(
        LoginSession.second_step_method == "recovery"))
    assert row is not None
    assert "残り 9 個" in client.get(SETTINGS).get_data(as_text=True)
    again = app.test_client()
    login(again, email)
    assert post_code(again, codes[0]).status_code == 422  # used
    assert post_code(again, codes[1]).status_code == 303
    # A new set: the old codes stop working, the account is mailed.
    page = again.get("/account/settings/second-step/recovery-codes")
    response = again.post("/account/settings/second-step/recovery-codes",
                          data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    fresh = re.findall(r"<code>([a-z2-9]{4}-[a-z2-9]{4})</code>", response.get_data(as_text=True))
    assert len(fresh) == 10 and not set(fresh) & set(codes)
    assert outbox(email, "second_step_codes")
    third = app.test_client()
    login(third, email)
    assert post_code(third, codes[2]).status_code == 422
    assert post_code(third, fresh[0]).status_code == 303


def test_wrong_codes_get_the_same_page_then_the_limit(make_app, monkeypatch):
    app = make_app(SECOND_STEP_FAILURES_PER_ACCOUNT=3, SECOND_STEP_FAILURES_PER_ADDRESS=50)
    with app.app_context():
        make_owner()
        setup = app.test_client()
        login(setup, "owner@example.com")
        secret, codes = set_up_totp(setup, "owner@example.com")
        fixed_clock(monkeypatch, T0)
        client = app.test_client()
        login(client, "owner@example.com")
        pages = []
        for wrong in [code_at(secret, T0, 5), "abcd-efgh", codes[0][:4] + "-zzzz"]:
            response = post_code(client, wrong)
            assert response.status_code == 422
            body = response.get_data(as_text=True)
            # The same page but for the CSRF tokens (signed with the time) and the code.
            pages.append(re.sub(r'(name="csrf_token"|name="code"|hx-headers=)[^>]*', "", body))
            assert "パスワード" not in re.sub(r"<header.*?</header>", "", body, flags=re.S)
        assert pages[0] == pages[1] == pages[2]
        # Over the limit even the right code is not checked.
        assert post_code(client, code_at(secret, T0)).status_code == 429
        assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "account.second_step_limited")) == 1
        # The window passes: the right code works again.
        db.session.execute(update(AuditEvent).values(at=utcnow() - timedelta(hours=1)))
        db.session.commit()
        assert post_code(client, code_at(secret, T0)).status_code == 303


def test_a_pending_session_ends_after_its_time(app, owner_with_totp):
    email, secret, _codes = owner_with_totp
    client = app.test_client()
    login(client, email)
    db.session.execute(update(LoginSession).where(LoginSession.second_step_at.is_(None))
                       .values(created_at=utcnow() - timedelta(minutes=11)))
    db.session.commit()
    response = client.get(VERIFY)
    assert response.status_code == 303 and path_of(response.headers["Location"]) == "/account/login"
    assert db.session.scalar(select(func.count()).select_from(LoginSession).where(
        LoginSession.second_step_at.is_(None), LoginSession.revoked_at.is_(None))) == 0
    # Signed out: the code alone does nothing.
    assert client.get("/account/settings").status_code == 302


def test_remember_me_waits_for_the_second_step(app, owner_with_totp, monkeypatch):
    email, secret, _codes = owner_with_totp
    client = app.test_client()
    response = login(client, email, remember=True)
    assert "remember_token" not in response.headers.get("Set-Cookie", "")
    fixed_clock(monkeypatch, T0)
    response = post_code(client, code_at(secret, T0))
    assert response.status_code == 303
    cookies = [SimpleCookie(value) for value in response.headers.getlist("Set-Cookie")]
    assert any("remember_token" in cookie for cookie in cookies)


def test_a_dealer_is_led_to_the_set_up_and_the_console_waits_for_it(app):
    make_company(1)
    from blueprints.dealers.services import become_dealer
    from models.account import Company
    become_dealer(db.session.scalar(select(Company)), "0312345678")
    client = app.test_client()
    response = client.post("/account/login?next=/dealers/", data={
        "csrf_token": csrf_from(client.get("/account/login").get_data(as_text=True)),
        "email": "admin1@dealer1.example", "password": PASSWORD})
    assert path_of(response.headers["Location"]).startswith(SETTINGS)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "後で設定する" in page and 'href="/dealers/"' in page
    # Later: the console is not opened without the step.
    response = client.get("/dealers/")
    assert response.status_code == 303
    assert path_of(response.headers["Location"]).startswith(SETTINGS)
    assert "この画面を利用するには2段階認証の設定が必要です" in client.get(
        response.headers["Location"]).get_data(as_text=True)
    assert client.get("/club/dealer/users").status_code == 303
    set_up_totp(client, "admin1@dealer1.example")
    assert client.get("/dealers/").status_code == 200
    # Its last second step cannot be removed.
    page = client.get("/account/settings/second-step/totp/remove")
    assert "最後の認証方法は削除できません" in page.get_data(as_text=True)
    response = client.post("/account/settings/second-step/totp/remove", data={
        "csrf_token": csrf_from(page.get_data(as_text=True)), "password": PASSWORD})
    assert response.status_code == 409
    assert db.session.scalar(select(func.count()).select_from(AccountTotp)) == 1


def test_an_owner_removes_the_app_with_the_password(app, owner_with_totp, monkeypatch):
    email, secret, _codes = owner_with_totp
    fixed_clock(monkeypatch, T0)
    client = app.test_client()
    login(client, email)
    post_code(client, code_at(secret, T0))
    url = "/account/settings/second-step/totp/remove"
    token = csrf_from(client.get(url).get_data(as_text=True))
    wrong = client.post(url, data={"csrf_token": token, "password": "wrong-Password-1"})
    assert wrong.status_code == 422 and "パスワードが正しくありません" in wrong.get_data(as_text=True)
    assert client.post(url, data={"csrf_token": token, "password": ""}).status_code == 422
    assert client.post(url, data={"csrf_token": token, "password": PASSWORD}).status_code == 303
    assert db.session.scalar(select(func.count()).select_from(AccountTotp)) == 0
    assert db.session.scalar(select(func.count()).select_from(RecoveryCode)) == 0
    assert outbox(email, "second_step_removed")
    # The next sign-in needs the password only.
    again = app.test_client()
    assert path_of(login(again, email).headers["Location"]) == "/"


def test_another_accounts_passkey_cannot_be_removed(app, owner_with_totp):
    other = make_owner("other@example.com", "佐藤", "次郎")
    passkey = AccountPasskey(account_id=other.id, credential_id="abc", public_key=b"x",
                             name="他人の鍵")
    db.session.add(passkey)
    db.session.commit()
    client = app.test_client()
    login(client, "other@example.com")  # other has a passkey: pending
    owner_client = app.test_client()
    email, secret, _codes = owner_with_totp
    login(owner_client, email)
    post_code(owner_client, code_at(secret, datetime.now(timezone.utc), 1))
    url = f"/account/settings/second-step/passkeys/{passkey.id}/remove"
    assert owner_client.get(url).status_code == 404
    token = csrf_from(owner_client.get(SETTINGS).get_data(as_text=True))
    assert owner_client.post(url, data={"csrf_token": token,
                                        "password": PASSWORD}).status_code == 404
    assert db.session.get(AccountPasskey, passkey.id) is not None


def test_a_forged_passkey_answer_is_a_wrong_step(app):
    owner = make_owner()
    db.session.add(AccountPasskey(account_id=owner.id, credential_id="AAAA", public_key=b"x",
                                  name="鍵"))
    db.session.commit()
    client = app.test_client()
    login(client, "owner@example.com")
    page = client.get(VERIFY)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "JavaScript" in html
    options = client.post("/account/login/verify/passkey/options",
                          headers={"X-CSRFToken": csrf_from(html)})
    assert options.status_code == 200 and options.json["rpId"] == "enelink.test"
    for forged in ['{"id": "AAAA"}', "not json", "\x00", "x" * 30000, ""]:
        response = client.post("/account/login/verify/passkey",
                               data={"csrf_token": csrf_from(html), "credential": forged})
        assert response.status_code == 422
    assert client.get("/account/settings").status_code == 303
    # Without the CSRF header the options are refused.
    assert client.post("/account/login/verify/passkey/options").status_code == 400


def _staff(email="support-agent@example.com", role=SUPPORT) -> Account:
    agent = make_owner(email, "高橋", "美咲")
    agent.role = Role.STAFF
    db.session.add(StaffGrant(account_id=agent.id, role=role))
    db.session.commit()
    return agent


def test_staff_reset_needs_a_reason_and_signs_the_account_out(smtp_app, smtp):
    from mail.relay import deliver_pending

    app = smtp_app
    make_owner()
    owner_client = app.test_client()
    login(owner_client, "owner@example.com")
    secret, _codes = set_up_totp(owner_client, "owner@example.com")
    _staff()
    staff_client = app.test_client()
    login(staff_client, "support-agent@example.com")
    # Staff are led to the set-up; staff pages wait for it.
    assert staff_client.get("/staff/accounts/").status_code == 303
    set_up_totp(staff_client, "support-agent@example.com")
    owner = account("owner@example.com")
    found = staff_client.get(f"/staff/accounts/?q={owner.customer_number}")
    assert found.status_code == 200 and "owner@example.com" in found.get_data(as_text=True)
    assert "owner@example.com" in staff_client.get(
        "/staff/accounts/?q=OWNER@example.com").get_data(as_text=True)
    assert staff_client.get("/staff/accounts/?q=%00").status_code == 422
    url = f"/staff/accounts/{owner.customer_number}/second-step/reset"
    token = csrf_from(staff_client.get(url).get_data(as_text=True))
    for reason in ["", "   ", "理由\x00"]:
        response = staff_client.post(url, data={"csrf_token": token, "reason": reason})
        assert response.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(AccountTotp)
                             .where(AccountTotp.account_id == owner.id)) == 1
    assert staff_client.get("/staff/accounts/0000000000/second-step/reset").status_code == 404
    response = staff_client.post(url, data={"csrf_token": token,
                                            "reason": "電話で本人確認、端末紛失"})
    assert response.status_code == 303
    assert db.session.scalar(select(func.count()).select_from(AccountTotp)
                             .where(AccountTotp.account_id == owner.id)) == 0
    assert db.session.scalar(select(func.count()).select_from(RecoveryCode)
                             .where(RecoveryCode.account_id == owner.id)) == 0
    event = db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "account.second_step_reset"))
    assert event.detail["reason"] == "電話で本人確認、端末紛失"
    assert event.subject_id == owner.id and event.actor_id != owner.id
    assert owner_client.get("/account/settings").status_code == 302  # signed out
    deliver_pending(limit=100)
    mails = smtp.to("owner@example.com")
    assert any("2段階認証がリセットされました" in str(m["Subject"]) for m in mails)


def test_staff_without_the_support_role_do_not_find_the_reset(app):
    _staff("slips@example.com", role="slips")
    client = app.test_client()
    login(client, "slips@example.com")
    set_up_totp(client, "slips@example.com")
    assert client.get("/staff/accounts/").status_code == 404
    owner = make_owner()
    assert client.get(f"/staff/accounts/{owner.customer_number}/second-step/reset"
                      ).status_code == 404
    # An owner does not learn that the page exists.
    owner_client = app.test_client()
    login(owner_client, "owner@example.com")
    assert owner_client.get("/staff/accounts/").status_code == 404


def test_an_admin_grant_opens_the_reset(app):
    _staff("admin@example.com", role=ADMIN)
    client = app.test_client()
    login(client, "admin@example.com")
    set_up_totp(client, "admin@example.com")
    assert client.get("/staff/accounts/").status_code == 200


def test_wrong_codes_count_per_client_address_across_accounts(make_app, monkeypatch):
    app = make_app(SECOND_STEP_FAILURES_PER_ADDRESS=2, SECOND_STEP_FAILURES_PER_ACCOUNT=50)
    with app.app_context():
        seeds = {}
        for email in ("owner@example.com", "other@example.com"):
            make_owner(email, "佐藤", "次郎")
            setup = app.test_client()
            login(setup, email)
            seeds[email], _codes = set_up_totp(setup, email)
        fixed_clock(monkeypatch, T0)
        first, second = app.test_client(), app.test_client()
        login(first, "owner@example.com")
        login(second, "other@example.com")
        assert post_code(first, code_at(seeds["owner@example.com"], T0, 9)).status_code == 422
        assert post_code(first, "abcd-efgh").status_code == 422
        # The same address is over its limit, whichever account it tries now.
        right = code_at(seeds["other@example.com"], T0)
        assert post_code(second, right).status_code == 429
        # Another address is not: the rightful user is not locked out.
        elsewhere = app.test_client()
        elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.77"
        login(elsewhere, "other@example.com")
        assert post_code(elsewhere, right).status_code == 303


class SoftAuthenticator:
    """A software passkey (P-256): its COSE public key, and assertions it signs."""

    def __init__(self):
        from cryptography.hazmat.primitives.asymmetric import ec

        self.key = ec.generate_private_key(ec.SECP256R1())

    @property
    def public_key(self) -> bytes:
        from webauthn.helpers import encode_cbor

        numbers = self.key.public_key().public_numbers()
        return encode_cbor({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"),
                            -3: numbers.y.to_bytes(32, "big")})

    def assertion(self, credential_id: str, challenge: str, rp_id="enelink.test",
                  origin="http://enelink.test") -> str:
        import hashlib
        import json

        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from webauthn.helpers import bytes_to_base64url

        client_data = json.dumps({"type": "webauthn.get", "challenge": challenge,
                                  "origin": origin, "crossOrigin": False}).encode()
        authenticator_data = (hashlib.sha256(rp_id.encode()).digest() + bytes([0x05])
                              + (7).to_bytes(4, "big"))
        signature = self.key.sign(authenticator_data + hashlib.sha256(client_data).digest(),
                                  ec.ECDSA(hashes.SHA256()))
        return json.dumps({"id": credential_id, "rawId": credential_id, "type": "public-key",
                           "response": {
                               "clientDataJSON": bytes_to_base64url(client_data),
                               "authenticatorData": bytes_to_base64url(authenticator_data),
                               "signature": bytes_to_base64url(signature)}})


def _attestation(authenticator: SoftAuthenticator, credential_id: bytes, challenge: str,
                 origin="http://enelink.test", rp_id="enelink.test") -> str:
    """What navigator.credentials.create answers ("none" attestation), as passkeys.js
    posts it."""
    import hashlib
    import json

    from webauthn.helpers import bytes_to_base64url, encode_cbor

    client_data = json.dumps({"type": "webauthn.create", "challenge": challenge,
                              "origin": origin, "crossOrigin": False}).encode()
    auth_data = (hashlib.sha256(rp_id.encode()).digest() + bytes([0x45]) + (0).to_bytes(4, "big")
                 + bytes(16) + len(credential_id).to_bytes(2, "big") + credential_id
                 + authenticator.public_key)
    attestation = encode_cbor({"fmt": "none", "attStmt": {}, "authData": auth_data})
    raw_id = bytes_to_base64url(credential_id)
    return json.dumps({"id": raw_id, "rawId": raw_id, "type": "public-key", "response": {
        "clientDataJSON": bytes_to_base64url(client_data),
        "attestationObject": bytes_to_base64url(attestation), "transports": ["internal"]}})


def _register(client, name: str, answer) -> object:
    """Ask for creation options, then post the form with `answer(challenge)`."""
    html = client.get(SETTINGS).get_data(as_text=True)
    options = client.post("/account/settings/second-step/passkeys/options",
                          headers={"X-CSRFToken": csrf_from(html)}).json
    return client.post("/account/settings/second-step/passkeys", data={
        "csrf_token": csrf_from(html), "name": name, "credential": answer(options)})


def test_passkey_registration_checks_the_answer(app):
    make_owner()
    client = app.test_client()
    login(client, "owner@example.com")
    authenticator = SoftAuthenticator()
    # Another origin or relying party, a stale challenge, garbage: nothing is kept.
    for answer in [
            lambda o: _attestation(authenticator, b"key-1", o["challenge"],
                                   origin="http://evil.example"),
            lambda o: _attestation(authenticator, b"key-1", o["challenge"],
                                   rp_id="evil.example"),
            lambda o: _attestation(authenticator, b"key-1", "c3RhbGU"),
            lambda o: "{}", lambda o: "\x00"]:
        response = _register(client, "鍵", answer)
        assert response.status_code == 422
        assert "パスキーを登録できませんでした" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(AccountPasskey)) == 0
    # The right answer: kept with its name, the first second step brings recovery codes.
    response = _register(client, "仕事用のパソコン",
                         lambda o: _attestation(authenticator, b"key-1", o["challenge"]))
    assert response.status_code == 200
    codes = re.findall(r"<code>([a-z2-9]{4}-[a-z2-9]{4})</code>", response.get_data(as_text=True))
    assert len(codes) == 10
    passkey = db.session.scalar(select(AccountPasskey))
    assert (passkey.name, passkey.transports) == ("仕事用のパソコン", "internal")
    assert outbox("owner@example.com", "second_step_added")
    # The same credential again is refused; the options exclude it.
    html = client.get(SETTINGS).get_data(as_text=True)
    assert "仕事用のパソコン" in html
    again = _register(client, "もう一度",
                      lambda o: _attestation(authenticator, b"key-1", o["challenge"]))
    assert again.status_code == 422
    options = client.post("/account/settings/second-step/passkeys/options",
                          headers={"X-CSRFToken": csrf_from(html)}).json
    assert [c["id"] for c in options["excludeCredentials"]] == [passkey.credential_id]
    # The next sign-in needs it.
    fresh = app.test_client()
    assert path_of(login(fresh, "owner@example.com").headers["Location"]).startswith(VERIFY)
    assert _passkey_attempt(fresh, authenticator, passkey.credential_id).status_code == 303


def _passkey_attempt(client, authenticator, credential_id):
    html = client.get(VERIFY).get_data(as_text=True)
    options = client.post("/account/login/verify/passkey/options",
                          headers={"X-CSRFToken": csrf_from(html)}).json
    return client.post("/account/login/verify/passkey", data={
        "csrf_token": csrf_from(html),
        "credential": authenticator.assertion(credential_id, options["challenge"])})


def test_a_passkey_signs_in_once_and_another_accounts_passkey_is_refused(app):
    owner = make_owner()
    other = make_owner("other@example.com", "佐藤", "次郎")
    authenticator = SoftAuthenticator()  # one device holding a passkey of each account
    db.session.add_all([
        AccountPasskey(account_id=owner.id, credential_id="b3duZXI",
                       public_key=authenticator.public_key, name="本人の鍵"),
        AccountPasskey(account_id=other.id, credential_id="b3RoZXI",
                       public_key=authenticator.public_key, name="他人の鍵")])
    db.session.commit()
    client = app.test_client()
    login(client, "owner@example.com")
    # The other account's passkey, rightly signed for this session's challenge: refused.
    response = _passkey_attempt(client, authenticator, "b3RoZXI")
    assert response.status_code == 422
    assert "パスキーで認証できませんでした" in response.get_data(as_text=True)
    failed = db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "account.second_step_failed"))
    assert failed.subject_id == owner.id and failed.detail["method"] == "passkey"
    assert client.get("/account/settings").status_code == 303  # still pending
    # A replayed answer (its challenge was spent) is refused too.
    html = client.get(VERIFY).get_data(as_text=True)
    client.post("/account/login/verify/passkey/options", headers={"X-CSRFToken": csrf_from(html)})
    stale = authenticator.assertion("b3duZXI", "c3RhbGUtY2hhbGxlbmdl")
    assert client.post("/account/login/verify/passkey", data={
        "csrf_token": csrf_from(html), "credential": stale}).status_code == 422
    # Its own passkey signs in.
    response = _passkey_attempt(client, authenticator, "b3duZXI")
    assert response.status_code == 303
    assert client.get("/account/settings").status_code == 200
    db.session.expire_all()
    mine = db.session.scalar(select(AccountPasskey).where(AccountPasskey.account_id == owner.id))
    assert mine.sign_count == 7 and mine.last_used_at is not None


def test_confirming_the_app_twice_keeps_the_first_codes(app):
    make_owner()
    client = app.test_client()
    login(client, "owner@example.com")
    html = client.get(TOTP_SETUP).get_data(as_text=True)
    data = {"csrf_token": csrf_from(html), "code": pyotp.TOTP(secret_of("owner@example.com")).now()}
    assert client.post(TOTP_SETUP, data=data).status_code == 200
    hashes = set(db.session.scalars(select(RecoveryCode.code_hash)))
    again = client.post(TOTP_SETUP, data=data)
    assert again.status_code == 303 and path_of(again.headers["Location"]).startswith(SETTINGS)
    db.session.expire_all()
    assert set(db.session.scalars(select(RecoveryCode.code_hash))) == hashes
    assert len(outbox("owner@example.com", "second_step_added")) == 1


def test_an_owner_removes_a_passkey_with_the_password(app, owner_with_totp):
    email, secret, _codes = owner_with_totp
    owner = account(email)
    passkey = AccountPasskey(account_id=owner.id, credential_id="a2V5", public_key=b"x",
                             name="古いスマホ")
    db.session.add(passkey)
    db.session.commit()
    passkey_id = passkey.id
    client = app.test_client()
    login(client, email)
    assert post_code(client, code_at(secret, datetime.now(timezone.utc), 1)).status_code == 303
    settings = client.get(SETTINGS).get_data(as_text=True)
    assert "古いスマホ" in settings and "最終利用" in settings
    url = f"/account/settings/second-step/passkeys/{passkey_id}/remove"
    page = client.get(url).get_data(as_text=True)
    assert "古いスマホ" in page
    token = csrf_from(page)
    wrong = client.post(url, data={"csrf_token": token, "password": "Wrong-Password-2026"})
    assert wrong.status_code == 422
    assert db.session.get(AccountPasskey, passkey_id) is not None
    assert client.post(url, data={"csrf_token": token, "password": PASSWORD}).status_code == 303
    db.session.expire_all()
    assert db.session.get(AccountPasskey, passkey_id) is None
    # The app remains, and so do the recovery codes.
    assert db.session.scalar(select(func.count()).select_from(RecoveryCode)) == 10
    mails = outbox(email, "second_step_removed")
    assert mails and "パスキーが削除されました" in mails[-1].text_body
    assert client.post(url, data={"csrf_token": token, "password": PASSWORD}).status_code == 404
    assert db.session.scalar(select(AuditEvent.detail).where(
        AuditEvent.action == "account.passkey_removed"))["name"] == "古いスマホ"


def test_at_once_a_code_passes_one_browser_and_guesses_stay_within_the_limit(make_app,
                                                                               monkeypatch):
    """Double submits and bursts on the same database (file SQLite or PostgreSQL)."""
    from concurrent.futures import ThreadPoolExecutor

    app = make_app(RATELIMIT_ENABLED=False, SECOND_STEP_FAILURES_PER_ACCOUNT=3,
                   SECOND_STEP_FAILURES_PER_ADDRESS=100)
    with app.app_context():
        make_owner()
        setup = app.test_client()
        login(setup, "owner@example.com")
        secret, codes = set_up_totp(setup, "owner@example.com")
    fixed_clock(monkeypatch, T0)
    clients = [app.test_client() for _ in range(6)]
    tokens = []
    for client in clients:
        login(client, "owner@example.com")
        tokens.append(csrf_from(client.get(VERIFY).get_data(as_text=True)))

    def post(i: int, code: str) -> int:
        return clients[i].post(VERIFY, data={"csrf_token": tokens[i], "code": code}).status_code

    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(post, range(6), [code_at(secret, T0)] * 6))
    # One browser passes; the five replays are wrong guesses, of which only the three
    # the account may fail are checked, the others refused unchecked.
    assert statuses.count(303) == 1
    assert statuses.count(422) == 3 and statuses.count(429) == 2
    with app.app_context():
        failed = db.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "account.second_step_failed"))
        passed = db.session.scalar(select(func.count()).select_from(LoginSession).where(
            LoginSession.second_step_method == "totp"))
    assert failed == 3 and passed == 2  # the set-up's browser and the one that passed
