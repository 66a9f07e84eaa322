"""The support center (seed 000 §4-7): cases with their thread and files (マイケース), the
staff desk, phone-support requests, the knowledge base of セルフヘルプ and device unlock
codes for linked dealers.

Registers with core's registry: launcher tile, demo data, the alert mail's and the
monitoring page's 「サポートに相談」, the dealer console's unlock-code section, deletion."""
from flask import Blueprint

bp = Blueprint("support", __name__)
URL_PREFIX = "/support"

# >>> support cases (helper A) registrations
from blueprints.core import registry  # noqa: E402
from blueprints.core.staff import SUPPORT, has_staff_role  # noqa: E402
from blueprints.support import customer_views, demo, web  # noqa: E402,F401

# Attachments larger than the app's 2 MB body limit: the limit is raised before CSRF
# reads the form (see web.accept_uploads_early), for the customer's and staff's posts.
bp.record_once(web.install_upload_limit)
registry.demo_data("support-cases", demo.seed_demo_case, order=90)
# A dealer acting for the owner neither files a case, nor replies, nor asks for a call in
# the owner's name.
registry.refuse_while_acting("support.new_case", "support.case_reply", "support.phone_request")
# Deleting an account needs nothing here: its cases stay for the operator's record (the
# database sets `account_id` NULL; the pages show 「削除されたアカウント」), and a company's
# members keep seeing the company's cases. So no on_account_deleted hook is registered.
# <<< support cases

# >>> support staff desk (helper B) registrations
from flask_babel import lazy_gettext as _l  # noqa: E402

from blueprints.support import staff_views  # noqa: E402

staff_bp = staff_views.staff_bp
# Staff reach their pages from the launcher, as the slips and the catalogue.
registry.launcher_tile(
    registry.LauncherTile(_l("サポートデスク"),
                          _l("お客様のケースへの回答・社内メモ・担当、サポート内容とナレッジ記事の管理"),
                          "support_staff.queue", "support-desk"),
    allowed=lambda account: has_staff_role(account, SUPPORT), order=92)
# <<< support staff desk

# >>> support self-help (helper C) registrations
from blueprints.support import home_views, kb_demo, unlock, unlock_views  # noqa: E402,F401

registry.launcher_tile(
    registry.LauncherTile(_l("サポートセンター"),
                          _l("お問い合わせ（ケース）・よくあるご質問・製品登録"),
                          "support.home", "support"),
    allowed=lambda account: True, order=60)
registry.demo_data("support-kb", kb_demo.seed_demo_articles, order=91)


def _dealer_unlock_section(_dealer, gateway) -> registry.Panel:
    """The dealer console's gateway page links to the unlock codes for that gateway."""
    return registry.Panel("support/_dealer_unlock_section.html",
                          {"gateway_id": gateway.gateway_id})


registry.dealer_section(_dealer_unlock_section)
# <<< support self-help

# >>> support phone (helper D) registrations
from blueprints.support import phone_views  # noqa: E402,F401
# <<< support phone

# >>> support alerts (lead): 「サポートに相談」 in the error mail and on the monitoring page
from blueprints.support import alerts  # noqa: E402

registry.alert_action(alerts.alert_mail_action)
registry.monitoring_panel(alerts.monitoring_panel)
# <<< support alerts


# >>> export (helper E): what this service keeps about an account, for 個人データのダウンロード
from blueprints.support import personal_data as _personal_data  # noqa: E402

registry.personal_data("support", _personal_data.support_tables, order=80)
# <<< export
# >>> handover: a gateway with a case still being worked on is not handed over
from flask_babel import gettext as _gettext  # noqa: E402
from sqlalchemy import select as _select  # noqa: E402

from blueprints.support.cases import OPEN_STATES as _OPEN_STATES  # noqa: E402
from models import db as _db  # noqa: E402
from models.support import SupportCase as _SupportCase  # noqa: E402


def _open_cases_block_handover(gateway):
    """Open cases about the gateway (not resolved or closed) stop its hand-over."""
    numbers = list(_db.session.scalars(
        _select(_SupportCase.number).where(_SupportCase.gateway_id == gateway.id,
                                           _SupportCase.state.in_(_OPEN_STATES))
        .order_by(_SupportCase.number)))
    if not numbers:
        return None
    return _gettext("このゲートウェイについて対応中のサポートケースがあります（ケース番号 "
                    "%(numbers)s）。サポートセンターの「マイケース」でケースが解決またはクローズに"
                    "なってから譲渡してください。", numbers="、".join(numbers))


registry.handover_blocker(_open_cases_block_handover)
# <<< handover

# Unlock codes open a dealer's way into a customer's device: behind the second sign-in
# step, like the dealer console they belong to.
registry.second_step_required("support.unlock_codes")
# >>> help: this service's よくある質問 (help/faq/support.toml, edited by the operator)
registry.faq("support", _l("サポートセンターに関するよくある質問"), "support.toml", order=80)
# <<< help
