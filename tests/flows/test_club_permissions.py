"""お客様情報 and login permissions (issue 11): the owner's data and its change, the grant
(mailed off the request path only to a dealer's member), the dealer's approval or
rejection (decided once, also under concurrency), withdrawal, and the dealer's
登録ユーザー一覧 with its detail page."""
from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from blueprints.account.services import delete_account, remove_employee
from blueprints.club import permissions
from blueprints.core import registry
from blueprints.dealers.services import become_dealer, link_dealer
from mail.relay import deliver_pending
from models import db, utcnow
from models.account import Account, AccountPhone, AccountType, CompanyRole
from models.audit import AuditEvent
from models.club import LoginPermission, PermissionState
from models.mail import OutboxMail
from tests.conftest import SmtpServer, csrf_from, links_in, path_of
from tests.flows.test_dealer_links import _password_hash, make_company, make_gateway, make_owner
from tests.helpers import HX, PASSWORD, login, outbox

DEALER = "admin1@dealer1.example"      # a member (the administrator) of dealer 1
OTHER_DEALER = "admin2@dealer2.example"
MEMBER = "member1@dealer1.example"     # another member of dealer 1
EDIT = "/club/mypage/info/edit"


# -- helpers --------------------------------------------------------------------------------
def owner_with_phone(email="owner@example.com", **names) -> Account:
    owner = make_owner(email, **names)
    owner.phones = [AccountPhone(position=0, kind="mobile", number="09012345678")]
    db.session.commit()
    return owner


def make_dealer_company(n: int = 1):
    return become_dealer(make_company(n), f"031234567{n}")


def add_member(dealer, email=MEMBER) -> Account:
    member = Account(email=email, password_hash=_password_hash(), family_name="鈴木",
                     given_name="一郎", account_type=AccountType.COMMERCIAL,
                     company_id=dealer.company_id, company_role=CompanyRole.MEMBER,
                     activated_at=utcnow(), terms_accepted_at=utcnow(),
                     privacy_accepted_at=utcnow())
    db.session.add(member)
    db.session.commit()
    return member


def signed_in(app, email):
    client = app.test_client()
    assert login(client, email).status_code == 303
    return client


def form_data(**changes) -> dict:
    data = {"family_name": "山田", "given_name": "太郎", "family_kana": "ヤマダ",
            "given_kana": "タロウ", "address-postal_code": "1030026",
            "address-prefecture": "東京都", "address-city": "中央区",
            "address-street": "日本橋兜町2-1", "address-building": "", "phone": "090-1234-5678",
            "newsletter": "no", "permission_email": ""}
    data.update(changes)
    return data


def post_edit(client, step="entry", htmx=False, **changes):
    token = csrf_from(client.get(EDIT).get_data(as_text=True))
    return client.post(EDIT, data={**form_data(**changes), "step": step, "csrf_token": token},
                       headers=HX if htmx else {})


def grant(client, address, htmx=False):
    """Enter the address → 確認する → 変更する; returns the last response."""
    confirm = post_edit(client, permission_email=address, htmx=htmx)
    assert confirm.status_code == 200, confirm.get_data(as_text=True)
    return post_edit(client, step="confirm", permission_email=address, htmx=htmx)


def permission_of(owner_email="owner@example.com", address=DEALER) -> LoginPermission | None:
    db.session.expire_all()
    return db.session.scalar(
        select(LoginPermission).join(Account, Account.id == LoginPermission.owner_id)
        .where(Account.email == owner_email, LoginPermission.email == address))


def approval_path(recipient=DEALER) -> str:
    mails = outbox(recipient, "club_permission_request")
    assert mails, f"no approval request to {recipient}"
    return path_of(links_in(mails[-1].text_body)[0])


def decide(client, path, button="approve", htmx=False):
    token = csrf_from(client.get(path).get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, button: "1"},
                       headers=HX if htmx else {})


def actions(name) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == name))


def approved_world(app):
    """owner granted dealer 1's administrator, who approved."""
    owner = owner_with_phone()
    dealer = make_dealer_company(1)
    owner_client = signed_in(app, "owner@example.com")
    assert grant(owner_client, DEALER).status_code == 303
    dealer_client = signed_in(app, DEALER)
    assert decide(dealer_client, approval_path()).status_code == 200
    return owner, dealer, owner_client, dealer_client


