"""`flask --app app accounts import FILE.csv`: the users of the old portal (see legacy.py)."""
from __future__ import annotations

import csv
import os

import click
from flask.cli import with_appcontext
from flask_babel import force_locale

from blueprints.account.legacy import COLUMNS, REQUIRED_COLUMNS, FileProblem, Importer, Outcome
from blueprints.account.legacy_hashes import HASH_FORMATS

HELP = f"""Import the users of the old portal from FILE (CSV).

\b
The file: UTF-8 (with or without BOM; --encoding cp932 for Shift_JIS), a header row
naming the columns (any order; other columns are ignored):
  required: {', '.join(REQUIRED_COLUMNS)}
  optional: {', '.join(c for c in COLUMNS if c not in REQUIRED_COLUMNS)}
hash_format is one of {', '.join(HASH_FORMATS)}: bcrypt as `$2b$12$...`
(cost 04-14), pbkdf2 as Django writes it (`pbkdf2_sha256$iterations$salt$base64`).

\b
Every row gets the sign-up's field rules. Each becomes an opened ID with an unusable
password; its first sign-in (by e-mail or user name, with the old password) leads to the
one-time 移行手続き (data, terms, a new password), after which the old hash is deleted.
A `company` makes a commercial account with its own company (address and phone needed).
Idempotent: a user name imported before is skipped. Refused, with the line number and
the reason: broken rows, field errors, unknown or malformed hashes, an e-mail that
already has an ID or that came earlier in the file.

No mail is sent: announce the migration separately. Exit status 1 when the file cannot
be read at all; refused rows do not change it."""


def _cell(value: str) -> str:
    """A report cell a spreadsheet will not run as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


@click.command("import", help=HELP)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option("--encoding", default="utf-8", show_default=True,
              type=click.Choice(["utf-8", "cp932", "shift_jis"], case_sensitive=False),
              help="The file's encoding.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, writable=True),
              help="Also write each skipped or refused row (line, username, status, "
                   "reason) to this CSV file.")
@click.option("--quiet", is_flag=True, help="Only the totals, not each row.")
@with_appcontext
def import_command(file: str, encoding: str, report_path: str | None, quiet: bool) -> None:
    report_file = open(report_path, "w", newline="", encoding="utf-8") if report_path else None
    writer = csv.writer(report_file) if report_file else None
    if writer:
        writer.writerow(["line", "username", "status", "reason"])

    def report(outcome: Outcome) -> None:
        if outcome.status == "imported":
            return
        if not quiet:
            click.echo(f"line {outcome.line} {outcome.username or '-'}: "
                       f"{outcome.status}: {outcome.reason}")
        if writer:
            writer.writerow([outcome.line, _cell(outcome.username), outcome.status,
                             outcome.reason])

    try:
        # Field messages as the sign-up shows them (outside a request: Japanese).
        with open(file, "rb") as binary, force_locale("ja"):
            counts = Importer(report).run(binary, encoding, os.path.basename(file))
    except FileProblem as problem:
        raise click.ClickException(f"{file}: {problem}") from None
    finally:
        if report_file:
            report_file.close()
    if counts.ignored_columns:
        click.echo(f"ignored columns: {', '.join(counts.ignored_columns)}")
    click.echo(f"imported {counts.imported}, skipped {counts.skipped}, "
               f"refused {counts.refused}")
