"""Account settings: personal data, company data, employees and invitations, deletion."""
from __future__ import annotations

from sqlalchemy import inspect, select, text

from models import db
from models.account import Account, AccountType, Company, CompanyRole
from models.link import MailLink
from tests.conftest import csrf_from, page_token
from tests.helpers import PASSWORD, last_link, login, outbox, signed_up_and_active

INVITEE_PASSWORD = "Green-Panel-2026#"


def account(email) -> Account | None:
    db.session.expire_all()
    return db.session.scalar(select(Account).where(Account.email == email))


def commercial(client, email="boss@example.com"):
    signed_up_and_active(client, email=email, account_type="commercial")
    login(client, email=email)


def test_personal_info_edit(client):
    signed_up_and_active(client)
    login(client)
    token = page_token(client, "/account/settings/personal")
    response = client.post("/account/settings/personal", data={
        "csrf_token": token, "family_name": "佐藤", "given_name": "次郎",
        "phones-0-kind": "landline", "phones-0-number": "０３－１２３４－５６７８",
        "department": "総務", "position": "", "language": "en", **ADDRESS})
    assert response.status_code == 303
    changed = account("taro@example.com")
    assert (changed.family_name, changed.given_name) == ("佐藤", "次郎")
    assert changed.phones[0].number == "0312345678" and changed.language == "en"
    page = client.get("/account/settings/personal").get_data(as_text=True)
    assert "Personal information" in page or 'lang="en"' in page
    # shown back as stored (the phones read for the page, in their order)
    assert '<option selected value="landline">' in page and 'value="03-1234-5678"' in page


ADDRESS = {"address-postal_code": "1030026", "address-prefecture": "東京都",
           "address-city": "中央区", "address-street": "日本橋兜町1-2-3",
           "address-building": ""}


def test_the_personal_fields_are_drawn_once_for_what_they_show(app, client):
    """個人情報's GET draws its fields once per process for the stored data, the e-mail
    shown and the language (views._personal_fields); a change of any draws them anew,
    and the per-session CSRF token is never part of what is kept."""
    from flask import template_rendered

    drawn = []

    def record(_app, template, context, **_extra):
        if template.name == "account/_personal_fields.html":
            drawn.append(context["form"].family_name.data)

    signed_up_and_active(client)
    login(client)
    template_rendered.connect(record, app)
    try:
        first = client.get("/account/settings/personal").get_data(as_text=True)
        again = client.get("/account/settings/personal").get_data(as_text=True)
        assert drawn == ["山田"] and 'value="山田"' in first and 'value="山田"' in again
        assert csrf_from(first) and csrf_from(again)
        other = app.test_client()
        signed_up_and_active(other, email="hanako@example.com")
        login(other, email="hanako@example.com")
        page = other.get("/account/settings/personal").get_data(as_text=True)
        assert "hanako@example.com" in page and "taro@example.com" not in page
        assert csrf_from(page) != csrf_from(again)
        drawn.clear()
        response = client.post("/account/settings/personal", data={
            "csrf_token": csrf_from(again), "family_name": "佐藤", "given_name": "太郎",
            "phones-0-kind": "mobile", "phones-0-number": "090-1234-5678",
            "department": "", "position": "", "language": "ja", **ADDRESS})
        assert response.status_code == 303
        changed = client.get("/account/settings/personal").get_data(as_text=True)
        assert drawn == ["佐藤"] and 'value="佐藤"' in changed and 'value="山田"' not in changed
        account("taro@example.com").language = "en"
        db.session.commit()
        english = client.get("/account/settings/personal").get_data(as_text=True)
        assert drawn == ["佐藤", "佐藤"] and "Family name" in english
    finally:
        template_rendered.disconnect(record, app)


def test_personal_address_and_furigana_are_editable(client):
    signed_up_and_active(client)
    login(client)
    page = client.get("/account/settings/personal").get_data(as_text=True)
    # What the sign-up stored is shown back, in the sign-up's address block.
    assert 'value="1030026"' in page and 'value="日本橋兜町1-2-3"' in page
    assert '<option selected value="東京都">' in page and 'name="address-lookup"' in page
    assert 'hx-get="/postal-code"' in page
    assert 'name="family_kana"' in page
    token = csrf_from(page)
    form = {"csrf_token": token, "family_name": "山田", "given_name": "太郎",
            "family_kana": "やまだ", "given_kana": "たろう",
            "phones-0-kind": "mobile", "phones-0-number": "09012345678", "language": "ja",
            "address-postal_code": "５４１－００５５", "address-prefecture": "",
            "address-city": "", "address-street": "", "address-building": ""}
    # 住所を検索 without JavaScript fills the prefecture and city, saving nothing.
    lookup = client.post("/account/settings/personal",
                         data={**form, "address-lookup": "住所を検索"})
    assert lookup.status_code == 200
    body = lookup.get_data(as_text=True)
    assert '<option selected value="大阪府">' in body and 'value="大阪市中央区"' in body
    assert account("taro@example.com").postal_code == "1030026"
    missing = client.post("/account/settings/personal", data=form)
    assert missing.status_code == 422 and 'id="address-city-error"' in missing.get_data(
        as_text=True)
    saved = client.post("/account/settings/personal", data={
        **form, "address-prefecture": "大阪府", "address-city": "大阪市中央区",
        "address-street": "船場中央１－４－５", "address-building": "船場ビル2F"})
    assert saved.status_code == 303
    changed = account("taro@example.com")
    assert (changed.postal_code, changed.prefecture, changed.city, changed.street,
            changed.building) == ("5410055", "大阪府", "大阪市中央区", "船場中央1-4-5",
                                  "船場ビル2F")
    assert (changed.family_kana, changed.given_kana) == ("ヤマダ", "タロウ")
    again = client.get("/account/settings/personal").get_data(as_text=True)
    assert 'value="船場中央1-4-5"' in again and 'value="ヤマダ"' in again


