"""Attached files: checked by their content, kept where every web machine can read them,
streamed back only to those who may see the case.

    uploads = files.inspect_all(request.files.getlist("files"))   # raises FileRefused
    files.store(upload, case, message)                            # in the caller's transaction
    return files.download_response(support_file)                 # attachment, nosniff

Rules:
- The type comes from the bytes, never from the name: images, PDF and zip by their
  signature (`filetype`), a zip also by its directory (`zipfile`); anything without a
  signature is text (CSV, logs) only when it decodes as UTF-8 or Shift_JIS and holds no
  NUL byte. A name whose extension promises another type than the bytes (a `.exe`
  renamed `.png`, a `.zip` that is not one) is refused; so is an empty file.
- The user's file name is cleaned (no directories, control characters or NUL; at most
  120 characters, the extension kept) and only ever shown or sent back in
  `Content-Disposition`: the bytes are stored under a number (database) or a random
  key (filesystem), never under that name.
- Store "db" (default) keeps the bytes in `support_file_chunk` rows of CHUNK_BYTES,
  read one at a time on download, each in its own short transaction (SQLite's write
  lock is never held while a slow client reads). Store "fs" writes under
  SUPPORT_FILE_DIR, which every web machine must share.
"""
from __future__ import annotations

import codecs
import hashlib
import os
import secrets
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import quote

import filetype
from flask import Response, current_app, stream_with_context
from flask_babel import gettext as _
from sqlalchemy import func, select

from models import db
from models.support import SupportFile, SupportFileChunk

CHUNK_BYTES = 512 * 1024
NAME_MAX = 120

# Detected type → what is stored and sent back.
SIGNATURE_TYPES = {
    "image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp", "image/tiff",
    "image/heic", "image/heif", "application/pdf", "application/zip",
}
# Extensions that promise a signature: the bytes must carry it.
EXTENSION_TYPES = {
    "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif",
    "webp": "image/webp", "bmp": "image/bmp", "tif": "image/tiff", "tiff": "image/tiff",
    "heic": "image/heic", "heif": "image/heif", "pdf": "application/pdf",
    "zip": "application/zip",
}
TEXT_EXTENSIONS = {"", "txt", "csv", "tsv", "log", "json", "xml"}


class FileRefused(ValueError):
    """A file that may not be attached; `str(error)` is the Japanese message for the page."""


@dataclass
class Upload:
    """A checked file, spooled to a temporary file, waiting to be stored."""

    name: str
    content_type: str
    size: int
    sha256: str
    spool: IO[bytes]

    def chunks(self) -> Iterator[bytes]:
        self.spool.seek(0)
        while block := self.spool.read(CHUNK_BYTES):
            yield block

    def close(self) -> None:
        self.spool.close()


def clean_name(raw: str | None) -> str:
    """The user's file name as shown and sent back: its last path part only, without
    control characters, NUL or leading dots, NFC, at most NAME_MAX characters with the
    extension kept. "../../etc/passwd" → "passwd"; "" → "file"."""
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    name = name.lstrip(".").strip() or "file"
    if len(name) > NAME_MAX:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 10:
            name = stem[:NAME_MAX - len(extension) - 1] + "." + extension
        else:
            name = name[:NAME_MAX]
    return name


def _extension(name: str) -> str:
    stem, dot, extension = name.rpartition(".")
    return extension.lower() if dot and stem else ""


