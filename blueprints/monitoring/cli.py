"""Command-line commands of `flask --app app gateways ...` that work on what gateways
report: the silence watch and simulated readings for development; and the loops that
`make run` runs in-process (`run_watch`, `run_simulator`)."""
from __future__ import annotations

import logging
import sys
import threading
import time

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from blueprints.core import registry
from blueprints.gateways.demo import DEMO_MONITORED_IDS
from blueprints.monitoring import alerts, retention, simulator
from blueprints.monitoring.telemetry import ERROR_CODE, JST
from forms.validators import normalize_gateway_id
from models import db, utcnow
from models.gateway import Gateway

log = logging.getLogger(__name__)


def run_watch(app: Flask, stop: threading.Event, interval: float | None = None) -> None:
    """Check for silent gateways, then run the services' periodic jobs, every
    GATEWAY_WATCH_SECONDS until `stop` is set."""
    interval = interval or app.config["GATEWAY_WATCH_SECONDS"]
    while not stop.is_set():
        try:
            with app.app_context():
                result = alerts.check_silence()
                registry.run_periodic_jobs()
                db.session.remove()
            if result.opened:
                log.warning("gateways silent: %s", ", ".join(result.opened))
        except Exception:  # keep watching whatever one round did
            log.exception("gateway watch round failed")
        stop.wait(interval)


# -- simulated readings (development) ------------------------------------------------------
def _simulated_gateways(gateway_ids: tuple[str, ...], all_registered: bool,
                        fault: simulator.Fault | None) -> list[str]:
    """The IDs `simulate` feeds. A gateway named with --gateway that cannot be fed stops
    the command (ClickException); the demo gateway or one of --all-registered is skipped
    with a message, so that `make run` goes on after the demo gateway was disposed of."""
    if (all_registered or not gateway_ids) and not (current_app.config.get("DEVELOPMENT")
                                                    or current_app.testing):
        what = "--all-registered" if all_registered else "feeding the demo gateway"
        raise click.ClickException(f"{what} is for development only: it would add simulated "
                                   "readings to the history of real gateways")
    if all_registered:
        wanted = [gateway.gateway_id for gateway in simulator.active_gateways()]
    else:
        wanted = ([normalize_gateway_id(value) for value in gateway_ids]
                  or list(DEMO_MONITORED_IDS))
    chosen = []
    for gateway_id in dict.fromkeys(wanted):
        gateway = db.session.scalar(select(Gateway).where(Gateway.gateway_id == gateway_id))
        if gateway is None:
            hint = "" if gateway_ids else " (run `flask --app app seed demo` first)"
            raise click.ClickException(f"no gateway {gateway_id}{hint}")
        try:
            simulator.check_feedable(gateway, fault)
        except ValueError as error:
            if gateway_ids:
                raise click.ClickException(str(error)) from None
            click.echo(f"{gateway_id}: skipped, {error}", err=True)
            continue
        chosen.append(gateway_id)
    return chosen


def _feed_round(gateway_ids: list[str], days: int, instance_path: str, live: bool) -> bool:
    """Feed each gateway up to now (with a fault or recovery asked for it) and print a
    line about what it got. True when every gateway got its newest slot now."""
    all_new = True
    for gateway_id in gateway_ids:
        gateway = db.session.scalar(select(Gateway).where(Gateway.gateway_id == gateway_id))
        try:
            result = simulator.feed_asked(gateway, instance_path, days=days)
        except ValueError as error:  # retired or released since the round before
            click.echo(f"{gateway_id}: skipped, {error}", err=True)
            continue
        all_new = all_new and result.first is not None
        if result.accepted or not live:
            click.echo(_summary(result))
    # What was fed is committed; end the reads too: on SQLite an open transaction of this
    # app holds the write lock, which the web server must not wait for between rounds.
    db.session.rollback()
    return all_new


def _jst(moment) -> str:
    return moment.astimezone(JST).strftime("%Y-%m-%d %H:%M")


def _summary(result: simulator.FeedResult) -> str:
    if result.first is None:
        return f"{result.gateway_id}: up to date, nothing new before the next 5-minute slot"
    plural = "" if result.accepted == 1 else "s"
    line = (f"{result.gateway_id}: {result.accepted} reading{plural} {_jst(result.first)} – "
            f"{_jst(result.last)} JST, SOC {result.soc}%")
    if result.duplicates:
        line += f", {result.duplicates} already stored"
    if result.rejected:
        line += f", {len(result.rejected)} REJECTED (first: {result.rejected[0]['message']})"
    if result.faults:
        line += ", in error: " + ", ".join(f"unit {unit} {code}"
                                           for unit, code in sorted(result.faults.items()))
    return line


def _until_next_slot(interval: float) -> float:
    """Seconds to wait before a live round: `interval`, or less to be just past the next
    5-minute boundary (when the newest slot becomes due)."""
    now = utcnow()
    due = simulator.floor_slot(now) + simulator.SLOT
    return min(interval, (due - now).total_seconds() + 1)


def run_simulator(app: Flask, stop: threading.Event, interval: float = 60.0) -> None:
    """Development: every `interval` seconds feed every active gateway up to now, until
    `stop` is set. The first round comes after one interval (`make run` has just
    back-filled the demo gateway)."""
    while not stop.wait(interval):
        try:
            with app.app_context():
                for gateway in simulator.active_gateways():
                    try:
                        simulator.feed_asked(gateway, app.instance_path)
                    except ValueError:  # e.g. no power conditioner: nothing to simulate
                        db.session.rollback()
                db.session.remove()
        except Exception:  # keep feeding whatever one round did
            log.exception("gateway simulator round failed")


