"""The 設定 tab of the monitoring page (遠隔設定): the current settings with their ranges
and explanations, the state of the newest version (反映待ち / 反映済み / 反映されていません),
the history of versions, and the form that saves a new version. For the owner and every
employee of a linked dealer; anyone else gets 404. A dealer acting for the owner (proxy
login) sees the page read-only: settings are changed under one's own name, from the
dealer console. Views parse input, call settings.py, render."""
from __future__ import annotations

from flask import abort, flash, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app import htmx
from blueprints.core import registry
from blueprints.core.pages import go_to, page_or_partial
from blueprints.monitoring import bp, energy, settings
from forms.remote import SettingsForm


def _viewer(gateway_id: str) -> energy.Viewer:
    return energy.viewable_gateway(current_user, gateway_id) or abort(404)


def _page_number() -> int:
    value = request.args.get("page", "1")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 7 else 1


def _render(viewer: energy.Viewer, form: SettingsForm, status: int = 200, stale=None):
    gateway = viewer.gateway
    current = settings.ensure_settings(gateway)
    if not form.is_submitted() or stale is not None:
        form.fill(settings.Values.of(current), current.version)
    editable = settings.may_change(gateway) and not registry.acting_now()
    return page_or_partial(
        "monitoring/settings.html", "monitoring/_settings_form.html", status,
        viewer=viewer, gateway=gateway, form=form, current=current,
        values=settings.Values.of(current), state=settings.state_of(current),
        history=settings.history(gateway, _page_number()), editable=editable,
        acting=registry.acting_now(), stale=stale, labels=settings.FIELD_LABELS,
        mode_help=settings.MODE_HELP, modes=settings.MODES,
        timeout=settings.ack_timeout(), floor=(settings.FLOOR_MIN, settings.FLOOR_MAX))


@bp.route("/gateways/<gateway_id>/settings", methods=["GET", "POST"], endpoint="settings")
@login_required
def settings_page(gateway_id: str):
    """設定: GET shows the settings; POST saves a new version when the form's base
    version is still the newest (otherwise the page shows the new values, 422)."""
    viewer = _viewer(gateway_id)
    form = SettingsForm()
    if request.method == "GET":
        if htmx and not htmx.history_restore_request and htmx.target == "settings-state":
            current = settings.ensure_settings(viewer.gateway)
            return render_template("monitoring/_settings_state.html", gateway=viewer.gateway,
                                   current=current, state=settings.state_of(current),
                                   timeout=settings.ack_timeout())
        return _render(viewer, form)
    if registry.acting_now():
        return render_template("errors/error.html", status=403,
                               title=_("代理ログイン中はこの操作はできません"),
                               message=_("設定の変更は、販売店の画面からご自身の名前で行ってください。")), 403
    if not form.validate_on_submit():
        return _render(viewer, form, 422)
    base = int(form.base_version.data) if form.base_version.data else 0
    result = settings.change(current_user, viewer.gateway, viewer.owner, viewer.as_dealer,
                             base, form.values())
    if result.outcome is settings.Outcome.STALE:
        typed = form.values()
        return _render(_viewer(gateway_id), form, 422,
                       stale=settings.changes(settings.Values.of(result.current), typed))
    if result.outcome is settings.Outcome.READ_ONLY:
        return _render(_viewer(gateway_id), form, 409)
    if result.outcome is settings.Outcome.UNCHANGED:
        flash(_("設定は変更されていません。"), "info")
    else:
        flash(_("設定を保存しました。ゲートウェイが次に通信したときに反映されます。"), "success")
    return go_to("monitoring.settings", gateway_id=gateway_id)
