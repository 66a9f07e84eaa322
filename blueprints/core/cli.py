"""Command-line groups: `flask --app app mail relay`, `flask --app app seed demo`,
`flask --app app jobs run`, and
the groups the services register (e.g. `flask --app app gateways ...`)."""
from __future__ import annotations

import os

import click
from flask import Flask
from flask.cli import AppGroup

from blueprints.core import registry


def demo_seeding_allowed(app: Flask, forced: bool) -> bool:
    """Demo accounts with a published password belong on a developer's machine only:
    `ENELINK_ENV=development`, or an explicit `--i-know-this-is-not-production`."""
    return forced or bool(app.config.get("DEVELOPMENT")) or \
        os.environ.get("ENELINK_ENV") == "development"


def register_cli(app: Flask) -> None:
    mail_group = AppGroup("mail", help="Outgoing mail.")
    seed_group = AppGroup("seed", help="Demo data.")
    jobs_group = AppGroup("jobs", help="The services' periodic jobs.")

    @jobs_group.command("run")
    def run_jobs():
        """Run every service's periodic job once (cron; `make run` runs them in-process)."""
        failed = registry.run_periodic_jobs()
        if failed:
            raise click.ClickException("failed: " + ", ".join(failed))
        click.echo("periodic jobs done")

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
    @click.option("--i-know-this-is-not-production", "forced", is_flag=True,
                  help="Seed although ENELINK_ENV is not development.")
    def demo(forced: bool):
        """Create the demo accounts (idempotent) and print how to sign in. Development only:
        the demo accounts share a password printed in the README."""
        if not demo_seeding_allowed(app, forced):
            raise click.ClickException(
                "refusing to seed demo accounts outside development: set "
                "ENELINK_ENV=development, or pass --i-know-this-is-not-production")
        for line in registry.seed_demo():
            click.echo(line)

    app.cli.add_command(mail_group)
    app.cli.add_command(seed_group)
    app.cli.add_command(jobs_group)
    own = {"mail": mail_group, "seed": seed_group, "jobs": jobs_group}
    for name, entry in registry.cli_groups().items():
        if name in own:  # a service's command joins core's group (e.g. `seed fleet`)
            for command in entry["commands"].values():
                own[name].add_command(command)
            continue
        group = AppGroup(name, help=entry["help"])
        for command in entry["commands"].values():
            group.add_command(command)
        app.cli.add_command(group)
