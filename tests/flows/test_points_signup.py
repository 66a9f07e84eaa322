"""The points sign-up (seed 001-25 … 001-46, 002-29): signed in (STEP1-6 with the ID's
data), mail-first (the address → 【会員登録URLのお知らせ】 → the same steps with a
password, a new individual ID), the terms-opening rule without JavaScript, the
ゲートウェイID + PCS pair check and its limit, the rules (individuals only, once per ID
ever, one running member per gateway) and the member's お客様情報 page."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from models import db, utcnow
from models.account import Account, AccountType
from models.eco import EcoMembership
from models.link import MailLink
from models.points import PointsMember
from tests.conftest import csrf_from, links_in, path_of
from tests.flows.test_dealer_links import make_company, make_gateway, make_owner
from tests.helpers import HX, PASSWORD, login, outbox, without_csrf

GATEWAY = "01AB12345678"
PCS = "PC123456"
EMAIL = "hanako@example.com"
SERVICE = {"service": "enelink"}
INFO = {
    "family_name": "笑顔", "given_name": "花子",
    "family_kana": "えがお", "given_kana": "ﾊﾅｺ",
    "address-postal_code-1": "５４１", "address-postal_code-2": "0055",
    "address-prefecture": "大阪府", "address-city": "大阪市中央区",
    "address-street": "船場中央1丁目4番地5号", "address-building": "",
    "site_address_choice": "same",
    "phone-1": "090", "phone-2": "1234", "phone-3": "5678",
}
NEW_INFO = {**INFO, "password": PASSWORD, "password_confirm": PASSWORD}
MEMBER_FORM = "/points/signup/form"
NEW_FORM = "/points/signup/new"


def count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def eco_member(owner, gateway_id=GATEWAY, pcs=PCS) -> EcoMembership:
    """A gateway of `owner` with a running eco-programme membership."""
    gateway = make_gateway(owner, gateway_id=gateway_id)
    membership = EcoMembership(gateway_id=gateway.id, account_id=owner.id if owner else None,
                               gateway_code=gateway_id, pcs_serial=pcs)
    db.session.add(membership)
    db.session.commit()
    return membership


def step_url(base, step):
    return f"{base}/{step}"


def post(client, base, step, data, htmx=False):
    url = step_url(base, step)
    page = client.get(url, headers=HX if htmx else {})
    token = csrf_from(page.get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token}, headers=HX if htmx else {})


def open_documents(client, base, docs=("terms", "privacy")):
    """Open the documents from STEP2's links, as a person without JavaScript would."""
    html = client.get(step_url(base, "consent")).get_data(as_text=True)
    for doc in docs:
        href = re.search(rf'href="(/points/{doc}\?ref=[^"]+)"', html).group(1)
        assert client.get(href.replace("&amp;", "&")).status_code == 200


def through_consent(client, base, htmx=False):
    assert post(client, base, "service", SERVICE, htmx).status_code in (200, 303)
    open_documents(client, base)
    return post(client, base, "consent", {"agree": "y"}, htmx)


def walk(client, base, info=None, htmx=False, gateway=GATEWAY, pcs=PCS):
    """STEP1 → STEP5 登録する; the response of the last post."""
    through_consent(client, base, htmx)
    response = post(client, base, "pair", {"gateway_code": gateway, "pcs_serial": pcs}, htmx)
    assert response.status_code in (200, 303), response.get_data(as_text=True)
    response = post(client, base, "info", info or (NEW_INFO if base == NEW_FORM else INFO),
                    htmx)
    assert response.status_code in (200, 303), response.get_data(as_text=True)
    return post(client, base, "confirm", {}, htmx)


def signed_in_owner(client, email="owner@example.com"):
    owner = make_owner(email=email)
    login(client, email)
    return owner


def ask(client, email=EMAIL, htmx=False):
    page = client.get("/points/signup")
    return client.post("/points/signup",
                       data={"email": email, "csrf_token": csrf_from(page.get_data(as_text=True))},
                       headers=HX if htmx else {})