def test_a_commercial_accounts_address_is_its_companys(client):
    commercial(client)
    page = client.get("/account/settings/personal").get_data(as_text=True)
    assert 'name="address-postal_code"' not in page and 'name="family_kana"' in page
    response = client.post("/account/settings/personal", data={
        "csrf_token": csrf_from(page), "family_name": "山田", "given_name": "太郎",
        "given_kana": "タロウ", "phones-0-kind": "mobile", "phones-0-number": "08011112222",
        "department": "工事部", "position": "課長", "language": "ja"})
    assert response.status_code == 303
    assert account("boss@example.com").given_kana == "タロウ"


def test_personal_info_invalid_keeps_input(client):
    signed_up_and_active(client)
    login(client)
    token = page_token(client, "/account/settings/personal")
    response = client.post("/account/settings/personal", data={
        "csrf_token": token, "family_name": "Sato", "given_name": "次郎",
        "phones-0-kind": "mobile", "phones-0-number": "12", "language": "ja"})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert 'value="Sato"' in body and "全角" in body
    assert account("taro@example.com").family_name == "山田"


def test_company_pages_are_for_commercial_accounts_only(client):
    signed_up_and_active(client)
    login(client)
    assert client.get("/account/settings/company").status_code == 404
    assert client.get("/account/settings/employees").status_code == 404


def test_company_info_edit(client):
    commercial(client)
    page = client.get("/account/settings/company").get_data(as_text=True)
    assert "テスト電設株式会社" in page
    data = {
        "csrf_token": csrf_from(page), "company_name": "新テスト電設株式会社",
        "company_kind": "dealer", "registration_number": "",
        "company_address-postal_code": "1030026", "company_address-prefecture": "東京都",
        "company_address-city": "中央区", "company_address-street": "日本橋兜町3-3",
        "company_address-building": "", "company_email": "new@denki.example",
        "website": "", "company_phone": "0312345678",
    }
    assert client.post("/account/settings/company", data=data).status_code == 303
    company = account("boss@example.com").company
    assert company.name == "新テスト電設株式会社" and company.street == "日本橋兜町3-3"


def invite(client, email="worker@example.com"):
    token = page_token(client, "/account/settings/employees")
    return client.post("/account/settings/employees", data={
        "csrf_token": token, "family_name": "田中", "given_name": "三郎", "email": email})


def accept_invitation(member, email="worker@example.com"):
    """The invitee opens the mailed link and joins with a name and a password."""
    link = last_link(email, "invitation")
    body = member.get(link).get_data(as_text=True)
    return member.post(link, data={"csrf_token": csrf_from(body), "family_name": "田中",
                                   "given_name": "三郎", "password": INVITEE_PASSWORD,
                                   "password_confirm": INVITEE_PASSWORD})


def test_invite_a_new_employee(client, app):
    commercial(client)
    assert invite(client).status_code == 303
    assert "招待中" in client.get("/account/settings/employees").get_data(as_text=True)
    link = last_link("worker@example.com", "invitation")
    invitee = app.test_client()
    page = invitee.get(link)
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "テスト電設株式会社" in body and 'value="田中"' in body
    joined = invitee.post(link, data={
        "csrf_token": csrf_from(body), "family_name": "田中", "given_name": "三郎",
        "password": INVITEE_PASSWORD, "password_confirm": INVITEE_PASSWORD})
    assert joined.status_code == 303
    member = account("worker@example.com")
    assert member.is_active and member.company_id == account("boss@example.com").company_id
    assert member.company_role == CompanyRole.MEMBER
    assert invitee.get(link).status_code == 410  # spent
    assert login(invitee, email="worker@example.com", password=INVITEE_PASSWORD).status_code == 303
    # The employee list finds the new member by name and by e-mail.
    listing = client.get("/account/settings/employees?q=田中").get_data(as_text=True)
    assert "worker@example.com" in listing and "boss@example.com" not in listing
    partial = client.get("/account/settings/employees?q=worker", headers={"HX-Request": "true"})
    assert partial.get_data(as_text=True).lstrip().startswith('<div id="employee-list">')


