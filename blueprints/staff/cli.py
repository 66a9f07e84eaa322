"""`flask --app app staff create EMAIL --role admin [--role support …]`: makes the first
staff admin (and any staff member later) from the command line. See people.create_staff."""
from __future__ import annotations

import click
from email_validator import EmailNotValidError, validate_email
from flask.cli import with_appcontext

from blueprints.core.staff import STAFF_ROLES
from blueprints.staff import people
from forms.validators import EMAIL_MAX, has_control_characters, normalize_email

GROUP = "staff"
GROUP_HELP = "Staff accounts and their roles."
NAME_MAX = 14  # account.family_name / given_name


def _name(value: str, option: str) -> str:
    value = (value or "").strip(" \u3000\t")
    if not value or len(value) > NAME_MAX or has_control_characters(value):
        raise click.BadParameter(f"1 to {NAME_MAX} characters, no control characters",
                                 param_hint=option)
    return value


@click.command("create")
@with_appcontext
@click.argument("email")
@click.option("--role", "roles", multiple=True, required=True,
              type=click.Choice(list(STAFF_ROLES), case_sensitive=False),
              help="A staff role (repeat for several): " + ", ".join(STAFF_ROLES) + ".")
@click.option("--family-name", default="スタッフ", show_default=True,
              help="姓, for an ID created by this command.")
@click.option("--given-name", default="管理者", show_default=True,
              help="名, for an ID created by this command.")
def create(email: str, roles: tuple[str, ...], family_name: str, given_name: str):
    """Make the Enelink ID of EMAIL staff with the given roles (added to those it has).

    A missing ID is created (opened, with an unusable random password) and gets a
    password reset mail through the outbox, so that the person sets their own password.
    Running it again changes nothing. Every change is audited and mailed."""
    email = normalize_email(email)
    try:
        if len(email) > EMAIL_MAX or not email.isascii():
            raise EmailNotValidError("not an ASCII address of at most 254 characters")
        validate_email(email, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as error:
        raise click.BadParameter(f"not an e-mail address ({error})",
                                 param_hint="EMAIL") from None
    outcome = people.create_staff(email, [role.lower() for role in roles],
                                  _name(family_name, "--family-name"),
                                  _name(given_name, "--given-name"))
    account = outcome.account
    if outcome.created:
        click.echo(f"created the ID {account.email} (a password reset mail is in the outbox)")
    if outcome.changed:
        click.echo(f"{account.email} is staff: roles {', '.join(outcome.roles_before) or '-'}"
                   f" -> {', '.join(outcome.roles_after)}")
    else:
        click.echo(f"{account.email} is already staff with roles "
                   f"{', '.join(outcome.roles_after)}: nothing changed")


COMMANDS = (create,)
