"""E-mail change (issue 15) over real SMTP: the new address confirms by a link, the old one
is told and may undo within 7 days (signing everyone out); an address that has an ID
gets the same page and a mail saying so; tampered, spent and expired links; two confirms
at once; nothing of it while acting for the owner."""
from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from blueprints.account.email_change import EMAIL_CHANGE, EMAIL_CHANGE_UNDO
from mail.relay import deliver_pending
from models import db, utcnow
from models.account import Account, LoginSession
from models.audit import AuditEvent
from models.link import MailLink
from tests.conftest import SmtpServer, csrf_from, links_in, path_of
from tests.flows.test_devices import proxy_world  # noqa: F401  (a fixture)
from tests.flows.test_dealer_links import make_owner
from tests.helpers import PASSWORD, login, statements

OWNER = "owner@example.com"
NEW = "new.address@example.net"
PAGE = "/account/settings/email"
SENT = "確認メールを送信しました"
IN_USE = "このメールアドレスはすでにEnelink IDに登録されています"


def signed_in(app, email=OWNER, remember=False):
    client = app.test_client()
    assert login(client, email, remember=remember).status_code == 303
    return client


def ask(client, new=NEW, password=PASSWORD):
    token = csrf_from(client.get(PAGE).get_data(as_text=True))
    return client.post(PAGE, data={"email": new, "current_password": password,
                                   "csrf_token": token})


def email_of(account_id: int) -> str:
    db.session.expire_all()
    return db.session.get(Account, account_id).email


def mails_to(smtp, address: str, subject: str):
    deliver_pending()
    return [m for m in smtp.to(address) if subject in m["Subject"]]


def link_path(message, prefix: str) -> str:
    body = SmtpServer.text_of(message)
    return next(path_of(link) for link in links_in(body) if path_of(link).startswith(prefix))


def press(client, path: str):
    page = client.get(path)
    assert page.status_code == 200, page.get_data(as_text=True)
    return client.post(path, data={"csrf_token": csrf_from(page.get_data(as_text=True))})


def confirmed(app, smtp, client):
    """Ask, open the mailed link, press 変更を確定する: the address is NEW."""
    assert SENT in ask(client).get_data(as_text=True)
    [message] = mails_to(smtp, NEW, "メールアドレス変更のご確認")
    response = press(client, link_path(message, "/account/email/confirm/"))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


@pytest.fixture
def owner(smtp_app):
    return make_owner()


# -- the whole way -------------------------------------------------------------------------------
def test_change_confirm_and_the_old_address_is_told(smtp_app, smtp, owner):
    client = signed_in(smtp_app)
    elsewhere = signed_in(smtp_app)
    assert "メールアドレスの変更" in client.get("/account/settings/login").get_data(as_text=True)
    page = ask(client)
    assert page.status_code == 200 and SENT in page.get_data(as_text=True)
    assert email_of(owner.id) == OWNER  # nothing changes before the link is opened
    [message] = mails_to(smtp, NEW, "メールアドレス変更のご確認")
    assert message.get_body(preferencelist=("html",)) is not None
    path = link_path(message, "/account/email/confirm/")
    assert "変更を確定する" in client.get(path).get_data(as_text=True)
    assert email_of(owner.id) == OWNER  # a GET changes nothing (mail scanners open links)
    done = press(client, path)
    assert "メールアドレスを変更しました" in done.get_data(as_text=True)
    assert email_of(owner.id) == NEW
    [told] = mails_to(smtp, OWNER, "メールアドレス変更のお知らせ")
    body = SmtpServer.text_of(told)
    assert NEW in body and "/account/email/undo/" in body
    assert mails_to(smtp, NEW, "メールアドレス変更完了のお知らせ")
    # the other browser stays signed in (the owner changed it); the new address signs in
    assert elsewhere.get("/account/settings").status_code == 200
    assert login(smtp_app.test_client(), NEW).status_code == 303
    assert login(smtp_app.test_client(), OWNER).status_code == 401
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "account.email_change", AuditEvent.subject_id == owner.id)) == 1
    # the link works once
    assert client.get(path).status_code == 410


