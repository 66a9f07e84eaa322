"""Sign-up in three steps, as plain form posts and as HTMX partial requests."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from models import db
from models.account import Account, AccountType, CompanyRole
from models.wizard import WizardDraft
from tests.conftest import csrf_from
from tests.helpers import (
    COMMERCIAL_DETAILS,
    HX,
    NAME_STEP,
    PASSWORD,
    PERSONAL_DETAILS,
    last_link,
    login,
    outbox,
    post_step,
    sign_up,
)


def account(email="taro@example.com") -> Account | None:
    db.session.expire_all()
    return db.session.scalar(select(Account).where(Account.email == email))


def test_signup_redirects_to_first_step(client):
    response = client.get("/account/signup")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/account/signup/name")


def test_plain_posts_walk_the_three_steps(client):
    first = post_step(client, "name", NAME_STEP)
    assert first.status_code == 303
    assert first.headers["Location"].endswith("/account/signup/type")
    second = post_step(client, "type", {"account_type": "personal"})
    assert second.headers["Location"].endswith("/account/signup/details")
    page = client.get("/account/signup/details").get_data(as_text=True)
    assert "郵便番号" in page and "利用規約" in page and "会社名" not in page
    third = post_step(client, "details", PERSONAL_DETAILS)
    assert third.status_code == 303
    assert third.headers["Location"].endswith("/account/signup/done")
    done = client.get("/account/signup/done").get_data(as_text=True)
    assert "一次登録完了" in done and "taro@example.com" in done

    created = account()
    assert created.activated_at is None
    assert created.account_type == AccountType.PERSONAL
    assert created.street == "日本橋兜町1-2-3"
    assert created.postal_code == "1030026"
    assert created.phones[0].number == "09012345678"
    assert created.password_hash != PASSWORD and created.password_hash.startswith("$argon2")
    assert [m.kind for m in outbox("taro@example.com")] == ["activation"]
    # What was typed is gone from the draft; only the way to the result stays.
    [draft] = db.session.scalars(select(WizardDraft)).all()
    assert draft.data == {"finished": {"target": "/account/signup/done",
                                       "session": {"signup_email": "taro@example.com"}}}


def test_htmx_steps_swap_partials_and_push_urls(client):
    first = post_step(client, "name", NAME_STEP, htmx=True)
    assert first.status_code == 200
    assert first.headers["HX-Push-Url"] == "/account/signup/type"
    body = first.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="wizard"') and "<html" not in body
    assert "個人ユーザーアカウント" in body
    assert "HX-Request" in first.headers.get("Vary", "")
    second = post_step(client, "type", {"account_type": "commercial"}, htmx=True)
    assert second.headers["HX-Push-Url"] == "/account/signup/details"
    assert "会社名" in second.get_data(as_text=True)
    third = post_step(client, "details", COMMERCIAL_DETAILS, htmx=True)
    assert third.status_code == 200
    assert third.headers["HX-Redirect"] == "/account/signup/done"
    created = account()
    assert created.account_type == AccountType.COMMERCIAL
    assert created.company.name == "テスト電設株式会社"
    assert created.company.registration_number == "7000012050002"
    assert created.company_role == CompanyRole.ADMIN
    assert created.newsletter is True


def test_invalid_step_is_422_with_messages_and_keeps_input(client):
    bad = {**NAME_STEP, "family_name": "", "email": "not-an-address", "password": "short"}
    response = post_step(client, "name", bad, htmx=True)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "入力してください" in body
    assert 'value="not-an-address"' in body
    assert 'aria-invalid="true"' in body
    plain = post_step(client, "name", bad)
    assert plain.status_code == 422
    assert "<html" in plain.get_data(as_text=True)


def test_mismatched_password_confirmation(client):
    response = post_step(client, "name", {**NAME_STEP, "password_confirm": PASSWORD + "x"})
    assert response.status_code == 422
    assert "パスワードが一致しません" in response.get_data(as_text=True)


def test_jumping_ahead_goes_back_to_first_unfinished_step(client):
    response = client.get("/account/signup/details")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/account/signup/name")
    post_step(client, "name", NAME_STEP)
    response = client.get("/account/signup/details")
    assert response.headers["Location"].endswith("/account/signup/type")
    token = csrf_from(client.get("/account/signup/type").get_data(as_text=True))
    posted = client.post("/account/signup/details", data={**PERSONAL_DETAILS, "csrf_token": token})
    assert posted.headers["Location"].endswith("/account/signup/type")
    assert account() is None


def test_unknown_step_is_404(client):
    assert client.get("/account/signup/payment").status_code == 404


def test_back_keeps_what_was_typed(client):
    post_step(client, "name", NAME_STEP)
    page = client.get("/account/signup/name").get_data(as_text=True)
    assert 'value="taro@example.com"' in page and 'value="山田"' in page
    assert PASSWORD not in page


def test_draft_never_holds_the_password(client):
    post_step(client, "name", NAME_STEP)
    draft = db.session.scalars(select(WizardDraft)).one()
    assert PASSWORD not in str(draft.data)
    assert draft.data["secrets"]["password"].startswith("$argon2")


def test_consents_are_required(client):
    details = {k: v for k, v in PERSONAL_DETAILS.items() if not k.startswith("accept_")}
    post_step(client, "name", NAME_STEP)
    post_step(client, "type", {"account_type": "personal"})
    response = post_step(client, "details", details)
    assert response.status_code == 422
    assert response.get_data(as_text=True).count("同意が必要です") == 2
    assert account() is None


def test_email_taken_between_steps_makes_no_second_account(client, app):
    """Someone else finishes first with the same address: this sign-up ends on the same
    「一次登録完了」 page, makes no second account, and the address's owner is told."""
    post_step(client, "name", NAME_STEP)
    post_step(client, "type", {"account_type": "personal"})
    sign_up(app.test_client())  # someone else finishes first with the same address
    response = post_step(client, "details", PERSONAL_DETAILS)
    assert response.status_code == 303
    assert response.headers["Location"] == "/account/signup/done"
    assert len(db.session.scalars(select(Account)).all()) == 1
    assert [m.kind for m in outbox("taro@example.com")] == ["activation", "account_exists"]