def signup_link(email=EMAIL) -> str:
    mails = outbox(email, "points_signup_link")
    assert mails, f"no sign-up mail to {email}"
    return path_of(links_in(mails[-1].text_body)[0])


# -- signed in ---------------------------------------------------------------------------
def test_signed_in_owner_joins_and_the_id_is_updated(client):
    owner = signed_in_owner(client)
    membership = eco_member(owner)
    assert client.get("/points/signup").headers["Location"].endswith(f"{MEMBER_FORM}/service")
    info_page = client.get(step_url(MEMBER_FORM, "info"))
    assert info_page.status_code == 303  # jumping ahead: the first unfinished step
    response = walk(client, MEMBER_FORM)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/points/signup/done")
    done = client.get("/points/signup/done").get_data(as_text=True)
    assert "登録が完了しました" in done and "笑顔 花子 様" in done and 'href="/points/"' in done
    member = db.session.scalar(select(PointsMember))
    assert (member.account_id, member.gateway_id, member.eco_membership_id, member.service) \
        == (owner.id, membership.gateway_id, membership.id, "enelink")
    assert member.install_postal_code is None
    db.session.expire_all()
    account = db.session.get(Account, owner.id)
    assert (account.family_name, account.family_kana, account.given_kana) == ("笑顔", "エガオ", "ハナコ")
    assert (account.postal_code, account.street) == ("5410055", "船場中央1-4-5")
    assert account.phones[0].number == "09012345678"
    mail = outbox("owner@example.com", "points_signup_complete")[-1]
    assert "会員登録完了のお知らせ" in mail.subject
    for text in ("笑顔 花子", GATEWAY, PCS, "/points/terms", "/points/privacy", "/points/"):
        assert text in mail.text_body


def test_the_info_step_is_prefilled_from_the_id(client):
    owner = signed_in_owner(client)
    eco_member(owner)
    through_consent(client, MEMBER_FORM)
    post(client, MEMBER_FORM, "pair", {"gateway_code": GATEWAY, "pcs_serial": PCS})
    html = client.get(step_url(MEMBER_FORM, "info")).get_data(as_text=True)
    assert 'value="山田"' in html and 'value="103"' in html and 'value="0026"' in html
    assert "日本橋兜町2-1" in html


def test_the_flow_with_htmx(client):
    owner = signed_in_owner(client)
    eco_member(owner)
    response = walk(client, MEMBER_FORM, htmx=True)
    assert response.status_code == 200
    assert response.headers["HX-Redirect"].endswith("/points/signup/done")
    assert count(PointsMember) == 1


def test_an_install_address_that_differs_is_kept_on_the_member(client):
    owner = signed_in_owner(client)
    eco_member(owner)
    info = {**INFO, "site_address_choice": "other",
            "site_address-postal_code-1": "103", "site_address-postal_code-2": "0026",
            "site_address-prefecture": "東京都", "site_address-city": "中央区",
            "site_address-street": "日本橋兜町3丁目2番地", "site_address-building": ""}
    assert walk(client, MEMBER_FORM, info=info).status_code == 303
    member = db.session.scalar(select(PointsMember))
    assert (member.install_postal_code, member.install_street) == ("1030026", "日本橋兜町3-2")


# -- the terms rule without JavaScript ----------------------------------------------------
def test_next_is_refused_until_both_documents_were_opened(client):
    owner = signed_in_owner(client)
    eco_member(owner)
    post(client, MEMBER_FORM, "service", SERVICE)
    response = post(client, MEMBER_FORM, "consent", {"agree": "y"})
    assert response.status_code == 422
    assert "両方を開いてご確認ください" in response.get_data(as_text=True)
    open_documents(client, MEMBER_FORM, docs=("terms",))
    assert post(client, MEMBER_FORM, "consent", {"agree": "y"}).status_code == 422
    # A document opened without this draft's reference (or an altered one) does not count.
    assert client.get("/points/privacy").status_code == 200
    assert client.get("/points/privacy?ref=0123456789abcdef").status_code == 200
    assert post(client, MEMBER_FORM, "consent", {"agree": "y"}).status_code == 422
    open_documents(client, MEMBER_FORM, docs=("privacy",))
    unticked = post(client, MEMBER_FORM, "consent", {})
    assert unticked.status_code == 422 and "同意が必要です" in unticked.get_data(as_text=True)
    assert post(client, MEMBER_FORM, "consent", {"agree": "y"}).status_code == 303


