"""Employee invitations cannot be used to send mail at will: a daily cap per company
account (counted from the stored invitations, so it holds across processes) and a fixed
subject line, with the names a company chose only in the body."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from mail.relay import deliver_pending
from models import db, utcnow
from models.link import MailLink
from tests.conftest import SmtpServer, page_token
from tests.helpers import COMMERCIAL_DETAILS, last_link, login, outbox, sign_up

SPAM_COMPANY = "今すぐ当選金を受け取る http://spam.example 株式会社"
CAP_MESSAGE = "招待メールを送れるのは24時間に2件までです"


def _company_admin(client, details=None, email="boss@example.com"):
    sign_up(client, email=email, account_type="commercial",
            details={**COMMERCIAL_DETAILS, **(details or {})})
    assert client.get(last_link(email, "activation")).status_code == 200
    assert login(client, email=email).status_code == 303


def _invite(client, email, family="田中", given="三郎"):
    token = page_token(client, "/account/settings/employees")
    return client.post("/account/settings/employees", data={
        "csrf_token": token, "family_name": family, "given_name": given, "email": email})


def test_invitations_stop_at_the_daily_cap_with_a_message_at_the_field(make_app):
    app = make_app(INVITATIONS_PER_DAY=2, RATELIMIT_ENABLED=False)
    with app.app_context():
        boss = app.test_client()
        _company_admin(boss)
        assert _invite(boss, "one@example.com").status_code == 303
        assert _invite(boss, "two@example.com").status_code == 303
        refused = _invite(boss, "three@example.com", family="佐藤", given="花子")
        assert refused.status_code == 422
        body = refused.get_data(as_text=True)
        assert CAP_MESSAGE in body
        # Next to the e-mail field, with what was typed kept.
        assert f'<p class="field-error" id="email-error">{CAP_MESSAGE}' in body
        assert 'value="three@example.com"' in body and 'value="佐藤"' in body
        assert outbox("three@example.com") == []

        # Another process (its own app, its own rate-limit memory) sees the same count.
        other_process = make_app(INVITATIONS_PER_DAY=2, RATELIMIT_ENABLED=False)
        elsewhere = other_process.test_client()
        assert login(elsewhere, email="boss@example.com").status_code == 303
        assert _invite(elsewhere, "four@example.com").status_code == 422

        # A day later the oldest invitations no longer count.
        db.session.execute(update(MailLink).values(created_at=utcnow() - timedelta(hours=25)))
        db.session.commit()
        assert _invite(boss, "three@example.com").status_code == 303
        assert len(outbox("three@example.com", "invitation")) == 1


def test_the_cap_is_per_company_not_per_admin(make_app):
    """Two administrators of one company share its allowance."""
    app = make_app(INVITATIONS_PER_DAY=2, RATELIMIT_ENABLED=False)
    with app.app_context():
        boss = app.test_client()
        _company_admin(boss)
        other = app.test_client()
        _company_admin(other, email="rival@example.com")  # a company of its own
        assert _invite(boss, "one@example.com").status_code == 303
        assert _invite(boss, "two@example.com").status_code == 303
        assert _invite(boss, "three@example.com").status_code == 422
        assert _invite(other, "three@example.com").status_code == 303  # its own count


def test_invitation_subject_is_fixed_and_names_stay_in_the_body(make_app, smtp):
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port, MAIL_TIMEOUT_SECONDS=5)
    with app.app_context():
        boss = app.test_client()
        _company_admin(boss, details={"company_name": SPAM_COMPANY},
                       email="spammer@example.com")
        assert _invite(boss, "victim@example.com", family="至急", given="確認").status_code == 303
        deliver_pending()
        [message] = smtp.to("victim@example.com")
        assert message["Subject"] == "【Enelink】商用アカウントへの招待"
        for chosen in (SPAM_COMPANY, "spam.example", "山田", "至急"):
            assert chosen not in message["Subject"]
        body = SmtpServer.text_of(message)
        assert SPAM_COMPANY in body and "山田 太郎" in body
        stored = db.session.scalars(select(MailLink).where(MailLink.email == "victim@example.com"))
        assert stored.one().payload["family_name"] == "至急"