def test_postal_lookup_button_fills_address_without_javascript(client):
    post_step(client, "name", NAME_STEP)
    post_step(client, "type", {"account_type": "personal"})
    response = post_step(client, "details", {
        "address-postal_code": "１０３－００２６", "address-lookup": "住所を検索",
        "address-prefecture": "", "address-city": "", "address-street": "",
        "phone": "0901",
    })
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert '<option selected value="東京都">' in body
    assert 'value="中央区"' in body and 'value="日本橋兜町"' in body
    assert "入力してください" not in body  # a lookup validates nothing
    assert account() is None


def test_postal_lookup_partial_for_htmx(client):
    response = client.get("/postal-code", query_string={
        "prefix": "address-", "address-postal_code": "103-0026"}, headers=HX)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert 'id="address-address-auto"' in body and 'value="中央区"' in body
    assert client.get("/postal-code", query_string={
        "prefix": "address-", "address-postal_code": "103"}).status_code == 204
    unknown = client.get("/postal-code", query_string={
        "prefix": "address-", "address-postal_code": "0000000"})
    assert "見つかりませんでした" in unknown.get_data(as_text=True)
    assert client.get("/postal-code", query_string={"prefix": "<x>"}).status_code == 400


def test_add_another_phone_without_javascript(client):
    post_step(client, "name", NAME_STEP)
    post_step(client, "type", {"account_type": "commercial"})
    response = post_step(client, "details", {**COMMERCIAL_DETAILS, "add_phone": "1"})
    assert response.status_code == 200
    assert 'name="phones-1-number"' in response.get_data(as_text=True)
    response = post_step(client, "details", {
        **COMMERCIAL_DETAILS, "phones-1-kind": "office", "phones-1-number": "0312345679"})
    assert response.status_code == 303
    assert [p.number for p in account().phones] == ["08011112222", "0312345679"]


def test_live_password_checklist_partial(client):
    token = csrf_from(client.get("/account/signup/name").get_data(as_text=True))
    response = client.post("/account/password/checklist",
                           data={"password": "abcDEF", "csrf_token": token}, headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.count('class="ok"') == 3  # upper, lower, allowed characters
    strong = client.post("/account/password/checklist",
                         data={"password": PASSWORD, "csrf_token": token}, headers=HX)
    assert strong.get_data(as_text=True).count('class="ok"') == 6
    assert client.post("/account/password/checklist",
                       data={"password": "x"}).status_code == 400


@pytest.mark.parametrize("htmx", [False, True])
def test_activation_then_sign_in(client, htmx):
    sign_up(client, htmx=htmx)
    refused = login(client)
    assert refused.status_code == 401
    assert "まだ有効になっていません" in refused.get_data(as_text=True)
    activated = client.get(last_link("taro@example.com", "activation"))
    assert activated.status_code == 200
    assert "アカウントが有効になりました" in activated.get_data(as_text=True)
    response = login(client)
    assert response.status_code == 303
    home = client.get("/").get_data(as_text=True)
    assert "山田 太郎" in home


def test_furigana_is_optional_at_step_one_and_kept(client):
    page = client.get("/account/signup/name").get_data(as_text=True)
    assert 'name="family_kana"' in page and 'name="given_kana"' in page
    bad = post_step(client, "name", {**NAME_STEP, "family_kana": "Yamada"})
    assert bad.status_code == 422
    assert 'id="family_kana-error"' in bad.get_data(as_text=True)
    assert 'value="Yamada"' in bad.get_data(as_text=True)
    sign_up(client, name={"family_kana": "やまだ", "given_kana": "ﾀﾛｳ"})
    created = account()
    assert (created.family_kana, created.given_kana) == ("ヤマダ", "タロウ")
    sign_up(type(client)(client.application), email="jiro@example.com")
    assert account("jiro@example.com").family_kana is None


def test_the_mailing_step_is_limited_per_client_and_the_others_are_not(make_app):
    """The last step writes an account or tells the address's owner, by mail: it counts
    against MAIL_SENDING_LIMIT per client address; corrections on the earlier steps and
    invalid final posts never use the limit up for a rightful user."""
    app = make_app(MAIL_SENDING_LIMIT="2 per minute")
    with app.app_context():
        client = app.test_client()
        for _ in range(5):  # the first two steps, as often as one likes
            assert post_step(client, "name", NAME_STEP).status_code == 303
            assert post_step(client, "type", {"account_type": "personal"}).status_code == 303
        answers = []
        for n in range(3):
            post_step(client, "name", {**NAME_STEP, "email": f"taro{n}@example.com"})
            post_step(client, "type", {"account_type": "personal"})
            answers.append(post_step(client, "details", PERSONAL_DETAILS).status_code)
        assert answers == [303, 303, 429]
        other = app.test_client()
        other.environ_base["REMOTE_ADDR"] = "192.0.2.7"
        post_step(other, "name", {**NAME_STEP, "email": "hanako@example.com"})
        post_step(other, "type", {"account_type": "personal"})
        assert post_step(other, "details", PERSONAL_DETAILS).status_code == 303