# -- the pair ---------------------------------------------------------------------------
PAIR_MESSAGE = "組み合わせが"


@pytest.mark.parametrize("gateway, pcs", [
    ("01AB12345679", PCS),    # another gateway
    (GATEWAY, "PC123457"),    # another PCS
])
def test_a_wrong_pair_is_one_message(client, gateway, pcs):
    owner = signed_in_owner(client)
    eco_member(owner)
    through_consent(client, MEMBER_FORM)
    response = post(client, MEMBER_FORM, "pair", {"gateway_code": gateway, "pcs_serial": pcs})
    assert response.status_code == 422
    assert PAIR_MESSAGE in response.get_data(as_text=True)


def test_another_owners_pair_and_an_ended_membership_are_refused_when_signed_in(client):
    owner = signed_in_owner(client)
    other = make_owner(email="other@example.com")
    eco_member(other)
    ended = eco_member(owner, gateway_id="01AB00000002", pcs="PC000002")
    ended.ended_at = utcnow()
    db.session.commit()
    through_consent(client, MEMBER_FORM)
    for gateway, pcs in ((GATEWAY, PCS), ("01AB00000002", "PC000002")):
        response = post(client, MEMBER_FORM, "pair", {"gateway_code": gateway, "pcs_serial": pcs})
        assert response.status_code == 422 and PAIR_MESSAGE in response.get_data(as_text=True)


@pytest.mark.parametrize("field, value, message", [
    ("gateway_code", "", "入力してください"),
    ("gateway_code", "01AB1234", "英数字12桁"),
    ("gateway_code", "ゲートウェイＩＤです１２", "英数字12桁"),
    ("gateway_code", "01AB\x0012345678", "英数字12桁"),
    ("gateway_code", "0" * 5000, ""),
    ("pcs_serial", "", "入力してください"),
    ("pcs_serial", "PC12", "英数字8桁"),
])
def test_bad_pair_input(client, field, value, message):
    owner = signed_in_owner(client)
    eco_member(owner)
    through_consent(client, MEMBER_FORM)
    response = post(client, MEMBER_FORM, "pair",
                    {"gateway_code": GATEWAY, "pcs_serial": PCS, field: value})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)


def test_full_width_and_lower_case_pairs_are_normalised(client):
    owner = signed_in_owner(client)
    eco_member(owner)
    through_consent(client, MEMBER_FORM)
    response = post(client, MEMBER_FORM, "pair",
                    {"gateway_code": "０１ａｂ１２３４５６７８", "pcs_serial": "pc-123456"})
    assert response.status_code == 303


def test_wrong_pairs_are_limited_like_slips(make_app):
    app = make_app(SLIP_FAILURES_PER_ADDRESS=3, SLIP_FAILURES_PER_ACCOUNT=3)
    with app.app_context():
        client = app.test_client()
        owner = signed_in_owner(client)
        eco_member(owner)
        through_consent(client, MEMBER_FORM)
        for _ in range(3):
            wrong = post(client, MEMBER_FORM, "pair",
                         {"gateway_code": GATEWAY, "pcs_serial": "PC999999"})
            assert PAIR_MESSAGE in wrong.get_data(as_text=True)
        limited = post(client, MEMBER_FORM, "pair", {"gateway_code": GATEWAY, "pcs_serial": PCS})
        assert limited.status_code == 422
        assert "しばらくの間お受けできません" in limited.get_data(as_text=True)


def test_a_gateway_with_a_running_member_is_told_so(client):
    owner = signed_in_owner(client)
    membership = eco_member(owner)
    neighbour = make_owner(email="household@example.com")
    db.session.add(PointsMember(account_id=neighbour.id, gateway_id=membership.gateway_id,
                                eco_membership_id=membership.id, service="enelink",
                                terms_accepted_at=utcnow(), privacy_accepted_at=utcnow()))
    db.session.commit()
    through_consent(client, MEMBER_FORM)
    response = post(client, MEMBER_FORM, "pair", {"gateway_code": GATEWAY, "pcs_serial": PCS})
    assert response.status_code == 422
    assert "すでにポイントサービスに登録されています" in response.get_data(as_text=True)


