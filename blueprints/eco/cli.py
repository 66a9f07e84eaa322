"""`flask --app app eco guide`: send the guidance mails now (the watch loop and
`flask jobs run` do it every round)."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from blueprints.eco import services


@click.command("guide")
@with_appcontext
def guide_command() -> None:
    """Mail 【みんなでつくるエコ活サークル お申込みのご案内】 to owners whose gateway now
    meets every condition (each owner and gateway once)."""
    click.echo(f"{services.send_guidance()} guidance mail(s) queued")
