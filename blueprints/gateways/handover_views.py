"""ゲートウェイの譲渡 (owner pages): the confirmation, the done page with the new slip
password (the POST's own response: nothing to reload, no URL to come back to), the list
of the owner's hand-overs and each one's CSV. Another owner's, a retired and an unknown
gateway all answer 404. Views parse input, call one service of handover.py, render."""
from __future__ import annotations

from flask import Response, abort, render_template, request, stream_with_context
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app import limiter
from blueprints.core import registry
from blueprints.core.security import configured_limit
from blueprints.gateways import bp
from blueprints.gateways import handover as service
from blueprints.gateways.slips import qr_svg, registration_url
from forms.gateway_handover import HandoverForm

PASSWORD_LIMIT = configured_limit("PASSWORD_CHECK_LIMIT")


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/gateways/<gateway_id>/handover", methods=["GET", "POST"])
@login_required
@limiter.limit(PASSWORD_LIMIT, methods=["POST"])
def handover(gateway_id: str):
    """ゲートウェイの譲渡: what happens, the blockers if any, the password and the check
    box; on success the done page with the new slip password, shown this once."""
    gateway = service.handover_preview(current_user, gateway_id)
    form = HandoverForm()
    if gateway is None:
        if request.method == "POST" and form.validate_on_submit():
            done = service.hand_over(current_user, gateway_id, form.password.data)
            if done.result is service.HandoverResult.ALREADY:
                return render_template("gateways/handover_already.html",
                                       gateway_id=gateway_id), 409
        abort(404)
    reasons = service.blockers(gateway)
    status = 200
    if request.method == "POST":
        if reasons:
            status = 409
        elif form.validate_on_submit():
            done = service.hand_over(current_user, gateway.gateway_id, form.password.data)
            if done.result is service.HandoverResult.HANDED_OVER:
                url = registration_url()
                return _no_store(Response(render_template(
                    "gateways/handover_done.html", done=done, registration_url=url,
                    qr=qr_svg(url, _("登録サイトのQRコード")))))
            if done.result is service.HandoverResult.BLOCKED:
                reasons, status = done.reasons, 409
            elif done.result is service.HandoverResult.ALREADY:
                return render_template("gateways/handover_already.html",
                                       gateway_id=gateway_id), 409
            elif done.result is service.HandoverResult.NOT_FOUND:
                abort(404)
            else:
                form.password.errors = [_("現在のパスワードが正しくありません")]
                status = 422
        else:
            status = 422
    return render_template("gateways/handover.html", form=form, gateway=gateway,
                           reasons=reasons, dealers=service.linked_dealers(gateway)), status


@bp.get("/handovers")
@login_required
def handovers():
    """譲渡したゲートウェイ: the owner's hand-overs, each with its period and CSV."""
    return render_template("gateways/handovers.html",
                           handovers=service.owner_handovers(current_user))


@bp.get("/handovers/<int:handover_id>.csv")
@login_required
def handover_csv(handover_id: int):
    """The readings of one hand-over's period as CSV, streamed."""
    found = service.owner_handover(current_user, handover_id)
    if found is None:
        abort(404)
    record, gateway_id = found
    response = Response(stream_with_context(service.handover_csv_rows(record)),
                        mimetype="text/csv")
    response.charset = "utf-8"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{service.csv_filename(record, gateway_id)}"')
    return _no_store(response)


def _menu_entry(account) -> registry.Panel | None:
    """The gateways main menu links to 譲渡したゲートウェイ when the owner has any."""
    if not service.has_handovers(account):
        return None
    return registry.Panel("gateways/_handover_menu_entry.html")
