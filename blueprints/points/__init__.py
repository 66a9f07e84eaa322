"""The points service (seed 001 §2): the sign-up (signed in, or mail-first from another
device), the member's page with the ledger, monthly accrual from self-consumed solar,
exchange and 退会; the staff list and the credit report's CSV.

Registers with core's registry: launcher tile, demo data, the monthly job's CLI, the
monitoring panel (this month's estimate), the access line, gateway events, deletion."""
from flask import Blueprint

bp = Blueprint("points", __name__)
URL_PREFIX = "/points"

# >>> points sign-up (helper B) registrations
from blueprints.core import registry  # noqa: E402
from blueprints.points import signup, signup_views  # noqa: E402,F401
from mail import on_mail_request  # noqa: E402

# Whether the sign-up link or a "sign in and continue" mail goes out: the relay decides.
on_mail_request(signup.SIGNUP, signup.signup_requested)
# Joining the points service and changing お客様情報 are the owner's own acts.
registry.refuse_while_acting("points.signup_form", "points.info_edit")
# <<< points sign-up

# >>> points ledger (helper C) registrations
from flask_babel import lazy_gettext as _l  # noqa: E402

from blueprints.core import registry  # noqa: E402
from blueprints.points import cli, demo, ledger, staff_views, views  # noqa: E402,F401

staff_bp = staff_views.staff_bp
registry.launcher_tile(
    registry.LauncherTile(_l("ポイント"), _l("ポイント残高・今月の見込み・ポイント交換"),
                          "points.mypage", "points"),
    allowed=ledger.is_individual, order=35)
for command in cli.COMMANDS:
    registry.cli_command(cli.GROUP, command, help=cli.GROUP_HELP)
registry.demo_data("points", demo.seed_demo_points_member, order=80)
registry.monitoring_panel(ledger.monitoring_panel)
registry.access_lines(ledger.access_lines)
registry.on_account_deleted(ledger.pseudonymise)
registry.on_gateway_event("exchanged", ledger.follow_exchanged_gateway)
registry.on_gateway_event("retired", ledger.detach_from_gateways)
registry.on_gateway_event("released", ledger.detach_from_gateways)
# A dealer acting for the owner never spends points nor ends the membership.
registry.refuse_while_acting("points.exchange_confirm", "points.leave")
# <<< points ledger

# >>> export (helper E): what this service keeps about an account, for 個人データのダウンロード
from blueprints.points import personal_data as _personal_data  # noqa: E402

registry.personal_data("points", _personal_data.points_tables, order=70)
# <<< export
# >>> handover: the member stays and the gateway is free for its next owner, as on release
registry.on_gateway_event("handed_over", ledger.detach_from_gateways)
# <<< handover
# >>> help: this service's よくある質問 (help/faq/points.toml, edited by the operator)
registry.faq("points", _l("ポイントサービスに関するよくある質問"), "points.toml", order=70)
# <<< help