# -- お客様情報 -------------------------------------------------------------------------------
def test_customer_info_shows_the_id_data_and_number(app):
    owner = owner_with_phone()
    owner.newsletter = True
    db.session.commit()
    page = signed_in(app, "owner@example.com").get("/club/mypage/info").get_data(as_text=True)
    for expected in ("お客様情報", owner.customer_number, "山田 太郎", "103-0026", "東京都",
                     "中央区", "日本橋兜町2-1", "090-1234-5678", "owner@example.com",
                     "情報提供可", "はい", "登録情報を変更する",
                     "ログインを許可する販売店・業者様のメールアドレス"):
        assert expected in page


def test_edit_confirm_and_save_changes_the_id(app):
    owner_with_phone()
    client = signed_in(app, "owner@example.com")
    form = client.get(EDIT).get_data(as_text=True)
    assert 'value="山田"' in form and 'value="090-1234-5678"' in form
    confirm = post_edit(client, family_name="佐々木", given_kana="じろう",
                        **{"address-street": "日本橋兜町１丁目２番３号"}, newsletter="yes")
    page = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "変更内容の確認" in page and "佐々木" in page
    assert "ジロウ" in page and "1-2-3" in page
    db.session.expire_all()
    assert db.session.scalar(select(Account.family_name)) == "山田"  # not yet
    done = post_edit(client, step="confirm", family_name="佐々木", given_kana="じろう",
                     **{"address-street": "日本橋兜町１丁目２番３号"}, newsletter="yes")
    assert done.status_code == 303 and done.headers["Location"] == "/club/mypage/info/done"
    assert "変更完了" in client.get(done.headers["Location"]).get_data(as_text=True)
    db.session.expire_all()
    account = db.session.scalar(select(Account).where(Account.email == "owner@example.com"))
    assert (account.family_name, account.given_kana, account.street, account.newsletter) == (
        "佐々木", "ジロウ", "日本橋兜町1-2-3", True)
    assert [p.number for p in account.phones] == ["09012345678"]
    # One person, one record: the ID's settings show the same.
    assert "佐々木" in client.get("/account/settings/personal").get_data(as_text=True)
    assert actions("account.update") == 1


def test_back_from_confirmation_keeps_the_input(app):
    owner_with_phone()
    client = signed_in(app, "owner@example.com")
    token = csrf_from(client.get(EDIT).get_data(as_text=True))
    back = client.post(EDIT, data={**form_data(family_name="佐々木"), "step": "confirm",
                                   "back": "1", "csrf_token": token})
    assert back.status_code == 200 and 'value="佐々木"' in back.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(select(Account.family_name)) == "山田"


@pytest.mark.parametrize("field, value, message", [
    ("family_name", "", "入力してください"),
    ("family_name", "山" * 40, "14"),
    ("family_name", "Yamada", "全角"),
    ("family_name", "山\x00田", None),
    ("family_kana", "yamada", "カタカナ"),
    ("address-postal_code", "12", "郵便番号"),
    ("address-prefecture", "火星", None),
    ("address-city", "", "入力してください"),
    ("phone", "12", "電話番号"),
    ("phone", "０９０\x00", None),
    ("newsletter", "maybe", None),
    ("permission_email", "not-an-address", "メールアドレス"),
    ("permission_email", "ｄｅａｌｅｒ＠例え.jp", "半角"),
    ("permission_email", "a" * 300 + "@example.com", "254"),
])
@pytest.mark.parametrize("step", ["entry", "confirm"])
def test_bad_input_is_refused_next_to_the_field(app, field, value, message, step):
    owner_with_phone()
    client = signed_in(app, "owner@example.com")
    response = post_edit(client, step=step, **{field: value})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="{field}-error"' in page
    if message:
        assert message in page.split(f'id="{field}-error"')[1][:300]
    kept = {"given_name": "次郎"} if field.startswith("family") else {"family_name": "佐々木"}
    again = post_edit(client, step=step, **kept, **{field: value})
    assert f'value="{next(iter(kept.values()))}"' in again.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(select(Account.family_name)) == "山田"
    assert db.session.scalar(select(func.count()).select_from(LoginPermission)) == 0