def test_the_link_works_in_a_browser_that_is_not_signed_in(smtp_app, smtp, owner):
    assert SENT in ask(signed_in(smtp_app)).get_data(as_text=True)
    [message] = mails_to(smtp, NEW, "メールアドレス変更のご確認")
    response = press(smtp_app.test_client(), link_path(message, "/account/email/confirm/"))
    assert response.status_code == 200
    assert email_of(owner.id) == NEW


def test_the_link_is_refused_in_a_browser_signed_in_as_someone_else(smtp_app, smtp, owner):
    make_owner("other@example.com", "佐藤", "次郎")
    assert SENT in ask(signed_in(smtp_app)).get_data(as_text=True)
    [message] = mails_to(smtp, NEW, "メールアドレス変更のご確認")
    response = press(signed_in(smtp_app, "other@example.com"),
                     link_path(message, "/account/email/confirm/"))
    assert response.status_code == 409
    assert "別のアカウントでログインしています" in response.get_data(as_text=True)
    assert email_of(owner.id) == OWNER


# -- undo ---------------------------------------------------------------------------------------
def test_undo_within_7_days_puts_it_back_and_signs_everyone_out(smtp_app, smtp, owner):
    client = signed_in(smtp_app)
    remembered = signed_in(smtp_app, remember=True)
    confirmed(smtp_app, smtp, client)
    [told] = mails_to(smtp, OWNER, "メールアドレス変更のお知らせ")
    undo = link_path(told, "/account/email/undo/")
    # six days later, from a browser signed in with the new address
    db.session.execute(update(MailLink).where(MailLink.purpose == EMAIL_CHANGE_UNDO)
                       .values(expires_at=utcnow() + timedelta(days=1)))
    db.session.commit()
    page = client.get(undo)
    assert "変更を取り消す" in page.get_data(as_text=True)
    response = client.post(undo, data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "メールアドレスを元に戻しました" in html
    assert 'action="/account/password/reset"' in html and OWNER in html
    assert email_of(owner.id) == OWNER
    assert client.get("/account/settings").status_code == 302
    assert remembered.get("/account/settings").status_code == 302
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(LoginSession).where(
        LoginSession.account_id == owner.id, LoginSession.revoked_at.is_(None))) == 0
    assert mails_to(smtp, OWNER, "メールアドレスを元に戻しました")
    assert login(smtp_app.test_client(), OWNER).status_code == 303
    # once only
    assert client.get(undo).status_code == 410
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "account.email_change_undone")) == 1


