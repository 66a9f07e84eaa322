"""The staff desk of the support center (issue 12 "Staff desk", 000-49, 000-52): the queue
with its filters and search, a case with its thread, replies (mailed), internal notes (never
to the customer), state and assignee (audited), files, the categories of the case form and
the knowledge-base articles; bad input everywhere, double submits.

Cases are filed with the foundation's `cases.file_case`, as the customer's form does; what
the customer is shown is checked on the customer's own pages (`support.case`,
`support.case_file`)."""
from __future__ import annotations

import io
import re
import struct
import zlib
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from blueprints.core import registry
from blueprints.core.staff import SUPPORT
from blueprints.support import cases
from mail.relay import deliver_pending
from models import db, utcnow
from models.account import Account, AccountPhone
from models.audit import AuditEvent
from models.support import (CaseState, KbArticle, SupportCase, SupportCategory,
                            SupportDetail, SupportFile, SupportMessage)
from tests.conftest import csrf_from
from tests.flows.test_dealer_links import make_company, make_gateway, make_owner
from tests.helpers import HX, login, statements
from tests.helpers import make_staff as grant_staff

STAFF = "staff@example.com"
OWNER = "owner@example.com"


# -- the world ---------------------------------------------------------------------------------
def make_staff(email=STAFF, family="高橋", given="美咲") -> Account:
    staff = make_owner(email, family, given)
    return grant_staff(staff, SUPPORT)


def make_customer(email=OWNER, family="山田", given="太郎", phone="09012345678") -> Account:
    account = make_owner(email, family, given)
    if phone:
        db.session.add(AccountPhone(account_id=account.id, kind="mobile", number=phone))
        db.session.commit()
    return account


def category(index: int = 0) -> SupportCategory:
    cases.ensure_default_categories()
    return cases.active_categories()[index]


def file_case(account: Account, subject="蓄電池が充電しない", body="昨日から充電されません。",
              serial=None, category_index=0, gateway=None, detail=True) -> SupportCase:
    chosen = category(category_index)
    details = cases.active_details(chosen.id)
    case, created = cases.file_case(account, cases.CaseFields(
        subject=subject, body=body, site_name="自宅", category_id=chosen.id,
        detail_id=details[0].id if detail and details else None,
        gateway_id=gateway.id if gateway else None, device_type="蓄電池", serial=serial,
        error_code="E-101"), [], None)
    assert created
    return case


def set_case(number: str, **values) -> None:
    case = db.session.scalar(select(SupportCase).where(SupportCase.number == number))
    for key, value in values.items():
        setattr(case, key, value)
    db.session.commit()


def fresh_case(number: str) -> SupportCase:
    db.session.expire_all()
    return db.session.scalar(select(SupportCase).where(SupportCase.number == number))


def staff_client(app, email=STAFF):
    client = app.test_client()
    assert login(client, email).status_code == 303
    return client


def audits(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                   .order_by(AuditEvent.id)))