def test_htmx_gets_partials_and_redirect(app):
    owner_with_phone()
    client = signed_in(app, "owner@example.com")
    bad = post_edit(client, htmx=True, phone="1")
    assert bad.status_code == 422 and "<html" not in bad.get_data(as_text=True)
    assert 'id="customer-info-form"' in bad.get_data(as_text=True)
    confirm = post_edit(client, htmx=True, family_name="佐々木")
    assert confirm.status_code == 200 and "<html" not in confirm.get_data(as_text=True)
    assert "変更する" in confirm.get_data(as_text=True)
    done = post_edit(client, step="confirm", htmx=True, family_name="佐々木")
    assert done.status_code == 200 and done.headers["HX-Redirect"] == "/club/mypage/info/done"
    db.session.expire_all()
    assert db.session.scalar(select(Account.family_name)) == "佐々木"


def test_postal_lookup_without_javascript_fills_the_address(app):
    owner_with_phone()
    client = signed_in(app, "owner@example.com")
    token = csrf_from(client.get(EDIT).get_data(as_text=True))
    response = client.post(EDIT, data={**form_data(**{"address-postal_code": "5410055",
                                                      "address-city": "", "address-street": ""}),
                                       "address-lookup": "1", "csrf_token": token})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "大阪市中央区" in page


def test_commercial_account_changes_its_name_not_the_company_address(app):
    make_company(3)
    client = signed_in(app, "admin3@dealer3.example")
    form = client.get(EDIT).get_data(as_text=True)
    assert "address-postal_code" not in form and "会社情報" in form
    token = csrf_from(form)
    data = {**form_data(family_name="田中", **{"address-city": "乗っ取り市"}), "step": "confirm",
            "csrf_token": token}
    assert client.post(EDIT, data=data).status_code == 303
    db.session.expire_all()
    admin = db.session.scalar(select(Account).where(Account.email == "admin3@dealer3.example"))
    assert admin.family_name == "田中" and admin.city is None
    assert admin.company.city == "中央区"
    assert [p.number for p in admin.phones] == ["09012345678"]
    assert "中央区" in client.get("/club/mypage/info").get_data(as_text=True)


# -- granting -----------------------------------------------------------------------------------
def test_grant_mails_the_dealer_member_with_the_owners_data(smtp_app, smtp):
    owner = owner_with_phone()
    owner.family_kana, owner.given_kana = "ヤマダ", "タロウ"
    make_gateway(owner, "01AB12345678")
    make_dealer_company(1)
    db.session.commit()
    client = signed_in(smtp_app, "owner@example.com")
    hostile = {"address-city": "<script>alert(1)</script>中央区"}
    confirm = post_edit(client, permission_email="Admin1@DEALER1.example", **hostile)
    assert "Admin1@dealer1.example" in confirm.get_data(as_text=True)
    assert "<script>alert" not in confirm.get_data(as_text=True)
    done = post_edit(client, step="confirm", permission_email="Admin1@DEALER1.example",
                     **hostile)
    assert done.status_code == 303 and "granted=1" in done.headers["Location"]
    permission = permission_of(address="Admin1@dealer1.example")
    assert permission.state == PermissionState.PENDING
    # Nothing decided on the request path: only a mail request is written.
    db.session.expire_all()
    assert [m.kind for m in db.session.scalars(select(OutboxMail))] == ["club_permission"]
    assert deliver_pending() == 1
    [message] = smtp.to("admin1@dealer1.example")
    assert message["Subject"] == "【Enelink】新規メールアドレス登録用リンクにアクセスしてください"
    body = SmtpServer.text_of(message)
    for expected in ("山田 太郎", "ヤマダ タロウ", "東京都", "中央区", "owner@example.com",
                     "ハイブリッド蓄電システム 7.4kWh", "/club/approvals/"):
        assert expected in body
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert permission_of(address="Admin1@dealer1.example").dealer_id is not None
    approval = signed_in(smtp_app, DEALER).get(path_of(links_in(body)[0])).get_data(as_text=True)
    assert "<script>alert" not in approval and "&lt;script&gt;alert(1)" in approval
    page = client.get("/club/mypage/info").get_data(as_text=True)
    assert "承認待ち" in page and "販売店1株式会社" not in page  # not told whose it is yet


