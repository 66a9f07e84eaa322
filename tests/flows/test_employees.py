"""Employees who leave (issue 9 point 10): a company's administrator removes an employee,
withdraws an invitation and hands the administrator role to another employee. Removal
ends the person's company access (the dealer console and the owners' data included) on
their next request, in the browsers they are already signed in with; their ID stays."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from blueprints.dealers.services import become_dealer, link_dealer
from mail.relay import deliver_pending
from models import db
from models.account import AccountType, CompanyRole
from models.audit import AuditEvent
from tests.conftest import SmtpServer, csrf_from, links_in, path_of
from tests.flows.test_dealer_links import make_company, make_gateway, make_owner
from tests.flows.test_settings import (INVITEE_PASSWORD, accept_invitation, account,
                                       commercial, invite)
from tests.helpers import last_link, login, outbox

GATEWAY = "01AB12345678"
DEALER_PHONE = "0312345678"
WORKER = "worker@example.com"
COMPANY_NAME = "テスト電設株式会社"


def text_of(response) -> str:
    return response.get_data(as_text=True)


def audit_rows(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                   .order_by(AuditEvent.id)))


def confirm(client, path: str):
    """Open a confirmation page and submit its form (with the page's CSRF token)."""
    page = client.get(path)
    assert page.status_code == 200, text_of(page)
    return client.post(path, data={"csrf_token": csrf_from(text_of(page))})


def resubmit(client, path: str, token: str):
    return client.post(path, data={"csrf_token": token})


@pytest.fixture
def company(app):
    """boss@example.com administers a dealer company (signed in, `boss`) with one employee
    (worker@example.com, signed in twice: `worker` and, remembered, `worker_phone`);
    the dealer looks after an owner's gateway."""
    boss = app.test_client()
    commercial(boss)
    dealer = become_dealer(account("boss@example.com").company, DEALER_PHONE)
    owner = make_owner()
    gateway = make_gateway(owner, GATEWAY)
    assert link_dealer(owner, gateway, dealer.dealer_code, DEALER_PHONE).name == "LINKED"
    assert invite(boss, WORKER).status_code == 303
    worker = app.test_client()
    assert accept_invitation(worker, WORKER).status_code == 303
    assert login(worker, WORKER, INVITEE_PASSWORD).status_code == 303
    worker_phone = app.test_client()
    assert login(worker_phone, WORKER, INVITEE_PASSWORD, remember=True).status_code == 303
    return boss, worker, worker_phone


COMPANY_PAGES = ["/dealers/", f"/dealers/gateways/{GATEWAY}",
                 f"/monitoring/gateways/{GATEWAY}/monitor", "/account/settings/employees",
                 "/account/settings/company"]


# -- removing an employee ----------------------------------------------------------------
def test_a_removed_employee_loses_the_company_on_the_next_request(company):
    boss, worker, worker_phone = company
    for client in (worker, worker_phone):
        assert [client.get(path).status_code for path in COMPANY_PAGES] == [200] * 5
    worker_id = account(WORKER).id
    remove = f"/account/settings/employees/{worker_id}/remove"
    assert remove in text_of(boss.get("/account/settings/employees"))

    page = text_of(boss.get(remove))
    assert "従業員の削除" in page and "田中 三郎" in page and WORKER in page
    assert COMPANY_NAME in page and "個人のアカウントとして残り" in page
    response = boss.post(remove, data={"csrf_token": csrf_from(page)})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/account/settings/employees")
    listing = text_of(boss.get("/account/settings/employees"))
    assert "田中 三郎 様を従業員から削除しました" in listing and WORKER not in listing

    # The next request of each browser the employee is signed in with: no company.
    for client in (worker, worker_phone):
        assert client.get("/dealers/").status_code == 403
        assert client.get(f"/dealers/gateways/{GATEWAY}").status_code == 403
        assert client.get(f"/monitoring/gateways/{GATEWAY}/monitor").status_code == 404
        assert client.get("/account/settings/employees").status_code == 404
        assert client.get("/account/settings/company").status_code == 404
        # Their ID stays theirs: still signed in, as a personal account.
        settings = client.get("/account/settings")
        assert settings.status_code == 200 and "会社情報" not in text_of(settings)
    removed = account(WORKER)
    assert (removed.company_id, removed.company_role) == (None, None)
    assert removed.account_type == AccountType.PERSONAL and removed.is_active

    [event] = audit_rows("company.member_remove")
    boss_account = account("boss@example.com")
    assert (event.actor_id, event.subject_id) == (boss_account.id, worker_id)
    assert event.detail == {"company_id": boss_account.company_id}
    [mail] = outbox(WORKER, "removed_from_company")
    assert "商用アカウントの従業員から削除されました" in mail.subject
    assert COMPANY_NAME not in mail.subject  # a name chosen by a user stays in the body
    assert "田中 三郎 様" in mail.text_body and COMPANY_NAME in mail.text_body
    assert "個人のアカウントとして残ります" in mail.text_body
    assert COMPANY_NAME in mail.html_body


def test_a_removed_employee_signs_in_again_as_a_personal_account(company, app):
    boss, _worker, _phone = company
    confirm(boss, f"/account/settings/employees/{account(WORKER).id}/remove")
    later = app.test_client()
    assert login(later, WORKER, INVITEE_PASSWORD).status_code == 303
    assert later.get("/dealers/").status_code == 403
    assert later.get("/account/settings/employees").status_code == 404
    # The company may invite them again; they join with the same ID.
    assert invite(boss, WORKER).status_code == 303
    link = last_link(WORKER, "invitation")
    page = later.get(link)
    assert later.post(link, data={"csrf_token": csrf_from(text_of(page))}).status_code == 303
    assert later.get("/dealers/").status_code == 200


def test_the_removal_mail_arrives_over_smtp(make_app, smtp):
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port, MAIL_TIMEOUT_SECONDS=5)
    with app.app_context():
        boss = app.test_client()
        commercial(boss)
        invite(boss, WORKER)
        accept_invitation(app.test_client(), WORKER)
        deliver_pending()
        confirm(boss, f"/account/settings/employees/{account(WORKER).id}/remove")
        assert deliver_pending() == 1
        [message] = [m for m in smtp.to(WORKER) if "削除" in m["Subject"]]
        body = SmtpServer.text_of(message)
        assert "田中 三郎 様" in body and COMPANY_NAME in body
        assert message.get_body(preferencelist=("html",)) is not None
        assert path_of(links_in(body)[0]) == "/account/login"


