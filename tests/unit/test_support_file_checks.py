"""The file checks of the support center by themselves: names that are never paths, types
from the bytes (not the name), the limits per file and per submission, sizes as shown,
and the case form's serial and text rules."""
from __future__ import annotations

import io
import zipfile

import pytest
from werkzeug.datastructures import FileStorage

from blueprints.support import files
from tests.flows.test_support_files import EXE, png


@pytest.fixture
def ctx(app):
    with app.test_request_context():
        yield app


@pytest.mark.parametrize("raw,clean", [
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\taro\\写真.jpg", "写真.jpg"),
    ("ev\x00il.png", "evil.png"),
    ("\u202egnp.exe", "gnp.exe"),
    ("...hidden", "hidden"),
    ("", "file"),
    (None, "file"),
    ("../", "file"),
    ("ｶﾞ.txt", "ｶﾞ.txt"),
])
def test_clean_name(raw, clean):
    assert files.clean_name(raw) == clean


def test_a_long_name_keeps_its_extension_within_120_characters():
    name = files.clean_name("あ" * 300 + ".jpeg")
    assert len(name) == 120 and name.endswith(".jpeg")
    assert len(files.clean_name("x" * 300)) == 120


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", "a")
    return buffer.getvalue()


@pytest.mark.parametrize("data,name,kind", [
    (png(), "a.png", "image/png"),
    (png(), "a.jpg", "image/png"),  # one image type named as another is still an image
    (png(), "photo", "image/png"),
    (b"%PDF-1.7\n", "a.pdf", "application/pdf"),
    (_zip(), "a.zip", "application/zip"),
    ("日本語のログ\n".encode("utf-8"), "a.log", "text/plain"),
    ("日本語のログ\n".encode("cp932"), "a.txt", "text/plain"),
    (b"a,b\n1,2\n", "a.csv", "text/csv"),
])
def test_accepted_types_come_from_the_bytes(ctx, data, name, kind):
    upload = files.inspect(io.BytesIO(data), name)
    try:
        assert (upload.content_type, upload.size) == (kind, len(data))
        assert b"".join(upload.chunks()) == data
    finally:
        upload.close()


@pytest.mark.parametrize("data,name", [
    (EXE, "a.png"), (EXE, "a.exe"), (b"not a zip", "a.zip"), (b"", "a.txt"),
    (b"\x00\x00", "a.txt"), (png(), "a.txt"), (b"#!/bin/sh\nrm -rf /\n", "a.sh"),
    (b"\x89PNG broken", "a.pdf"),
])
def test_refused_types(ctx, data, name):
    with pytest.raises(files.FileRefused):
        files.inspect(io.BytesIO(data), name)


def test_limits_per_file_and_per_submission(ctx):
    ctx.config.update(SUPPORT_FILE_MAX_BYTES=100, SUPPORT_FILES_PER_POST=2,
                      SUPPORT_CASE_MAX_BYTES=150)
    with pytest.raises(files.FileRefused, match="大きすぎます"):
        files.inspect(io.BytesIO(b"a" * 101), "a.txt")
    storages = [FileStorage(io.BytesIO(b"a" * 10), f"{n}.txt") for n in range(3)]
    with pytest.raises(files.FileRefused, match="2個まで"):
        files.inspect_all(storages)
    # An empty file input (nothing chosen) is no file.
    assert files.inspect_all([FileStorage(io.BytesIO(b""), "")]) == []
    with pytest.raises(files.FileRefused, match="合計"):
        files.inspect_all([FileStorage(io.BytesIO(b"a" * 80), "a.txt")],
                          already_stored_bytes=80)


@pytest.mark.parametrize("size,text", [(35, "35 B"), (2048, "2 KB"), (10 * 1024 * 1024, "10 MB"),
                                       (1536 * 1024, "1.5 MB")])
def test_human_size(size, text):
    assert files.human_size(size) == text


@pytest.mark.parametrize("raw,normalised,ok", [
    ("DM000101", "DM000101", True),
    ("ｄｍ－０００１０１", "DM-000101", True),
    (" hc-a10001wn1 ", "HC-A10001WN1", True),
    ("A" * 20, "A" * 20, True),
    ("A" * 21, "A" * 21, False),
    ("製造123", "製造123", False),
    ("AB--12", "AB--12", False),
])
def test_case_serial_rule(raw, normalised, ok):
    from wtforms.validators import StopValidation

    from forms.validators import CaseSerial, normalize_serial

    value = normalize_serial(raw)
    assert value == normalised

    class Field:
        data = value

    if ok:
        CaseSerial()(None, Field)
    else:
        with pytest.raises(StopValidation):
            CaseSerial()(None, Field)


def test_text_block_keeps_lines_and_refuses_control_characters():
    from wtforms.validators import StopValidation

    from forms.validators import TextBlock, normalize_text_block

    assert normalize_text_block(" 一行目\r\n二行目\r三行目\n\n ") == "一行目\n二行目\n三行目"

    class Field:
        data = "一行目\n\t二行目"

    TextBlock()(None, Field)
    Field.data = "a\x00b"
    with pytest.raises(StopValidation):
        TextBlock()(None, Field)
    Field.data = "a\u202eb"
    with pytest.raises(StopValidation):
        TextBlock()(None, Field)
