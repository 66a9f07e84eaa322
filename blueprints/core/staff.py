"""Staff pages: every service keeps its staff pages in its own blueprint, made here, under
`/staff/<service>/`. Anonymous visitors sign in first; signed-in accounts without the staff
role do not learn that the page exists (404)."""
from __future__ import annotations

from flask import Blueprint, abort
from flask_login import current_user


def _staff_only():
    from app import login_manager

    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.is_staff:
        abort(404)
    return None


def staff_blueprint(service: str, import_name: str) -> Blueprint:
    """A blueprint named `<service>_staff` whose pages only staff may open; register it
    with `url_prefix=staff_blueprint.url_prefix` (`/staff/<service>`)."""
    blueprint = Blueprint(f"{service}_staff", import_name, url_prefix=f"/staff/{service}")
    blueprint.before_request(_staff_only)
    return blueprint