def test_unknown_address_is_recorded_without_mail_and_looks_the_same(app):
    owner_with_phone()
    make_dealer_company(1)
    client = signed_in(app, "owner@example.com")
    known = grant(client, DEALER)
    unknown = grant(client, "nobody@nowhere.example")
    assert known.status_code == unknown.status_code == 303
    assert known.headers["Location"] == unknown.headers["Location"]
    assert outbox(kind="club_permission_request") and not outbox("nobody@nowhere.example")
    assert permission_of(address="nobody@nowhere.example").state == PermissionState.PENDING
    assert permission_of(address="nobody@nowhere.example").dealer_id is None
    page = client.get("/club/mypage/info").get_data(as_text=True)
    assert page.count("承認待ち") == 2


@pytest.mark.parametrize("address, message", [
    ("owner@example.com", "ご自身のメールアドレス"),
    ("OWNER@example.com", "ご自身のメールアドレス"),
])
def test_own_address_is_refused(app, address, message):
    owner_with_phone()
    client = signed_in(app, "owner@example.com")
    for step in ("entry", "confirm"):
        response = post_edit(client, step=step, permission_email=address)
        assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert permission_of(address=address) is None


def test_own_dealer_company_is_refused(app):
    dealer = make_dealer_company(1)
    add_member(dealer)
    client = signed_in(app, DEALER)
    response = post_edit(client, step="confirm", permission_email=MEMBER)
    assert response.status_code == 422 and "所属する会社" in response.get_data(as_text=True)
    assert permission_of(DEALER, MEMBER) is None


def test_approved_address_is_not_asked_again_and_pending_is_capped(make_app):
    app = make_app(CLUB_PENDING_PERMISSIONS_MAX=2)
    with app.app_context():
        _owner, _dealer, owner_client, _ = approved_world(app)
        again = post_edit(owner_client, permission_email=DEALER)
        assert again.status_code == 422 and "すでにログインを許可" in again.get_data(as_text=True)
        assert grant(owner_client, "a@x.example").status_code == 303
        assert grant(owner_client, "b@x.example").status_code == 303
        third = post_edit(owner_client, step="confirm", permission_email="c@x.example")
        assert third.status_code == 422 and "承認待ちの許可が多すぎます" in third.get_data(as_text=True)
        # Renewing a pending one is not a new one.
        assert grant(owner_client, "a@x.example").status_code == 303


def test_grants_are_rate_limited(make_app):
    app = make_app(MAIL_SENDING_LIMIT="2 per minute")
    with app.app_context():
        owner_with_phone()
        client = signed_in(app, "owner@example.com")
        assert grant(client, "a@x.example").status_code == 303
        assert grant(client, "b@x.example").status_code == 303
        third = post_edit(client, step="confirm", permission_email="c@x.example")
        assert third.status_code == 429
        # Changing the rest without an address is not limited.
        assert post_edit(client, step="confirm", family_name="佐々木").status_code == 303
        assert permission_of(address="c@x.example") is None


# -- approving and rejecting ------------------------------------------------------------------
def test_approval_needs_sign_in_and_comes_back(app):
    owner_with_phone()
    make_dealer_company(1)
    grant(signed_in(app, "owner@example.com"), DEALER)
    path = approval_path()
    anonymous = app.test_client()
    response = anonymous.get(path)
    assert response.status_code == 302 and "/account/login" in response.headers["Location"]
    token = csrf_from(anonymous.get(response.headers["Location"]).get_data(as_text=True))
    signed = anonymous.post(response.headers["Location"],
                            data={"email": DEALER, "password": PASSWORD, "csrf_token": token})
    assert signed.status_code == 303 and signed.headers["Location"] == path
    page = anonymous.get(path).get_data(as_text=True)
    assert "連携を許可" in page and "連携を許可しない" in page and "山田 太郎" in page


