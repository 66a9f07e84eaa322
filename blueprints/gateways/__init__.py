"""Gateway ownership: paper slips (issued by staff), the STEP1-3 registration wizard, more
gateways for a signed-in owner, ゲートウェイの管理 (照会・編集, 交換, 廃棄) and the main
menu. URLs stay under /monitoring/ (printed on the slips); staff pages under
/staff/gateways/. What gateways report and how it is shown is the monitoring service's.

Registers with core's registry: the launcher tile, the demo slips and gateway, the
account-deletion hook that releases an account's gateways, and the `gateways` CLI group's
slip and key commands."""
from flask import Blueprint
from flask_babel import lazy_gettext as _l

from blueprints.core import registry
from blueprints.core.staff import SLIPS, has_staff_role, staff_blueprint

bp = Blueprint("gateways", __name__)
URL_PREFIX = "/monitoring"
staff_bp = staff_blueprint("gateways", __name__, role=SLIPS)

from blueprints.gateways import (cli, demo, management, management_views,  # noqa: E402
                                 staff_views, views)

registry.launcher_tile(
    registry.LauncherTile(_l("遠隔モニタリング"), _l("ゲートウェイの登録・管理、運転状況の確認"),
                          "gateways.menu", "monitoring"),
    allowed=lambda account: True, order=20)
registry.launcher_tile(
    registry.LauncherTile(_l("ゲートウェイ伝票の発行"),
                          _l("未登録ゲートウェイの伝票（ID・パスワード・QRコード）を発行・印刷"),
                          "gateways_staff.slips", "slips"),
    allowed=lambda account: has_staff_role(account, SLIPS), order=90)
registry.launcher_tile(
    registry.LauncherTile(_l("システム機種の管理"),
                          _l("製品登録で選べる機種と保証年数、ゲートウェイの運転開始日"),
                          "gateways_staff.models", "catalogue"),
    allowed=lambda account: has_staff_role(account, SLIPS), order=91)
registry.demo_data("gateway slips", demo.seed_demo_slips, order=30)
registry.demo_data("gateways", demo.seed_demo_monitored_gateway, order=31)
registry.on_account_deleted(management.release_gateways)
registry.refuse_while_acting("gateways.gateway_dispose", "gateways.gateway_exchange",
                             "gateways.gateway_exchange_confirm")
for command in cli.COMMANDS:
    registry.cli_command(cli.GROUP, command, help=cli.GROUP_HELP)
# >>> fleet: `flask --app app seed fleet` (joins core's seed group), for `make bench`
from blueprints.gateways import fleet as _fleet  # noqa: E402

registry.cli_command("seed", _fleet.seed_fleet)
# <<< fleet

# >>> export (helper E): what this service keeps about an account, for 個人データのダウンロード
from blueprints.gateways import personal_data as _personal_data  # noqa: E402

registry.personal_data("gateways", _personal_data.gateway_tables, order=20)
# <<< export
# >>> handover: ゲートウェイの譲渡 (owner pages, the menu's link to 譲渡したゲートウェイ)
from blueprints.gateways import handover_views  # noqa: E402

registry.page_section("gateways.menu", handover_views._menu_entry)
registry.refuse_while_acting("gateways.handover")
# <<< handover
# >>> help: this service's よくある質問 (help/faq/gateways.toml, edited by the operator)
registry.faq("gateways", _l("遠隔モニタリングサービスの登録に関するよくある質問"), "gateways.toml", order=20)
# <<< help
