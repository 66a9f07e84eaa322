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
# <<< support staff desk

# >>> support self-help (helper C) registrations
from flask_babel import lazy_gettext as _l  # noqa: E402

from blueprints.core import registry  # noqa: E402
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
# <<< support phone
