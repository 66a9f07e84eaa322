"""Owner pages: the STEP1-5 registration wizard, more gateways and the main menu."""
from __future__ import annotations

from datetime import datetime

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user

from app import limiter
from blueprints.core import registry
from blueprints.core.links import LinkState
from blueprints.core.security import configured_limit
from blueprints.core.transactions import read_only
from blueprints.gateways import bp, catalogue, registration as services
from blueprints.gateways.registration_wizard import (
    DONE_SESSION_KEY,
    campaign_first,
    consent_refusal,
    registration_wizard,
)
from forms.account import ConfirmForm
from forms.gateways import SLIP_REJECTED, AddGatewayForm, RegistrationPasswordForm

# Per client: the phone check of the provisional link's page. (Slip checks are limited
# by their failures, per client address and account: services.check_slip_password.)
PHONE_CHECK_LIMIT = configured_limit("REGISTRATION_PHONE_CHECK_LIMIT")
# Per client: the registration's last step and a renewed link mail the address.
REGISTRATION_MAIL_LIMIT = configured_limit("MAIL_SENDING_LIMIT")


registration_wizard.register(
    bp, "/register", "register",
    decorators=[campaign_first,
                limiter.limit(REGISTRATION_MAIL_LIMIT, methods=["POST"],
                              exempt_when=registration_wizard.not_final_step),
                consent_refusal])


def _status(form) -> int:
    return 422 if request.method == "POST" and form.errors else 200


@bp.get("/register/declined")
def registration_declined():
    """同意しない: the service cannot be used without consent to the terms."""
    return render_template("gateways/declined.html")


@bp.get("/register/done")
def registration_done():
    """アカウント登録完了: the provisional mail was sent; its link's expiry."""
    done = session.get(DONE_SESSION_KEY)
    if not done:
        return redirect(url_for("gateways.register"))
    return render_template("gateways/registration_done.html", email=done["email"],
                           expires_at=datetime.fromisoformat(done["expires_at"]))


@bp.route("/register/password/<token>", methods=["GET", "POST"])
@limiter.limit(PHONE_CHECK_LIMIT, methods=["POST"])
def registration_password(token: str):
    """STEP3: set the password from the provisional mail's link (and the STEP2 phone
    number again) → 本登録完了, signed in."""
    checked = services.check_registration_link(token)
    if not checked.ok:
        return _link_problem(token, checked.state)
    account, gateway = services.registration_context(checked.link)
    form = RegistrationPasswordForm()
    form.password_context = [checked.link.email]
    form.password_identifiers = [gateway.gateway_id, gateway.site_name] if gateway else []
    if form.validate_on_submit():
        result = services.complete_registration(token, form.password.data, form.phone.data,
                                                request.user_agent.string)
        if result.outcome is services.CompleteOutcome.LINK_PROBLEM:
            return _link_problem(token, result.state)
        if result.outcome is services.CompleteOutcome.DONE:
            session.pop(registration_wizard._session_key, None)
            login_user(result.account)
            session["lang"] = result.account.language
            return redirect(url_for("gateways.registration_complete"), code=303)
        form.phone.errors.append(_("仮登録時に入力した電話番号と一致しません"))
    return render_template("gateways/registration_password.html", form=form,
                           email=checked.link.email), _status(form)


def _link_problem(token: str, state: LinkState):
    """An expired, spent or altered provisional link: say which, and the way on."""
    status = 410 if state in (LinkState.EXPIRED, LinkState.SPENT) else 404
    return render_template("gateways/link_problem.html", state=state.value, token=token,
                           form=ConfirmForm()), status


@bp.post("/register/password/<token>/renew")
@limiter.limit(REGISTRATION_MAIL_LIMIT)
def renew_registration_link(token: str):
    """A fresh provisional mail for an expired link (while the account is unopened)."""
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    expires_at = services.renew_registration_link(token)
    if expires_at is None:
        abort(404)
    return render_template("gateways/link_renewed.html", expires_at=expires_at)


@bp.get("/register/complete")
@login_required
def registration_complete():
    """本登録完了, then STEP5: 遠隔モニタリングを開始 opens the gateway's monitoring page."""
    return render_template("gateways/registration_complete.html",
                           gateways=services.owned_gateways(current_user))


@bp.get("/")
@login_required
@read_only
def menu():
    """Main menu (ゲートウェイの管理): 「〇〇 様」, the 商品マニュアル of the owner's
    models, the owner's gateways and what can be done."""
    gateways = services.owned_gateways(current_user)
    return render_template("gateways/menu.html", gateways=gateways,
                           states=registry.gateway_states(gateways),
                           manuals=catalogue.manuals_for(g.model for g in gateways))


@bp.route("/gateways/add", methods=["GET", "POST"])
@login_required
def add_gateway():
    """ゲートウェイの登録 by a signed-in owner (すでにアカウントをお持ちの方)."""
    form = AddGatewayForm()
    if services.accepted_monitoring_terms(current_user):
        del form.accept_monitoring_terms
    if request.method == "POST" and form.run_sub_action():
        return render_template("gateways/add_gateway.html", form=form)
    if form.validate_on_submit():
        try:
            gateway = services.add_gateway(current_user, form.data)
        except services.RegistrationError:
            form.gateway_password.errors = [SLIP_REJECTED]
        else:
            flash(_("ゲートウェイ %(id)s を登録しました", id=gateway.gateway_id), "success")
            return redirect(url_for("gateways.menu"), code=303)
    status = 429 if form.slip_limited else _status(form)
    return render_template("gateways/add_gateway.html", form=form), status