# -- STEP4 bad input ---------------------------------------------------------------------
@pytest.mark.parametrize("changes, message", [
    ({"family_name": ""}, "入力してください"),
    ({"family_name": "Taro"}, ""),
    ({"family_kana": "yamada"}, ""),
    ({"family_name": "山\x00田"}, ""),
    ({"given_name": "花" * 500}, ""),
    ({"address-postal_code-1": "", "address-postal_code-2": ""}, "入力してください"),
    ({"address-postal_code-1": "54", "address-postal_code-2": "0055"}, ""),
    ({"address-street": "船場中央"}, "番地まで入力してください"),
    ({"phone-1": "", "phone-2": "", "phone-3": ""}, "入力してください"),
    ({"phone-1": "090", "phone-2": "12", "phone-3": ""}, ""),
    ({"site_address_choice": "other"}, "入力してください"),
    ({"site_address_choice": "elsewhere"}, ""),
])
def test_bad_info_is_shown_next_to_its_field_and_kept(client, changes, message):
    owner = signed_in_owner(client)
    eco_member(owner)
    through_consent(client, MEMBER_FORM)
    post(client, MEMBER_FORM, "pair", {"gateway_code": GATEWAY, "pcs_serial": PCS})
    response = post(client, MEMBER_FORM, "info", {**INFO, **changes})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "field-error" in html and message in html
    assert count(PointsMember) == 0


def test_the_confirm_page_shows_everything_masked_and_escaped(client):
    owner = signed_in_owner(client)
    eco_member(owner)
    through_consent(client, MEMBER_FORM)
    post(client, MEMBER_FORM, "pair", {"gateway_code": GATEWAY, "pcs_serial": PCS})
    post(client, MEMBER_FORM, "info", {**INFO, "address-building": "<script>x</script>"})
    html = client.get(step_url(MEMBER_FORM, "confirm")).get_data(as_text=True)
    for text in ("同意済み", "笑顔 花子", "エガオ ハナコ", "541-0055", "090-1234-5678", GATEWAY,
                 PCS, "お客様住所と同じ", "&lt;script&gt;"):
        assert text in html
    assert "<script>x" not in html


def test_a_double_submit_of_register_makes_one_member(client):
    owner = signed_in_owner(client)
    eco_member(owner)
    first = walk(client, MEMBER_FORM)
    token = csrf_from(client.get("/points/signup/done").get_data(as_text=True))
    again = client.post(step_url(MEMBER_FORM, "confirm"), data={"csrf_token": token})
    assert first.headers["Location"] == again.headers["Location"]
    assert count(PointsMember) == 1
    assert len(outbox("owner@example.com", "points_signup_complete")) == 1


# -- the rules --------------------------------------------------------------------------
def test_a_commercial_id_is_told_why(client):
    company = make_company(1)
    login(client, f"admin1@dealer1.example")
    response = client.get(f"{MEMBER_FORM}/service")
    assert response.status_code == 403
    assert "個人のお客様のみ" in response.get_data(as_text=True)
    assert company is not None


def test_a_member_goes_to_the_member_page_and_one_who_left_cannot_join_again(client):
    owner = signed_in_owner(client)
    membership = eco_member(owner)
    member = PointsMember(account_id=owner.id, gateway_id=membership.gateway_id,
                          eco_membership_id=membership.id, service="enelink",
                          terms_accepted_at=utcnow(), privacy_accepted_at=utcnow())
    db.session.add(member)
    db.session.commit()
    assert client.get(f"{MEMBER_FORM}/service").headers["Location"] == "/points/"
    member.left_at = utcnow()
    db.session.commit()
    response = client.get(f"{MEMBER_FORM}/service")
    assert response.status_code == 403
    assert "再入会はできません" in response.get_data(as_text=True)


