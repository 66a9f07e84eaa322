"""Unlock codes: the dealer's page (`/support/unlock-codes`) and the gateway API's
verification (`POST /api/v1/gateways/<ID>/unlock-codes/verify`). Views parse input, call
one function of unlock.py, render.

The page: the gateway (GET, preselected with `?gateway=<ID>` from the dealer console),
then the unit and 発行 (POST). The answer to the POST shows the code once and is never
stored by the browser (`Cache-Control: no-store`); reloading the page (a GET) never shows
it, and posting the same form again issues nothing."""
from __future__ import annotations

from flask import abort, jsonify, make_response, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app import csrf
from blueprints.api import bp as api_bp
from blueprints.api.views import gateway_request
from blueprints.support import bp, unlock, web
from forms.support_kb import UnlockGatewayForm, UnlockRequestForm

HISTORY_PER_PAGE = 20
MAX_VERIFY_BODY = 4 * 1024


def _dealer_or_refuse():
    """The viewer's dealer; anyone else gets the dealer console's 403 page."""
    dealer = unlock.dealer_of(current_user)
    if dealer is None:
        abort(make_response(render_template("dealers/not_dealer.html"), 403))
    return dealer


def _page_number() -> int:
    raw = request.args.get("page", "1")
    return min(int(raw), 10_000) if raw.isascii() and raw.isdigit() and len(raw) < 6 else 1


def _unit_choices(gateway):
    return [("", _("選択してください"))] + [
        (str(unit.unit_no), _("No.%(no)d ・ 製造番号 %(serial)s（%(model)s）", no=unit.unit_no,
                              serial=unit.serial, model=unit.model))
        for unit in unlock.units_of(gateway)]


def _page(dealer, choose, request_form=None, gateway=None, status=200, code=None,
          problem=None, unit=None):
    response = make_response(render_template(
        "support/unlock_codes.html", choose=choose, form=request_form, gateway=gateway,
        code=code, unit=unit, expires_at=unlock.expiry_of(code) if code else None,
        problem=problem, ttl_hours=unlock.ttl_hours(),
        history=unlock.company_history(dealer, _page_number(), HISTORY_PER_PAGE)), status)
    # Pages of this URL carry (or may carry) a code shown once: no copy anywhere.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/unlock-codes", methods=["GET", "POST"])
@login_required
def unlock_codes():
    """設定ロック解除コードの発行 (dealers): GET the gateway (and its units when one is
    chosen), POST the unit → the code, once; with the company's history below."""
    dealer = _dealer_or_refuse()
    gateways = unlock.linked_gateways(dealer)
    choose = UnlockGatewayForm(request.args if request.method == "GET" else None)
    choose.gateway.choices = [("", _("選択してください"))] + [
        (g.gateway_id, f"{g.gateway_id}（{g.site_name}）" if g.site_name else g.gateway_id)
        for g in gateways]
    if request.method == "GET":
        if not request.args.get("gateway"):
            return _page(dealer, choose)
        if not choose.validate():
            return _page(dealer, choose, status=422)
        gateway = unlock.linked_gateway(dealer, choose.gateway.data) or abort(404)
        form = UnlockRequestForm(formdata=None, gateway=gateway.gateway_id,
                                 request_key=web.new_form_key())
        form.unit.choices = _unit_choices(gateway)
        return _page(dealer, choose, form, gateway)

    form = UnlockRequestForm()
    gateway = unlock.linked_gateway(dealer, form.gateway.data) or abort(404)
    choose.gateway.data = gateway.gateway_id
    form.unit.choices = _unit_choices(gateway)
    if not form.validate_on_submit():
        return _page(dealer, choose, form, gateway, 422)
    unit = unlock.unit_of(gateway, int(form.unit.data)) or abort(404)
    try:
        code = unlock.issue_code(current_user, gateway, unit,
                                 web.posted_form_key(form.request_key.data))
    except unlock.NotEntrusted:
        abort(404)
    except unlock.DailyLimitReached:
        return _page(dealer, choose, form, gateway, 429, problem=_(
            "本日発行できるコードの上限に達しました。明日以降にあらためて発行してください。"))
    except unlock.AlreadyIssued:
        return _page(dealer, choose, form, gateway, 409, problem=_(
            "このフォームからはすでにコードを発行しました。コードは再表示できません。必要な場合は、もう一度ゲートウェイを選んで新しいコードを発行してください。"))
    return _page(dealer, choose, gateway=gateway, code=code, unit=unit)


# -- the gateway API ------------------------------------------------------------------------
def _api_error(status: int, error: str, message: str):
    response = jsonify({"error": error, "message": message})
    response.status_code = status
    return response


@api_bp.post("/gateways/<gateway_id>/unlock-codes/verify")
@csrf.exempt
@gateway_request
def verify_unlock_code(gateway):
    """{"unit": <機器No.>, "code": "XXXXX-XXXXX"} → {"valid": true} once for a good code,
    {"valid": false} for a wrong, expired, used or other unit's code; 400 for a body that
    is not that. Authenticated and limited as the readings API (401 / 403 / 429)."""
    request.max_content_length = MAX_VERIFY_BODY
    try:
        body = request.get_json(silent=True, force=True)
    except RecursionError:
        body = None
    unit_no = body.get("unit") if isinstance(body, dict) else None
    code = body.get("code") if isinstance(body, dict) else None
    if (not isinstance(unit_no, int) or isinstance(unit_no, bool) or not 0 < unit_no < 1000
            or not isinstance(code, str) or not code or len(code) > 40):
        return _api_error(400, "malformed_request",
                          'the body must be a JSON object {"unit": <int>, "code": "<code>"}')
    return jsonify({"valid": unlock.verify_code(gateway, unit_no, code)})
