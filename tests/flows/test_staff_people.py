"""/staff/people and `flask --app app staff create`: staff admins add an opened Enelink ID
as staff by its address, change its roles, take the staff rights away; nobody loses their
own admin role and the last admin stays (also under two concurrent removals); every
change is audited and mailed."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from blueprints.core.staff import ADMIN, PROGRAMME, SLIPS, SUPPORT
from blueprints.staff import people
from mail.relay import deliver_pending
from models import db
from models.account import Account, Role
from models.audit import AuditEvent
from models.trust import StaffGrant
from tests.conftest import SmtpServer, page_token
from tests.flows.test_dealer_links import make_owner
from tests.helpers import login, make_staff, outbox

ADMIN_EMAIL = "admin@example.com"
ROLES_MAIL = "【Enelink】スタッフ権限の変更のお知らせ"


def roles_of(email: str) -> set[str]:
    db.session.expire_all()
    account = db.session.scalar(select(Account).where(Account.email == email))
    return set(db.session.scalars(select(StaffGrant.role)
                                  .where(StaffGrant.account_id == account.id)))


def account_of(email: str) -> Account:
    db.session.expire_all()
    return db.session.scalar(select(Account).where(Account.email == email))


def audits(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                   .order_by(AuditEvent.id)))


def signed_in(app, email: str):
    client = app.test_client()
    assert login(client, email).status_code == 303
    return client


@pytest.fixture
def admin(app):
    make_staff(make_owner(ADMIN_EMAIL, "管理", "一郎"), ADMIN)
    return signed_in(app, ADMIN_EMAIL)


def post(client, url: str, data: dict, form_url: str | None = None, **kwargs):
    token = page_token(client, form_url or url)
    return client.post(url, data={**data, "csrf_token": token}, **kwargs)


# -- who may open the pages --------------------------------------------------------------
def test_only_staff_admins_open_the_people_pages(app):
    make_owner("owner@example.com")
    make_staff(make_owner("support@example.com", "高橋", "美咲"), SUPPORT, SLIPS, PROGRAMME)
    admin_account = make_staff(make_owner(ADMIN_EMAIL, "管理", "一郎"), ADMIN)
    anonymous = app.test_client()
    response = anonymous.get("/staff/people")
    assert response.status_code in (302, 303) and "/account/login" in response.location
    for email in ("owner@example.com", "support@example.com"):
        client = signed_in(app, email)
        for url in ("/staff/people", "/staff/people/add", f"/staff/people/{admin_account.id}",
                    "/staff/audit", "/staff/audit.csv", "/staff/audit/proxy"):
            assert client.get(url).status_code == 404, (email, url)
        assert "/staff/people" not in client.get("/").get_data(as_text=True)
    admin = signed_in(app, ADMIN_EMAIL)
    assert 'href="/staff/people"' in admin.get("/").get_data(as_text=True)  # 「スタッフ管理」
    page = admin.get("/staff/people")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "support@example.com" in html and ADMIN_EMAIL in html
    assert "owner@example.com" not in html


# -- adding ------------------------------------------------------------------------------
def test_an_opened_id_becomes_staff_with_its_roles_audited_and_mailed(app, admin):
    make_owner("new@example.com", "佐藤", "花子")
    response = post(admin, "/staff/people/add",
                    {"email": " NEW@example.com ", "roles": [SUPPORT, SLIPS]})
    assert response.status_code == 303
    account = account_of("new@example.com")
    assert response.location.endswith(f"/staff/people/{account.id}")
    assert account.role == Role.STAFF and roles_of("new@example.com") == {SUPPORT, SLIPS}
    [event] = audits("staff.added")
    assert event.subject_id == account.id and event.actor_id == account_of(ADMIN_EMAIL).id
    assert event.detail["roles_from"] == [] and event.detail["roles_to"] == [SUPPORT, SLIPS]
    [mail] = outbox("new@example.com", "staff_roles_changed")
    assert mail.subject == ROLES_MAIL
    assert "サポート担当" in mail.text_body and "伝票発行担当" in mail.text_body
    assert "管理 一郎" in mail.text_body and "管理 一郎" in mail.html_body
    # The new staff member now opens the support desk, not the people pages.
    staff = signed_in(app, "new@example.com")
    assert staff.get("/staff/support/").status_code == 200
    assert staff.get("/staff/people").status_code == 404


@pytest.mark.parametrize("email, message", [
    ("nobody@example.com", "登録が完了したEnelink IDはありません"),
    ("unopened@example.com", "登録が完了したEnelink IDはありません"),
    ("", "入力してください"),
    ("not-an-address", "メールアドレスの形式"),
    ("a\x00b@example.com", "使用できない文字"),
    ("a" * 300 + "@example.com", "文字以内"),
])
def test_adding_refuses_what_is_not_an_opened_id_next_to_the_field(app, admin, email,
                                                                   message):
    unopened = make_owner("unopened@example.com")
    unopened.activated_at = None
    db.session.commit()
    response = post(admin, "/staff/people/add", {"email": email, "roles": [SUPPORT]})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="email-error"' in html and message in html
    if email and "\x00" not in email and len(email) < 100:
        assert f'value="{email}"' in html  # what was typed stays
    assert 'value="support" checked' in html
    assert db.session.scalar(select(func.count()).select_from(StaffGrant)) == 1  # the admin's
    assert not audits("staff.added")


def test_adding_needs_a_known_role_and_refuses_who_is_staff_already(app, admin):
    make_owner("new@example.com")
    for roles, message in (([], "役割を1つ以上選択してください"),
                           (["root"], "一覧から選択してください")):
        response = post(admin, "/staff/people/add", {"email": "new@example.com", "roles": roles})
        assert response.status_code == 422
        html = response.get_data(as_text=True)
        assert 'id="roles-error"' in html and message in html
        assert 'value="new@example.com"' in html
    assert account_of("new@example.com").role == Role.USER
    response = post(admin, "/staff/people/add", {"email": ADMIN_EMAIL, "roles": [SUPPORT]})
    assert response.status_code == 422 and "すでにスタッフです" in response.get_data(as_text=True)
    assert roles_of(ADMIN_EMAIL) == {ADMIN}


def test_adding_needs_the_csrf_token(app, admin):
    make_owner("new@example.com")
    response = admin.post("/staff/people/add", data={"email": "new@example.com",
                                                      "roles": [SUPPORT]})
    assert response.status_code in (400, 422)
    assert account_of("new@example.com").role == Role.USER


# -- changing roles and removing ------------------------------------------------------------
def test_changing_roles_is_audited_from_to_and_mailed(app, admin):
    member = make_staff(make_owner("member@example.com", "高橋", "美咲"), SUPPORT)
    url = f"/staff/people/{member.id}"
    page = admin.get(url).get_data(as_text=True)
    assert 'value="support" checked' in page and 'value="slips" checked' not in page
    response = post(admin, url, {"roles": [SLIPS, PROGRAMME]})
    assert response.status_code == 303
    assert roles_of("member@example.com") == {SLIPS, PROGRAMME}
    [event] = audits("staff.roles_changed")
    assert event.detail["roles_from"] == [SUPPORT]
    assert event.detail["roles_to"] == [SLIPS, PROGRAMME]
    [mail] = outbox("member@example.com", "staff_roles_changed")
    assert "変更前: サポート担当" in mail.text_body
    assert "変更後: 伝票発行担当、プログラム管理担当" in mail.text_body
    # The same roles again (a double submit): nothing audited, nothing mailed.
    assert post(admin, url, {"roles": [SLIPS, PROGRAMME]}).status_code == 303
    assert len(audits("staff.roles_changed")) == 1
    assert len(outbox("member@example.com", "staff_roles_changed")) == 1
    # No role at all is refused next to the checkboxes (removal is its own button).
    response = post(admin, url, {"roles": []})
    assert response.status_code == 422
    assert "役割を1つ以上選択してください" in response.get_data(as_text=True)
    assert roles_of("member@example.com") == {SLIPS, PROGRAMME}


def test_removing_makes_a_user_again_once(app, admin):
    member = make_staff(make_owner("member@example.com", "高橋", "美咲"), SUPPORT, ADMIN)
    url = f"/staff/people/{member.id}/remove"
    form_url = f"/staff/people/{member.id}"
    token = page_token(admin, form_url)
    assert admin.post(url, data={"csrf_token": token}).status_code == 303
    account = account_of("member@example.com")
    assert account.role == Role.USER and roles_of("member@example.com") == set()
    [event] = audits("staff.removed")
    assert event.detail["roles_from"] == [ADMIN, SUPPORT] and event.detail["roles_to"] == []
    [mail] = outbox("member@example.com", "staff_roles_changed")
    assert "なし（スタッフ権限はありません）" in mail.text_body
    # The double submit: no second change, no second mail; the page is gone (not staff).
    assert admin.post(url, data={"csrf_token": token}).status_code == 303
    assert len(audits("staff.removed")) == 1
    assert admin.get(form_url).status_code == 404
    member_client = signed_in(app, "member@example.com")
    assert member_client.get("/staff/support/").status_code == 404


def test_removal_needs_the_csrf_token(app, admin):
    member = make_staff(make_owner("member@example.com"), SUPPORT)
    assert admin.post(f"/staff/people/{member.id}/remove").status_code == 400
    assert account_of("member@example.com").role == Role.STAFF


def test_nobody_takes_their_own_admin_role(app, admin):
    me = account_of(ADMIN_EMAIL)
    url = f"/staff/people/{me.id}"
    response = post(admin, url, {"roles": [SUPPORT]})
    assert response.status_code == 422
    assert "自分のスタッフ管理者の役割は外せません" in response.get_data(as_text=True)
    token = page_token(admin, url)
    response = admin.post(f"{url}/remove", data={"csrf_token": token})
    assert response.status_code == 409
    assert roles_of(ADMIN_EMAIL) == {ADMIN} and account_of(ADMIN_EMAIL).role == Role.STAFF
    # Adding a role to oneself is fine.
    assert post(admin, url, {"roles": [ADMIN, SUPPORT]}).status_code == 303
    assert roles_of(ADMIN_EMAIL) == {ADMIN, SUPPORT}


def test_the_last_admin_keeps_the_admin_role(app, admin):
    """Only reachable through the service (an admin is the one acting): a support agent
    would take the last admin's role away."""
    agent = make_staff(make_owner("agent@example.com"), SUPPORT)
    admin_id = account_of(ADMIN_EMAIL).id
    for attempt in (lambda: people.remove_staff(agent, admin_id),
                    lambda: people.change_roles(agent, admin_id, [SUPPORT])):
        with pytest.raises(people.StaffChangeRefused) as refused:
            attempt()
        assert refused.value.reason == people.LAST_ADMIN
    assert roles_of(ADMIN_EMAIL) == {ADMIN}


