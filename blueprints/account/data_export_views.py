"""Views of 個人データのダウンロード: the state and the request button (a page of its own
and the section of ログイン情報), and the mailed link's download. Rules live in
data_export.py."""
from __future__ import annotations

from urllib.parse import quote

from flask import Response, abort, flash, render_template, stream_with_context
from flask_babel import gettext as _
from flask_login import current_user, login_required

from blueprints.account import bp
from blueprints.account import data_export as exports
from blueprints.core.pages import go_to, page_or_partial
from forms.account import ConfirmForm



def _message(outcome: exports.RequestOutcome) -> tuple[str, str]:
    """The category and the words that answer a request."""
    if outcome is exports.RequestOutcome.QUEUED:
        return "success", _("個人データの準備を始めました。準備ができたらメールでお知らせします")
    if outcome is exports.RequestOutcome.PENDING:
        return "warning", _("個人データは準備中です。準備ができたらメールでお知らせします")
    if outcome is exports.RequestOutcome.READY:
        return "warning", _("個人データの準備はできています。お送りしたメールのリンクからダウンロードしてください")
    return "error", _("個人データのダウンロードの申し込みは1日%(count)d回までです。"
                      "時間をおいてお試しください", count=exports.per_day())


@bp.app_template_global()
def data_export_status():
    """The signed-in account's export state, for the section of ログイン情報 (read only
    when that section is rendered)."""
    return exports.export_status(current_user)


@bp.route("/settings/data-export", methods=["GET", "POST"])
@login_required
def data_export():
    """個人データのダウンロード: the state (none / being prepared / ready until … /
    failed) and the request button (POST queues one export)."""
    form = ConfirmForm()
    if form.validate_on_submit():  # CSRFProtect has refused a stale or missing token
        outcome = exports.request_export(current_user)
        category, text = _message(outcome)
        flash(text, category)
        return go_to("account.data_export")
    return page_or_partial("account/data_export.html", "account/data_export_panel.html",
                           form=form, export_status=exports.export_status(current_user))


@bp.get("/data-export/<token>")
@login_required
def data_export_download(token: str):
    """The mailed link: the archive of the signed-in account it was issued to, as often as
    needed until it expires (another account: 404; expired or altered: the link page)."""
    found = exports.find_download(current_user, token)
    if found.foreign:
        abort(404)
    if found.export is None:
        state = found.checked.state.value
        if state == "valid":  # the export behind a valid link has expired or is gone
            state = "expired"
        return render_template("account/data_export_link_problem.html", state=state), (
            404 if state == "invalid" else 410)
    export = found.export
    exports.record_download(current_user, export)
    name = exports.file_name(export)
    response = Response(stream_with_context(exports.read_chunks(export.id)),
                        mimetype="application/zip")
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}")
    response.headers["Content-Length"] = str(export.size)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
