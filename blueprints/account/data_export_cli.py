"""`flask --app app account export-run`: build the pending personal-data exports now (the
watch loop and `flask --app app jobs run` do it every round)."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from blueprints.account import data_export


@click.command("export-run")
@with_appcontext
def export_run_command() -> None:
    """Build every pending 個人データのダウンロード, mail its link, drop expired archives."""
    click.echo(f"{data_export.run_exports()} export(s) ready")
