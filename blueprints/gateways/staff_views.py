"""Staff pages of the gateways service (`/staff/gateways/...`): issue and print slips,
keep the system-model catalogue, set a gateway's 運転開始日. Views parse input, call one
service of slips.py or catalogue.py, render."""
from __future__ import annotations

from datetime import date
from types import SimpleNamespace

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from blueprints.gateways import catalogue, staff_bp
from blueprints.gateways import slips as slip_service
from forms.gateway_catalogue import GatewayLookupForm, OperationStartForm, SystemModelForm
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


# -- the system-model catalogue ------------------------------------------------------------
@staff_bp.get("/models")
def models():
    """システム機種の管理: every catalogue entry (offered or not), and a ゲートウェイID search
    that opens a gateway's staff page (運転開始日)."""
    lookup = GatewayLookupForm(request.args)
    if request.args and lookup.validate():
        gateway = catalogue.find_gateway(lookup.gateway_id.data)
        if gateway is not None:
            return redirect(url_for("gateways_staff.gateway", gateway_id=gateway.gateway_id),
                            code=303)
        lookup.gateway_id.errors.append(_("このゲートウェイIDは見つかりませんでした"))
    status = 422 if lookup.errors else 200
    return render_template("gateways/staff_models.html", lookup=lookup,
                           models=catalogue.system_models(offered_only=False)), status


@staff_bp.route("/models/new", methods=["GET", "POST"])
def model_new():
    """システム機種の追加."""
    return _model_form(None)


@staff_bp.route("/models/<int:model_id>", methods=["GET", "POST"])
def model_edit(model_id: int):
    """システム機種の編集 (a model no longer sold is kept, unticked 販売中)."""
    model = catalogue.model_by_id(model_id) or abort(404)
    return _model_form(model)


def _model_form(model):
    shown = None if model is None or request.method == "POST" else _as_form(model)
    form = SystemModelForm(obj=shown)
    if form.validate_on_submit():
        try:
            saved = catalogue.save_model(form.catalogue_data(), current_user.id,
                                         model.id if model else None)
        except catalogue.DuplicateModelCode:
            form.code.errors.append(_("この機種コードはすでに登録されています"))
        else:
            if saved is None:
                abort(404)
            flash(_("システム機種「%(code)s」を保存しました", code=saved.code), "success")
            return redirect(url_for("gateways_staff.models"), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("gateways/staff_model_form.html", form=form, model=model), status


def _as_form(model):
    """The entry's values as the form shows them (numbers as text)."""
    return SimpleNamespace(
        code=model.code, name=model.name,
        storage_kwh=f"{model.storage_kwh:g}" if model.storage_kwh is not None else "",
        warranty_years=str(model.warranty_years), extension_years=str(model.extension_years),
        manual_url=model.manual_url or "", eco_eligible=model.eco_eligible,
        offered=model.offered)


@staff_bp.route("/gateways/<gateway_id>", methods=["GET", "POST"])
def gateway(gateway_id: str):
    """One gateway for staff: its model, owner state and 運転開始日 (which its product's
    warranty counts from), with the form that sets it."""
    found = catalogue.find_gateway(gateway_id) or abort(404)
    form = OperationStartForm(data=None if request.method == "POST" else {
        "operation_started_on": (found.operation_started_on.isoformat()
                                 if found.operation_started_on else "")})
    if form.validate_on_submit():
        day = form.operation_started_on.data
        if not catalogue.set_operation_start(found.gateway_id,
                                             date.fromisoformat(day) if day else None,
                                             current_user.id):
            abort(404)
        flash(_("運転開始日を保存しました"), "success")
        return redirect(url_for("gateways_staff.gateway", gateway_id=found.gateway_id),
                        code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("gateways/staff_gateway.html", gateway=found, form=form,
                           model=catalogue.model_for_code(found.model)), status