def test_removing_twice_is_harmless(company):
    boss, _worker, _phone = company
    remove = f"/account/settings/employees/{account(WORKER).id}/remove"
    token = csrf_from(text_of(boss.get(remove)))
    assert resubmit(boss, remove, token).status_code == 303
    again = resubmit(boss, remove, token)
    assert again.status_code == 303
    assert "すでに削除されています" in text_of(boss.get(again.headers["Location"]))
    assert len(audit_rows("company.member_remove")) == 1
    assert len(outbox(WORKER, "removed_from_company")) == 1
    assert boss.get(remove).status_code == 404  # no longer an employee to confirm


def test_the_last_admin_cannot_remove_themselves(company):
    boss, worker, _phone = company
    boss_account = account("boss@example.com")
    remove = f"/account/settings/employees/{boss_account.id}/remove"
    page = boss.get(remove)
    assert page.status_code == 200
    body = text_of(page)
    assert "管理者があなたひとりのため、削除できません" in body
    assert "従業員から削除する" not in body  # no button to press
    token = csrf_from(text_of(boss.get("/account/settings/employees")))
    refused = resubmit(boss, remove, token)
    assert refused.status_code == 409
    assert "先にほかの従業員に管理者の権限を引き継いでください" in text_of(refused)
    still = account("boss@example.com")
    assert still.company_id is not None and still.company_role == CompanyRole.ADMIN
    assert audit_rows("company.member_remove") == []
    assert worker.get("/dealers/").status_code == 200


def test_an_admin_who_is_not_the_last_may_leave(company):
    """After handing the role over, the former administrator may leave by themselves."""
    boss, worker, _phone = company
    confirm(boss, f"/account/settings/employees/{account(WORKER).id}/admin")
    boss_id = account("boss@example.com").id
    # An ordinary employee now: the page is refused…
    assert boss.get(f"/account/settings/employees/{boss_id}/remove").status_code == 403
    # …but the new administrator removes them.
    assert confirm(worker, f"/account/settings/employees/{boss_id}/remove").status_code == 303
    assert boss.get("/dealers/").status_code == 403
    assert account("boss@example.com").account_type == AccountType.PERSONAL
    assert len(outbox("boss@example.com", "removed_from_company")) == 1


