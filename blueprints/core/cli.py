"""Command-line groups: `flask --app app mail relay`, `flask --app app seed demo`."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup


def register_cli(app: Flask) -> None:
    mail_group = AppGroup("mail", help="Outgoing mail.")
    seed_group = AppGroup("seed", help="Demo data.")

    @mail_group.command("relay")
    def relay():
        """Deliver the outbox over SMTP until interrupted (several may run at once)."""
        from mail.relay import relay_forever

        click.echo("mail relay running (Ctrl+C to stop)")
        relay_forever(app)

    @mail_group.command("deliver")
    def deliver():
        """Deliver what is due once and exit."""
        from mail.relay import deliver_pending

        click.echo(f"delivered {deliver_pending()}")

    @seed_group.command("demo")
    def demo():
        """Create the demo accounts (idempotent) and print how to sign in."""
        from blueprints.core.demo import seed_demo_data

        for line in seed_demo_data():
            click.echo(line)

    app.cli.add_command(mail_group)
    app.cli.add_command(seed_group)