def test_approve_shows_the_banner_and_lists_the_owner(app):
    owner, _dealer, owner_client, dealer_client = approved_world(app)
    db.session.expire_all()
    permission = permission_of()
    assert permission.state == PermissionState.APPROVED and permission.decided_at
    assert actions("club.permission_approve") == 1
    listing = dealer_client.get("/club/dealer/users").get_data(as_text=True)
    assert "owner@example.com" in listing
    detail = dealer_client.get(f"/club/dealer/users/{owner.customer_number}")
    assert detail.status_code == 200 and "山田 太郎" in detail.get_data(as_text=True)
    page = owner_client.get("/club/mypage/info").get_data(as_text=True)
    assert "許可済み" in page and "販売店1株式会社" in page
    assert not outbox("owner@example.com", "club_permission_rejected")


def test_approve_banner_plain_post(app):
    owner_with_phone()
    make_dealer_company(1)
    grant(signed_in(app, "owner@example.com"), DEALER)
    response = decide(signed_in(app, DEALER), approval_path())
    assert "オーナー様情報との連携に成功しました!" in response.get_data(as_text=True)
    assert "<html" in response.get_data(as_text=True)


def test_reject_by_htmx_mails_the_owner(smtp_app, smtp):
    owner_with_phone()
    make_dealer_company(1)
    grant(signed_in(smtp_app, "owner@example.com"), DEALER)
    deliver_pending()
    dealer_client = signed_in(smtp_app, DEALER)
    response = decide(dealer_client, approval_path(), "reject", htmx=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in page
    assert "オーナー様情報との連携を拒否しました" in page and "連携を許可しないで更新済み" in page
    assert permission_of().state == PermissionState.REJECTED
    assert actions("club.permission_reject") == 1
    assert deliver_pending() == 1
    [message] = smtp.to("owner@example.com")
    assert message["Subject"] == "【Enelink】ログイン連携が拒否されました"
    body = SmtpServer.text_of(message)
    assert "ログイン連携が拒否されました" in body and DEALER in body
    assert dealer_client.get("/club/dealer/users").get_data(as_text=True).count(
        "owner@example.com") == 0
    assert "拒否" in signed_in(smtp_app, "owner@example.com").get(
        "/club/mypage/info").get_data(as_text=True)


def test_decided_once_across_two_clients(app):
    owner_with_phone()
    dealer = make_dealer_company(1)
    add_member(dealer)
    grant(signed_in(app, "owner@example.com"), DEALER)
    path = approval_path()
    first, second = signed_in(app, DEALER), signed_in(app, MEMBER)
    token = csrf_from(second.get(path).get_data(as_text=True))  # second tab opened
    assert "成功しました" in decide(first, path).get_data(as_text=True)
    late = second.post(path, data={"csrf_token": token, "reject": "1"})
    page = late.get_data(as_text=True)
    assert late.status_code == 200 and "すでに「連携を許可」で更新済み" in page
    assert "拒否しました" not in page
    assert permission_of().state == PermissionState.APPROVED
    assert not outbox("owner@example.com", "club_permission_rejected")
    assert actions("club.permission_approve") + actions("club.permission_reject") == 1


def test_concurrent_decisions_decide_once(make_app):
    app = make_app(RATELIMIT_ENABLED=False)
    with app.app_context():
        owner_with_phone()
        make_dealer_company(1)
        grant(signed_in(app, "owner@example.com"), DEALER)
        path = approval_path()
        clients = [signed_in(app, DEALER) for _ in range(6)]
        tokens = [csrf_from(c.get(path).get_data(as_text=True)) for c in clients]

        def post(i):
            button = "reject" if i % 2 else "approve"
            return clients[i].post(path, data={"csrf_token": tokens[i], button: "1"}).status_code

        with ThreadPoolExecutor(6) as pool:
            codes = list(pool.map(post, range(6)))
        assert codes == [200] * 6
        decided = actions("club.permission_approve") + actions("club.permission_reject")
        assert decided == 1
        state = permission_of().state
        assert len(outbox("owner@example.com", "club_permission_rejected")) == (
            1 if state == PermissionState.REJECTED else 0)


def test_another_dealer_gets_403_and_changes_nothing(app):
    owner_with_phone()
    make_dealer_company(1)
    make_dealer_company(2)
    make_owner("other@example.com", "佐藤", "次郎")
    grant(signed_in(app, "owner@example.com"), DEALER)
    path = approval_path()
    for email in (OTHER_DEALER, "other@example.com"):
        intruder = signed_in(app, email)
        page = intruder.get(path)
        assert page.status_code == 403 and "別の販売店・業者様" in page.get_data(as_text=True)
        token = csrf_from(intruder.get("/club/mypage/info").get_data(as_text=True))
        assert intruder.post(path, data={"csrf_token": token, "approve": "1"}).status_code == 403
    assert permission_of().state == PermissionState.PENDING


def test_a_member_who_left_cannot_use_the_link(app):
    owner_with_phone()
    dealer = make_dealer_company(1)
    member = add_member(dealer)
    grant(signed_in(app, "owner@example.com"), MEMBER)
    path = approval_path(MEMBER)
    client = signed_in(app, MEMBER)
    admin = db.session.scalar(select(Account).where(Account.email == DEALER))
    remove_employee(admin, member.id)
    assert client.get(path).status_code in (302, 403)  # signed out or refused
    assert signed_in(app, MEMBER).get(path).status_code == 403
    # The company's other members still can: the permission is the company's.
    assert "成功しました" in decide(signed_in(app, DEALER), path).get_data(as_text=True)


@pytest.mark.parametrize("mangle", [
    lambda path: path[:-3] + "xyz",
    lambda path: "/club/approvals/" + "a" * 200,
    lambda path: "/club/approvals/%00%ff",
])
def test_altered_tokens_show_the_link_problem_page(app, mangle):
    owner_with_phone()
    make_dealer_company(1)
    grant(signed_in(app, "owner@example.com"), DEALER)
    client = signed_in(app, DEALER)
    response = client.get(mangle(approval_path()))
    assert response.status_code == 410 and "リンクが正しくありません" in response.get_data(as_text=True)
    token = csrf_from(client.get("/club/mypage/info").get_data(as_text=True))
    assert client.post(mangle(approval_path()),
                       data={"csrf_token": token, "approve": "1"}).status_code == 410
    assert permission_of().state == PermissionState.PENDING


def test_renewed_request_replaces_the_old_link(app):
    owner_with_phone()
    make_dealer_company(1)
    owner_client = signed_in(app, "owner@example.com")
    grant(owner_client, DEALER)
    old = approval_path()
    grant(owner_client, DEALER)
    new = approval_path()
    assert old != new
    client = signed_in(app, DEALER)
    assert client.get(old).status_code == 410
    assert client.get(new).status_code == 200


def test_rejected_permission_can_be_asked_again(app):
    owner_with_phone()
    make_dealer_company(1)
    owner_client = signed_in(app, "owner@example.com")
    grant(owner_client, DEALER)
    dealer_client = signed_in(app, DEALER)
    decide(dealer_client, approval_path(), "reject")
    assert grant(owner_client, DEALER).status_code == 303
    assert permission_of().state == PermissionState.PENDING
    assert "成功しました" in decide(dealer_client, approval_path()).get_data(as_text=True)


def test_two_owners_name_the_same_dealer_address(app):
    owner_with_phone()
    owner_with_phone("hanako@example.com", family_name="鈴木", given_name="花子")
    make_dealer_company(1)
    grant(signed_in(app, "owner@example.com"), DEALER)
    grant(signed_in(app, "hanako@example.com"), DEALER)
    paths = [path_of(links_in(m.text_body)[0])
             for m in outbox(DEALER, "club_permission_request")]
    assert len(paths) == 2
    client = signed_in(app, DEALER)
    assert all(client.get(path).status_code == 200 for path in paths)  # both still open


# -- withdrawing ------------------------------------------------------------------------------
def test_withdraw_takes_effect_on_the_dealers_next_request(app):
    owner, _dealer, owner_client, dealer_client = approved_world(app)
    detail = f"/club/dealer/users/{owner.customer_number}"
    assert dealer_client.get(detail).status_code == 200
    permission = permission_of()
    url = f"/club/mypage/permissions/{permission.id}/withdraw"
    page = owner_client.get(url)
    assert page.status_code == 200 and "取り消す" in page.get_data(as_text=True)
    response = owner_client.post(url, data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert response.status_code == 303
    assert permission_of().state == PermissionState.WITHDRAWN
    assert actions("club.permission_withdraw") == 1
    assert dealer_client.get(detail).status_code == 404
    assert "owner@example.com" not in dealer_client.get("/club/dealer/users").get_data(as_text=True)
    assert DEALER not in owner_client.get("/club/mypage/info").get_data(as_text=True)
    assert owner_client.get(url).status_code == 404  # gone from the owner's list too


def test_a_withdrawn_permissions_link_says_so(app):
    owner_with_phone()
    make_dealer_company(1)
    owner_client = signed_in(app, "owner@example.com")
    grant(owner_client, DEALER)
    path = approval_path()
    permission = permission_of()
    assert permissions.withdraw_permission(permission.owner, permission.id) is not None
    client = signed_in(app, DEALER)
    page = client.get(path)
    assert page.status_code == 200 and "取り消されています" in page.get_data(as_text=True)
    decided = decide(client, path)
    assert "取り消されています" in decided.get_data(as_text=True)
    assert permission_of().state == PermissionState.WITHDRAWN


def test_someone_elses_permission_cannot_be_withdrawn(app):
    approved_world(app)
    make_owner("other@example.com", "佐藤", "次郎")
    other = signed_in(app, "other@example.com")
    url = f"/club/mypage/permissions/{permission_of().id}/withdraw"
    assert other.get(url).status_code == 404
    token = csrf_from(other.get("/club/mypage/info").get_data(as_text=True))
    assert other.post(url, data={"csrf_token": token}).status_code == 404
    assert other.get("/club/mypage/permissions/99999/withdraw").status_code == 404
    assert permission_of().state == PermissionState.APPROVED


def test_access_page_lists_permissions_with_withdraw_link(app):
    _owner, _dealer, owner_client, _ = approved_world(app)
    page = owner_client.get("/account/access").get_data(as_text=True)
    assert "販売店1株式会社" in page and "ログインを許可（許可済み）" in page
    assert f"/club/mypage/permissions/{permission_of().id}/withdraw" in page


def _fake_acting() -> bool:
    from flask import request

    return request.headers.get("X-Test-Acting") == "1"


def test_grant_and_withdraw_are_refused_while_acting(app):
    registry.acting_check(_fake_acting)
    _owner, _dealer, owner_client, _ = approved_world(app)
    acting = {"X-Test-Acting": "1"}
    url = f"/club/mypage/permissions/{permission_of().id}/withdraw"
    assert owner_client.get(url, headers=acting).status_code == 403
    form = owner_client.get(EDIT, headers=acting).get_data(as_text=True)
    assert "permission_email" not in form and "代理ログイン中" in form
    token = csrf_from(form)
    response = owner_client.post(EDIT, headers=acting, data={
        **form_data(permission_email="new@x.example"), "step": "confirm", "csrf_token": token})
    assert response.status_code == 303
    assert permission_of(address="new@x.example") is None
    assert permission_of().state == PermissionState.APPROVED


# -- the dealer's registered users ------------------------------------------------------------
def _approved_owners(dealer, count, prefix="user"):
    owners = []
    for n in range(count):
        owner = make_owner(f"{prefix}{n:02d}@example.com")
        db.session.add(LoginPermission(owner_id=owner.id, email=DEALER, dealer_id=dealer.id,
                                       state=PermissionState.APPROVED, decided_at=utcnow()))
        owners.append(owner)
    db.session.commit()
    return owners


def test_user_list_search_and_pages(app):
    dealer = make_dealer_company(1)
    owners = _approved_owners(dealer, 23)
    special = make_owner("a_b%c@example.com")
    db.session.add(LoginPermission(owner_id=special.id, email=DEALER, dealer_id=dealer.id,
                                   state=PermissionState.APPROVED, decided_at=utcnow()))
    db.session.commit()
    client = signed_in(app, DEALER)
    first = client.get("/club/dealer/users").get_data(as_text=True)
    assert first.count("/club/dealer/users/") == 20 and "1 / 2 ページ（全24件）" in first
    second = client.get("/club/dealer/users?page=2").get_data(as_text=True)
    assert second.count("/club/dealer/users/") == 4 and "<td data-label=\"#\">24</td>" in second
    by_part = client.get("/club/dealer/users?q=user07").get_data(as_text=True)
    assert "user07@example.com" in by_part and "user08@" not in by_part
    number = owners[3].customer_number
    by_number = client.get(f"/club/dealer/users?q={number}").get_data(as_text=True)
    assert "user03@example.com" in by_number and by_number.count("/club/dealer/users/") == 1
    for wildcard in ("%", "_", "a_b%"):
        found = client.get("/club/dealer/users", query_string={"q": wildcard}).get_data(as_text=True)
        assert found.count("/club/dealer/users/") == 1 and "a_b%c@example.com" in found
    partial = client.get("/club/dealer/users?q=user1", headers=HX)
    assert "<html" not in partial.get_data(as_text=True)
    assert partial.get_data(as_text=True).count("/club/dealer/users/") == 10
    assert client.get("/club/dealer/users?page=abc").status_code == 200
    assert client.get("/club/dealer/users?page=99999999999").status_code == 200
    past_the_end = client.get("/club/dealer/users?page=9").get_data(as_text=True)
    assert "2 / 2 ページ（全24件）" in past_the_end
    assert client.get("/club/dealer/users?q=%00").status_code == 200


def test_user_detail_shows_products_and_maintained_gateways(app):
    owner, dealer, _owner_client, dealer_client = approved_world(app)
    gateway = make_gateway(owner, "01AB12345678")
    link_dealer(owner, gateway, dealer.dealer_code, dealer.phone)
    page = dealer_client.get(f"/club/dealer/users/{owner.customer_number}").get_data(as_text=True)
    for expected in ("owner@example.com", owner.customer_number, "山田 太郎", "登録製品情報",
                     "ハイブリッド蓄電システム 7.4kWh", "/dealers/gateways/01AB12345678",
                     "一覧へ戻る"):
        assert expected in page


def test_forged_customer_numbers_are_404(app):
    owner, dealer, _owner_client, dealer_client = approved_world(app)
    pending = make_owner("pending@example.com")
    db.session.add(LoginPermission(owner_id=pending.id, email=DEALER, dealer_id=dealer.id))
    other_dealer = make_dealer_company(2)
    elsewhere = make_owner("elsewhere@example.com")
    db.session.add(LoginPermission(owner_id=elsewhere.id, email=OTHER_DEALER,
                                   dealer_id=other_dealer.id, state=PermissionState.APPROVED,
                                   decided_at=utcnow()))
    db.session.commit()
    for number in (pending.customer_number, elsewhere.customer_number, "0000000000",
                   "1" * 11, "abc", owner.customer_number + "%", "１" * 10):
        assert dealer_client.get(f"/club/dealer/users/{number}").status_code == 404, number
    assert permissions.approved_owner(dealer, owner.customer_number)[0].id == owner.id
    assert permissions.approved_owner(dealer, pending.customer_number) is None


def test_user_list_is_for_dealer_members_only(app):
    owner_with_phone()
    make_company(5)  # a company that is no dealer
    for email in ("owner@example.com", "admin5@dealer5.example"):
        assert signed_in(app, email).get("/club/dealer/users").status_code == 403
    assert app.test_client().get("/club/dealer/users").status_code == 302


# -- deletion ---------------------------------------------------------------------------------
def test_permissions_go_with_the_owner_and_stay_with_the_company(app):
    owner, dealer, _owner_client, dealer_client = approved_world(app)
    member = add_member(dealer, "member9@dealer1.example")
    assert delete_account(member, PASSWORD)
    assert permission_of().state == PermissionState.APPROVED
    assert dealer_client.get(f"/club/dealer/users/{owner.customer_number}").status_code == 200
    owner = db.session.get(Account, owner.id)
    assert delete_account(owner, PASSWORD)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(LoginPermission)) == 0


def test_launcher_tile_for_dealer_members(app):
    approved_world(app)
    dealer_home = signed_in(app, DEALER).get("/").get_data(as_text=True)
    assert "登録ユーザー一覧" in dealer_home
    assert "登録ユーザー一覧" not in signed_in(app, "owner@example.com").get("/").get_data(
        as_text=True)
    assert re.search(r'href="/club/dealer/users"',
                     signed_in(app, DEALER).get("/dealers/").get_data(as_text=True))
