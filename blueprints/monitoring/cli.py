"""Command-line group `flask --app app gateways ...`: slips for the factory and operators."""
from __future__ import annotations

import csv
import io

import click
from flask import Flask
from flask.cli import AppGroup

from blueprints.monitoring import slips as slip_service


def register_cli(app: Flask) -> None:
    gateways = AppGroup("gateways", help="Gateways and their paper slips.")

    @gateways.command("issue")
    @click.option("--count", required=True, type=click.IntRange(1, slip_service.MAX_SLIPS),
                  help="How many slips (gateways) to issue.")
    @click.option("--model", default=slip_service.DEFAULT_MODEL, show_default=True,
                  help="Gateway model, GW-M and 3 digits.")
    @click.option("--pcs", default=1, show_default=True,
                  type=click.IntRange(1, slip_service.MAX_PCS_UNITS),
                  help="Power-conditioner units per gateway.")
    def issue(count: int, model: str, pcs: int):
        """Issue slips and print them as CSV: gateway_id,password,model,pcs_serials.

        The passwords are stored only hashed: this output is the only copy."""
        if not slip_service.MODEL_PATTERN.fullmatch(model):
            raise click.BadParameter("must be GW-M and 3 digits, e.g. GW-M001",
                                     param_hint="--model")
        issued = slip_service.issue_slips(count, model=model, pcs_units=pcs)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["gateway_id", "password", "model", "pcs_serials"])
        for slip in issued:
            writer.writerow([slip.gateway_id, slip.password, slip.model,
                             " ".join(slip.pcs_serials)])
        click.echo(buffer.getvalue(), nl=False)

    app.cli.add_command(gateways)