def test_two_admins_removing_each_other_at_once_leave_one(app):
    first = make_staff(make_owner("first@example.com", "一", "太郎"), ADMIN)
    second = make_staff(make_owner("second@example.com", "二", "次郎"), ADMIN)
    clients = {email: signed_in(app, email) for email in ("first@example.com",
                                                          "second@example.com")}
    tokens = {email: page_token(client, "/staff/people")
              for email, client in clients.items()}
    targets = {"first@example.com": second.id, "second@example.com": first.id}
    db.session.commit()  # the test holds no transaction (on SQLite: the write lock)
    start = threading.Barrier(2)
    statuses: dict[str, int] = {}

    def remove(email):
        start.wait(timeout=10)
        response = clients[email].post(f"/staff/people/{targets[email]}/remove",
                                       data={"csrf_token": tokens[email]})
        statuses[email] = response.status_code

    threads = [threading.Thread(target=remove, args=(email,)) for email in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # The loser is refused (409), or, when its request began after the winner's commit,
    # is no admin any more (404).
    assert sorted(statuses.values()) in ([303, 404], [303, 409]), statuses
    db.session.expire_all()
    admins = db.session.scalars(select(StaffGrant.account_id).where(StaffGrant.role == ADMIN))
    assert len(list(admins)) == 1
    assert len(audits("staff.removed")) == 1


def test_another_accounts_id_is_404(app, admin):
    owner = make_owner("owner@example.com")
    assert admin.get(f"/staff/people/{owner.id}").status_code == 404
    assert admin.get("/staff/people/999999999").status_code == 404
    token = page_token(admin, "/staff/people/add")
    assert admin.post(f"/staff/people/{owner.id}",
                      data={"csrf_token": token, "roles": [SUPPORT]}).status_code == 404
    assert admin.post(f"/staff/people/{owner.id}/remove",
                      data={"csrf_token": token}).status_code in (303, 404)
    assert account_of("owner@example.com").role == Role.USER


def test_the_person_mails_go_out_over_smtp(smtp_app, smtp):
    make_staff(make_owner(ADMIN_EMAIL, "管理", "一郎"), ADMIN)
    make_owner("new@example.com", "佐藤", "花子")
    client = signed_in(smtp_app, ADMIN_EMAIL)
    assert post(client, "/staff/people/add",
                {"email": "new@example.com", "roles": [PROGRAMME]}).status_code == 303
    member = account_of("new@example.com")
    token = page_token(client, f"/staff/people/{member.id}")
    assert client.post(f"/staff/people/{member.id}/remove",
                       data={"csrf_token": token}).status_code == 303
    deliver_pending(limit=50)
    mails = smtp.to("new@example.com")
    assert [m["Subject"] for m in mails] == [ROLES_MAIL, ROLES_MAIL]
    first, second = (SmtpServer.text_of(m) for m in mails)
    assert "変更後: プログラム管理担当" in first
    assert "変更前: プログラム管理担当" in second and "スタッフ権限はありません" in second
    assert all(m.get_body(preferencelist=("html",)) is not None for m in mails)


# -- the command line ---------------------------------------------------------------------
def test_cli_creates_a_missing_id_as_staff_with_a_password_mail(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["staff", "create", "boss@example.com", "--role", "admin",
                                 "--role", "support", "--family-name", "山本",
                                 "--given-name", "一郎"])
    assert result.exit_code == 0, result.output
    assert "created the ID boss@example.com" in result.output
    account = account_of("boss@example.com")
    assert account.role == Role.STAFF and account.activated_at is not None
    assert (account.family_name, account.given_name) == ("山本", "一郎")
    assert roles_of("boss@example.com") == {ADMIN, SUPPORT}
    [reset] = outbox("boss@example.com", "password_reset")
    assert "/account/password/reset/" in reset.text_body or "reset" in reset.text_body
    assert audits("staff.account_created") and audits("staff.added")[0].actor_id is None
    # The unusable password signs nobody in; the reset link sets one.
    assert login(app.test_client(), "boss@example.com").status_code != 303
    # Twice: nothing changes, nothing is mailed.
    again = runner.invoke(args=["staff", "create", "boss@example.com", "--role", "admin"])
    assert again.exit_code == 0 and "nothing changed" in again.output
    assert len(outbox("boss@example.com", "password_reset")) == 1
    assert len(audits("staff.added")) == 1 and not audits("staff.roles_changed")
    assert db.session.scalar(select(func.count()).select_from(Account)) == 1


def test_cli_makes_an_existing_id_staff_and_adds_roles(app):
    make_owner("owner@example.com")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["staff", "create", "Owner@Example.com", "--role", "SUPPORT"])
    assert result.exit_code == 0, result.output
    assert roles_of("owner@example.com") == {SUPPORT}
    assert not outbox("owner@example.com", "password_reset")  # they have a password
    assert len(outbox("owner@example.com", "staff_roles_changed")) == 1
    result = runner.invoke(args=["staff", "create", "owner@example.com", "--role", "admin"])
    assert result.exit_code == 0 and "support -> admin, support" in result.output
    assert roles_of("owner@example.com") == {ADMIN, SUPPORT}
    assert login(app.test_client(), "owner@example.com").status_code == 303


@pytest.mark.parametrize("args", [
    ["staff", "create", "boss@example.com", "--role", "root"],
    ["staff", "create", "boss@example.com"],
    ["staff", "create", "not-an-address", "--role", "admin"],
    ["staff", "create", "bo\x00ss@example.com", "--role", "admin"],
    ["staff", "create", "boss@example.com", "--role", "admin", "--family-name", ""],
])
def test_cli_refuses_bad_roles_and_addresses(app, args):
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code != 0
    assert db.session.scalar(select(func.count()).select_from(Account)) == 0
    assert db.session.scalar(select(func.count()).select_from(StaffGrant)) == 0
