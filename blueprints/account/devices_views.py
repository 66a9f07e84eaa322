"""ログイン中の端末: the devices page and its sign-out actions, the last-use hook of every
request and the known-browser check after a sign-in. Rules live in devices.py."""
from __future__ import annotations

from flask import (abort, after_this_request, current_app, flash, g, has_request_context,
                   redirect, render_template, request, session, url_for)
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user, user_logged_in

from blueprints.account import bp, devices
from forms.account import ConfirmForm
from models import db


# -- every request: the session's last use -------------------------------------------------
@bp.before_app_request
def _note_last_use():
    """Write the signed-in session's address and last use, at most every
    SESSION_SEEN_INTERVAL, after the view (one UPDATE; the row came with the user loader).
    Static files are never counted."""
    if request.endpoint == "static":
        return None
    g.account_signed_in_before = current_user.is_authenticated
    row = g.get("login_session")
    if not current_user.is_authenticated or not devices.use_due(row):
        return None
    session_id, ip = row.id, request.remote_addr

    @after_this_request
    def _write(response):
        # What the view left uncommitted would be discarded at the end of the request
        # anyway; it must not ride along with this write.
        db.session.rollback()
        devices.note_use(session_id, ip)
        return response

    return None


# -- after a sign-in: the known-browser check --------------------------------------------
def _on_signed_in(_sender, user, **_extra):
    """Flask-Login's `user_logged_in`: note the new session's address and check the
    browser after the view. A proxy login's switch between the dealer's and the owner's
    sessions of one browser (the browser was signed in already, or the club's proxy check
    ran in this request) is no new sign-in."""
    if not has_request_context() or request.endpoint == "static":
        return
    fresh = not g.get("account_signed_in_before") and g.get("club_proxy_state") is None
    account_id, key = user.id, user.login_session_key
    ip, user_agent = request.remote_addr, request.user_agent.string
    cookie_name = current_app.config["KNOWN_BROWSER_COOKIE"]
    browser_key = request.cookies.get(cookie_name)

    @after_this_request
    def _check_browser(response):
        db.session.rollback()
        new_key = devices.signed_in(account_id, key, ip, user_agent, browser_key, fresh)
        if new_key is not None:
            response.set_cookie(
                cookie_name, new_key,
                max_age=current_app.config["KNOWN_BROWSER_COOKIE_DAYS"] * 86400,
                httponly=True, samesite="Lax",
                secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")), path="/")
        return response


user_logged_in.connect(_on_signed_in)


# -- the page ------------------------------------------------------------------------------
def _current_session_id() -> int | None:
    row = g.get("login_session")
    return row.id if row is not None else None


@bp.get("/settings/devices", endpoint="devices")
@login_required
def devices_page():
    """ログイン中の端末: every live sign-in of the account, this one marked."""
    return render_template("account/devices.html", form=ConfirmForm(),
                           devices=devices.live_devices(current_user, _current_session_id()),
                           with_places=devices.places_available())


@bp.post("/settings/devices/<int:session_id>/sign-out")
@login_required
def device_sign_out(session_id: int):
    """Sign out one other browser of the account (another account's: 404)."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    outcome = devices.sign_out_device(current_user, session_id)
    if outcome is devices.SignOutOutcome.NOT_FOUND:
        abort(404)
    if outcome is devices.SignOutOutcome.DONE:
        flash(_("選択した端末をログアウトしました"), "success")
    else:
        flash(_("この端末はすでにログアウトしています"), "info")
    return redirect(url_for("account.devices"), code=303)


@bp.post("/settings/devices/sign-out-others")
@login_required
def devices_sign_out_others():
    """Sign out every other browser; this one stays signed in."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    count = devices.sign_out_others(current_user)
    flash(_("ほかの端末（%(count)s台）をログアウトしました", count=count), "success")
    return redirect(url_for("account.devices"), code=303)


@bp.route("/settings/devices/sign-out-all", methods=["GET", "POST"])
@login_required
def devices_sign_out_all():
    """「すべての端末からログアウト」: confirm (a page, no JavaScript needed), then every
    browser of the account is signed out, this one too, and goes to the sign-in page."""
    form = ConfirmForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        devices.sign_out_everywhere(current_user)
        session.clear()
        logout_user()
        flash(_("すべての端末からログアウトしました。もう一度ログインしてください"), "success")
        return redirect(url_for("account.login"), code=303)
    return render_template("account/devices_sign_out_all.html", form=form)