# -- mail-first -------------------------------------------------------------------------
def test_mail_first_creates_an_individual_id_and_signs_in(client):
    household = make_owner(email="husband@example.com")
    membership = eco_member(household)
    sent = ask(client)
    assert sent.status_code == 200
    page = sent.get_data(as_text=True)
    assert "会員登録用メール送信完了" in page and "24時間" in page and "ログイン画面へ戻る" in page
    mail = outbox(EMAIL, "points_signup_link")[-1]
    assert "会員登録URLのお知らせ" in mail.subject and "24時間" in mail.text_body
    response = client.get(signup_link())
    assert response.headers["Location"].endswith(f"{NEW_FORM}/service")
    response = walk(client, NEW_FORM)
    assert response.status_code == 303
    account = db.session.scalar(select(Account).where(Account.email == EMAIL))
    assert account.account_type == AccountType.PERSONAL and account.activated_at is not None
    assert account.password_hash != PASSWORD
    member = db.session.scalar(select(PointsMember).where(PointsMember.account_id == account.id))
    assert member.eco_membership_id == membership.id
    assert db.session.scalar(select(MailLink)).used_at is not None
    assert client.get("/account/settings").status_code == 200  # signed in
    assert "笑顔 花子 様" in client.get("/points/signup/done").get_data(as_text=True)
    assert outbox(EMAIL, "points_signup_complete")


def test_an_address_with_an_id_gets_the_other_mail_and_the_same_page(client):
    make_owner(email="owner@example.com")
    known = ask(client, "owner@example.com").get_data(as_text=True)
    unknown = ask(client, "nobody@example.com").get_data(as_text=True)

    def page(html, email):
        # (the tokens carry the second they were signed: the two answers may straddle one)
        return re.sub(r'value="[^"]*"', "", without_csrf(html.replace(email, "ADDRESS")))

    assert page(known, "owner@example.com") == page(unknown, "nobody@example.com")
    assert not outbox("owner@example.com", "points_signup_link")
    existing = outbox("owner@example.com", "points_signup_existing")
    assert len(existing) == 1 and "/points/signup" in existing[0].text_body
    ask(client, "owner@example.com")
    assert len(outbox("owner@example.com", "points_signup_existing")) == 1  # once an interval


@pytest.mark.parametrize("email", ["", "not-an-address", "a@b", "ａ@example.com\x00", "x" * 300])
def test_bad_addresses_are_refused_on_the_page(client, email):
    response = ask(client, email)
    assert response.status_code == 422
    assert "field-error" in response.get_data(as_text=True)


def test_expired_spent_and_altered_links(client):
    ask(client)
    link = signup_link()
    db.session.execute(update(MailLink).values(expires_at=utcnow() - timedelta(minutes=1)))
    db.session.commit()
    expired = client.get(link)
    assert expired.status_code == 410 and "24時間" in expired.get_data(as_text=True)
    assert EMAIL in expired.get_data(as_text=True)  # a fresh link in one tap
    assert client.get(link[:-3] + "abc").status_code == 404
    db.session.execute(update(MailLink).values(expires_at=utcnow() + timedelta(hours=1),
                                               used_at=utcnow()))
    db.session.commit()
    assert client.get(link).status_code == 410


def test_the_link_expiring_mid_way_stops_the_wizard(client):
    eco_member(make_owner(email="husband@example.com"))
    ask(client)
    client.get(signup_link())
    post(client, NEW_FORM, "service", SERVICE)
    db.session.execute(update(MailLink).values(expires_at=utcnow() - timedelta(minutes=1)))
    db.session.commit()
    assert client.get(f"{NEW_FORM}/consent").status_code == 410
    assert client.get(f"{NEW_FORM}/service").status_code == 410


def test_mail_first_password_rule(client):
    eco_member(make_owner(email="husband@example.com"))
    ask(client)
    client.get(signup_link())
    through_consent(client, NEW_FORM)
    post(client, NEW_FORM, "pair", {"gateway_code": GATEWAY, "pcs_serial": PCS})
    weak = post(client, NEW_FORM, "info", {**NEW_INFO, "password": "short",
                                           "password_confirm": "short"})
    assert weak.status_code == 422
    differ = post(client, NEW_FORM, "info", {**NEW_INFO, "password_confirm": PASSWORD + "x"})
    assert differ.status_code == 422 and "一致しません" in differ.get_data(as_text=True)


