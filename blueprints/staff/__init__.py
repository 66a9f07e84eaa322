"""Staff console (operator staff only): slips today; case queues and more later."""
from flask import Blueprint, abort
from flask_login import current_user

bp = Blueprint("staff", __name__, static_folder="static", static_url_path="/static")


@bp.before_request
def _staff_only():
    """Anonymous visitors sign in first; signed-in non-staff do not learn the page exists."""
    from app import login_manager

    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.is_staff:
        abort(404)
    return None


from blueprints.staff import views  # noqa: E402,F401
