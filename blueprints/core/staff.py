"""Staff pages: every service keeps its staff pages in its own blueprint, made here, under
`/staff/<service>/`. Anonymous visitors sign in first; signed-in accounts without the staff
role the blueprint asks for do not learn that the page exists (404).

Staff roles (`StaffGrant` rows of a staff account): a staff admin manages the staff and
their roles at /staff/people and may open every staff page; every other role opens the
pages of its blueprints only. Staff pages also need the second sign-in step (see
`registry.second_step_needed`)."""
from __future__ import annotations

from flask import Blueprint, abort, g
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

ADMIN = "admin"
SUPPORT = "support"
SLIPS = "slips"
PROGRAMME = "programme"
# The roles, in the order pages list them, with their names.
STAFF_ROLES = {
    ADMIN: _l("スタッフ管理者"),
    SUPPORT: _l("サポート担当"),
    SLIPS: _l("伝票発行担当"),
    PROGRAMME: _l("プログラム管理担当"),
}


def staff_roles(account) -> frozenset[str]:
    """The roles of a staff account (empty for everyone else), read once per request."""
    from models.trust import StaffGrant

    if account is None or not getattr(account, "is_staff", False):
        return frozenset()
    cache = g.setdefault("staff_roles", {})
    if account.id not in cache:
        from models import db
        cache[account.id] = frozenset(db.session.scalars(
            select(StaffGrant.role).where(StaffGrant.account_id == account.id)))
    return cache[account.id]


def has_staff_role(account, role: str) -> bool:
    """Whether `account` may do what `role` does (a staff admin may do everything)."""
    roles = staff_roles(account)
    return role in roles or ADMIN in roles


def _staff_only(role: str):
    def check():
        from app import login_manager

        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not has_staff_role(current_user, role):
            abort(404)
        return None
    return check


def require_staff_role(blueprint: Blueprint, role: str) -> None:
    """Every page of `blueprint` opens only for staff with `role` (or staff admins); for
    a blueprint that is not made by `staff_blueprint` (the staff administration)."""
    if role not in STAFF_ROLES:
        raise ValueError(f"unknown staff role {role!r}")
    blueprint.before_request(_staff_only(role))
    blueprint.staff_role = role  # what the pages need, for the access tests


def staff_blueprint(service: str, import_name: str, role: str) -> Blueprint:
    """A blueprint named `<service>_staff` whose pages only staff with `role` (or staff
    admins) may open; register it with `url_prefix=staff_blueprint.url_prefix`
    (`/staff/<service>`)."""
    if role not in STAFF_ROLES:
        raise ValueError(f"unknown staff role {role!r}")
    blueprint = Blueprint(f"{service}_staff", import_name, url_prefix=f"/staff/{service}")
    require_staff_role(blueprint, role)
    return blueprint
