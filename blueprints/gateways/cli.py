"""Command-line commands of `flask --app app gateways ...` that work on gateway ownership:
slips for the factory and operators, and the devices' API keys. (The monitoring service
adds the silence watch and the simulator to the same group.)"""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from blueprints.core import audit
from blueprints.gateways import slips as slip_service
from blueprints.gateways.credentials import set_api_key
from forms.validators import normalize_gateway_id
from models import db
from models.gateway import Gateway

GROUP = "gateways"
GROUP_HELP = "Gateways: slips, API keys, simulated readings, the silence watch."


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner may read (it holds device credentials)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # the mode above applies only to a new file
    with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)


@click.command("issue")
@with_appcontext
@click.option("--count", required=True, type=click.IntRange(1, slip_service.MAX_SLIPS),
              help="How many slips (gateways) to issue.")
@click.option("--model", default=slip_service.DEFAULT_MODEL, show_default=True,
              help="Gateway model, GW-M and 3 digits.")
@click.option("--pcs", default=1, show_default=True,
              type=click.IntRange(1, slip_service.MAX_PCS_UNITS),
              help="Power-conditioner units per gateway.")
@click.option("--keys-file", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Also write the devices' API keys as CSV gateway_id,api_key "
                   "(mode 600) for the factory to put into the gateways.")
def issue(count: int, model: str, pcs: int, keys_file: Path | None):
    """Issue slips and print them as CSV: gateway_id,password,model,pcs_serials.

    The passwords and API keys are stored only hashed: this output is the only copy.
    Without --keys-file, give a gateway a key later with `gateways api-key`."""
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
    if keys_file is not None:
        keys = io.StringIO()
        key_writer = csv.writer(keys, lineterminator="\n")
        key_writer.writerow(["gateway_id", "api_key"])
        for slip in issued:
            key_writer.writerow([slip.gateway_id, slip.api_key])
        _write_private(keys_file, keys.getvalue())
        click.echo(f"API keys written to {keys_file}", err=True)

@click.command("api-key")
@with_appcontext
@click.argument("gateway_id")
def api_key(gateway_id: str):
    """Give GATEWAY_ID a new API key and print it (the old key stops working)."""
    wanted = normalize_gateway_id(gateway_id)
    gateway = db.session.scalar(select(Gateway).where(Gateway.gateway_id == wanted))
    if gateway is None:
        raise click.ClickException(f"no gateway {wanted}")
    key = set_api_key(gateway)
    audit.record("gateway.api_key_issued", gateway_id=gateway.gateway_id)
    db.session.commit()
    click.echo(key)


COMMANDS = (issue, api_key)
