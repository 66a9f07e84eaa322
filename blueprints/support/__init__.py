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
# <<< support self-help

# >>> support phone (helper D) registrations
from blueprints.support import staff_views as _staff_views  # noqa: E402
from blueprints.support import phone_views  # noqa: E402,F401

staff_bp = _staff_views.staff_bp
# <<< support phone
