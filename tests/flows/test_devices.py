"""ログイン中の端末 (issue 15): the list of signed-in browsers, signing out one, the others
and all (remember-me and proxy logins included), the last use written at most once per
interval, and the mail on a sign-in from a new browser (over real SMTP)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from blueprints.dealers.services import become_dealer
from mail.relay import deliver_pending
from models import db, utcnow
from models.account import Account, LoginSession
from models.audit import AuditEvent
from models.club import ProxySession
from models.trust import KnownBrowser
from tests.conftest import SmtpServer, csrf_from, links_in, path_of
from tests.flows.test_club_proxy import make_employee, permit, start
from tests.flows.test_dealer_links import make_company, make_gateway, make_owner
from tests.helpers import login, outbox, statements

ANDROID = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/124.0.0.0 Mobile Safari/537.36")
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1")
DEVICES = "/account/settings/devices"
OWNER = "owner@example.com"
THIS_ONE = ">この端末</strong>"


def browser(app, user_agent=ANDROID, address="203.0.113.7"):
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = user_agent
    client.environ_base["REMOTE_ADDR"] = address
    return client


def signed_in(app, email=OWNER, remember=False, **kwargs):
    client = browser(app, **kwargs)
    assert login(client, email, remember=remember).status_code == 303
    return client


def token_of(client, url=DEVICES) -> str:
    return csrf_from(client.get(url).get_data(as_text=True))


def is_signed_in(client) -> bool:
    return client.get("/account/settings").status_code == 200


def sessions_of(email=OWNER) -> list[LoginSession]:
    db.session.expire_all()
    account = db.session.scalar(select(Account).where(Account.email == email))
    return list(db.session.scalars(select(LoginSession).where(
        LoginSession.account_id == account.id).order_by(LoginSession.id)))


def live(email=OWNER) -> list[LoginSession]:
    return [row for row in sessions_of(email) if row.revoked_at is None]


# -- the list ----------------------------------------------------------------------------------
def test_the_list_shows_every_live_browser_in_words_and_marks_this_one(app):
    make_owner()
    make_owner("other@example.com", "佐藤", "次郎")
    phone = signed_in(app, user_agent=ANDROID, address="203.0.113.7")
    ipad = signed_in(app, user_agent=IPHONE, address="2001:db8:1234:5678::1", remember=True)
    signed_in(app, "other@example.com", user_agent="Mozilla/5.0 (X11; Linux x86_64) "
              "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36")
    page = phone.get(DEVICES)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Chrome Mobile / Android" in html and "Mobile Safari / iOS" in html
    assert "Linux" not in html  # another account's browser is not listed
    assert "203.0.113.*" in html and "203.0.113.7" not in html
    assert "2001:db8:1234::/48" in html and "5678" not in html
    assert html.count(THIS_ONE) == 1
    # this one first, marked; ログイン状態の維持 of the other
    assert html.index(THIS_ONE) < html.index("Mobile Safari / iOS")
    assert "あり" in html and "なし" in html
    # no local place database: no place column at all, never a guess
    assert "おおよその場所" not in html
    # a revoked or expired session is not listed
    db.session.execute(update(LoginSession).where(LoginSession.user_agent == IPHONE)
                       .values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert "Mobile Safari" not in phone.get(DEVICES).get_data(as_text=True)
    assert not is_signed_in(ipad)


def test_an_unreadable_place_database_shows_no_place_column(make_app, tmp_path):
    broken = tmp_path / "broken.mmdb"
    broken.write_bytes(b"\0not a maxmind database" * 10)
    app = make_app(GEOIP_DATABASE=str(broken))
    with app.app_context():
        make_owner()
        client = signed_in(app)
        html = client.get(DEVICES).get_data(as_text=True)
        assert "Chrome Mobile / Android" in html and "おおよその場所" not in html


def _mmdb(path, network: str, record: dict) -> None:
    """Write a tiny MaxMind-format (MMDB 2.0) IPv4 database mapping one /24 to `record`:
    a search tree of 24-bit records, the data section, the metadata."""
    def control(kind: int, size: int) -> bytes:
        return bytes([kind << 5 | size]) if kind <= 7 else bytes([size, kind - 7])

    def encode(value) -> bytes:
        if isinstance(value, dict):
            return control(7, len(value)) + b"".join(encode(k) + encode(v)
                                                     for k, v in value.items())
        if isinstance(value, list):
            return control(11, len(value)) + b"".join(encode(v) for v in value)
        if isinstance(value, tuple):  # (type, bytes, value): uint16 5, uint32 6, uint64 9
            kind, size, number = value
            return control(kind, size) + number.to_bytes(size, "big")
        raw = value.encode()
        return control(2, len(raw)) + raw

    first = [int(part) for part in network.split(".")[:3]]
    bits = [(octet >> (7 - i)) & 1 for octet in first for i in range(8)]
    node_count = len(bits)
    tree = b""
    for index, bit in enumerate(bits):
        onward = index + 1 if index + 1 < node_count else node_count + 16  # data at 0
        records = [node_count, node_count]
        records[bit] = onward
        tree += b"".join(r.to_bytes(3, "big") for r in records)
    metadata = {"node_count": (6, 4, node_count), "record_size": (5, 2, 24),
                "ip_version": (5, 2, 4), "database_type": "Test-City",
                "languages": ["ja", "en"], "binary_format_major_version": (5, 2, 2),
                "binary_format_minor_version": (5, 2, 0),
                "build_epoch": (9, 8, 1700000000), "description": {"en": "test"}}
    path.write_bytes(tree + b"\0" * 16 + encode(record) + b"\xab\xcd\xefMaxMind.com"
                     + encode(metadata))


def test_a_readable_place_database_shows_the_approximate_place(make_app, tmp_path):
    database = tmp_path / "city.mmdb"
    _mmdb(database, "203.0.113.0", {"country": {"names": {"ja": "日本", "en": "Japan"}},
                                    "subdivisions": [{"names": {"ja": "神奈川県"}}],
                                    "city": {"names": {"ja": "横浜市", "en": "Yokohama"}}})
    app = make_app(GEOIP_DATABASE=str(database))
    with app.app_context():
        make_owner()
        client = signed_in(app, address="203.0.113.50")
        signed_in(app, user_agent=IPHONE, address="198.51.100.1")  # not in the database
        signed_in(app, user_agent=IPHONE, address="2001:db8::1")  # IPv6: not in it either
        html = client.get(DEVICES).get_data(as_text=True)
        assert "おおよその場所" in html
        assert "日本 神奈川県 横浜市" in html
        assert html.count(">不明<") == 2


def test_the_page_and_its_actions_need_a_sign_in(app):
    anonymous = app.test_client()
    assert anonymous.get(DEVICES).status_code == 302
    assert anonymous.post(f"{DEVICES}/sign-out-others").status_code in (302, 400)


# -- signing out ---------------------------------------------------------------------------------
def test_sign_out_one_other_browser(app):
    make_owner()
    phone = signed_in(app)
    laptop = signed_in(app, user_agent=IPHONE)
    other_id = next(row.id for row in live() if row.user_agent == IPHONE)
    own_id = next(row.id for row in live() if row.user_agent == ANDROID)
    token = token_of(phone)
    response = phone.post(f"{DEVICES}/{other_id}/sign-out", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"] == DEVICES
    assert "選択した端末をログアウトしました" in phone.get(DEVICES).get_data(as_text=True)
    assert not is_signed_in(laptop) and is_signed_in(phone)
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "account.device_sign_out")) == 1
    # a double submit changes nothing more and is no error
    again = phone.post(f"{DEVICES}/{other_id}/sign-out", data={"csrf_token": token})
    assert again.status_code == 303
    assert "すでにログアウトしています" in phone.get(DEVICES).get_data(as_text=True)
    # this browser's own row is not signed out from the list (it has no button): 404
    assert phone.post(f"{DEVICES}/{own_id}/sign-out",
                      data={"csrf_token": token}).status_code == 404
    assert is_signed_in(phone)
    # without the CSRF token: refused
    assert phone.post(f"{DEVICES}/{other_id}/sign-out").status_code == 400


def test_another_accounts_session_is_404_and_stays(app):
    make_owner()
    make_owner("other@example.com", "佐藤", "次郎")
    owner = signed_in(app)
    other = signed_in(app, "other@example.com")
    victim = live("other@example.com")[0].id
    token = token_of(owner)
    assert owner.post(f"{DEVICES}/{victim}/sign-out",
                      data={"csrf_token": token}).status_code == 404
    assert owner.post(f"{DEVICES}/999999999/sign-out",
                      data={"csrf_token": token}).status_code == 404
    assert is_signed_in(other)


def test_sign_out_the_others_keeps_this_browser(app):
    make_owner()
    phone = signed_in(app)
    others = [signed_in(app, user_agent=IPHONE), signed_in(app, remember=True)]
    response = phone.post(f"{DEVICES}/sign-out-others", data={"csrf_token": token_of(phone)})
    assert response.status_code == 303
    assert "ほかの端末（2台）をログアウトしました" in phone.get(DEVICES).get_data(as_text=True)
    assert is_signed_in(phone)
    assert not any(is_signed_in(client) for client in others)
    assert len(live()) == 1


def _remember_cookie(client) -> str:
    cookie = client.get_cookie("remember_token")
    assert cookie is not None
    return cookie.value


def test_sign_out_everywhere_ends_this_browser_and_remember_me(app):
    make_owner()
    here = signed_in(app)
    remembered = signed_in(app, user_agent=IPHONE, remember=True)
    value = _remember_cookie(remembered)
    # the remember cookie alone signs in before (so the check below means something)
    fresh = browser(app, user_agent=IPHONE)
    fresh.set_cookie("remember_token", value)
    assert is_signed_in(fresh)
    confirm = here.get(f"{DEVICES}/sign-out-all")
    assert confirm.status_code == 200
    assert "すべての端末からログアウトする" in confirm.get_data(as_text=True)
    response = here.post(f"{DEVICES}/sign-out-all",
                         data={"csrf_token": csrf_from(confirm.get_data(as_text=True))})
    assert response.status_code == 303 and response.headers["Location"] == "/account/login"
    assert not is_signed_in(here) and not is_signed_in(remembered)
    again = browser(app, user_agent=IPHONE)
    again.set_cookie("remember_token", value)
    assert not is_signed_in(again)
    assert live() == []
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "account.devices_sign_out_all")) == 1


@pytest.fixture
def proxy_world(app):
    owner = make_owner()
    make_gateway(owner, "01AB12345678")
    dealer = become_dealer(make_company(1), "0312345678")
    employee = make_employee(dealer.company_id)
    permit(owner, dealer)
    acting = signed_in(app, employee.email, user_agent=IPHONE, address="198.51.100.9")
    assert start(acting, owner.customer_number).status_code == 303
    return {"owner": owner, "employee": employee, "acting": acting}


def _proxy() -> ProxySession:
    db.session.expire_all()
    return db.session.scalar(select(ProxySession).order_by(ProxySession.id.desc()))


def test_the_owner_signing_out_everywhere_ends_a_running_proxy_login(app, proxy_world):
    owner = signed_in(app)
    # the proxy's owner-side sign-in is one of the owner's browsers
    assert "Mobile Safari / iOS" in owner.get(DEVICES).get_data(as_text=True)
    owner.post(f"{DEVICES}/sign-out-all",
               data={"csrf_token": token_of(owner, f"{DEVICES}/sign-out-all")})
    # ended at once, before the dealer's browser asks anything (the owner's access page
    # no longer shows it running) …
    assert _proxy().ended_at is not None and _proxy().end_reason == "owner_session"
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "club.proxy_end"))
    acting = proxy_world["acting"]
    # … and the very next request of the dealer's browser leaves the proxy session
    response = acting.get("/club/mypage")
    assert response.status_code == 303
    assert _proxy().ended_at is not None and _proxy().end_reason == "owner_session"
    assert "様として操作中" not in acting.get("/dealers/").get_data(as_text=True)


def test_signing_out_the_proxys_browser_alone_ends_it(app, proxy_world):
    owner = signed_in(app)
    proxy_row = next(row for row in live() if row.user_agent == IPHONE)
    owner.post(f"{DEVICES}/{proxy_row.id}/sign-out", data={"csrf_token": token_of(owner)})
    assert _proxy().end_reason == "owner_session"
    proxy_world["acting"].get("/club/mypage")
    assert _proxy().end_reason == "owner_session"
    assert is_signed_in(owner)


def test_the_dealer_signing_out_everywhere_ends_its_proxy_login(app, proxy_world):
    employee = signed_in(app, proxy_world["employee"].email)
    employee.post(f"{DEVICES}/sign-out-all",
                  data={"csrf_token": token_of(employee, f"{DEVICES}/sign-out-all")})
    assert _proxy().end_reason == "dealer_gone"
    acting = proxy_world["acting"]
    acting.get("/club/mypage")
    assert _proxy().end_reason == "dealer_gone"
    assert acting.get("/dealers/").status_code == 302  # signed out


def test_nobody_acting_for_the_owner_sees_or_ends_the_owners_sign_ins(app, proxy_world):
    acting = proxy_world["acting"]
    token = csrf_from(acting.get("/club/mypage").get_data(as_text=True))
    assert acting.get(DEVICES).status_code == 403
    assert acting.get(f"{DEVICES}/sign-out-all").status_code == 403
    for path in (f"{DEVICES}/sign-out-all", f"{DEVICES}/sign-out-others",
                 f"{DEVICES}/{live()[0].id}/sign-out"):
        assert acting.post(path, data={"csrf_token": token}).status_code == 403
    assert len(live()) == 1 and _proxy().ended_at is None


# -- last use ------------------------------------------------------------------------------------
def _updates(seen: list[str]) -> int:
    return sum(1 for s in seen if s.lstrip().upper().startswith("UPDATE LOGIN_SESSION"))


def _session_selects(seen: list[str]) -> int:
    return sum(1 for s in seen if s.lstrip().upper().startswith("SELECT")
               and "FROM login_session" in s)


def test_last_use_is_written_at_most_once_per_interval(app):
    make_owner()
    client = signed_in(app, address="192.0.2.10")
    [row] = live()
    assert row.ip == "192.0.2.10" and row.last_seen_at is not None  # the sign-in sets it
    with statements() as seen:
        client.get("/account/settings")
    assert _updates(seen) == 0
    # past the interval, from another address: one UPDATE, no extra SELECT of the row
    db.session.execute(update(LoginSession).where(LoginSession.id == row.id).values(
        last_seen_at=utcnow() - app.config["SESSION_SEEN_INTERVAL"] - timedelta(seconds=1)))
    db.session.commit()
    client.environ_base["REMOTE_ADDR"] = "198.51.100.20"
    with statements() as seen:
        assert client.get("/account/settings").status_code == 200
    assert _updates(seen) == 1 and _session_selects(seen) == 1
    [row] = live()
    assert row.ip == "198.51.100.20"
    assert utcnow() - row.last_seen_at < timedelta(seconds=30)
    with statements() as seen:
        client.get("/account/settings")
        client.get("/")
        client.get("/static/css/app.css")
    assert _updates(seen) == 0


def test_static_files_never_write_the_last_use(app):
    make_owner()
    client = signed_in(app)
    db.session.execute(update(LoginSession).values(last_seen_at=utcnow() - timedelta(days=1)))
    db.session.commit()
    with statements() as seen:
        assert client.get("/static/css/app.css").status_code == 200
    assert _updates(seen) == 0 and _session_selects(seen) == 0


# -- a new browser ------------------------------------------------------------------------------
NEW_BROWSER = "new_browser_sign_in"


def _new_browser_mails(email=OWNER) -> int:
    return len(outbox(email, NEW_BROWSER))


def test_a_new_browser_is_mailed_over_smtp_a_known_one_is_not(smtp_app, smtp):
    make_owner()
    first = signed_in(smtp_app)  # the account's very first sign-in: no mail
    assert _new_browser_mails() == 0
    cookie = first.get_cookie(smtp_app.config["KNOWN_BROWSER_COOKIE"])
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    # the same browser again (signed out in between): known, no mail
    first.post("/account/logout", data={"csrf_token": token_of(first, "/account/logout")})
    assert login(first, OWNER).status_code == 303
    assert _new_browser_mails() == 0
    # another browser: mailed, with the device, the network and the two links
    signed_in(smtp_app, user_agent=IPHONE, address="198.51.100.77")
    assert _new_browser_mails() == 1
    deliver_pending()
    [message] = [m for m in smtp.to(OWNER) if "新しい端末からのログイン" in m["Subject"]]
    body = SmtpServer.text_of(message)
    assert "Mobile Safari / iOS" in body and "198.51.100.*" in body
    assert "198.51.100.77" not in body
    links = [path_of(link) for link in links_in(body)]
    assert "/account/settings/devices" in links and "/account/password/reset" in links
    assert message.get_body(preferencelist=("html",)) is not None


@pytest.mark.parametrize("value", ["x" * 4000, "ブラウザ" * 12, "A" * 43, "短い"])
def test_a_huge_non_ascii_or_forged_browser_cookie_is_replaced(app, value):
    make_owner()
    signed_in(app)  # the first sign-in
    client = browser(app, user_agent=IPHONE)
    name = app.config["KNOWN_BROWSER_COOKIE"]
    client.set_cookie(name, value)
    assert login(client, OWNER).status_code == 303
    assert _new_browser_mails() == 1
    issued = client.get_cookie(name).value
    assert issued != value and len(issued) < 100
    # the issued one is known from now on
    client.post("/account/logout", data={"csrf_token": token_of(client, "/account/logout")})
    assert login(client, OWNER).status_code == 303
    assert _new_browser_mails() == 1


def test_a_browser_known_to_another_account_is_new_to_this_one(app):
    make_owner()
    make_owner("other@example.com", "佐藤", "次郎")
    signed_in(app)
    shared = signed_in(app, "other@example.com")
    name = app.config["KNOWN_BROWSER_COOKIE"]
    key = shared.get_cookie(name).value
    shared.post("/account/logout", data={"csrf_token": token_of(shared, "/account/logout")})
    assert login(shared, OWNER).status_code == 303
    assert _new_browser_mails() == 1
    assert shared.get_cookie(name).value == key  # one cookie serves both accounts
    assert db.session.scalar(select(func.count()).select_from(KnownBrowser)) == 3


def test_a_proxy_login_is_no_new_browser_for_anyone(app, proxy_world):
    acting, owner = proxy_world["acting"], proxy_world["owner"]
    employee = proxy_world["employee"].email
    # the dealer returns and starts again: switches between two sessions of one browser
    token = csrf_from(acting.get("/club/mypage").get_data(as_text=True))
    assert acting.post("/club/proxy/return", data={"csrf_token": token}).status_code == 303
    assert start(acting, owner.customer_number).status_code == 303
    assert _new_browser_mails() == 0 and _new_browser_mails(employee) == 0
    # whereas the owner's own sign-ins from browsers it does not know are mailed (the
    # account has signed in before: its proxy sessions)
    signed_in(app)
    signed_in(app, user_agent=IPHONE)
    assert _new_browser_mails() == 2 and _new_browser_mails(employee) == 0
