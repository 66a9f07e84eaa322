"""`flask --app app points ...`: the monthly accrual (cron in production, after the
month is over; `make run` runs it for the seeded history)."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from blueprints.points import ledger
from forms.validators import parse_month

GROUP = "points"
GROUP_HELP = "Points service: the monthly accrual."


@click.command("accrue")
@with_appcontext
@click.option("--month", help="The month to accrue, YYYY-MM (must be over).")
@click.option("--history", is_flag=True,
              help="Every finished month with rollups of member gateways (make run).")
def accrue(month: str | None, history: bool):
    """Turn each member gateway's self-consumed kWh of the month into points.
    Idempotent: a month already accrued adds nothing."""
    if history == bool(month):
        raise click.UsageError("give either --month YYYY-MM or --history")
    if history:
        months = ledger.finished_months_with_rollups()
    else:
        first = parse_month(month)
        if first is None:
            raise click.BadParameter("must be YYYY-MM, e.g. 2026-05", param_hint="--month")
        if not ledger.month_is_over(first):
            raise click.ClickException(f"{first:%Y-%m} is not over yet (Japan time)")
        months = [first]
    for first in months:
        added = ledger.accrue(first)
        click.echo(f"{first:%Y-%m}: {added} accrual entries added")


COMMANDS = (accrue,)