def test_an_address_that_got_an_id_meanwhile_gets_no_second_one(client):
    eco_member(make_owner(email="husband@example.com"))
    ask(client)
    client.get(signup_link())
    through_consent(client, NEW_FORM)
    post(client, NEW_FORM, "pair", {"gateway_code": GATEWAY, "pcs_serial": PCS})
    post(client, NEW_FORM, "info", NEW_INFO)
    make_owner(email=EMAIL)
    response = post(client, NEW_FORM, "confirm", {})
    assert response.status_code == 303
    assert "すでに登録されています" in client.get("/points/signup/done").get_data(as_text=True)
    assert count(Account, Account.email == EMAIL) == 1
    assert count(PointsMember) == 0


# -- /points/info -------------------------------------------------------------------------
def test_the_member_sees_and_edits_the_info(client):
    owner = signed_in_owner(client)
    eco_member(owner)
    walk(client, MEMBER_FORM)
    html = client.get("/points/info").get_data(as_text=True)
    assert "笑顔 花子" in html and GATEWAY in html and "541-0055" in html
    page = client.get("/points/info/edit")
    token = csrf_from(page.get_data(as_text=True))
    changed = {**INFO, "family_name": "笑顔", "given_name": "太郎", "step": "entry",
               "csrf_token": token}
    confirm = client.post("/points/info/edit", data=changed)
    assert confirm.status_code == 200 and "変更する" in confirm.get_data(as_text=True)
    done = client.post("/points/info/edit", data={**changed, "step": "confirm"})
    assert done.status_code == 303
    db.session.expire_all()
    assert db.session.get(Account, owner.id).given_name == "太郎"
    bad = client.post("/points/info/edit", data={**changed, "phone-1": "x"})
    assert bad.status_code == 422


def test_the_info_page_needs_a_membership(client):
    signed_in_owner(client)
    assert client.get("/points/info").headers["Location"].endswith("/points/signup")
    anonymous = client.application.test_client()
    assert "/account/login" in anonymous.get("/points/info").headers["Location"]


# -- real SMTP -----------------------------------------------------------------------------
def test_the_mail_first_sign_up_over_real_smtp(smtp_app, smtp):
    from mail.relay import deliver_pending
    from tests.conftest import SmtpServer

    eco_member(make_owner(email="husband@example.com"))
    client = smtp_app.test_client()
    assert ask(client).status_code == 200
    deliver_pending(limit=50)
    [mail] = smtp.to(EMAIL)
    body = SmtpServer.text_of(mail)
    assert "会員登録URLのお知らせ" in mail["Subject"]
    assert "まだ登録は完了していません" in body and "24時間" in body
    assert smtp_app.config["SUPPORT_PHONE"] in body
    link = path_of(links_in(body)[0])
    stored = db.session.scalar(select(MailLink).where(MailLink.email == EMAIL))
    assert abs(stored.expires_at - stored.created_at - timedelta(hours=24)) < timedelta(minutes=1)
    assert link.rsplit("/", 1)[1] not in stored.token_hash  # hashed, never the token
    client.get(link)
    assert walk(client, NEW_FORM).status_code == 303
    deliver_pending(limit=50)
    welcome = smtp.to(EMAIL)[-1]
    text = SmtpServer.text_of(welcome)
    assert "会員登録完了のお知らせ" in welcome["Subject"]
    for part in ("笑顔 花子", GATEWAY, PCS, "/points/terms", "/points/privacy", "/points/"):
        assert part in text


def test_the_existing_id_mail_goes_over_smtp(smtp_app, smtp):
    from mail.relay import deliver_pending
    from tests.conftest import SmtpServer

    make_owner("owner@example.com")
    ask(smtp_app.test_client(), "owner@example.com")
    deliver_pending(limit=50)
    [mail] = smtp.to("owner@example.com")
    body = SmtpServer.text_of(mail)
    assert "/points/signup" in body and "/account/login" in body
    assert not re.search(r"/points/signup/[A-Za-z0-9_-]{20,}", body)  # no sign-up link


