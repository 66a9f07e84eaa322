"""Attachments of the customer's cases (issue 12 "Files"): the limits (count, size per
file and per case, the request body), types checked by content, names that are never
paths, a case and its files stored together or not at all, and downloads only for who
may see the case, as attachments with their type and `nosniff`."""
from __future__ import annotations

import io
import struct
import zipfile
import zlib

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from blueprints.support import cases
from blueprints.support import files as support_files
from models import db
from models.support import SupportCase, SupportFile, SupportFileChunk, SupportMessage
from tests.conftest import csrf_from
from tests.flows.test_support_cases import (GATEWAY, KEY_PATTERN, NEW, add_units, case_data,
                                            field_error, form_tokens)
from tests.flows.test_dealer_links import make_gateway, make_owner
from tests.helpers import HX, login


def png(extra: bytes = b"") -> bytes:
    """A real 1x1 PNG."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b"") + extra)


def real_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("log.txt", "2026-05-01 E201\n")
    return buffer.getvalue()


EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64 + b"PE\x00\x00"


def upload(data: bytes, name: str):
    return (io.BytesIO(data), name)


def _count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def file_case(client, files, **overrides):
    _html, token, key = form_tokens(client)
    data = {**case_data(**overrides), "csrf_token": token, "request_key": key, "files": files}
    return client.post(NEW, data=data, content_type="multipart/form-data")


def make_world(app):
    owner = make_owner()
    gateway = make_gateway(owner, GATEWAY, site="山田邸")
    add_units(gateway)
    make_owner("other@example.com", "佐藤", "次郎")
    client = app.test_client()
    assert login(client, "owner@example.com").status_code == 303
    return client


@pytest.fixture
def owner_client(app):
    return make_world(app)


def refused(response, message_part: str):
    html = response.get_data(as_text=True)
    assert response.status_code == 422, response.status_code
    assert message_part in field_error(html, "files")
    assert "ファイルをもう一度選択してください" in html
    assert "昨日から充電されません。" in html  # the other fields are kept
    assert _count(SupportCase) == 0 and _count(SupportFile) == 0


# -- filing with files --------------------------------------------------------------------
def test_a_case_with_photos_a_pdf_a_log_and_a_zip_keeps_them_all(owner_client):
    files = [upload(png(), "写真1.png"), upload(png(b"2"), "写真2.PNG"),
             upload(b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n", "manual.pdf"),
             upload("2026-05-01 10:00 E201 発生\n".encode("cp932"), "error.log"),
             upload(b"time,pv\n10:00,3.2\n", "data.csv"), upload(real_zip(), "logs.zip")]
    response = file_case(owner_client, files)
    assert response.status_code == 303
    stored = list(db.session.scalars(select(SupportFile).order_by(SupportFile.id)))
    assert [(f.name, f.content_type) for f in stored] == [
        ("写真1.png", "image/png"), ("写真2.PNG", "image/png"), ("manual.pdf", "application/pdf"),
        ("error.log", "text/plain"), ("data.csv", "text/csv"), ("logs.zip", "application/zip")]
    case = db.session.scalar(select(SupportCase))
    assert all(f.case_id == case.id and f.message_id == case.messages[0].id for f in stored)
    page = owner_client.get(f"/support/cases/{case.number}").get_data(as_text=True)
    assert "写真1.png" in page and f"/support/cases/{case.number}/files/{stored[0].id}" in page


def test_a_case_with_files_over_htmx(owner_client):
    _html, token, key = form_tokens(owner_client)
    response = owner_client.post(NEW, data={**case_data(), "csrf_token": token,
                                            "request_key": key,
                                            "files": [upload(png(), "a.png")]},
                                 headers=HX, content_type="multipart/form-data")
    assert response.status_code == 200 and response.headers["HX-Redirect"].endswith("/filed")
    assert _count(SupportFile) == 1


def test_eleven_files_are_refused(owner_client):
    files = [upload(png(bytes([n])), f"p{n}.png") for n in range(11)]
    refused(file_case(owner_client, files), "添付ファイルは1回に10個までです。")


def test_ten_files_are_fine(owner_client):
    files = [upload(png(bytes([n])), f"p{n}.png") for n in range(10)]
    assert file_case(owner_client, files).status_code == 303
    assert _count(SupportFile) == 10


def test_an_oversized_file_is_refused(make_app):
    app = make_app(SUPPORT_FILE_MAX_BYTES=1024)
    with app.app_context():
        client = make_world(app)
        html = client.get(NEW).get_data(as_text=True)
        assert "1ファイル1 KBまで" in html and 'data-max-bytes="1024"' in html
        refused(file_case(client, [upload(png(), "ok.png"), upload(png(b"x" * 2000), "big.png")]),
                "「big.png」は大きすぎます（1ファイル1 KBまで）。")


@pytest.mark.parametrize("data,name,message", [
    (EXE, "photo.png", "「photo.png」は添付できない種類のファイルです"),
    (png(), "photo.exe", "「photo.exe」はファイルの内容が拡張子と一致しません。"),
    (png(), "photo.pdf", "「photo.pdf」はファイルの内容が拡張子と一致しません。"),
    (EXE, "setup.exe", "「setup.exe」は添付できない種類のファイルです"),
    (b"this is not a zip at all", "logs.zip", "「logs.zip」はファイルの内容が拡張子と一致しません。"),
    (b"PK\x03\x04broken", "logs.zip", "「logs.zip」は壊れたzipファイルです。"),
    (b"", "empty.txt", "「empty.txt」は空のファイルです。"),
    (b"\x00\x01\x02binary", "data.txt", "「data.txt」は添付できない種類のファイルです"),
    (b"<html><script>alert(1)</script></html>", "page.html", "「page.html」は添付できない種類のファイルです"),
])
def test_files_are_checked_by_their_content(owner_client, data, name, message):
    refused(file_case(owner_client, [upload(data, name)]), message)


@pytest.mark.parametrize("raw,kept", [
    ("../../etc/passwd.txt", "passwd.txt"),
    ("..\\..\\windows\\win.ini.txt", None),  # whatever is left, without a separator
    ("ev\x00il.txt", "evil.txt"),
    ("<script>x</script>.txt", "script>.txt"),
])
def test_a_file_name_is_never_a_path_and_is_shown_escaped(owner_client, raw, kept):
    response = file_case(owner_client, [upload(b"hello\n", raw)])
    assert response.status_code == 303
    record = db.session.scalar(select(SupportFile))
    assert record.name == kept or kept is None
    assert not set(record.name) & {"/", "\\", "\x00"} and not record.name.startswith(".")
    assert record.store == "db" and record.store_key is None
    case = db.session.scalar(select(SupportCase))
    page = owner_client.get(f"/support/cases/{case.number}").get_data(as_text=True)
    assert "<script>x" not in page


def test_a_300_character_name_is_shortened_keeping_its_extension(owner_client):
    response = file_case(owner_client, [upload(png(), "写" * 300 + ".png")])
    assert response.status_code == 303
    name = db.session.scalar(select(SupportFile.name))
    assert len(name) == 120 and name.endswith(".png")


def test_the_case_total_is_limited_also_across_replies(make_app):
    app = make_app(SUPPORT_FILE_MAX_BYTES=4000, SUPPORT_CASE_MAX_BYTES=6000)
    with app.app_context():
        client = make_world(app)
        refused(file_case(client, [upload(b"a" * 3500, "a.txt"), upload(b"b" * 3500, "b.txt")]),
                "1件のケースに添付できるのは合計")
        assert file_case(client, [upload(b"a" * 3500, "a.txt")]).status_code == 303
        case = db.session.scalar(select(SupportCase))
        url = f"/support/cases/{case.number}"
        html = client.get(url).get_data(as_text=True)
        response = client.post(f"{url}/reply", data={
            "csrf_token": csrf_from(html), "comment": "追加",
            "files": [upload(b"c" * 3500, "c.txt")]}, content_type="multipart/form-data")
        assert response.status_code == 422
        assert "1件のケースに添付できるのは合計" in field_error(response.get_data(as_text=True),
                                                              "reply-files")
        assert _count(SupportFile) == 1 and _count(SupportMessage) == 1


def test_a_file_larger_than_the_apps_usual_body_limit_is_accepted(owner_client):
    """Every other form of the app takes at most 2 MB: the support center's take files
    up to their own limits (the CSRF check must not read the body under the 2 MB)."""
    data = b"x" * (3 * 1024 * 1024) + b"\n"
    response = file_case(owner_client, [upload(data, "big.log")])
    assert response.status_code == 303
    assert db.session.scalar(select(SupportFile.size)) == len(data)


def test_a_request_body_over_the_upload_limit_is_a_413_page(make_app):
    app = make_app(SUPPORT_UPLOAD_MAX_BYTES=50_000)
    with app.app_context():
        client = make_world(app)
        response = file_case(client, [upload(b"a" * 60_000, "big.txt")])
        assert response.status_code == 413
        assert "送信データが大きすぎます" in response.get_data(as_text=True)
        assert _count(SupportCase) == 0


def test_a_failure_midway_stores_neither_the_case_nor_any_file(owner_client, monkeypatch):
    """The database gives up while the second file is stored (a 503 page: try again)."""
    stored = []
    real_store = support_files.store

    def failing_store(upload_, case_id, message):
        if stored:
            raise OperationalError("INSERT INTO support_file_chunk", {},
                                   Exception("database is locked"))
        stored.append(real_store(upload_, case_id, message))
        return stored[-1]

    monkeypatch.setattr(support_files, "store", failing_store)
    response = file_case(owner_client, [upload(png(), "a.png"), upload(png(b"1"), "b.png")])
    assert response.status_code == 503
    assert "内容は保存されていません" in response.get_data(as_text=True)
    assert stored  # the first file had been written…
    # …and went with the rest.
    assert (_count(SupportCase), _count(SupportMessage), _count(SupportFile),
            _count(SupportFileChunk)) == (0, 0, 0, 0)


# -- replies with files -------------------------------------------------------------------
def test_a_reply_with_files_and_no_comment(owner_client):
    assert file_case(owner_client, []).status_code == 303
    case = db.session.scalar(select(SupportCase))
    url = f"/support/cases/{case.number}"
    html = owner_client.get(url).get_data(as_text=True)
    response = owner_client.post(f"{url}/reply", data={
        "csrf_token": csrf_from(html), "request_key": KEY_PATTERN.search(html).group(1),
        "comment": "", "files": [upload(png(), "追加の写真.png")]},
        headers=HX, content_type="multipart/form-data")
    assert response.status_code == 200
    assert "追加の写真.png" in response.get_data(as_text=True)
    bad = owner_client.post(f"{url}/reply", data={
        "csrf_token": csrf_from(html), "comment": "exe です",
        "files": [upload(EXE, "tool.png")]}, headers=HX, content_type="multipart/form-data")
    assert bad.status_code == 422
    assert "添付できない種類のファイルです" in field_error(bad.get_data(as_text=True),
                                                      "reply-files")
    assert _count(SupportMessage, SupportMessage.body == "exe です") == 0


# -- downloads ----------------------------------------------------------------------------
def _case_with_file(client, data=None, name="写真.png"):
    assert file_case(client, [upload(data or png(), name)]).status_code == 303
    case = db.session.scalar(select(SupportCase).order_by(SupportCase.id.desc()))
    record = db.session.scalar(select(SupportFile).where(SupportFile.case_id == case.id))
    return case, record


# Downloads are streamed: `buffered=True` reads them inside the test client's request (its
# context is its own, as a real server's would be).
def test_a_download_is_an_attachment_with_its_type_and_nosniff(owner_client):
    case, record = _case_with_file(owner_client)
    response = owner_client.get(f"/support/cases/{case.number}/files/{record.id}", buffered=True)
    assert response.status_code == 200
    assert response.get_data() == png()
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''%E5%86%99%E7%9C%9F.png" in disposition
    assert "no-store" in response.headers["Cache-Control"]


def test_a_large_file_comes_back_whole_from_several_chunks(owner_client):
    data = ("0123456789abcdef\n" * 70_000).encode()  # > 2 chunks of 512 KB
    case, record = _case_with_file(owner_client, data, "big.log")
    assert _count(SupportFileChunk, SupportFileChunk.file_id == record.id) == 3
    response = owner_client.get(f"/support/cases/{case.number}/files/{record.id}", buffered=True)
    assert response.get_data() == data and response.headers["Content-Type"].startswith("text/plain")


def test_someone_elses_files_and_mixed_up_ids_are_404(app, owner_client):
    case, record = _case_with_file(owner_client)
    second, other_record = _case_with_file(owner_client, name="二件目.png")
    intruder = app.test_client()
    assert login(intruder, "other@example.com").status_code == 303
    assert intruder.get(f"/support/cases/{case.number}/files/{record.id}", buffered=True).status_code == 404
    # A file of the owner's other case under this case's number.
    assert owner_client.get(
        f"/support/cases/{case.number}/files/{other_record.id}").status_code == 404
    assert owner_client.get(f"/support/cases/{case.number}/files/999999").status_code == 404
    assert app.test_client().get(
        f"/support/cases/{case.number}/files/{record.id}").status_code == 302


def test_a_file_on_an_internal_note_is_not_the_customers(app, owner_client):
    case, _record = _case_with_file(owner_client)
    staff = make_owner("staff@example.com", "高橋", "美咲")
    with app.test_request_context():  # the file checks word their messages for a request
        upload_ = support_files.inspect(io.BytesIO(b"internal\n"), "memo.txt")
    db.session.expire_all()
    case = db.session.get(SupportCase, case.id)
    note = cases.add_message(case, staff, "社内メモ", [upload_], None, from_staff=True,
                             internal=True)
    note_file = db.session.scalar(select(SupportFile).where(SupportFile.message_id == note.id))
    assert owner_client.get(
        f"/support/cases/{case.number}/files/{note_file.id}", buffered=True).status_code == 404
    assert "memo.txt" not in owner_client.get(f"/support/cases/{case.number}").get_data(
        as_text=True)


def test_the_filesystem_store_serves_the_same_bytes(make_app, tmp_path):
    app = make_app(SUPPORT_FILE_STORE="fs", SUPPORT_FILE_DIR=str(tmp_path / "files"))
    with app.app_context():
        client = make_world(app)
        case, record = _case_with_file(client, name="../../x.png")
        assert record.store == "fs" and record.name == "x.png"
        assert [p.name for p in (tmp_path / "files").iterdir()] == [record.store_key]
        response = client.get(f"/support/cases/{case.number}/files/{record.id}", buffered=True)
        assert response.get_data() == png()
