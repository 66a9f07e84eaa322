"""Staff pages of the support center (`/staff/support/...`).

Minimal placeholder made by helper D (phone-support requests) because helper B's module
was not on this branch: the lead keeps B's version at merge."""
from blueprints.core.staff import staff_blueprint

staff_bp = staff_blueprint("support", __name__)