def test_signing_up_while_smtp_is_down_keeps_the_mail_for_later(make_app):
    """The request path only writes the outbox: an SMTP server that is down changes
    nothing for the person (the relay retries later)."""
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=9, MAIL_TIMEOUT_SECONDS=1)
    with app.app_context():
        client = app.test_client()
        response = ask(client)
        assert response.status_code == 200
        from mail.relay import deliver_pending

        deliver_pending(limit=50)
        assert outbox(EMAIL, "points_signup_link")


def test_a_signed_in_person_opening_a_mailed_link_uses_the_ids_wizard(client):
    ask(client)
    link = signup_link()
    signed_in_owner(client)
    assert client.get(link).headers["Location"].endswith("/points/signup")
    assert client.get(f"{NEW_FORM}/service").headers["Location"].endswith("/points/signup")
    assert db.session.scalar(select(MailLink)).used_at is None


def test_the_postal_lookup_button_fills_the_address_from_the_boxes(client):
    owner = signed_in_owner(client)
    eco_member(owner)
    through_consent(client, MEMBER_FORM)
    post(client, MEMBER_FORM, "pair", {"gateway_code": GATEWAY, "pcs_serial": PCS})
    response = post(client, MEMBER_FORM, "info", {
        **INFO, "address-postal_code-1": "103", "address-postal_code-2": "0026",
        "address-prefecture": "", "address-city": "", "address-lookup": "住所を検索"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'value="中央区"' in html and 'value="103"' in html and 'value="0026"' in html


def test_the_info_edit_confirm_page_carries_the_form(client):
    owner = signed_in_owner(client)
    eco_member(owner)
    walk(client, MEMBER_FORM)
    token = csrf_from(client.get("/points/info/edit").get_data(as_text=True))
    confirm = client.post("/points/info/edit", data={
        **INFO, "given_name": "次郎", "site_address_choice": "other",
        "site_address-postal_code-1": "103", "site_address-postal_code-2": "0026",
        "site_address-prefecture": "東京都", "site_address-city": "中央区",
        "site_address-street": "日本橋兜町3-2", "csrf_token": token, "step": "entry"})
    html = confirm.get_data(as_text=True)
    hidden = dict(re.findall(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"',
                             html))
    hidden.update(re.findall(r'<input[^>]*id="step"[^>]*name="(step)"[^>]*value="([^"]*)"', html))
    assert hidden.get("step") == "confirm" and hidden["site_address-postal_code-1"] == "103"
    done = client.post("/points/info/edit", data=hidden)
    assert done.status_code == 303
    db.session.expire_all()
    assert db.session.get(Account, owner.id).given_name == "次郎"
    member = db.session.scalar(select(PointsMember))
    assert (member.install_postal_code, member.install_street) == ("1030026", "日本橋兜町3-2")


@pytest.mark.parametrize("value", ["", "other-service", "enelink\x00", "x" * 5000])
def test_step1_needs_one_of_the_services(client, value):
    signed_in_owner(client)
    response = post(client, MEMBER_FORM, "service", {"service": value})
    assert response.status_code == 422 and "field-error" in response.get_data(as_text=True)


def test_the_address_page_with_htmx_swaps_its_card(client):
    response = ask(client, htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "会員登録用メール送信完了" in html
    assert "<html" not in html
    bad = ask(client, "nope", htmx=True)
    assert bad.status_code == 422 and "<html" not in bad.get_data(as_text=True)


def test_a_double_submit_of_the_mail_first_last_step_makes_one_id(client):
    eco_member(make_owner(email="husband@example.com"))
    ask(client)
    client.get(signup_link())
    first = walk(client, NEW_FORM)
    token = csrf_from(client.get("/points/signup/done").get_data(as_text=True))
    again = client.post(f"{NEW_FORM}/confirm", data={"csrf_token": token})
    assert first.headers["Location"] == again.headers["Location"]
    assert count(Account, Account.email == EMAIL) == 1 and count(PointsMember) == 1
