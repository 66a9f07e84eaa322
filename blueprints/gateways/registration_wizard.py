"""The monitoring registration wizard of the seed's STEP1-3: 利用規約 (the service's and
the ID's) → お客様情報・ゲートウェイ情報 (one form) → 確認 → 【アカウント仮登録のお知らせ】
mail (or, for an address that has an ID already, a mail saying how to add the gateway
to it: the pages are the same either way)."""
from __future__ import annotations

from functools import wraps

from flask import redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l

from app import htmx
from blueprints.core.wizard import Step, Wizard, WizardError
from blueprints.gateways import registration as services
from forms.gateways import (
    SLIP_REJECTED,
    RegistrationDetailsForm,
    RegistrationTermsForm,
    confirm_form_for,
)

DONE_SESSION_KEY = "monitoring_registration"


def _keep_proof(proof: str) -> str:
    # The form's slip check replaced the typed password with a proof of the check.
    return proof


def _finish(forms, secrets) -> str:
    try:
        expires_at = services.register_first_gateway(forms["details"].data,
                                                     secrets.get("gateway_password"))
    except services.RegistrationError as error:
        raise WizardError("details", error.field, str(SLIP_REJECTED))
    details = forms["details"]
    session[DONE_SESSION_KEY] = {"email": details.email.data,
                                 "expires_at": expires_at.isoformat()}
    return url_for("gateways.registration_done")


registration_wizard = Wizard(
    "monitoring_registration",
    steps=[
        Step("terms", _l("利用規約"), RegistrationTermsForm, "gateways/_register_terms.html"),
        Step("details", _l("情報の入力"), RegistrationDetailsForm,
             "gateways/_register_details.html",
             secrets={"gateway_password": _keep_proof}),
        Step("confirm", _l("入力内容の確認"), confirm_form_for,
             "gateways/_register_confirm.html"),
    ],
    finish=_finish,
    title=_l("遠隔モニタリングサービス アカウント登録"),
    submit_label=_l("次に進む"),
    final_label=_l("登録する"),
)


def campaign_first(view):
    """/monitoring/register itself is STEP1, the campaign page (printed on every slip);
    its 登録を始める leads into the wizard's steps under the same prefix."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if kwargs.get("step") is None:
            return render_template("gateways/campaign.html")
        return view(*args, **kwargs)

    return wrapper


def consent_refusal(view):
    """同意しない on the terms step ends here: a page saying consent is needed."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if (request.method == "POST" and kwargs.get("step") == "terms"
                and request.form.get("consent") == "disagree"):
            target = url_for("gateways.registration_declined")
            if htmx:
                return "", 200, {"HX-Redirect": target}
            return redirect(target, code=303)
        return view(*args, **kwargs)

    return wrapper