def test_undo_after_7_days_is_the_expired_page(smtp_app, smtp, owner):
    confirmed(smtp_app, smtp, signed_in(smtp_app))
    [told] = mails_to(smtp, OWNER, "メールアドレス変更のお知らせ")
    undo = link_path(told, "/account/email/undo/")
    link = db.session.scalar(select(MailLink).where(MailLink.purpose == EMAIL_CHANGE_UNDO))
    assert link.expires_at - utcnow() > timedelta(days=6, hours=23)  # 7 days from now
    db.session.execute(update(MailLink).where(MailLink.id == link.id)
                       .values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    anonymous = smtp_app.test_client()
    response = anonymous.get(undo)
    assert response.status_code == 410
    assert "リンクの有効期限が切れています" in response.get_data(as_text=True)
    token = csrf_from(anonymous.get("/account/login").get_data(as_text=True))
    assert anonymous.post(undo, data={"csrf_token": token}).status_code == 410
    assert email_of(owner.id) == NEW


def test_undo_after_another_change_says_so_and_changes_nothing(smtp_app, smtp, owner):
    client = signed_in(smtp_app)
    confirmed(smtp_app, smtp, client)
    [told] = mails_to(smtp, OWNER, "メールアドレス変更のお知らせ")
    undo = link_path(told, "/account/email/undo/")
    db.session.execute(update(Account).where(Account.id == owner.id)
                       .values(email="third@example.org"))
    db.session.commit()
    response = press(smtp_app.test_client(), undo)
    assert response.status_code == 409
    assert "さらにメールアドレスが変更されている" in response.get_data(as_text=True)
    assert email_of(owner.id) == "third@example.org"
    assert client.get("/account/settings").status_code == 200


# -- an address that has an ID ----------------------------------------------------------------
def _without_tokens(html: str) -> str:
    return re.sub(r"[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", "TOKEN", html)


def test_an_address_in_use_gets_the_same_page_and_a_mail_saying_so(smtp_app, smtp, owner):
    other = make_owner("Taken@Example.net", "佐藤", "次郎")
    client = signed_in(smtp_app)
    with statements() as free_work:
        free = ask(client, new="free@example.net")
    assert mails_to(smtp, "free@example.net", "メールアドレス変更のご確認")
    with statements() as taken_work:
        taken = ask(client, new="taken@example.net")  # another case of the same address
    assert free.status_code == taken.status_code == 200
    free_page = free.get_data(as_text=True).replace("free@example.net", "ADDRESS")
    taken_page = taken.get_data(as_text=True).replace("taken@example.net", "ADDRESS")
    assert _without_tokens(free_page) == _without_tokens(taken_page)
    assert len(free_work) == len(taken_work)  # the same work for both
    deliver_pending()
    [message] = smtp.to("taken@example.net")
    body = SmtpServer.text_of(message)
    assert IN_USE in body and "/account/email/confirm/" not in body
    assert db.session.scalar(select(func.count()).select_from(MailLink).where(
        MailLink.purpose == EMAIL_CHANGE, MailLink.email == "taken@example.net")) == 0
    assert email_of(owner.id) == OWNER and email_of(other.id) == "Taken@Example.net"


def test_an_address_taken_before_the_confirm_changes_nothing(smtp_app, smtp, owner):
    client = signed_in(smtp_app)
    assert SENT in ask(client).get_data(as_text=True)
    [message] = mails_to(smtp, NEW, "メールアドレス変更のご確認")
    make_owner(NEW.upper(), "佐藤", "次郎")
    response = press(client, link_path(message, "/account/email/confirm/"))
    assert response.status_code == 409
    assert "すでに別のIDで使われている" in response.get_data(as_text=True)
    assert email_of(owner.id) == OWNER
    assert not mails_to(smtp, OWNER, "メールアドレス変更のお知らせ")


# -- bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize("new, password, field, message", [
    (OWNER, PASSWORD, "email", "現在のメールアドレスと同じです"),
    (OWNER.upper(), PASSWORD, "email", "現在のメールアドレスと同じです"),
    (NEW, "wrong-password", "current_password", "現在のパスワードが正しくありません"),
    ("", PASSWORD, "email", ""),
    ("not-an-address", PASSWORD, "email", ""),
    ("a" * 5000 + "@example.com", PASSWORD, "email", ""),
    ("nul\x00@example.com", PASSWORD, "email", ""),
    (NEW, "", "current_password", ""),
    (NEW, "x" * 5000, "current_password", ""),
])
def test_bad_input_is_refused_next_to_the_field_and_kept(smtp_app, owner, new, password,
                                                         field, message):
    client = signed_in(smtp_app)
    response = ask(client, new, password)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html
    assert message in html
    if new and len(new) < 100 and "\x00" not in new:
        assert f'value="{new}"'.lower() in html.lower()
    assert email_of(owner.id) == OWNER
    assert db.session.scalar(select(func.count()).select_from(MailLink)) == 0


