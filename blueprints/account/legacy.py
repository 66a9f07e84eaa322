"""Importing the users of the old portal (`flask --app app accounts import FILE.csv`).

The file is read as a stream: one physical line at a time (at most MAX_LINE_BYTES, each
decoded on its own so that one badly encoded line refuses its row only), the csv module
over those lines, and a commit every LEGACY_IMPORT_BATCH rows with the session emptied,
so 100,000 rows take no more memory than 500. Nothing about a row is kept after it was
handled: duplicates inside the file are found in the database (rows of this run carry
its `imported_at`).

Each row becomes an opened ID (activated: the old portal knew the address) with an
unusable password (the argon2 hash of a random secret, one per run) and a LegacyLogin
holding the old user name and hash; a `company` makes it a commercial account, the
administrator of a new company with the row's address and phone (companies are never
merged by name). Nothing is mailed. Outcomes per row:

- imported;
- skipped: the user name was imported before (a second run changes nothing);
- refused, with the reason: a field breaking the sign-up's rules (forms/validators.py),
  an unknown hash format or a malformed hash, an e-mail that already has an ID (never
  merged silently), an e-mail or user name that came earlier in the same file, a row
  with the wrong number of fields, a NUL byte, a line that is not in the file's encoding
  or longer than MAX_LINE_BYTES."""
from __future__ import annotations

import codecs
import csv
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import MultiDict

from blueprints.account.legacy_hashes import hash_problem
from blueprints.account.services import find_account, hash_password
from blueprints.core import audit
from forms.fields import store_address
from forms.legacy import LegacyRowForm, LegacyRowWithAddressForm, normalize_username
from models import db, utcnow
from models.account import (
    Account,
    AccountPhone,
    AccountType,
    Company,
    CompanyRole,
    LegacyLogin,
)

ENCODINGS = {"utf-8": "utf-8", "utf8": "utf-8", "cp932": "cp932", "shift_jis": "cp932",
             "sjis": "cp932"}
MAX_LINE_BYTES = 64 * 1024
REQUIRED_COLUMNS = ("username", "email", "family_name", "given_name", "password_hash",
                    "hash_format")
OPTIONAL_COLUMNS = ("family_kana", "given_kana", "phone", "postal_code", "prefecture",
                    "city", "street", "building", "company")
ADDRESS_COLUMNS = ("postal_code", "prefecture", "city", "street", "building")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

IMPORTED, SKIPPED, REFUSED = "imported", "skipped", "refused"


class FileProblem(Exception):
    """The file cannot be read at all (no header, missing columns, not the encoding)."""


@dataclass
class Outcome:
    line: int
    username: str
    status: str
    reason: str = ""


@dataclass
class Counts:
    imported: int = 0
    skipped: int = 0
    refused: int = 0
    ignored_columns: list[str] = field(default_factory=list)

    def add(self, status: str) -> None:
        setattr(self, status, getattr(self, status) + 1)


class _Lines:
    """The file's physical lines, decoded one by one. Lines that could not be decoded or
    were too long are given as empty lines and remembered (until the row that contains
    them asks, see `problems`), so the csv reader never sees them."""

    def __init__(self, binary: BinaryIO, encoding: str):
        self.binary = binary
        self.encoding = encoding
        self.number = 0
        self.bad: dict[int, str] = {}

    def __iter__(self) -> Iterator[str]:
        while True:
            raw = self.binary.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            self.number += 1
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                while True:  # skip the rest of the line without holding it
                    rest = self.binary.readline(MAX_LINE_BYTES)
                    if not rest or rest.endswith(b"\n"):
                        break
                self.bad[self.number] = f"longer than {MAX_LINE_BYTES} bytes"
                yield "\n"
                continue
            if self.number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8):]
            try:
                yield raw.decode(self.encoding)
            except UnicodeDecodeError:
                self.bad[self.number] = f"not valid {self.encoding}"
                yield "\n"

    def problems(self, first: int, last: int) -> list[str]:
        """The bad lines among first..last, forgotten once asked for."""
        found = [f"line {number}: {self.bad.pop(number)}"
                 for number in sorted(n for n in self.bad if first <= n <= last)]
        for number in [n for n in self.bad if n < first]:
            del self.bad[number]
        return found


def _field_errors(form) -> str:
    parts = []
    for name, errors in form.errors.items():
        if isinstance(errors, dict):  # the address block
            for sub, sub_errors in errors.items():
                parts.append(f"{sub}: {'; '.join(str(e) for e in sub_errors)}")
        else:
            parts.append(f"{name}: {'; '.join(str(e) for e in errors)}")
    return " / ".join(parts)


