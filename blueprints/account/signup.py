"""The ID sign-up wizard of the manual: (1) name, e-mail, password; (2) account type;
(3) details and consents → 「一次登録完了」 and the activation mail (or, for an address
that already has an ID, a mail telling its owner so: the pages are the same)."""
from __future__ import annotations

from flask import session, url_for
from flask_babel import lazy_gettext as _l

from blueprints.account import join_requests, services
from blueprints.account.join_requests_signup import GONE, details_form_for
from blueprints.core.wizard import Step, Wizard, WizardError
from forms.account import SignupNameForm, SignupTypeForm


def _finish(forms, secrets) -> str:
    """Create the account, or (for an address that already has an ID) mail its owner
    instead: either way the same 「一次登録完了」 page follows, so that the sign-up does
    not tell whether an address is registered."""
    email = forms["name"].email.data
    details = forms["details"]
    # 会社の検索: a found company to ask to join instead of a new company (checked again).
    join_company = None
    if getattr(details, "joining", False):
        join_company = join_requests.findable_company(details.join_company.data)
        if join_company is None:
            raise WizardError("details", "join_company", str(GONE))
    services.create_account(
        name=forms["name"].data,
        account_type=forms["type"].account_type.data,
        details=details.data,
        password_hash=secrets["password"],  # a hash: the draft never holds the password
        join_company=join_company,
    )
    session["signup_email"] = email
    return url_for("account.signup_done")


signup_wizard = Wizard(
    "signup",
    steps=[
        Step("name", _l("基本情報"), SignupNameForm, "account/_signup_name.html",
             secrets={"password": services.hash_password}, dropped=("password_confirm",)),
        Step("type", _l("アカウントタイプ"), SignupTypeForm, "account/_signup_type.html"),
        Step("details", _l("詳細情報"), details_form_for, "account/_signup_details.html"),
    ],
    finish=_finish,
    title=_l("アカウントの作成"),
    final_label=_l("アカウントを作成"),
)
