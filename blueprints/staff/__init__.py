"""Staff administration (issue 15, 「スタッフ管理」): staff admins manage the staff and
their roles (/staff/people) and read the audit log and the proxy sessions (/staff/audit);
`flask --app app staff create` makes the first admin.

Every page is for staff admins only (404 for everyone else, sign-in for anonymous
visitors) and behind the second sign-in step. Registers with core's registry: the
launcher tile, the second step for the whole blueprint, the CLI command."""
from flask import Blueprint
from flask_babel import lazy_gettext as _l

from blueprints.core import registry
from blueprints.core.staff import ADMIN, has_staff_role, require_staff_role

bp = Blueprint("staff", __name__)
URL_PREFIX = "/staff"
require_staff_role(bp, ADMIN)

from blueprints.staff import cli, views  # noqa: E402,F401

registry.second_step_required("staff.")
registry.launcher_tile(
    registry.LauncherTile(_l("スタッフ管理"), _l("スタッフと役割の管理、監査ログ、代理ログインの記録"),
                          "staff.people", "staff"),
    allowed=lambda account: has_staff_role(account, ADMIN), order=93)
for command in cli.COMMANDS:
    registry.cli_command(cli.GROUP, command, help=cli.GROUP_HELP)
