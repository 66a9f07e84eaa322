"""`flask --app app accounts import`: the old portal's users become opened IDs with their
old hash (000-27); a second run changes nothing; broken rows, duplicates, unknown hashes,
NUL bytes, huge fields and other encodings are refused with their line, the rest goes in;
the file is streamed (bounded memory for 100,000 rows)."""
from __future__ import annotations

import csv
import tracemalloc

from sqlalchemy import func, select

from blueprints.account.legacy import Importer
from models import db
from models.account import Account, AccountType, CompanyRole, LegacyLogin
from models.audit import AuditEvent
from models.mail import OutboxMail
from tests.conftest import LEGACY_HEADER, legacy_bcrypt, legacy_row
from tests.helpers import signed_up_and_active

HASH = legacy_bcrypt("Old-Pass-2019")


def _count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def _csv(*rows: str) -> str:
    return "\n".join([LEGACY_HEADER, *rows]) + "\n"


def test_import_twice_changes_nothing_the_second_time(app, legacy_import, tmp_path):
    content = _csv(
        legacy_row("olduser", "old@example.com", HASH),
        legacy_row("Corp.Admin", "admin@corp.example", HASH, company="旧電設株式会社",
                   phone="03-1234-5678", building="兜町ビル3F"),
        legacy_row("nophone", "nophone@example.com", HASH, phone="", postal_code="",
                   prefecture="", city="", street="", family_kana="", given_kana=""),
    )
    first = legacy_import(content)
    assert first.exit_code == 0, first.output
    assert "imported 3, skipped 0, refused 0" in first.output
    accounts = {a.email: a for a in db.session.scalars(select(Account))}
    home = accounts["old@example.com"]
    assert home.activated_at is not None and home.account_type == AccountType.PERSONAL
    assert (home.family_kana, home.given_kana) == ("タナカ", "イチロウ")
    assert (home.postal_code, home.street) == ("1030026", "日本橋兜町1-2-3")
    assert home.phones[0].number == "09012345678" and home.terms_accepted_at is None
    corp = accounts["admin@corp.example"]
    assert corp.account_type == AccountType.COMMERCIAL
    assert corp.company.name == "旧電設株式会社" and corp.company_role == CompanyRole.ADMIN
    assert (corp.company.phone, corp.company.building) == ("0312345678", "兜町ビル3F")
    assert accounts["nophone@example.com"].phones == []
    legacy = db.session.scalar(select(LegacyLogin).where(LegacyLogin.account_id == home.id))
    assert (legacy.username, legacy.hash_format, legacy.old_hash) == ("olduser", "bcrypt", HASH)
    # The unusable password: no password opens the account but the old one, once.
    from blueprints.account.services import verify_password
    assert not verify_password(home.password_hash, "Old-Pass-2019")
    assert _count(OutboxMail) == 0  # nothing is mailed at import

    report = tmp_path / "second.csv"
    second = legacy_import(content, "--report", str(report))
    assert second.exit_code == 0
    assert "imported 0, skipped 3, refused 0" in second.output
    assert "line 3 Corp.Admin: skipped: already imported" in second.output
    assert _count(Account) == 3 and _count(LegacyLogin) == 3
    with report.open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["line", "username", "status", "reason"]
    assert rows[1] == ["2", "olduser", "skipped", "already imported"] and len(rows) == 4
    runs = [event.detail for event in db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "account.legacy_import")
        .order_by(AuditEvent.id))]
    assert [(r["imported"], r["skipped"], r["refused"]) for r in runs] == [(3, 0, 0), (0, 3, 0)]


def test_bad_rows_are_refused_with_their_line_and_the_rest_goes_in(app, legacy_import):
    signed_up_and_active(app.test_client(), email="taro@example.com")
    content = _csv(
        legacy_row("good1", "good1@example.com", HASH),                          # 2
        "broken,row,with,too,few,fields",                                         # 3
        legacy_row("nul", "nul@example.com", HASH, city="中央\x00区"),            # 4
        legacy_row("huge", "huge@example.com", HASH, street="1" * 5000),         # 5
        legacy_row("dupmail", "GOOD1@example.com", HASH),                         # 6
        legacy_row("taken", "taro@example.com", HASH),                            # 7
        legacy_row("GOOD1", "other@example.com", HASH),                           # 8
        legacy_row("md5", "md5@example.com", "5f4dcc3b5aa765d61d8327deb882cf99", "md5"),  # 9
        legacy_row("malformed", "mal@example.com", "$2b$10$tooShort"),            # 10
        legacy_row("costly", "cost@example.com", "$2b$31$" + "a" * 53),           # 11
        legacy_row("half", "half@example.com", HASH, family_name="tanaka"),       # 12
        legacy_row("a@b", "at@example.com", HASH),                                # 13
        legacy_row("corp", "corp@example.com", HASH, company="会社", phone=""),   # 14
        legacy_row("good2", "good2@example.com", HASH, family_kana="ﾀﾅｶ"),        # 15
    )
    result = legacy_import(content)
    assert result.exit_code == 0, result.output
    assert "imported 2, skipped 0, refused 12" in result.output
    out = result.output
    assert "line 3 -: refused: 6 fields, the header has 15" in out
    assert "line 4 nul: refused: a NUL byte in the row" in out
    assert "line 5 huge: refused: street:" in out
    assert "line 6 dupmail: refused: e-mail already on an earlier line of the file" in out
    assert "line 7 taken: refused: the e-mail already has an ID" in out
    assert "line 8 GOOD1: refused: user name already on an earlier line of the file" in out
    assert "line 9 md5: refused: unknown hash format 'md5'" in out
    assert "line 10 malformed: refused: malformed bcrypt hash" in out
    assert "line 11 costly: refused: bcrypt cost outside 04-14" in out
    assert "line 12 half: refused: family_name: 全角で入力してください" in out
    assert "line 13 a@b: refused: username: ユーザー名に「@」や空白は使えません" in out
    assert "line 14 corp: refused: company: a company needs the address and the phone" in out
    assert sorted(db.session.scalars(select(LegacyLogin.username))) == ["good1", "good2"]
    # The existing ID was not touched, nor given a user name.
    taro = db.session.scalar(select(Account).where(Account.email == "taro@example.com"))
    assert db.session.scalar(select(LegacyLogin).where(LegacyLogin.account_id == taro.id)) is None
    good2 = db.session.scalar(select(Account).where(Account.email == "good2@example.com"))
    assert good2.family_kana == "タナカ"