def _validated(values: dict[str, str]):
    """The row through the sign-up's field rules: the form, or the reason it is refused."""
    with_address = any(values.get(name, "").strip() for name in ADDRESS_COLUMNS)
    data = MultiDict({name: values.get(name, "") for name in
                      ("username", "email", "family_name", "given_name", "family_kana",
                       "given_kana", "phone", "company")})
    if with_address:
        for name in ADDRESS_COLUMNS:
            data[f"address-{name}"] = values.get(name, "")
    form = (LegacyRowWithAddressForm if with_address else LegacyRowForm)(formdata=data)
    if not form.validate():
        return None, _field_errors(form)
    if form.company.data and not (with_address and form.phone.data):
        return None, "company: a company needs the address and the phone (they become its own)"
    return form, None


class Importer:
    """One run of the import: rows in, outcomes out (see the module docstring)."""

    def __init__(self, report: Callable[[Outcome], None] | None = None,
                 batch_size: int | None = None):
        self.report = report or (lambda outcome: None)
        self.batch_size = batch_size or current_app.config["LEGACY_IMPORT_BATCH"]
        self.started: datetime = utcnow()
        # One unusable argon2 hash per run: a random secret nobody keeps.
        self.unusable_hash = hash_password(secrets.token_urlsafe(32))
        self.counts = Counts()
        self.pending = 0

    def run(self, binary: BinaryIO, encoding: str = "utf-8", source: str = "") -> Counts:
        codec = ENCODINGS.get(encoding.lower())
        if codec is None:
            raise FileProblem(f"unknown encoding {encoding!r} (utf-8 or cp932)")
        lines = _Lines(binary, codec)
        reader = csv.reader(iter(lines), strict=False)
        header = self._header(reader, lines)
        last_line = lines.number
        while True:
            first = last_line + 1
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as error:  # e.g. a quoted field past the csv field limit
                last_line = lines.number
                self._outcome(Outcome(first, "", REFUSED, f"broken row: {error}"))
                continue
            last_line = lines.number
            problems = lines.problems(first, last_line)
            if not record and not problems:
                continue  # an empty line
            self._row(first, header, record, problems, last_line)
        db.session.commit()
        audit.record("account.legacy_import", source=source[:200],
                     imported=self.counts.imported, skipped=self.counts.skipped,
                     refused=self.counts.refused)
        db.session.commit()
        return self.counts

    def _header(self, reader, lines: _Lines) -> list[str]:
        try:
            header = next(reader)
        except StopIteration:
            raise FileProblem("the file is empty (a header row is expected)") from None
        except csv.Error as error:
            raise FileProblem(f"the header row cannot be read: {error}") from None
        if lines.problems(1, lines.number):
            raise FileProblem(f"the header row is not valid {lines.encoding}; "
                              "try --encoding cp932 for a Shift_JIS file")
        header = [name.strip().lower() for name in header]
        duplicated = sorted({name for name in header if header.count(name) > 1})
        if duplicated:
            raise FileProblem(f"columns named twice: {', '.join(duplicated)}")
        missing = [name for name in REQUIRED_COLUMNS if name not in header]
        if missing:
            raise FileProblem(f"missing columns: {', '.join(missing)} "
                              f"(the header must name {', '.join(REQUIRED_COLUMNS)})")
        self.counts.ignored_columns = [name for name in header if name not in COLUMNS]
        return header

    def _outcome(self, outcome: Outcome) -> None:
        self.counts.add(outcome.status)
        self.report(outcome)

    def _row(self, line: int, header: list[str], record: list[str],
             problems: list[str], last_line: int | None = None) -> None:
        name = record[header.index("username")][:64] if len(record) == len(header) else ""
        if problems:
            return self._outcome(Outcome(line, name, REFUSED, "; ".join(problems)))
        if len(record) != len(header):
            spans = (f" (one row over lines {line}-{last_line}: a quote left open?)"
                     if last_line and last_line > line else "")
            return self._outcome(Outcome(
                line, name, REFUSED, f"{len(record)} fields, the header has {len(header)}{spans}"))
        if any("\x00" in value for value in record):
            return self._outcome(Outcome(line, name.replace("\x00", ""), REFUSED,
                                         "a NUL byte in the row"))
        values = dict(zip(header, record))
        username = normalize_username(values["username"]) or ""
        previous = db.session.scalar(select(LegacyLogin.imported_at).where(
            func.lower(LegacyLogin.username) == username.lower())) if username else None
        if previous is not None:
            if previous >= self.started:
                return self._outcome(Outcome(line, name, REFUSED,
                                             "user name already on an earlier line of the file"))
            return self._outcome(Outcome(line, name, SKIPPED, "already imported"))
        form, problem = _validated(values)
        if problem is None:
            hash_format = values["hash_format"].strip().lower()
            problem = hash_problem(hash_format, values["password_hash"].strip())
        if problem is not None:
            return self._outcome(Outcome(line, name, REFUSED, problem))
        # The unique indexes decide (e-mail, user name, whatever the case of their
        # letters): one savepoint per row, so a refused row undoes nothing else, and no
        # look-up before it on the way of the many rows that go in.
        try:
            with db.session.begin_nested():
                db.session.add(self._account(form, hash_format, values["password_hash"].strip()))
        except IntegrityError:
            reason = (self._email_taken(form.email.data)
                      or "user name imported meanwhile by another run")
            return self._outcome(Outcome(line, name, REFUSED, reason))
        self._outcome(Outcome(line, name, IMPORTED))
        self.pending += 1
        if self.pending >= self.batch_size:
            db.session.commit()
            db.session.expunge_all()
            self.pending = 0

    def _email_taken(self, email: str) -> str | None:
        account = find_account(email)
        if account is None:
            return None
        imported = db.session.scalar(select(LegacyLogin.imported_at).where(
            LegacyLogin.account_id == account.id))
        if imported is not None and imported >= self.started:
            return "e-mail already on an earlier line of the file"
        return "the e-mail already has an ID (not merged; an operator decides)"

    def _account(self, form, hash_format: str, old_hash: str) -> LegacyLogin:
        now = utcnow()
        account = Account(
            email=form.email.data, password_hash=self.unusable_hash,
            family_name=form.family_name.data, given_name=form.given_name.data,
            family_kana=form.family_kana.data or None, given_kana=form.given_kana.data or None,
            account_type=AccountType.PERSONAL, activated_at=now, password_changed_at=now,
        )
        phone = form.phone.data or None
        if phone:
            kind = "mobile" if phone[:3] in ("070", "080", "090") else "landline"
            account.phones = [AccountPhone(position=0, kind=kind, number=phone)]
        address = form.address.data if "address" in form else None
        if form.company.data:
            company = Company(name=form.company.data, email=form.email.data, phone=phone)
            store_address(company, address)
            account.account_type = AccountType.COMMERCIAL
            account.company = company
            account.company_role = CompanyRole.ADMIN
        elif address is not None:
            store_address(account, address)
        return LegacyLogin(account=account, username=form.username.data,
                           hash_format=hash_format, old_hash=old_hash,
                           imported_at=self.started)


