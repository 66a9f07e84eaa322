"""Staff pages of the gateways service (`/staff/gateways/...`): issue and print slips.
Views parse input, call one service of slips.py, render."""
from __future__ import annotations

from flask import render_template, request
from flask_login import current_user

from blueprints.gateways import slips as slip_service
from blueprints.gateways import staff_bp
from forms.gateway_slips import SlipIssueForm


@staff_bp.route("/slips", methods=["GET", "POST"])
def slips():
    """スリップ発行: issue gateways and print their slips. The passwords appear in this
    response only (they are stored hashed)."""
    form = SlipIssueForm()
    if form.validate_on_submit():
        issued = slip_service.issue_slips(int(form.count.data), model=form.model.data,
                                          pcs_units=int(form.pcs.data),
                                          actor_id=current_user.id)
        url = slip_service.registration_url()
        return render_template("gateways/staff_slips_printed.html", slips=issued, url=url,
                               qr=slip_service.qr_svg(url, "登録サイトのQRコード"))
    status = 422 if request.method == "POST" else 200
    return render_template("gateways/staff_slips.html", form=form), status