def test_invite_merges_an_existing_id(client, app):
    commercial(client)
    existing = app.test_client()
    signed_up_and_active(existing, email="solo@example.com")
    invite(client, "solo@example.com")
    link = last_link("solo@example.com", "invitation")
    page = existing.get(link)
    assert "すでにアカウントをお持ちです" in page.get_data(as_text=True)
    login(existing, email="solo@example.com")
    merge_page = existing.get(link)
    assert "統合" in merge_page.get_data(as_text=True)
    merged = existing.post(link, data={"csrf_token": csrf_from(merge_page.get_data(as_text=True))})
    assert merged.status_code == 303
    solo = account("solo@example.com")
    assert solo.account_type == AccountType.COMMERCIAL
    assert solo.company_id == account("boss@example.com").company_id


def test_invitation_cannot_be_used_by_another_signed_in_account(client, app):
    commercial(client)
    existing = app.test_client()
    signed_up_and_active(existing, email="solo@example.com")
    intruder = app.test_client()
    signed_up_and_active(intruder, email="intruder@example.com")
    login(intruder, email="intruder@example.com")
    invite(client, "solo@example.com")
    link = last_link("solo@example.com", "invitation")
    page = intruder.get(link).get_data(as_text=True)
    assert "別のアカウントでログインしています" in page
    assert account("intruder@example.com").company_id is None


def test_only_the_company_admin_invites(client, app):
    commercial(client)
    invite(client)
    member = app.test_client()
    accept_invitation(member)
    login(member, email="worker@example.com", password=INVITEE_PASSWORD)
    assert member.get("/account/settings/employees").status_code == 200
    assert invite(member, "other@example.com").status_code == 403
    assert outbox("other@example.com") == []


def _rows_referring_to(account_id: int, email: str) -> dict[str, int]:
    """Count, in every table, the rows whose account columns or text mention the account."""
    counts = {}
    inspector = inspect(db.session.connection())
    for table in db.metadata.sorted_tables:
        clauses = []
        for fk in inspector.get_foreign_keys(table.name):
            if fk["referred_table"] == "account":
                clauses += [f'"{c}" = :id' for c in fk["constrained_columns"]]
        if table.name == "account":
            clauses.append("id = :id")
        for column in table.columns:
            if str(column.type).upper().startswith(("VARCHAR", "TEXT", "JSON")):
                clauses.append(f'lower(CAST("{column.name}" AS TEXT)) LIKE :email')
        if clauses:
            sql = f'SELECT count(*) FROM "{table.name}" WHERE ' + " OR ".join(clauses)
            counts[table.name] = db.session.execute(
                text(sql), {"id": account_id, "email": f"%{email.lower()}%"}).scalar()
    return {name: count for name, count in counts.items() if count}


def test_delete_account_removes_everything(client):
    signed_up_and_active(client)
    login(client)
    victim = account("taro@example.com")
    victim_id = victim.id
    assert _rows_referring_to(victim_id, "taro@example.com")  # the check finds rows
    page = client.get("/account/delete").get_data(as_text=True)
    assert "元に戻すことはできません" in page
    unconfirmed = client.post("/account/delete", data={"csrf_token": csrf_from(page),
                                                       "password": PASSWORD})
    assert unconfirmed.status_code == 422 and account("taro@example.com") is not None
    wrong = client.post("/account/delete", data={"csrf_token": csrf_from(page), "confirm": "y",
                                                 "password": "Wrong-Password-1!"})
    assert wrong.status_code == 422 and account("taro@example.com") is not None
    response = client.post("/account/delete", data={"csrf_token": csrf_from(page), "confirm": "y",
                                                    "password": PASSWORD})
    assert response.status_code == 303
    assert _rows_referring_to(victim_id, "taro@example.com") == {}
    assert client.get("/account/settings").status_code == 302
    assert login(client).status_code == 401


def test_deleting_the_admin_hands_the_company_to_an_employee(client, app):
    commercial(client)
    invite(client)
    member = app.test_client()
    accept_invitation(member)
    boss_id = account("boss@example.com").id
    page = client.get("/account/delete").get_data(as_text=True)
    client.post("/account/delete", data={"csrf_token": csrf_from(page), "confirm": "y",
                                         "password": PASSWORD})
    assert _rows_referring_to(boss_id, "boss@example.com") == {}
    worker = account("worker@example.com")
    assert worker.company_role == CompanyRole.ADMIN
    assert db.session.scalars(select(Company)).one().id == worker.company_id


def test_deleting_the_last_member_removes_the_company(client):
    commercial(client)
    invite(client)
    page = client.get("/account/delete").get_data(as_text=True)
    client.post("/account/delete", data={"csrf_token": csrf_from(page), "confirm": "y",
                                         "password": PASSWORD})
    assert db.session.scalars(select(Company)).all() == []
    assert db.session.scalars(select(MailLink)).all() == []
