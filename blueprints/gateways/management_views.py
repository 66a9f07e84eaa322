"""Owner pages of ゲートウェイの管理: 照会・編集, 交換, 廃棄.

Every page is the signed-in owner's own: an unknown gateway, someone else's and a retired
one all answer 404. Views parse input, call one service of management.py, render."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from blueprints.gateways import bp, management
from forms.gateway_manage import (ConfirmExchangeForm, DisposeForm, ExchangeSlipForm,
                                  GatewaySiteForm)
from forms.gateways import slip_requester

MAIN_MENU = "/monitoring/"
EXCHANGE_SESSION_KEY = "gateway_exchange"


def _gateway_or_404(gateway_id: str):
    gateway = management.owned_gateway(current_user, gateway_id)
    if gateway is None:
        abort(404)
    return gateway


def _status(form) -> int:
    """422 when a submitted form has errors, 200 otherwise."""
    return 422 if request.method == "POST" and form.errors else 200


@bp.get("/gateways/<gateway_id>")
@login_required
def gateway_detail(gateway_id: str):
    """ゲートウェイ情報の照会: IDs, dates, site, address, PCS units, linked dealers."""
    gateway = _gateway_or_404(gateway_id)
    return render_template("gateways/manage_detail.html", gateway=gateway,
                           dealers=management.gateway_dealers(gateway), main_menu=MAIN_MENU)


@bp.route("/gateways/<gateway_id>/edit", methods=["GET", "POST"])
@login_required
def gateway_edit(gateway_id: str):
    """ゲートウェイ情報の編集: 案件 and 設置先住所 (住所を検索 works without JavaScript)."""
    gateway = _gateway_or_404(gateway_id)
    form = GatewaySiteForm(data=None if request.method == "POST"
                           else management.site_form_data(gateway))
    if request.method == "POST" and form.run_sub_action():
        return render_template("gateways/manage_edit.html", form=form, gateway=gateway)
    if form.validate_on_submit():
        if not management.update_site(current_user, gateway.gateway_id, form.data):
            abort(404)
        flash(_("ゲートウェイ情報を保存しました"), "success")
        return redirect(url_for("gateways.gateway_detail", gateway_id=gateway_id), code=303)
    return render_template("gateways/manage_edit.html", form=form,
                           gateway=gateway), _status(form)


@bp.route("/gateways/<gateway_id>/exchange", methods=["GET", "POST"])
@login_required
def gateway_exchange(gateway_id: str):
    """ゲートウェイの交換, step 1: the new slip's ゲートウェイID + パスワード."""
    gateway = _gateway_or_404(gateway_id)
    form = ExchangeSlipForm()
    problem = None
    if form.validate_on_submit():
        check = management.check_exchange_slip(current_user, gateway.gateway_id,
                                               form.new_gateway_id.data, form.slip_password.data,
                                               slip_requester())
        if check.result is management.SlipCheck.NOT_FOUND:
            abort(404)
        if check.result is management.SlipCheck.OK:
            session[EXCHANGE_SESSION_KEY] = check.check_id
            return redirect(url_for("gateways.gateway_exchange_confirm",
                                    gateway_id=gateway_id), code=303)
        problem = check.result.value
    status = 422 if problem == "invalid" else 429 if problem == "limited" else _status(form)
    return render_template("gateways/manage_exchange.html", form=form, gateway=gateway,
                           problem=problem), status


_CANNOT_CONFIRM = {
    management.ExchangeResult.TAKEN:
        _l("新しいゲートウェイはすでに登録されているため、交換できませんでした"),
    management.ExchangeResult.EXPIRED:
        _l("交換の確認が済んでいないか、有効期限が切れました。新しいゲートウェイの情報をもう一度入力してください"),
}


def _back_to_exchange(gateway_id: str, result):
    session.pop(EXCHANGE_SESSION_KEY, None)
    flash(str(_CANNOT_CONFIRM[result]), "error")
    return redirect(url_for("gateways.gateway_exchange", gateway_id=gateway_id), code=303)


@bp.route("/gateways/<gateway_id>/exchange/confirm", methods=["GET", "POST"])
@login_required
def gateway_exchange_confirm(gateway_id: str):
    """ゲートウェイの交換, step 2: confirm old → new, then 交換する. The browser holds only
    the id of the server-side record of its slip check; the service re-reads it."""
    gateway = _gateway_or_404(gateway_id)
    check_id = session.get(EXCHANGE_SESSION_KEY)
    if not check_id:
        return redirect(url_for("gateways.gateway_exchange", gateway_id=gateway_id))
    form = ConfirmExchangeForm()
    if form.validate_on_submit():
        done = management.exchange_gateway(current_user, gateway.gateway_id, check_id)
        session.pop(EXCHANGE_SESSION_KEY, None)
        if done.result is management.ExchangeResult.EXCHANGED:
            flash(_("ゲートウェイを交換しました。新しいゲートウェイ %(id)s に登録内容を引き継ぎました",
                    id=done.new_gateway_id), "success")
            return redirect(url_for("gateways.gateway_detail",
                                    gateway_id=done.new_gateway_id), code=303)
        if done.result is management.ExchangeResult.NOT_FOUND:
            abort(404)
        return _back_to_exchange(gateway_id, done.result)
    preview = management.exchange_preview(current_user, gateway.gateway_id, check_id)
    if preview is management.ExchangeResult.NOT_FOUND:
        abort(404)
    if isinstance(preview, management.ExchangeResult):
        return _back_to_exchange(gateway_id, preview)
    old, new = preview
    return render_template("gateways/manage_exchange_confirm.html", form=form, old=old,
                           new=new, dealers=management.gateway_dealers(old)), _status(form)


@bp.route("/gateways/<gateway_id>/dispose", methods=["GET", "POST"])
@login_required
def gateway_dispose(gateway_id: str):
    """ゲートウェイの廃棄: what will be removed, an explicit check box, then 廃棄する."""
    gateway = _gateway_or_404(gateway_id)
    form = DisposeForm()
    if form.validate_on_submit():
        if not management.dispose_gateway(current_user, gateway.gateway_id):
            abort(404)
        flash(_("ゲートウェイ %(id)s を廃棄しました", id=gateway_id), "success")
        return redirect(MAIN_MENU, code=303)
    return render_template("gateways/manage_dispose.html", form=form, gateway=gateway,
                           dealers=management.gateway_dealers(gateway)), _status(form)