@click.command("watch")
@with_appcontext
@click.option("--once", is_flag=True, help="Check once and exit (e.g. from cron).")
def watch(once: bool):
    """Alert the owner and linked dealers of gateways silent for longer than
    GATEWAY_SILENCE_MINUTES (one mail per incident); repeat every
    GATEWAY_WATCH_SECONDS until interrupted."""
    if once:
        result = alerts.check_silence()
        click.echo(f"checked {result.checked}, newly silent: "
                   f"{', '.join(result.opened) or 'none'}")
        return
    click.echo("gateway watch running (Ctrl+C to stop)")
    stop = threading.Event()
    try:
        run_watch(current_app._get_current_object(), stop)
    except KeyboardInterrupt:
        stop.set()

@click.command("simulate")
@with_appcontext
@click.option("--days", default=simulator.DEFAULT_DAYS, show_default=True,
              type=click.IntRange(0, simulator.MAX_DAYS),
              help="Back-fill at most this many days (never before the registration).")
@click.option("--gateway", "gateway_ids", multiple=True, metavar="ID",
              help="A gateway to feed (repeatable). Default: the demo gateway "
                   "(development only).")
@click.option("--all-registered", is_flag=True,
              help="Feed every active gateway (development only).")
@click.option("--live", is_flag=True, help="Keep feeding the newest slot.")
@click.option("--interval", default=60.0, show_default=True,
              type=click.FloatRange(min=1), help="Seconds between live rounds.")
@click.option("--rounds", type=click.IntRange(min=1),
              help="With --live: stop after this many rounds.")
@click.option("--error-code", metavar="CODE",
              help="Put --unit in error with this code, e.g. E201, from the next slot "
                   "fed (also by `make run`); it stays in error until --recover.")
@click.option("--unit", default=1, show_default=True, type=click.IntRange(1, 6),
              help="The power conditioner of --error-code.")
@click.option("--recover", is_flag=True, help="End the simulated unit errors.")
def simulate(days: int, gateway_ids: tuple[str, ...], all_registered: bool, live: bool,
             interval: float, rounds: int | None, error_code: str | None, unit: int,
             recover: bool):
    """Feed simulated readings (sun, weather, household, battery) to gateways up to
    the current 5-minute slot, through the same checks as the gateway API. Resumes
    after the newest reading, so running it again adds only the new slots."""
    if all_registered and gateway_ids:
        raise click.UsageError("give --gateway or --all-registered, not both")
    if error_code is not None and recover:
        raise click.UsageError("give --error-code or --recover, not both")
    if rounds is not None and not live:
        raise click.UsageError("--rounds goes with --live")
    fault = None
    if error_code is not None:
        fault = simulator.Fault(unit, error_code.strip().upper())
        if not ERROR_CODE.fullmatch(fault.code):
            raise click.BadParameter("1 to 16 of A-Z, 0-9 and -, e.g. E201",
                                     param_hint="--error-code")
    chosen = _simulated_gateways(gateway_ids, all_registered, fault)
    if not chosen:
        click.echo("no active gateway to feed")
        return
    if fault or recover:
        for gateway_id in chosen:
            simulator.ask(current_app.instance_path, gateway_id, fault, recover)
    fed_now = _feed_round(chosen, days, current_app.instance_path, live=False)
    more = live and rounds != 1
    if (fault or recover) and not fed_now:
        due = _jst(simulator.floor_slot(utcnow()) + simulator.SLOT)[-5:]
        click.echo(f"the {'recovery' if recover else 'fault'} goes into the next 5-minute "
                   f"slot ({due}), fed by `make run` or by this command with --live")
    if not more:
        return
    click.echo(f"feeding {', '.join(chosen)} every {interval:g} s (Ctrl+C to stop)")
    try:
        for _round in range(1, rounds or sys.maxsize):
            time.sleep(_until_next_slot(interval))
            _feed_round(chosen, days, current_app.instance_path, live=True)
    except KeyboardInterrupt:
        pass


@click.command("prune")
@with_appcontext
@click.option("--batch-size", type=click.IntRange(1, 1_000_000), default=None,
              help="Rows per transaction (READINGS_PRUNE_BATCH).")
@click.option("--max-batches", type=click.IntRange(1, 1_000_000), default=None,
              help="Batches at most in this run (READINGS_PRUNE_MAX_BATCHES).")
def prune(batch_size: int | None, max_batches: int | None):
    """Remove raw readings older than READINGS_RETENTION_DAYS (the daily and monthly
    energy stay): on PostgreSQL whole months are dropped, the rest is deleted in short
    batches. Safe to run again (e.g. daily from cron)."""
    result = retention.prune(batch_size=batch_size, max_batches=max_batches)
    click.echo(f"readings before {result.cutoff.isoformat(timespec='seconds')}: "
               f"{len(result.dropped)} monthly partition(s) dropped"
               f"{' (' + ', '.join(result.dropped) + ')' if result.dropped else ''}, "
               f"{result.deleted} row(s) deleted in {result.batches} batch(es)")
    if result.created:
        click.echo(f"partitions created ahead: {', '.join(result.created)}")
    if not result.finished:
        click.echo("batch limit reached: older readings are left for the next run")


COMMANDS = (watch, simulate, prune)