# -- demo ------------------------------------------------------------------------------
DEMO_USERNAME = "olduser"
DEMO_EMAIL = "olduser@example.com"


def seed_demo_legacy_account() -> list[str]:
    """`make run`: one account imported from the old portal (user name `olduser`, the
    demo password as a bcrypt hash), to try the first sign-in and its one-time step."""
    import bcrypt

    from blueprints.account.demo import DEMO_PASSWORD

    line = (f"  {DEMO_USERNAME} / {DEMO_EMAIL:<17} {DEMO_PASSWORD}  "
            "(imported from the old portal: sign in with the user name)")
    if db.session.scalar(select(LegacyLogin.id).where(
            func.lower(LegacyLogin.username) == DEMO_USERNAME)) is not None:
        return ["Old portal account (user name / e-mail / password):", line]
    if find_account(DEMO_EMAIL) is not None:
        return []
    now = utcnow()
    account = Account(email=DEMO_EMAIL, password_hash=hash_password(secrets.token_urlsafe(32)),
                      family_name="伊藤", given_name="健一", family_kana="イトウ",
                      given_kana="ケンイチ", activated_at=now, postal_code="1030026",
                      prefecture="東京都", city="中央区", street="日本橋兜町3-1")
    account.phones = [AccountPhone(position=0, kind="mobile", number="09087654321")]
    old_hash = bcrypt.hashpw(DEMO_PASSWORD.encode(), bcrypt.gensalt(10)).decode()
    db.session.add(LegacyLogin(account=account, username=DEMO_USERNAME, hash_format="bcrypt",
                               old_hash=old_hash, imported_at=now))
    db.session.commit()
    return ["Old portal account (user name / e-mail / password):", line]
