"""個人データのダウンロード: one archive of everything stored about an account, built in
the background and offered by a mailed link.

How it works:

- `request_export(account)` queues a `DataExport` row: at most one pending or ready
  (unexpired) export per account, and at most DATA_EXPORTS_PER_DAY requests in 24 hours.
  The account's row is locked first, so two tabs (or a double submit) queue one.
- `run_exports()` (a periodic job, and `flask --app app account export-run`) builds each
  pending export: every service's tables (`registry.personal_data_of`) are written as one
  CSV each straight into a ZIP in a temporary file while `data.json` is written to a
  second temporary file, row by row; nothing holds a whole table (long ones come from
  `streamed`, in batches), so a year of readings costs the same memory as a day. Only
  then a short transaction locks the export, copies the file into 512 KB
  `DataExportChunk` rows, marks it ready, issues the link and queues the mail (in the
  account's language). Two job runners at once build twice at worst, but only one
  marks it ready and mails. A failure marks the export failed (no mail) and is logged.
- The link (`data_export`, DATA_EXPORT_LINK_TTL) opens the download for the signed-in
  account it was issued to, as often as needed until it expires: it is not spent, because
  a download broken off on a phone must be retried, and the link alone is worth nothing
  without that account's sign-in. Every download is audited.
- Expired exports lose their chunks on the next run (the row stays, for the daily count
  and the audit trail).

The archive: `README.txt` (what each file is, when it was made), `data.json` (one object
per service → tables → rows) and `<service>/<table>.csv` (UTF-8 with BOM, header row).
A provider's table is any iterable of row dicts; one with a `columns` attribute (`Table`)
gets its header row even when it is empty."""
from __future__ import annotations

import csv
import enum
import io
import json
import logging
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import IO, Any

from flask import current_app, render_template
from flask_babel import force_locale
from sqlalchemy import delete, func, insert, select, update

from blueprints.core import audit, registry
from blueprints.core.links import LinkCheck, check_link, issue_link
from models import JST, db, utcnow
from models.account import Account
from models.trust import DataExport, DataExportChunk

log = logging.getLogger(__name__)

PURPOSE = "data_export"
CHUNK_BYTES = 512 * 1024
# Cells a spreadsheet would run as a formula: written with a leading ' (strings only).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# -- tables ------------------------------------------------------------------------------
class Table:
    """A table of the archive with its columns known in advance (the CSV's header row
    even when there is no row); `rows` is any iterable of dicts with those keys, read
    once (a generator over `yield_per` for long tables)."""

    def __init__(self, columns: Iterable[str], rows: Iterable[dict]):
        self.columns = list(columns)
        self.rows = rows

    def __iter__(self) -> Iterator[dict]:
        return iter(self.rows)


