"""The support center (seed 000 §4-7): cases with their thread and files (マイケース), the
staff desk, phone-support requests, the knowledge base of セルフヘルプ and device unlock
codes for linked dealers.

Registers with core's registry: launcher tile, demo data, the alert mail's and the
monitoring page's 「サポートに相談」, the dealer console's unlock-code section, deletion."""
from flask import Blueprint

bp = Blueprint("support", __name__)
URL_PREFIX = "/support"

# >>> support cases (helper A) registrations
# <<< support cases

# >>> support staff desk (helper B) registrations
from flask_babel import lazy_gettext as _l  # noqa: E402

from blueprints.core import registry  # noqa: E402
from blueprints.support import staff_views  # noqa: E402

staff_bp = staff_views.staff_bp
# Staff reach their pages from the launcher, as the slips and the catalogue.
registry.launcher_tile(
    registry.LauncherTile(_l("サポートデスク"),
                          _l("お客様のケースへの回答・社内メモ・担当、サポート内容とナレッジ記事の管理"),
                          "support_staff.queue", "support-desk"),
    allowed=lambda account: account.is_staff, order=92)
# <<< support staff desk

# >>> support self-help (helper C) registrations
# <<< support self-help

# >>> support phone (helper D) registrations
# <<< support phone