@pytest.mark.parametrize("token", ["tampered", "x" * 500, "ｔｏｋｅｎ", "%00"])
def test_a_tampered_link_is_the_link_problem_page(smtp_app, owner, token):
    client = signed_in(smtp_app)
    for path in (f"/account/email/confirm/{token}", f"/account/email/undo/{token}"):
        response = client.get(path)
        assert response.status_code == 404
        assert "リンクが正しくありません" in response.get_data(as_text=True)
        csrf = csrf_from(client.get(PAGE).get_data(as_text=True))
        assert client.post(path, data={"csrf_token": csrf}).status_code == 404
    assert email_of(owner.id) == OWNER


def test_an_altered_real_link_and_a_link_of_another_purpose_do_not_work(smtp_app, smtp, owner):
    client = signed_in(smtp_app)
    assert SENT in ask(client).get_data(as_text=True)
    [message] = mails_to(smtp, NEW, "メールアドレス変更のご確認")
    path = link_path(message, "/account/email/confirm/")
    altered = path[:-1] + ("A" if path[-1] != "A" else "B")
    assert client.get(altered).status_code == 404
    token = path.rsplit("/", 1)[1]
    assert client.get(f"/account/email/undo/{token}").status_code == 404
    assert email_of(owner.id) == OWNER


def test_two_confirms_at_once_change_it_once(smtp_app, smtp, owner):
    client = signed_in(smtp_app)
    assert SENT in ask(client).get_data(as_text=True)
    [message] = mails_to(smtp, NEW, "メールアドレス変更のご確認")
    path = link_path(message, "/account/email/confirm/")
    browsers = [smtp_app.test_client() for _ in range(2)]
    tokens = [csrf_from(b.get(path).get_data(as_text=True)) for b in browsers]
    statuses: list[int] = []
    barrier = threading.Barrier(2)

    def confirm(browser, token):
        with smtp_app.app_context():
            barrier.wait()
            statuses.append(browser.post(path, data={"csrf_token": token}).status_code)
            db.session.remove()

    threads = [threading.Thread(target=confirm, args=pair) for pair in zip(browsers, tokens)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 410]
    assert email_of(owner.id) == NEW
    assert len(mails_to(smtp, OWNER, "メールアドレス変更のお知らせ")) == 1
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "account.email_change")) == 1


def test_a_newer_request_ends_the_earlier_link(smtp_app, smtp, owner):
    client = signed_in(smtp_app)
    assert SENT in ask(client, new="first@example.net").get_data(as_text=True)
    [first] = mails_to(smtp, "first@example.net", "メールアドレス変更のご確認")
    assert SENT in ask(client).get_data(as_text=True)
    assert client.get(link_path(first, "/account/email/confirm/")).status_code == 410
    [second] = mails_to(smtp, NEW, "メールアドレス変更のご確認")
    assert press(client, link_path(second, "/account/email/confirm/")).status_code == 200
    assert email_of(owner.id) == NEW


def test_the_page_needs_a_sign_in(smtp_app):
    assert smtp_app.test_client().get(PAGE).status_code == 302


# -- while acting for the owner -------------------------------------------------------------------
def test_nobody_acting_for_the_owner_changes_the_address(app, proxy_world):
    acting = proxy_world["acting"]
    owner = proxy_world["owner"]
    from blueprints.core.links import issue_link

    change = issue_link(EMAIL_CHANGE, NEW, timedelta(hours=24), account=owner,
                        payload={"from": OWNER})
    undo = issue_link(EMAIL_CHANGE_UNDO, OWNER, timedelta(days=7), account=owner,
                      payload={"old": OWNER, "new": NEW})
    db.session.commit()
    token = csrf_from(acting.get("/club/mypage").get_data(as_text=True))
    for path in (PAGE, f"/account/email/confirm/{change}", f"/account/email/undo/{undo}"):
        assert acting.get(path).status_code == 403
        assert acting.post(path, data={"csrf_token": token, "email": NEW,
                                       "current_password": PASSWORD}).status_code == 403
    assert email_of(owner.id) == OWNER
    assert db.session.scalar(select(func.count()).select_from(MailLink).where(
        MailLink.used_at.is_not(None))) == 0