def png_bytes() -> bytes:
    """A real 1×1 PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def case_page(client, number: str) -> str:
    response = client.get(f"/staff/support/cases/{number}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def form_values(html: str, form_id: str) -> dict:
    """The hidden csrf_token and request_key of one form of the page."""
    form = re.search(rf'<form[^>]*id="{form_id}".*?</form>', html, re.S).group(0)
    token = re.search(r'name="((?:\w+-)?csrf_token)"[^>]*value="([^"]+)"', form)
    values = {token.group(1): token.group(2)}
    key = re.search(r'name="((?:\w+-)?request_key)"[^>]*value="([^"]+)"', form)
    if key:
        values[key.group(1)] = key.group(2)
    return values


def post_reply(client, number, body="点検の日程をご連絡します。", new_state="waiting", files=(),
               values=None, headers=None):
    values = values or form_values(case_page(client, number), "reply-form")
    data = {**values, "body": body, "new_state": new_state}
    if files:
        data["files"] = [(io.BytesIO(content), name) for name, content in files]
    return client.post(f"/staff/support/cases/{number}/reply", data=data,
                       content_type="multipart/form-data", headers=headers or {})


def post_note(client, number, body="お客様に電話で確認済み。", files=(), values=None):
    values = values or form_values(case_page(client, number), "note-form")
    data = {**values, "note-body": body}
    if files:
        data["note-files"] = [(io.BytesIO(content), name) for name, content in files]
    return client.post(f"/staff/support/cases/{number}/note", data=data,
                       content_type="multipart/form-data")


def new_mail(smtp) -> list:
    deliver_pending(limit=200)
    with smtp.lock:
        arrived = list(smtp.messages)
        smtp.messages.clear()
    return arrived


def queue_numbers(client, query: str = "", headers=None) -> list[str]:
    response = client.get("/staff/support/" + (f"?{query}" if query else ""),
                          headers=headers or {})
    assert response.status_code == 200, response.get_data(as_text=True)
    html = response.get_data(as_text=True)
    return re.findall(r'href="/staff/support/cases/(\d{9})"', html)


# -- who may open the desk ------------------------------------------------------------------------
def test_anonymous_visitors_sign_in_and_customers_get_404_everywhere(app):
    owner = make_customer()
    make_staff()
    case = file_case(owner)
    article = KbArticle(title="停電時の動作", body="本文", published=True)
    db.session.add(article)
    db.session.commit()
    detail_id = db.session.scalar(select(func.min(SupportDetail.id)))
    category_id = db.session.scalar(select(func.min(SupportCategory.id)))
    gets = ["/staff/support/", f"/staff/support/cases/{case.number}",
            f"/staff/support/cases/{case.number}/files/1", "/staff/support/categories",
            "/staff/support/articles", "/staff/support/articles/new",
            f"/staff/support/articles/{article.id}"]
    posts = [f"/staff/support/cases/{case.number}/reply", f"/staff/support/cases/{case.number}/note",
             f"/staff/support/cases/{case.number}/state",
             f"/staff/support/cases/{case.number}/assign", "/staff/support/categories",
             f"/staff/support/categories/{category_id}",
             f"/staff/support/categories/{category_id}/details",
             f"/staff/support/categories/details/{detail_id}", "/staff/support/articles/new",
             f"/staff/support/articles/{article.id}"]
    anonymous = app.test_client()
    for path in gets:
        response = anonymous.get(path)
        assert response.status_code == 302 and "/account/login" in response.location, path
    customer = app.test_client()
    assert login(customer, OWNER).status_code == 303
    token = csrf_from(customer.get("/account/settings").get_data(as_text=True))
    for path in gets:
        assert customer.get(path).status_code == 404, path
    for path in posts:
        response = customer.post(path, data={"csrf_token": token, "body": "乗っ取り",
                                             "state": "closed", "name": "x", "position": "1",
                                             "title": "x", "new_state": "closed"})
        assert response.status_code == 404, path
    db.session.expire_all()
    assert fresh_case(case.number).state == CaseState.NEW
    assert db.session.scalar(select(func.count()).select_from(SupportMessage)) == 1
    staff = staff_client(app)
    for path in gets[:2] + gets[3:]:
        assert staff.get(path).status_code == 200, path


def test_staff_find_the_desk_on_the_launcher_and_customers_do_not(app):
    staff = make_staff()
    owner = make_customer()
    staff_tiles = [tile.endpoint for tile in registry.launcher_tiles(staff)]
    assert "support_staff.queue" in staff_tiles
    assert "support_staff.queue" not in [t.endpoint for t in registry.launcher_tiles(owner)]
    page = staff_client(app).get("/").get_data(as_text=True)
    assert "サポートデスク" in page and 'href="/staff/support/"' in page


# -- the queue --------------------------------------------------------------------------------------
def test_the_queue_lists_cases_still_being_worked_on_oldest_activity_first(app):
    owner = make_customer()
    make_staff()
    older, newer, resolved, closed, waiting = (file_case(owner, subject=f"件名{i}")
                                               for i in range(5))
    now = utcnow()
    set_case(older.number, updated_at=now - timedelta(days=5))
    set_case(newer.number, updated_at=now - timedelta(hours=2))
    set_case(waiting.number, state=CaseState.WAITING, updated_at=now - timedelta(days=2))
    set_case(resolved.number, state=CaseState.RESOLVED)
    set_case(closed.number, state=CaseState.CLOSED)
    client = staff_client(app)
    assert queue_numbers(client) == [older.number, waiting.number, newer.number]
    html = client.get("/staff/support/").get_data(as_text=True)
    for heading in ("ケース番号", "件名", "状態", "サポート内容", "起票者", "担当", "受付",
                    "最終更新", "経過"):
        assert f'data-label="{heading}"' in html
    assert "山田 太郎" in html and OWNER in html and "5日" in html and "2時間" in html
    assert "未割当" in html and "お客様回答待ち" in html
    assert queue_numbers(client, "state=resolved") == [resolved.number]
    assert queue_numbers(client, "state=closed") == [closed.number]
    assert queue_numbers(client, "state=waiting") == [waiting.number]
    assert set(queue_numbers(client, "state=all")) == {c.number for c in (
        older, newer, resolved, closed, waiting)}


def test_queue_filters_by_category_age_and_assignee(app):
    owner = make_customer()
    me = make_staff()
    colleague = make_staff("colleague@example.com", "伊藤", "健")
    first = file_case(owner, category_index=0)
    second = file_case(owner, category_index=1)
    third = file_case(owner, category_index=1)
    now = utcnow()
    set_case(first.number, updated_at=now - timedelta(days=8), assignee_id=me.id)
    set_case(second.number, updated_at=now - timedelta(days=4), assignee_id=colleague.id)
    set_case(third.number, updated_at=now - timedelta(hours=30))
    client = staff_client(app)
    second_category = category(1)
    assert queue_numbers(client, f"category={second_category.id}") == [second.number,
                                                                        third.number]
    assert queue_numbers(client, "age=7") == [first.number]
    assert queue_numbers(client, "age=3") == [first.number, second.number]
    assert queue_numbers(client, "age=1") == [first.number, second.number, third.number]
    assert queue_numbers(client, "assignee=me") == [first.number]
    assert queue_numbers(client, "assignee=none") == [third.number]
    assert queue_numbers(client, "assignee=all") == [first.number, second.number, third.number]
    assert queue_numbers(client, f"category={second_category.id}&assignee=none&age=1") == [
        third.number]
    html = client.get("/staff/support/").get_data(as_text=True)
    assert "伊藤 健" in html and "高橋 美咲" in html


def test_queue_search_by_number_email_subject_and_serial(app):
    taro = make_customer()
    hanako = make_customer("Hanako.Suzuki@Example.com", "鈴木", "花子", phone=None)
    battery = file_case(taro, subject="蓄電池が充電しない", serial="PC123456")
    monitor = file_case(hanako, subject="モニターに表示されない", serial="PC999001")
    make_staff()
    client = staff_client(app)
    # ケース番号: exactly 9 digits, the whole number only.
    assert queue_numbers(client, f"q={battery.number}") == [battery.number]
    assert queue_numbers(client, f"q={battery.number[:8]}") == []
    # E-mail: contains, any case.
    assert queue_numbers(client, "q=hanako.suzuki") == [monitor.number]
    assert queue_numbers(client, "q=EXAMPLE.COM") == sorted(
        [battery.number, monitor.number], key=queue_numbers(client).index)
    # 件名: contains.
    assert queue_numbers(client, "q=充電") == [battery.number]
    assert queue_numbers(client, "q=表示") == [monitor.number]
    # 製造番号: exact or part of it, any case.
    assert queue_numbers(client, "q=PC123456") == [battery.number]
    assert queue_numbers(client, "q=pc9990") == [monitor.number]
    # Nothing else matches, and LIKE's wildcards are only characters.
    assert queue_numbers(client, "q=停電") == []
    assert queue_numbers(client, "q=%25") == []
    assert queue_numbers(client, "q=_") == []
    # Searching also looks at resolved and closed cases when asked.
    set_case(battery.number, state=CaseState.CLOSED)
    assert queue_numbers(client, "q=PC123456") == []
    assert queue_numbers(client, "q=PC123456&state=all") == [battery.number]


def test_a_deleted_account_shows_as_such_in_the_queue_and_on_the_case(app):
    owner = make_customer()
    make_staff()
    case = file_case(owner)
    set_case(case.number, account_id=None)
    client = staff_client(app)
    assert "削除されたアカウント" in client.get("/staff/support/").get_data(as_text=True)
    assert "削除されたアカウント" in case_page(client, case.number)


def test_bad_filters_get_a_message_and_the_default_queue(app):
    owner = make_customer()
    make_staff()
    case = file_case(owner)
    client = staff_client(app)
    for query in ("state=deleted", "age=2", "assignee=boss", "category=999999",
                  "category=abc", "q=" + "x" * 101, "q=a%00b"):
        response = client.get(f"/staff/support/?{query}")
        html = response.get_data(as_text=True)
        assert response.status_code == 422, query
        assert 'class="field-error"' in html, query
        assert case.number in html, query
    response = client.get("/staff/support/?q=%3Cscript%3Ealert(1)%3C/script%3E")
    assert response.status_code == 200
    assert "<script>alert(1)" not in response.get_data(as_text=True)
    assert "&lt;script&gt;alert(1)" in response.get_data(as_text=True)
    assert client.get("/staff/support/?page=abc").status_code == 200
    assert queue_numbers(client, "page=99999") == [case.number]


def test_htmx_filtering_swaps_the_queue_only(app):
    owner = make_customer()
    make_staff()
    case = file_case(owner)
    set_case(case.number, state=CaseState.RESOLVED)
    client = staff_client(app)
    response = client.get("/staff/support/?state=resolved", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    assert "<html" not in html and html.lstrip().startswith('<div id="queue">')
    assert case.number in html
    response = client.get("/staff/support/?state=nope", headers=HX)
    assert response.status_code == 422 and "一覧から選択してください" in response.get_data(
        as_text=True)
    whole = client.get("/staff/support/?state=resolved").get_data(as_text=True)
    assert "<html" in whole and 'id="queue"' in whole


def test_the_queue_runs_as_many_queries_for_many_cases_as_for_a_few(app):
    owner = make_customer()
    other = make_customer("other@example.com", "佐藤", "次郎")
    staff = make_staff()
    client = staff_client(app)
    for _ in range(3):
        file_case(owner)
    client.get("/staff/support/")  # warm up (categories seeded, session loaded)
    with statements() as few:
        assert client.get("/staff/support/").status_code == 200
    for index in range(40):
        case = file_case(other if index % 2 else owner, subject=f"件名{index}")
        set_case(case.number, assignee_id=staff.id if index % 3 else None)
    with statements() as many:
        response = client.get("/staff/support/?page=2")
        assert response.status_code == 200
    assert len(many) == len(few), (few, many)
    assert "2 / 2 ページ（全43件）" in response.get_data(as_text=True)
    assert len(queue_numbers(client)) == 30


# -- one case ---------------------------------------------------------------------------------------
def test_the_case_page_shows_what_the_customer_gave_and_how_to_reach_them(app):
    company = make_company(1)
    admin = db.session.scalar(select(Account).where(Account.company_id == company.id))
    db.session.add(AccountPhone(account_id=admin.id, kind="office", number="0312345678"))
    db.session.commit()
    gateway = make_gateway(admin)
    make_staff()
    case = file_case(admin, subject="<b>件名</b>", body="<script>alert(1)</script>\n2行目",
                     serial="PC123456", gateway=gateway)
    html = case_page(staff_client(app), case.number)
    for text in (case.number, "自宅", "01AB12345678", "蓄電池", "PC123456", "E-101",
                 case.category_name, case.detail_name, "佐藤 花子", "admin1@dealer1.example",
                 "03-1234-5678", "販売店1株式会社", "新規", "未割当"):
        assert text in html, text
    assert "<b>件名</b>" not in html and "&lt;b&gt;件名&lt;/b&gt;" in html
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("<form") >= 4 and 'enctype="multipart/form-data"' in html


@pytest.mark.parametrize("number", ["000000000", "412345678", "4123", "abc", "4" * 30])
def test_a_case_that_does_not_exist_is_404(app, number):
    make_staff()
    client = staff_client(app)
    assert client.get(f"/staff/support/cases/{number}").status_code == 404
    token = csrf_from(client.get("/staff/support/").get_data(as_text=True))
    assert client.post(f"/staff/support/cases/{number}/state",
                       data={"csrf_token": token, "state": "closed"}).status_code == 404


def test_a_reply_mails_the_customer_a_link_without_its_text(smtp_app, smtp):
    owner = make_customer()
    make_staff()
    case = file_case(owner)
    new_mail(smtp)  # the confirmation of the filing
    client = staff_client(smtp_app)
    response = post_reply(client, case.number, body="点検員が明日14時に伺います。")
    assert response.status_code == 303 and response.location.endswith(
        f"/staff/support/cases/{case.number}")
    [mail] = new_mail(smtp)
    text = smtp.text_of(mail)
    assert mail["To"] == OWNER and case.number in mail["Subject"]
    assert f"/support/cases/{case.number}" in text and case.subject in text
    assert "点検員" not in text and "点検員" not in mail.as_string()
    assert fresh_case(case.number).state == CaseState.WAITING
    [event] = audits("support.staff_replied")
    assert (event.detail["state_from"], event.detail["state_to"]) == ("new", "waiting")
    page = case_page(client, case.number)
    assert "点検員が明日14時に伺います。" in page and "サポート（高橋 美咲）" in page
    assert "返信を送信しました" in page


@pytest.mark.parametrize(("state", "expected"), [("open", CaseState.OPEN),
                                                  ("resolved", CaseState.RESOLVED),
                                                  ("closed", CaseState.CLOSED)])
def test_a_reply_leaves_the_case_in_the_chosen_state(app, state, expected):
    owner = make_customer()
    make_staff()
    case = file_case(owner)
    assert post_reply(staff_client(app), case.number, new_state=state).status_code == 303
    assert fresh_case(case.number).state == expected


def test_a_closed_case_still_takes_a_staff_reply(smtp_app, smtp):
    owner = make_customer()
    make_staff()
    case = file_case(owner)
    set_case(case.number, state=CaseState.CLOSED)
    new_mail(smtp)
    client = staff_client(smtp_app)
    assert post_reply(client, case.number, body="補足です。", new_state="closed").status_code == 303
    assert [m["To"] for m in new_mail(smtp)] == [OWNER]
    assert fresh_case(case.number).state == CaseState.CLOSED
    assert "補足です。" in case_page(client, case.number)


def test_an_internal_note_is_never_mailed_nor_shown_to_the_customer(smtp_app, smtp):
    owner = make_customer()
    make_staff()
    case = file_case(owner)
    new_mail(smtp)
    client = staff_client(smtp_app)
    response = post_note(client, case.number, body="社内限定: 交換部品の在庫を確認中")
    assert response.status_code == 303
    assert new_mail(smtp) == []
    stored = fresh_case(case.number)
    assert stored.state == CaseState.NEW  # the customer sees nothing change
    page = case_page(client, case.number)
    assert "社内メモ（お客様には表示されません）" in page and "交換部品の在庫" in page
    assert 'class="thread-message thread-note"' in page
    assert [m.body for m in cases.customer_thread(stored)] == ["昨日から充電されません。"]
    # A later reply's mail does not carry it either.
    post_reply(client, case.number, body="ご連絡します。")
    [mail] = new_mail(smtp)
    assert "交換部品" not in mail.as_string()
    [event] = audits("support.note_added")
    assert event.detail["case"] == case.number
    # The customer's own case page shows the reply, never the note.
    customer = smtp_app.test_client()
    assert login(customer, OWNER).status_code == 303
    response = customer.get(f"/support/cases/{case.number}")
    assert response.status_code == 200
    own_page = response.get_data(as_text=True)
    assert "昨日から充電されません。" in own_page and "ご連絡します。" in own_page
    assert "交換部品" not in own_page and "社内限定" not in own_page
    assert "社内メモ" not in own_page and "thread-note" not in own_page


def test_a_reply_with_files_is_downloadable_by_staff_and_the_customer(app):
    owner = make_customer()
    make_staff()
    case = file_case(owner)
    client = staff_client(app)
    photo = png_bytes()
    response = post_reply(client, case.number, files=[("../../写真.png", photo),
                                                      ("log.txt", "ログ\n".encode())])
    assert response.status_code == 303
    stored = list(db.session.scalars(select(SupportFile).order_by(SupportFile.id)))
    assert [(f.name, f.content_type) for f in stored] == [("写真.png", "image/png"),
                                                         ("log.txt", "text/plain")]
    page = case_page(client, case.number)
    link = f"/staff/support/cases/{case.number}/files/{stored[0].id}"
    assert link in page and "写真.png" in page
    download = client.get(link, buffered=True)
    assert download.status_code == 200 and download.data == photo
    assert download.headers["Content-Type"] == "image/png"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Disposition"].startswith("attachment")
    # Another case's number with this file's id: 404.
    other = file_case(owner)
    assert client.get(f"/staff/support/cases/{other.number}/files/{stored[0].id}"
                      ).status_code == 404
    assert client.get(f"/staff/support/cases/{case.number}/files/{stored[-1].id + 1000}"
                      ).status_code == 404
    # The customer sees the files on the own case page and downloads them.
    customer = app.test_client()
    assert login(customer, OWNER).status_code == 303
    own_page = customer.get(f"/support/cases/{case.number}").get_data(as_text=True)
    mine_link = f"/support/cases/{case.number}/files/{stored[0].id}"
    assert mine_link in own_page and "写真.png" in own_page
    mine = customer.get(mine_link, buffered=True)
    assert mine.status_code == 200 and mine.data == photo
    assert mine.headers["Content-Type"] == "image/png"
    assert mine.headers["X-Content-Type-Options"] == "nosniff"
    assert mine.headers["Content-Disposition"].startswith("attachment")
    log = customer.get(f"/support/cases/{case.number}/files/{stored[1].id}", buffered=True)
    assert log.status_code == 200 and log.data == "ログ\n".encode()
    assert log.headers["Content-Disposition"].startswith("attachment")
    # Not through another of the customer's cases.
    assert customer.get(f"/support/cases/{other.number}/files/{stored[0].id}"
                        ).status_code == 404


@pytest.mark.parametrize(("name", "content", "message"), [
    ("virus.png", b"MZ\x90\x00" + b"\x00" * 200, "添付できない種類"),
    ("photo.png", b"%PDF-1.4\n%\xe2\xe3\n1 0 obj\n" + b"0" * 100, "拡張子と一致しません"),
    ("archive.zip", b"not a zip at all", "拡張子と一致しません"),
    ("empty.txt", b"", "空のファイル"),
    ("program.exe", b"MZ\x90\x00" + b"\x00" * 200, "添付できない種類"),
])
def test_a_refused_file_is_a_message_next_to_the_file_field_and_nothing_is_kept(
        app, name, content, message):
    owner = make_customer()
    make_staff()
    case = file_case(owner)
    client = staff_client(app)
    response = post_reply(client, case.number, body="添付します", files=[(name, content)])
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(r'id="files-field".*?class="field-error"[^>]*>[^<]*' + message, html, re.S)
    assert "添付します" in html  # what was typed is kept
    assert db.session.scalar(select(func.count()).select_from(SupportMessage)) == 1
    assert db.session.scalar(select(func.count()).select_from(SupportFile)) == 0
    assert fresh_case(case.number).state == CaseState.NEW


def test_eleven_files_are_refused(app):
    owner = make_customer()
    make_staff()
    case = file_case(owner)
    response = post_note(staff_client(app), case.number,
                         files=[(f"log{i}.txt", b"line\n") for i in range(11)])
    assert response.status_code == 422
    assert "10個まで" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(SupportFile)) == 0


@pytest.mark.parametrize(("body", "message"), [
    ("", "入力してください"), ("   \n  ", "入力してください"),
    ("あ" * 20_001, "20000文字以内"), ("途中に\x00NUL", "制御文字"),
    ("右から左\u202eへ", "制御文字"),
])
def test_a_bad_reply_or_note_is_refused_with_the_text_kept(app, body, message):
    owner = make_customer()
    make_staff()
    case = file_case(owner)
    client = staff_client(app)
    for response in (post_reply(client, case.number, body=body),
                     post_note(client, case.number, body=body)):
        html = response.get_data(as_text=True)
        assert response.status_code == 422
        assert message in html
    assert db.session.scalar(select(func.count()).select_from(SupportMessage)) == 1


def test_a_tampered_reply_state_is_refused(app):
    owner = make_customer()
    make_staff()
    case = file_case(owner)
    response = post_reply(staff_client(app), case.number, new_state="new")
    assert response.status_code == 422 and "一覧から選択してください" in response.get_data(
        as_text=True)
    assert fresh_case(case.number).state == CaseState.NEW


def test_htmx_reply_errors_swap_the_form_and_success_navigates(app):
    owner = make_customer()
    make_staff()
    case = file_case(owner)
    client = staff_client(app)
    values = form_values(case_page(client, case.number), "reply-form")
    response = post_reply(client, case.number, body="", values=values, headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and html.lstrip().startswith("<form")
    assert 'id="reply-form"' in html and "<html" not in html
    assert values["request_key"] in html  # the same one-time key goes on
    response = post_reply(client, case.number, body="回答です", values=values, headers=HX)
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == f"/staff/support/cases/{case.number}"


def test_a_double_submitted_reply_is_one_reply_and_one_mail(smtp_app, smtp):
    owner = make_customer()
    make_staff()
    case = file_case(owner)
    new_mail(smtp)
    client = staff_client(smtp_app)
    values = form_values(case_page(client, case.number), "reply-form")
    for _ in range(2):
        assert post_reply(client, case.number, body="一度だけ", values=values).status_code == 303
    values = form_values(case_page(client, case.number), "note-form")
    for _ in range(2):
        assert post_note(client, case.number, body="メモ一度", values=values).status_code == 303
    bodies = [m.body for m in db.session.scalars(select(SupportMessage)
                                                 .order_by(SupportMessage.id))]
    assert bodies == ["昨日から充電されません。", "一度だけ", "メモ一度"]
    assert len(new_mail(smtp)) == 1


def test_state_changes_are_audited_with_from_and_to(smtp_app, smtp):
    owner = make_customer()
    make_staff()
    case = file_case(owner)
    new_mail(smtp)
    client = staff_client(smtp_app)
    token = form_values(case_page(client, case.number), "state-form")["csrf_token"]
    url = f"/staff/support/cases/{case.number}/state"
    assert client.post(url, data={"csrf_token": token, "state": "open"}).status_code == 303
    assert client.post(url, data={"csrf_token": token, "state": "open"}).status_code == 303
    assert client.post(url, data={"csrf_token": token, "state": "resolved"}).status_code == 303
    assert fresh_case(case.number).state == CaseState.RESOLVED
    assert [(e.detail["state_from"], e.detail["state_to"], e.detail["case"])
            for e in audits("support.state_changed")] == [
        ("new", "open", case.number), ("open", "resolved", case.number)]
    assert new_mail(smtp) == []  # a state change alone mails nobody
    for bad in ("", "deleted", "<b>"):
        response = client.post(url, data={"csrf_token": token, "state": bad})
        assert response.status_code == 422
    assert client.post(url, data={"state": "closed"}).status_code == 400  # no CSRF token
    assert fresh_case(case.number).state == CaseState.RESOLVED
    assert "解決" in case_page(client, case.number)


def test_assignment_to_a_colleague_or_oneself_is_audited(app):
    owner = make_customer()
    me = make_staff()
    colleague = make_staff("colleague@example.com", "伊藤", "健")
    case = file_case(owner)
    client = staff_client(app)
    html = case_page(client, case.number)
    token = form_values(html, "assign-form")["csrf_token"]
    assert "伊藤 健（colleague@example.com）" in html
    url = f"/staff/support/cases/{case.number}/assign"
    assert client.post(url, data={"csrf_token": token,
                                  "assignee": str(colleague.id)}).status_code == 303
    assert fresh_case(case.number).assignee_id == colleague.id
    assert client.post(url, data={"csrf_token": token, "assignee": str(colleague.id),
                                  "take": "自分に割り当てる"}).status_code == 303
    assert fresh_case(case.number).assignee_id == me.id
    assert client.post(url, data={"csrf_token": token, "assignee": "none"}).status_code == 303
    assert fresh_case(case.number).assignee_id is None
    assert [(e.detail["assignee_from"], e.detail["assignee_to"], e.actor_id)
            for e in audits("support.assigned")] == [
        (None, colleague.id, me.id), (colleague.id, me.id, me.id), (me.id, None, me.id)]
    # A customer's account id, or nonsense, is not a staff member.
    for bad in (str(owner.id), "abc", "", "999999"):
        response = client.post(url, data={"csrf_token": token, "assignee": bad})
        assert response.status_code == 422, bad
        assert "一覧から選択してください" in response.get_data(as_text=True)
    assert fresh_case(case.number).assignee_id is None
    assert len(audits("support.assigned")) == 3
    assert queue_numbers(client, "assignee=none") == [case.number]


# -- categories ------------------------------------------------------------------------------------
def _categories_token(client) -> str:
    return csrf_from(client.get("/staff/support/categories").get_data(as_text=True))


def test_the_categories_page_seeds_the_defaults_on_first_show(app):
    make_staff()
    assert db.session.scalar(select(func.count()).select_from(SupportCategory)) == 0
    html = staff_client(app).get("/staff/support/categories").get_data(as_text=True)
    first_name, first_details = app.config["SUPPORT_CATEGORIES"][0]
    assert first_name in html and first_details[0] in html
    assert db.session.scalar(select(func.count()).select_from(SupportCategory)) == len(
        app.config["SUPPORT_CATEGORIES"])


def test_staff_add_rename_reorder_and_deactivate_categories_and_details(app):
    owner = make_customer()
    me = make_staff()
    case = file_case(owner)
    old_category, old_detail = case.category_name, case.detail_name
    client = staff_client(app)
    token = _categories_token(client)
    response = client.post("/staff/support/categories", data={
        "csrf_token": token, "new-category-name": " 設置・工事 ", "new-category-position": "０"})
    assert response.status_code == 303
    added = db.session.scalar(select(SupportCategory).where(SupportCategory.name == "設置・工事"))
    assert (added.position, added.active) == (0, True)
    assert added.id in [c.id for c in cases.active_categories()]
    # A detail of it, then the detail renamed, moved and hidden.
    assert client.post(f"/staff/support/categories/{added.id}/details", data={
        "csrf_token": token, f"new-detail-{added.id}-name": "見積もり",
        f"new-detail-{added.id}-position": "1"}).status_code == 303
    detail = db.session.scalar(select(SupportDetail).where(SupportDetail.name == "見積もり"))
    assert detail.category_id == added.id
    assert client.post(f"/staff/support/categories/details/{detail.id}", data={
        "csrf_token": token, f"detail-{detail.id}-name": "お見積もり",
        f"detail-{detail.id}-position": "5", f"detail-{detail.id}-active": "y"}
    ).status_code == 303
    db.session.expire_all()
    assert [(d.name, d.position) for d in cases.active_details(added.id)] == [("お見積もり", 5)]
    assert client.post(f"/staff/support/categories/details/{detail.id}", data={
        "csrf_token": token, f"detail-{detail.id}-name": "お見積もり",
        f"detail-{detail.id}-position": "5"}).status_code == 303  # no box ticked: hidden
    assert cases.active_details(added.id) == []
    # The case's category renamed and deactivated: the case keeps the names it was filed with.
    category_id = case.category_id
    assert client.post(f"/staff/support/categories/{category_id}", data={
        "csrf_token": token, f"category-{category_id}-name": "故障・エラー（旧）",
        f"category-{category_id}-position": "9"}).status_code == 303
    assert category_id not in [c.id for c in cases.active_categories()]
    assert db.session.get(SupportCategory, category_id).name == "故障・エラー（旧）"
    stored = fresh_case(case.number)
    assert (stored.category_name, stored.detail_name) == (old_category, old_detail)
    # … and activated again.
    assert client.post(f"/staff/support/categories/{category_id}", data={
        "csrf_token": token, f"category-{category_id}-name": "故障・エラー（旧）",
        f"category-{category_id}-position": "9", f"category-{category_id}-active": "y",
    }).status_code == 303
    assert cases.active_categories()[-1].id == category_id
    actions = [e.action for e in db.session.scalars(
        select(AuditEvent).where(AuditEvent.action.like("support.%"),
                                 AuditEvent.actor_id == me.id).order_by(AuditEvent.id))]
    assert actions == ["support.category_added", "support.detail_added",
                       "support.detail_changed", "support.detail_changed",
                       "support.category_changed", "support.category_changed"]
    changed = audits("support.category_changed")[0]
    assert changed.detail["before"]["name"] == old_category
    assert changed.detail["after"] == {"name": "故障・エラー（旧）", "position": 9,
                                       "active": False}
    html = client.get("/staff/support/categories").get_data(as_text=True)
    assert "お見積もり" in html and "非表示" in html


def test_duplicate_category_and_detail_names_are_a_message(app):
    make_staff()
    client = staff_client(app)
    token = _categories_token(client)
    first, second = cases.active_categories()[:2]
    response = client.post("/staff/support/categories", data={
        "csrf_token": token, "new-category-name": first.name, "new-category-position": "1"})
    assert response.status_code == 422
    assert "同じ名前がすでにあります" in response.get_data(as_text=True)
    response = client.post(f"/staff/support/categories/{second.id}", data={
        "csrf_token": token, f"category-{second.id}-name": first.name,
        f"category-{second.id}-position": "1", f"category-{second.id}-active": "y"})
    assert response.status_code == 422
    db.session.expire_all()
    assert db.session.get(SupportCategory, second.id).name == second.name
    detail = cases.active_details(first.id)[0]
    response = client.post(f"/staff/support/categories/{first.id}/details", data={
        "csrf_token": token, f"new-detail-{first.id}-name": detail.name,
        f"new-detail-{first.id}-position": "1"})
    assert response.status_code == 422
    # The same detail name under another category is fine.
    assert client.post(f"/staff/support/categories/{second.id}/details", data={
        "csrf_token": token, f"new-detail-{second.id}-name": detail.name,
        f"new-detail-{second.id}-position": "1"}).status_code == 303
    assert not audits("support.category_added")


@pytest.mark.parametrize(("name", "position", "message"), [
    ("", "1", "入力してください"), ("あ" * 61, "1", "60文字以内"), ("a\x00b", "1", "制御文字"),
    ("新しい内容", "", "入力してください"), ("新しい内容", "-1", "0から9999まで"),
    ("新しい内容", "10000", "0から9999まで"), ("新しい内容", "一", "0から9999まで"),
])
def test_bad_category_input_is_refused_with_a_message(app, name, position, message):
    make_staff()
    client = staff_client(app)
    token = _categories_token(client)
    before = db.session.scalar(select(func.count()).select_from(SupportCategory))
    response = client.post("/staff/support/categories", data={
        "csrf_token": token, "new-category-name": name, "new-category-position": position})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and message in html
    assert re.search(r'id="new-category-(name|position)-field".*?class="field-error"', html, re.S)
    if name and "\x00" not in name:  # what was typed is kept
        assert re.search(r'id="new-category-name"[^>]*value="' + re.escape(name) + '"', html)
    if position:
        assert re.search(r'id="new-category-position"[^>]*value="' + re.escape(position) + '"',
                         html)
    assert db.session.scalar(select(func.count()).select_from(SupportCategory)) == before


def test_html_in_a_category_name_is_shown_as_text(app):
    make_staff()
    client = staff_client(app)
    token = _categories_token(client)
    assert client.post("/staff/support/categories", data={
        "csrf_token": token, "new-category-name": "<i>太字</i>",
        "new-category-position": "3"}).status_code == 303
    html = client.get("/staff/support/categories").get_data(as_text=True)
    assert "<i>太字</i>" not in html and "&lt;i&gt;太字&lt;/i&gt;" in html


def test_unknown_category_or_detail_is_404(app):
    make_staff()
    client = staff_client(app)
    token = _categories_token(client)
    assert client.post("/staff/support/categories/999999", data={
        "csrf_token": token, "category-999999-name": "x",
        "category-999999-position": "1"}).status_code == 404
    assert client.post("/staff/support/categories/999999/details", data={
        "csrf_token": token, "new-detail-999999-name": "x",
        "new-detail-999999-position": "1"}).status_code == 404
    assert client.post("/staff/support/categories/details/999999", data={
        "csrf_token": token, "detail-999999-name": "x",
        "detail-999999-position": "1"}).status_code == 404


# -- knowledge-base articles --------------------------------------------------------------------
def _article_token(client) -> str:
    return csrf_from(client.get("/staff/support/articles/new").get_data(as_text=True))


def test_staff_write_publish_and_edit_articles(app):
    me = make_staff()
    client = staff_client(app)
    token = _article_token(client)
    chosen = category(1)
    body = "停電すると蓄電池から自動で給電されます。\r\n\r\n復電後は通常の運転に戻ります。  "
    response = client.post("/staff/support/articles/new", data={
        "csrf_token": token, "title": "停電時の蓄電池の動作", "body": body,
        "category": str(chosen.id)})
    assert response.status_code == 303
    article = db.session.scalar(select(KbArticle))
    assert (article.title, article.category_id, article.published, article.author_id) == (
        "停電時の蓄電池の動作", chosen.id, False, me.id)
    assert article.body == "停電すると蓄電池から自動で給電されます。\n\n復電後は通常の運転に戻ります。"
    listing = client.get("/staff/support/articles").get_data(as_text=True)
    assert "停電時の蓄電池の動作" in listing and "非公開" in listing and chosen.name in listing
    edit_url = f"/staff/support/articles/{article.id}"
    form = client.get(edit_url).get_data(as_text=True)
    assert "復電後は通常の運転に戻ります。" in form
    assert client.post(edit_url, data={
        "csrf_token": token, "title": "停電時の蓄電池の動作（改訂）", "body": "改訂した本文",
        "category": "none", "published": "y"}).status_code == 303
    db.session.expire_all()
    article = db.session.get(KbArticle, article.id)
    assert (article.title, article.body, article.category_id, article.published) == (
        "停電時の蓄電池の動作（改訂）", "改訂した本文", None, True)
    listing = client.get("/staff/support/articles").get_data(as_text=True)
    assert "（改訂）" in listing and ">公開<" in listing
    [created] = audits("support.article_created")
    [updated] = audits("support.article_updated")
    assert created.detail["article"] == article.id and created.actor_id == me.id
    assert updated.detail["before"]["published"] is False
    assert updated.detail["after"]["published"] is True
    assert client.get("/staff/support/articles/999999").status_code == 404
    assert client.post("/staff/support/articles/999999", data={
        "csrf_token": token, "title": "x", "body": "y", "category": "none"}).status_code == 404


@pytest.mark.parametrize(("field", "value", "message"), [
    ("title", "", "入力してください"), ("title", "あ" * 121, "120文字以内"),
    ("title", "見出し\x00", "制御文字"), ("body", "", "入力してください"),
    ("body", "あ" * 20_001, "20000文字以内"), ("body", "本文\x00途中", "制御文字"),
    ("body", "本文\x1b[31m赤", "制御文字"), ("category", "999999", "一覧から選択してください"),
    ("category", "abc", "一覧から選択してください"),
])
def test_bad_article_input_is_refused_and_kept(app, field, value, message):
    make_staff()
    client = staff_client(app)
    data = {"csrf_token": _article_token(client), "title": "タイトル", "body": "本文です",
            "category": "none", field: value}
    response = client.post("/staff/support/articles/new", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and message in html
    assert re.search(rf'id="{field}-field"[^>]*>.*?class="field-error"', html, re.S)
    if field != "title":
        assert 'value="タイトル"' in html
    assert db.session.scalar(select(func.count()).select_from(KbArticle)) == 0


def test_html_in_an_article_is_stored_as_text_and_shown_escaped(app):
    make_staff()
    client = staff_client(app)
    token = _article_token(client)
    assert client.post("/staff/support/articles/new", data={
        "csrf_token": token, "title": "<script>alert(1)</script>",
        "body": "<img src=x onerror=alert(1)>", "category": "none"}).status_code == 303
    article = db.session.scalar(select(KbArticle))
    assert article.body == "<img src=x onerror=alert(1)>"
    listing = client.get("/staff/support/articles").get_data(as_text=True)
    assert "<script>alert(1)" not in listing and "&lt;script&gt;alert(1)" in listing
    form = client.get(f"/staff/support/articles/{article.id}").get_data(as_text=True)
    assert "<img src=x" not in form and "&lt;img src=x onerror=alert(1)&gt;" in form


def test_a_double_submitted_article_is_one_article_and_a_taken_title_a_message(app):
    make_staff()
    colleague = make_staff("colleague@example.com", "伊藤", "健")
    client = staff_client(app)
    token = _article_token(client)
    data = {"csrf_token": token, "title": "充電されないとき", "body": "確認する点", "category": "none"}
    assert client.post("/staff/support/articles/new", data=data).status_code == 303
    assert client.post("/staff/support/articles/new", data=data).status_code == 303
    assert db.session.scalar(select(func.count()).select_from(KbArticle)) == 1
    assert len(audits("support.article_created")) == 1
    # The same title with another text, or by a colleague: a message, not a second article.
    response = client.post("/staff/support/articles/new", data={**data, "body": "別の本文"})
    assert response.status_code == 422
    assert "同じタイトルの記事がすでにあります" in response.get_data(as_text=True)
    other = staff_client(app, colleague.email)
    response = other.post("/staff/support/articles/new", data={
        **data, "csrf_token": _article_token(other)})
    assert response.status_code == 422
    # Renaming another article to a taken title is refused too.
    assert client.post("/staff/support/articles/new", data={
        **data, "title": "別の記事"}).status_code == 303
    second = db.session.scalar(select(KbArticle).where(KbArticle.title == "別の記事"))
    response = client.post(f"/staff/support/articles/{second.id}", data={
        **data, "title": "充電されないとき"})
    assert response.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(KbArticle)) == 2


def test_a_reply_may_carry_files_larger_than_an_ordinary_request(app):
    """Every request but one with files stays at 2 MB; a 3 MB log goes through."""
    owner = make_customer()
    make_staff()
    case = file_case(owner)
    client = staff_client(app)
    big = b"2026-05-01 12:00:00 PCS1 E-101 grid voltage high\n" * 66_000
    assert len(big) > 3 * 1024 * 1024
    assert post_reply(client, case.number, files=[("pcs.log", big)]).status_code == 303
    assert db.session.scalar(select(SupportFile.size)) == len(big)
    token = csrf_from(client.get("/staff/support/articles/new").get_data(as_text=True))
    response = client.post("/staff/support/articles/new", data={
        "csrf_token": token, "title": "大きな記事", "body": "あ" * 1024 * 1024,
        "category": "none"})
    assert response.status_code == 413


def test_the_same_reply_sent_twice_at_once_is_one_reply_and_one_mail(smtp_app, smtp):
    """Two tabs (or a double click on a slow line) post the same form at the same moment."""
    from concurrent.futures import ThreadPoolExecutor

    owner = make_customer()
    make_staff()
    case = file_case(owner)
    clients = [staff_client(smtp_app), staff_client(smtp_app)]
    new_mail(smtp)  # the filing's mail, and the second browser's sign-in notice
    page = case_page(clients[0], case.number)
    key = form_values(page, "reply-form")["request_key"]
    values = [{"csrf_token": form_values(case_page(client, case.number),
                                         "reply-form")["csrf_token"], "request_key": key}
              for client in clients]
    number = case.number
    db.session.commit()
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(
            lambda index: post_reply(clients[index], number, body="同時に送信",
                                     values=values[index]).status_code, range(2)))
    assert answers == [303, 303]
    db.session.expire_all()
    assert [m.body for m in db.session.scalars(select(SupportMessage).where(
        SupportMessage.from_staff))] == ["同時に送信"]
    assert len(new_mail(smtp)) == 1
    assert len(audits("support.staff_replied")) == 1