def _is_text(sample: bytes) -> bool:
    """No NUL byte, and UTF-8 or Shift_JIS (a sample may end inside a character)."""
    if b"\x00" in sample:
        return False
    for encoding in ("utf-8", "cp932"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
            return True
        except UnicodeDecodeError:
            continue
    return False


def _content_type(name: str, spool: IO[bytes], sample: bytes) -> str:
    refused_kind = _("「%(name)s」は添付できない種類のファイルです（画像・PDF・CSV・テキスト・ログ・zipのみ）。",
                     name=name)
    mismatch = _("「%(name)s」はファイルの内容が拡張子と一致しません。", name=name)
    extension = _extension(name)
    promised = EXTENSION_TYPES.get(extension)
    kind = filetype.guess(sample)
    if kind is None:
        if promised is not None:  # a ".zip" or ".png" without the signature
            raise FileRefused(mismatch)
        if extension not in TEXT_EXTENSIONS or not _is_text(sample):
            raise FileRefused(refused_kind)
        return "text/csv" if extension in ("csv", "tsv") else "text/plain"
    mime = kind.mime
    if mime not in SIGNATURE_TYPES:  # an executable, an office file, audio …
        raise FileRefused(refused_kind)
    if extension and promised is None:  # a PNG named ".txt" or ".exe"
        raise FileRefused(mismatch)
    # One image type named as another (a JPEG saved as ".png") is still an image.
    if promised is not None and promised != mime and not (
            promised.startswith("image/") and mime.startswith("image/")):
        raise FileRefused(mismatch)
    if mime == "application/zip":
        spool.seek(0)
        if not zipfile.is_zipfile(spool):
            raise FileRefused(_("「%(name)s」は壊れたzipファイルです。", name=name))
    return mime


def inspect(stream: IO[bytes], raw_name: str | None) -> Upload:
    """Read one uploaded file into a spool, measuring, hashing and typing it. Raises
    FileRefused (empty, over SUPPORT_FILE_MAX_BYTES, a refused type)."""
    name = clean_name(raw_name)
    limit = current_app.config["SUPPORT_FILE_MAX_BYTES"]
    spool = tempfile.SpooledTemporaryFile(max_size=CHUNK_BYTES * 2)
    digest = hashlib.sha256()
    size = 0
    sample = b""
    try:
        while block := stream.read(CHUNK_BYTES):
            size += len(block)
            if size > limit:
                raise FileRefused(_("「%(name)s」は大きすぎます（1ファイル%(limit)sまで）。",
                                    name=name, limit=human_size(limit)))
            if len(sample) < CHUNK_BYTES:
                sample += block[:CHUNK_BYTES - len(sample)]
            digest.update(block)
            spool.write(block)
        if size == 0:
            raise FileRefused(_("「%(name)s」は空のファイルです。", name=name))
        content_type = _content_type(name, spool, sample)
    except BaseException:
        spool.close()
        raise
    return Upload(name=name, content_type=content_type, size=size,
                  sha256=digest.hexdigest(), spool=spool)


def inspect_all(file_storages: Iterable, already_stored_bytes: int = 0) -> list[Upload]:
    """Check the files of one submission (werkzeug FileStorage objects; empty file
    inputs are skipped): at most SUPPORT_FILES_PER_POST, each as `inspect`, all of
    them with what the case holds already within SUPPORT_CASE_MAX_BYTES. Raises
    FileRefused with the first problem; nothing is kept then."""
    config = current_app.config
    present = [storage for storage in file_storages
               if storage is not None and (storage.filename or "") != ""]
    if len(present) > config["SUPPORT_FILES_PER_POST"]:
        raise FileRefused(_("添付ファイルは1回に%(count)d個までです。",
                            count=config["SUPPORT_FILES_PER_POST"]))
    uploads: list[Upload] = []
    try:
        for storage in present:
            uploads.append(inspect(storage.stream, storage.filename))
        total = already_stored_bytes + sum(upload.size for upload in uploads)
        if total > config["SUPPORT_CASE_MAX_BYTES"]:
            raise FileRefused(_("1件のケースに添付できるのは合計%(limit)sまでです。",
                                limit=human_size(config["SUPPORT_CASE_MAX_BYTES"])))
    except BaseException:
        for upload in uploads:
            upload.close()
        raise
    return uploads


def stored_bytes(case_id: int) -> int:
    """The size of every file the case holds."""
    return db.session.scalar(select(func.coalesce(func.sum(SupportFile.size), 0))
                             .where(SupportFile.case_id == case_id)) or 0


def store(upload: Upload, case_id: int, message) -> SupportFile:
    """Add the file to the message, in the caller's transaction."""
    backend = current_app.config["SUPPORT_FILE_STORE"]
    record = SupportFile(case_id=case_id, message=message, name=upload.name,
                         content_type=upload.content_type, size=upload.size,
                         sha256=upload.sha256, store="fs" if backend == "fs" else "db")
    db.session.add(record)
    if record.store == "fs":
        record.store_key = secrets.token_hex(16)
        directory = Path(current_app.config["SUPPORT_FILE_DIR"])
        directory.mkdir(parents=True, exist_ok=True)
        partial = directory / (record.store_key + ".part")
        with open(partial, "wb") as out:
            for block in upload.chunks():
                out.write(block)
        os.replace(partial, directory / record.store_key)
    else:
        db.session.flush([record])
        for seq, block in enumerate(upload.chunks()):
            db.session.add(SupportFileChunk(file_id=record.id, seq=seq, data=block))
    upload.close()
    return record


def _read(record: SupportFile) -> Iterator[bytes]:
    if record.store == "fs":
        path = Path(current_app.config["SUPPORT_FILE_DIR"]) / (record.store_key or "")
        with open(path, "rb") as source:
            while block := source.read(CHUNK_BYTES):
                yield block
        return
    file_id = record.id
    count = db.session.scalar(select(func.count()).where(SupportFileChunk.file_id == file_id))
    db.session.commit()
    for seq in range(count):
        block = db.session.scalar(select(SupportFileChunk.data).where(
            SupportFileChunk.file_id == file_id, SupportFileChunk.seq == seq))
        db.session.commit()  # end the read: no lock is held while the client reads
        if block is None:
            return
        yield block


def download_response(record: SupportFile) -> Response:
    """The file as an attachment: its stored type, `nosniff`, its cleaned name (RFC 6266,
    UTF-8) and no caching by shared caches."""
    response = Response(stream_with_context(_read(record)), mimetype=record.content_type)
    ascii_name = record.name.encode("ascii", "ignore").decode().replace('"', "") or "file"
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(record.name)}")
    response.headers["Content-Length"] = str(record.size)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def human_size(size: int) -> str:
    """12 MB, 800 KB, 35 B: for limits and file lists."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.0f} MB" if size % (1024 * 1024) == 0 \
            else f"{size / (1024 * 1024):.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} B"
