"""Dealers: maintenance links between owners' gateways and dealers (販売店), the owner's
dealer pages and the dealer console. Registers its tiles, demo dealer and the owner's
access lines (who maintains which gateway) with core's registry."""
from flask import Blueprint
from flask_babel import lazy_gettext as _l

from blueprints.core import registry

bp = Blueprint("dealers", __name__)
URL_PREFIX = "/dealers"

from blueprints.dealers import demo, markup, services, views  # noqa: E402,F401

bp.add_app_template_global(markup.console_rows, "console_rows")

registry.launcher_tile(
    registry.LauncherTile(_l("販売店コンソール"),
                          _l("保守を任されたゲートウェイの一覧・検索・お客様情報の確認"),
                          "dealers.console", "dealers"),
    allowed=lambda account: services.dealer_for_account(account) is not None, order=40)
registry.launcher_tile(
    registry.LauncherTile(_l("販売店として登録"),
                          _l("販売店IDを取得して、お客様のゲートウェイの保守を任せていただけるようにします"),
                          "dealers.register", "dealers"),
    allowed=lambda account: (account.is_company_admin
                             and services.dealer_for_account(account) is None), order=41)
registry.demo_data("dealers", demo.seed_demo_dealer, order=20)
registry.access_lines(services.access_lines)
registry.on_membership_ended(services.forget_member_contact)
registry.on_account_deleted(services.forget_deleted_member_contact)
registry.refuse_while_acting("dealers.my_link", "dealers.my_unlink_confirm")

# >>> export (helper E): what this service keeps about an account, for 個人データのダウンロード
from blueprints.dealers import personal_data as _personal_data  # noqa: E402

registry.personal_data("dealers", _personal_data.dealer_tables, order=30)
# <<< export
# >>> twostep
# Members of a dealer company see owners' homes: they must use a second sign-in step,
# and the console opens only after it.
def _dealer_member(account) -> bool:
    return services.dealer_for_account(account) is not None


registry.second_step_expected(_dealer_member)
registry.second_step_required("dealers.console", "dealers.console_gateway")
# <<< twostep
# >>> help: this service's よくある質問 (help/faq/dealers.toml, edited by the operator)
registry.faq("dealers", _l("販売店様による遠隔モニタリングに関するよくある質問"), "dealers.toml", order=40)
# <<< help