# -- handing over the administrator role --------------------------------------------------
def test_the_admin_hands_the_role_to_an_employee(company):
    boss, worker, _phone = company
    worker_id = account(WORKER).id
    hand_over = f"/account/settings/employees/{worker_id}/admin"
    assert hand_over in text_of(boss.get("/account/settings/employees"))
    page = text_of(boss.get(hand_over))
    assert "管理者の引き継ぎ" in page and "田中 三郎" in page and WORKER in page
    assert "あなたは従業員になり" in page
    token = csrf_from(page)
    response = resubmit(boss, hand_over, token)
    assert response.status_code == 303
    assert "管理者の権限を 田中 三郎 様に引き継ぎました" in text_of(
        boss.get(response.headers["Location"]))
    assert account(WORKER).company_role == CompanyRole.ADMIN
    assert account("boss@example.com").company_role == CompanyRole.MEMBER

    # A second submit of the same form changes nothing.
    again = resubmit(boss, hand_over, token)
    assert again.status_code == 303
    assert "すでに管理者です" in text_of(boss.get(again.headers["Location"]))
    [event] = audit_rows("company.admin_hand_over")
    assert (event.actor_id, event.subject_id) == (account("boss@example.com").id, worker_id)

    # The former administrator is an employee now; the new one acts for the company.
    assert invite(boss, "other@example.com").status_code == 403
    assert outbox("other@example.com") == []
    assert boss.get("/dealers/").status_code == 200  # still an employee of the dealer
    assert invite(worker, "other@example.com").status_code == 303


def test_only_the_admin_may_act_on_employees(company, app):
    """An ordinary employee is refused every page and every POST; nothing changes."""
    boss, worker, _phone = company
    boss_id, worker_id = account("boss@example.com").id, account(WORKER).id
    invite(boss, "new@example.com")
    [invitation] = outbox("new@example.com", "invitation")
    invitation_id = _invitation_id("new@example.com")
    token = csrf_from(text_of(worker.get("/account/settings/employees")))
    listing = text_of(worker.get("/account/settings/employees"))
    assert "/remove" not in listing and "/cancel" not in listing
    for path in (f"/account/settings/employees/{boss_id}/remove",
                 f"/account/settings/employees/{worker_id}/remove",
                 f"/account/settings/employees/{boss_id}/admin",
                 f"/account/settings/invitations/{invitation_id}/cancel"):
        assert worker.get(path).status_code == 403, path
    for path in (f"/account/settings/employees/{boss_id}/remove",
                 f"/account/settings/employees/{worker_id}/remove",
                 f"/account/settings/invitations/{invitation_id}/cancel"):
        assert resubmit(worker, path, token).status_code == 403, path
    assert account("boss@example.com").company_role == CompanyRole.ADMIN
    assert account(WORKER).company_id is not None
    assert app.test_client().get(path_of(links_in(invitation.text_body)[0])).status_code == 200
    assert audit_rows("company.member_remove") == []
    assert audit_rows("company.invitation_cancel") == []


def test_another_companys_ids_are_not_found(company, app):
    boss, worker, _phone = company
    invite(boss, "new@example.com")
    worker_id, invitation_id = account(WORKER).id, _invitation_id("new@example.com")
    rival = app.test_client()
    make_company(7)
    assert login(rival, "admin7@dealer7.example").status_code == 303
    token = csrf_from(text_of(rival.get("/account/settings/employees")))
    for path in (f"/account/settings/employees/{worker_id}/remove",
                 f"/account/settings/employees/{worker_id}/admin",
                 f"/account/settings/invitations/{invitation_id}/cancel",
                 "/account/settings/employees/999999/remove",
                 "/account/settings/employees/999999/admin",
                 "/account/settings/invitations/999999/cancel"):
        assert rival.get(path).status_code == 404, path
        assert resubmit(rival, path, token).status_code == 404, path
    assert worker.get("/dealers/").status_code == 200
    assert account(WORKER).company_role == CompanyRole.MEMBER
    assert app.test_client().get(last_link("new@example.com", "invitation")).status_code == 200


def test_a_personal_account_has_no_employee_pages(company, app):
    owner = app.test_client()
    assert login(owner, "owner@example.com").status_code == 303
    worker_id = account(WORKER).id
    assert owner.get(f"/account/settings/employees/{worker_id}/remove").status_code == 404
    assert app.test_client().get(
        f"/account/settings/employees/{worker_id}/remove").status_code == 302


def test_a_post_without_the_csrf_token_changes_nothing(company):
    boss, worker, _phone = company
    response = boss.post(f"/account/settings/employees/{account(WORKER).id}/remove", data={})
    assert response.status_code == 400
    assert worker.get("/dealers/").status_code == 200