def test_other_encodings_bad_lines_and_unreadable_files(app, legacy_import):
    cp932 = _csv(legacy_row("sjis", "sjis@example.com", HASH)).encode("cp932")
    wrong = legacy_import(cp932)  # read as UTF-8: its header is fine, the row is not
    assert "line 2 -: refused: line 2: not valid utf-8" in wrong.output
    assert "imported 0, skipped 0, refused 1" in wrong.output
    right = legacy_import(cp932, "--encoding", "cp932")
    assert "imported 1, skipped 0, refused 0" in right.output, right.output
    assert db.session.scalar(select(Account.family_name).where(
        Account.email == "sjis@example.com")) == "田中"
    # A UTF-8 file with a BOM, one line in another encoding and one line too long.
    mixed = (b"\xef\xbb\xbf" + _csv(legacy_row("bom", "bom@example.com", HASH)).encode()
             + legacy_row("latin", "latin@example.com", HASH).replace(
                 "田中", "\xe9").encode("latin-1", "replace") + b"\n"
             + b"x" * (70 * 1024) + b"\n"
             + legacy_row("after", "after@example.com", HASH).encode() + b"\n")
    result = legacy_import(mixed)
    assert "imported 2, skipped 0, refused 2" in result.output, result.output
    assert "line 3 -: refused: line 3: not valid utf-8" in result.output
    assert "line 4 -: refused: line 4: longer than 65536 bytes" in result.output
    # Files that cannot be read at all: exit status 1 and nothing imported.
    for content, message in (
            ("", "the file is empty"),
            ("username,email\nx,y@example.com\n", "missing columns: family_name"),
            ("username,username,email,family_name,given_name,password_hash,hash_format\n",
             "columns named twice: username"),
            ("名前,メール\n".encode("cp932"), "header row is not valid utf-8")):
        failed = legacy_import(content)
        assert failed.exit_code == 1 and message in failed.output, failed.output
    assert _count(LegacyLogin) == 3


def test_rows_commit_in_batches(make_app, tmp_path):
    app = make_app(LEGACY_IMPORT_BATCH=7)
    with app.app_context():
        path = tmp_path / "batch.csv"
        path.write_text(_csv(*[legacy_row(f"user{i}", f"user{i}@example.com", HASH,
                                          phone=f"090-1234-{i:04d}") for i in range(20)]),
                        encoding="utf-8")
        seen_in_session = []

        def report(_outcome):  # what the session holds while the rows go in
            seen_in_session.append(len(db.session.identity_map))

        with path.open("rb") as handle:
            counts = Importer(report=report).run(handle)
        assert (counts.imported, counts.refused) == (20, 0)
        # Emptied after every 7 rows: never more than one batch of rows in the session.
        assert max(seen_in_session) <= 7 * 3 and min(seen_in_session[7:]) <= 3
        assert _count(LegacyLogin) == 20


def _peak_memory(path) -> tuple[int, int]:
    """(rows refused, peak bytes allocated) of one import of the file."""
    tracemalloc.start()
    try:
        with path.open("rb") as handle:
            counts = Importer().run(handle)
        return counts.refused, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _cheap_rows(path, count: int) -> int:
    filler = ",".join(["x" * 8] * 10)
    with path.open("w", encoding="utf-8") as handle:
        handle.write(LEGACY_HEADER + "\n")
        for number in range(count):
            handle.write(f"user{number},{filler}\n")
    return path.stat().st_size


def test_a_100000_row_file_is_streamed_in_bounded_memory(app, tmp_path):
    """100,000 rows pass through the reader, the checks and the report one at a time:
    the peak memory is that of 10,000 rows and far below the file's size (rows that fail
    the first check, so that the test is quick; imported rows go through the same reader
    and are committed in batches, see above)."""
    small, big = tmp_path / "small.csv", tmp_path / "big.csv"
    _cheap_rows(small, 10_000)
    size = _cheap_rows(big, 100_000)
    small_refused, small_peak = _peak_memory(small)  # also warms every cache up
    big_refused, big_peak = _peak_memory(big)
    assert (small_refused, big_refused) == (10_000, 100_000)
    assert size > 9_000_000 and big_peak < 2_000_000
    assert big_peak < small_peak + 300_000


def test_a_quote_left_open_refuses_the_rows_it_swallows_with_their_lines(app, legacy_import):
    content = _csv(legacy_row("open", "open@example.com", HASH, building='"ビル'),  # 2
                   legacy_row("eaten", "eaten@example.com", HASH),                  # 3
                   'closed",x',                                                     # 4
                   legacy_row("after", "after@example.com", HASH))                  # 5
    result = legacy_import(content)
    assert "line 2 -: refused: " in result.output
    assert "(one row over lines 2-4: a quote left open?)" in result.output
    assert "imported 1, skipped 0, refused 1" in result.output
    assert list(db.session.scalars(select(LegacyLogin.username))) == ["after"]