def iso(value: datetime | date | None) -> str | None:
    """A date or time for the archive: ISO 8601, times in Japan time with their offset."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(JST).isoformat(timespec="seconds")
    return value.isoformat()


def streamed(statement, convert: Callable[[Any], dict], batch: int = 500) -> Iterator[dict]:
    """Rows of a long query (ordered on unique keys), `batch` at a time: never the whole
    result in memory, and each batch read in a transaction of its own, ended before the
    rows are written, because on SQLite every transaction holds the database's write
    lock and a year of history must not keep the site waiting. Only for the export job."""
    offset = 0
    while True:
        rows = db.session.execute(statement.limit(batch).offset(offset)).all()
        db.session.commit()
        yield from (convert(row) for row in rows)
        if len(rows) < batch:
            return
        offset += batch


# -- state -------------------------------------------------------------------------------
class ExportState(str, enum.Enum):
    NONE = "none"
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"
    EXPIRED = "expired"


@dataclass(frozen=True)
class ExportStatus:
    state: ExportState
    export: DataExport | None = None


def _state_of(export: DataExport | None, now: datetime) -> ExportState:
    if export is None:
        return ExportState.NONE
    if export.failed_at is not None:
        return ExportState.FAILED
    if export.ready_at is None:
        return ExportState.PENDING
    if export.expires_at is None or export.expires_at <= now:
        return ExportState.EXPIRED
    return ExportState.READY


def export_status(account: Account) -> ExportStatus:
    """The account's newest export and what it is now (none, being prepared, ready until
    …, failed, expired)."""
    export = db.session.scalar(select(DataExport).where(DataExport.account_id == account.id)
                               .order_by(DataExport.requested_at.desc(), DataExport.id.desc())
                               .limit(1))
    return ExportStatus(_state_of(export, utcnow()), export)


# -- requesting --------------------------------------------------------------------------
class RequestOutcome(str, enum.Enum):
    QUEUED = "queued"
    PENDING = "pending"   # one is being prepared
    READY = "ready"       # one is ready and its link still valid
    LIMITED = "limited"   # DATA_EXPORTS_PER_DAY reached


def per_day() -> int:
    return current_app.config["DATA_EXPORTS_PER_DAY"]


def request_export(account: Account) -> RequestOutcome:
    """Queue an export of the account's data, or say why not; commits. The account row is
    locked first (SQLite: the write transaction), so concurrent requests queue one."""
    db.session.execute(select(Account.id).where(Account.id == account.id).with_for_update())
    now = utcnow()
    state = export_status(account).state
    if state is ExportState.PENDING:
        outcome = RequestOutcome.PENDING
    elif state is ExportState.READY:
        outcome = RequestOutcome.READY
    elif db.session.scalar(select(func.count()).select_from(DataExport).where(
            DataExport.account_id == account.id,
            DataExport.requested_at > now - timedelta(days=1))) >= per_day():
        outcome = RequestOutcome.LIMITED
    else:
        export = DataExport(account_id=account.id, requested_at=now)
        db.session.add(export)
        db.session.flush()
        audit.record("account.data_export_requested", actor_id=account.id,
                     subject_id=account.id, export=export.id)
        outcome = RequestOutcome.QUEUED
    if outcome is not RequestOutcome.QUEUED:
        audit.record("account.data_export_refused", actor_id=account.id, subject_id=account.id,
                     reason=outcome.value)
    db.session.commit()
    return outcome


# -- the archive ---------------------------------------------------------------------------
def _json_default(value):
    if isinstance(value, (datetime, date)):
        return iso(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes):
        raise TypeError("bytes are never exported")
    return str(value)


def _json_value(value):
    """A value as data.json has it (dates and decimals as strings)."""
    if isinstance(value, (datetime, date, Decimal, enum.Enum, bytes)):
        return _json_default(value)
    return value


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=_json_default)
    if isinstance(value, (datetime, date, Decimal, enum.Enum, bytes)):
        value = _json_default(value)
    text = str(value)
    if isinstance(value, str) and text.startswith(FORMULA_START):
        return "'" + text
    return text


@dataclass
class _Written:
    path: str
    service: str
    table: str
    rows: int


def _write_table(archive: zipfile.ZipFile, path: str, rows: Iterable[dict],
                 json_out: IO[str]) -> int:
    """One table: its CSV into the archive and its rows into data.json, row by row."""
    count = 0
    columns: list[str] | None = getattr(rows, "columns", None)
    with archive.open(path, "w", force_zip64=True) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        text.write("\ufeff")  # the BOM, also for a table without columns or rows
        writer = csv.writer(text)
        if columns is not None:
            writer.writerow(columns)
        for row in rows:
            if columns is None:
                columns = list(row)
                writer.writerow(columns)
            if list(row) != columns:
                raise ValueError(f"{path}: row keys {list(row)} differ from {columns}")
            writer.writerow([_cell(row[column]) for column in columns])
            json_out.write("," if count else "")
            json.dump({key: _json_value(value) for key, value in row.items()}, json_out,
                      ensure_ascii=False, default=_json_default)
            count += 1
        text.flush()
        text.detach()
    return count


def write_archive(account: Account, target: IO[bytes], made_at: datetime) -> list[_Written]:
    """Write the account's archive as a ZIP to `target` (a file open for binary writing);
    answers what it wrote. Reads the database, never commits."""
    written: list[_Written] = []
    with tempfile.TemporaryFile() as json_file, \
            zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        json_out = io.TextIOWrapper(json_file, encoding="utf-8", newline="")
        json_out.write('{"account": ' + json.dumps(account.customer_number)
                       + ', "made_at": ' + json.dumps(iso(made_at)) + ', "services": {')
        for service_index, (service, tables) in enumerate(registry.personal_data_of(account)):
            json_out.write(("," if service_index else "") + json.dumps(service) + ": {")
            for table_index, (table, rows) in enumerate(tables.items()):
                json_out.write(("," if table_index else "") + json.dumps(table) + ": [")
                path = f"{service}/{table}.csv"
                written.append(_Written(path, service, table,
                                        _write_table(archive, path, rows, json_out)))
                json_out.write("]")
            json_out.write("}")
        json_out.write("}}")
        json_out.flush()
        json_out.detach()
        json_file.seek(0)
        with archive.open("data.json", "w", force_zip64=True) as out:
            shutil.copyfileobj(json_file, out, CHUNK_BYTES)
        with force_locale("ja"):  # the README is Japanese; the job runs outside requests
            readme = render_template("account/data_export_readme.txt", account=account,
                                     made_at=made_at, tables=written,
                                     site_name=current_app.config["SITE_NAME"])
        archive.writestr("README.txt", readme.encode("utf-8-sig"))
    return written


# -- building in the background -------------------------------------------------------------
def purge_expired(now: datetime | None = None) -> int:
    """Delete the bytes of exports whose link has expired; answers how many pieces went."""
    now = now or utcnow()
    expired = select(DataExport.id).where(DataExport.expires_at <= now)
    if not db.session.scalar(select(select(DataExportChunk.id).where(
            DataExportChunk.export_id.in_(expired)).exists())):
        db.session.commit()  # nothing to drop: no write (this runs every watch round)
        return 0
    result = db.session.execute(delete(DataExportChunk).where(
        DataExportChunk.export_id.in_(expired)))
    db.session.commit()
    return result.rowcount or 0


def run_exports() -> int:
    """The periodic job: drop expired archives, then build every pending export (each
    on its own, a failure marks that one failed). Answers how many were made ready."""
    purge_expired()
    pending = list(db.session.scalars(select(DataExport.id).where(
        DataExport.ready_at.is_(None), DataExport.failed_at.is_(None)).order_by(DataExport.id)))
    db.session.commit()
    return sum(1 for export_id in pending if build_export(export_id))


def build_export(export_id: int) -> bool:
    """Build one export, store it, mail its link; commits. False when it failed or
    another runner finished it first."""
    from mail.messages import send_data_export_ready_mail

    export = db.session.get(DataExport, export_id)
    account = db.session.get(Account, export.account_id) if export is not None else None
    if export is None or account is None or export.ready_at or export.failed_at:
        db.session.rollback()
        return False
    account_id = account.id
    try:
        with tempfile.TemporaryFile() as spool:
            write_archive(account, spool, utcnow())
            size = spool.tell()
            db.session.commit()  # end the reads before the short write transaction
            locked = db.session.scalar(
                select(DataExport).where(DataExport.id == export_id).with_for_update()
                .execution_options(populate_existing=True))
            if locked is None or locked.ready_at is not None or locked.failed_at is not None:
                db.session.rollback()
                return False
            spool.seek(0)
            position = 0
            while block := spool.read(CHUNK_BYTES):
                db.session.execute(insert(DataExportChunk), [
                    {"export_id": export_id, "position": position, "data": block}])
                position += 1
            now = utcnow()
            ttl = current_app.config["DATA_EXPORT_LINK_TTL"]
            locked.ready_at, locked.size, locked.expires_at = now, size, now + ttl
            account = db.session.get(Account, account_id)
            token = issue_link(PURPOSE, account.email, ttl, account=account,
                               payload={"export_id": export_id})
            send_data_export_ready_mail(account, token, locked.expires_at)
            audit.record("account.data_export_ready", subject_id=account_id, export=export_id,
                         size=size)
            db.session.commit()
            return True
    except Exception:
        db.session.rollback()
        log.exception("personal-data export %s failed", export_id)
        marked = db.session.execute(update(DataExport).where(
            DataExport.id == export_id, DataExport.ready_at.is_(None),
            DataExport.failed_at.is_(None)).values(failed_at=utcnow()))
        if marked.rowcount == 1:  # not when the account (and its export) was deleted
            audit.record("account.data_export_failed", subject_id=account_id, export=export_id)
        db.session.commit()
        return False


# -- downloading ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Download:
    """What the download link leads to: the link's check, whether it belongs to someone
    else, and the export when it can be downloaded now."""

    checked: LinkCheck
    foreign: bool = False
    export: DataExport | None = None


def find_download(account: Account, token: str | None) -> Download:
    checked = check_link(PURPOSE, token)
    link = checked.link
    if link is not None and link.account_id != account.id:
        return Download(checked, foreign=True)
    if not checked.ok:
        return Download(checked)
    export_id = (link.payload or {}).get("export_id")
    export = db.session.get(DataExport, export_id) if isinstance(export_id, int) else None
    if (export is None or export.account_id != account.id
            or _state_of(export, utcnow()) is not ExportState.READY):
        return Download(checked)
    return Download(checked, export=export)


def record_download(account: Account, export: DataExport) -> None:
    audit.record("account.data_export_downloaded", actor_id=account.id, subject_id=account.id,
                 export=export.id)
    db.session.commit()


def read_chunks(export_id: int) -> Iterator[bytes]:
    """The archive's bytes, one piece per query; no transaction stays open while the
    client reads."""
    count = db.session.scalar(select(func.count()).select_from(DataExportChunk)
                              .where(DataExportChunk.export_id == export_id))
    db.session.commit()
    for position in range(count):
        block = db.session.scalar(select(DataExportChunk.data).where(
            DataExportChunk.export_id == export_id, DataExportChunk.position == position))
        db.session.commit()
        if block is None:
            return
        yield block


def file_name(export: DataExport) -> str:
    return f"enelink-personal-data-{export.ready_at.astimezone(JST):%Y%m%d-%H%M}.zip"