# -- withdrawing an invitation -----------------------------------------------------------
def _invitation_id(email: str) -> int:
    from models.link import MailLink

    db.session.expire_all()
    return db.session.scalars(select(MailLink.id).where(MailLink.email == email)
                              .order_by(MailLink.id.desc())).first()


def test_the_admin_withdraws_an_invitation(company, app):
    boss, _worker, _phone = company
    invite(boss, "new@example.com")
    link = last_link("new@example.com", "invitation")
    invitee = app.test_client()
    opened = invitee.get(link)  # the invitee has the page open meanwhile
    assert opened.status_code == 200
    invitation_id = _invitation_id("new@example.com")
    cancel = f"/account/settings/invitations/{invitation_id}/cancel"
    assert cancel in text_of(boss.get("/account/settings/employees"))
    page = text_of(boss.get(cancel))
    assert "招待の取り消し" in page and "new@example.com" in page and "田中 三郎" in page
    token = csrf_from(page)
    response = resubmit(boss, cancel, token)
    assert response.status_code == 303
    listing = text_of(boss.get(response.headers["Location"]))
    assert "new@example.com への招待を取り消しました" in listing
    assert "招待中" not in listing

    gone = invitee.get(link)
    assert gone.status_code == 410
    assert "リンクの有効期限が切れています" in text_of(gone)
    assert "招待した方に招待メールの再送をご依頼ください" in text_of(gone)
    # Even a form opened before the withdrawal cannot join any more.
    joined = invitee.post(link, data={"csrf_token": csrf_from(text_of(opened)),
                                      "family_name": "田中",
                                      "given_name": "三郎", "password": INVITEE_PASSWORD,
                                      "password_confirm": INVITEE_PASSWORD})
    assert joined.status_code == 410 and account("new@example.com") is None

    [event] = audit_rows("company.invitation_cancel")
    assert event.actor_id == account("boss@example.com").id
    assert event.detail["invitation_id"] == invitation_id

    # Submitted twice: no second change, a calm answer.
    again = resubmit(boss, cancel, token)
    assert again.status_code == 303
    assert "すでに使用されたか、期限切れか、取り消されています" in text_of(
        boss.get(again.headers["Location"]))
    assert len(audit_rows("company.invitation_cancel")) == 1
    # The confirmation page of a withdrawn invitation leads back to the list.
    assert boss.get(cancel).status_code == 303


def test_a_used_invitation_cannot_be_withdrawn(company):
    boss, _worker, _phone = company
    used = _invitation_id(WORKER)
    cancel = f"/account/settings/invitations/{used}/cancel"
    token = csrf_from(text_of(boss.get("/account/settings/employees")))
    assert resubmit(boss, cancel, token).status_code == 303
    assert audit_rows("company.invitation_cancel") == []
    assert account(WORKER).company_id is not None


# -- English -----------------------------------------------------------------------------
def test_the_pages_and_the_mail_speak_english(company):
    boss, _worker, _phone = company
    for email in ("boss@example.com", WORKER):
        account(email).language = "en"
        db.session.commit()
    worker_id = account(WORKER).id
    page = text_of(boss.get(f"/account/settings/employees/{worker_id}/remove"))
    assert "Remove an employee" in page and "従業員の削除" not in page
    assert "Remove from the company" in page
    page = text_of(boss.get(f"/account/settings/employees/{worker_id}/admin"))
    assert "Hand over the administrator role" in page
    confirm(boss, f"/account/settings/employees/{worker_id}/remove")
    [mail] = outbox(WORKER, "removed_from_company")
    assert "removed you from the employees" in mail.text_body
    assert "You have been removed from a business account" in mail.subject


def test_a_removed_employee_leaves_the_dealers_maintenance_contacts(company):
    """Alert mails carry owners' data: whoever leaves the company stops getting them
    (registry.on_membership_ended); the other contacts stay."""
    from models.gateway import Dealer

    boss, _worker, _phone = company
    dealer = db.session.scalar(select(Dealer))
    become_dealer(account("boss@example.com").company, DEALER_PHONE,
                  ["Worker@Example.com", "maint@dealer.example"])
    worker_id = account(WORKER).id
    assert confirm(boss, f"/account/settings/employees/{worker_id}/remove").status_code == 303
    db.session.expire_all()
    dealer = db.session.scalar(select(Dealer))
    assert [c.email for c in dealer.contacts] == ["maint@dealer.example"]
    assert len(audit_rows("dealer.contact_removed")) == 1
