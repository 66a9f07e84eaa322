"""The ID sign-up wizard of the manual: (1) name, e-mail, password; (2) account type;
(3) details and consents → 「一次登録完了」 and the activation mail."""
from __future__ import annotations

from flask import session, url_for
from flask_babel import lazy_gettext as _l

from blueprints.account import services
from blueprints.core.wizard import Step, Wizard, WizardError
from forms.account import SignupNameForm, SignupTypeForm, details_form_for


def _finish(forms, secrets) -> str:
    try:
        account = services.create_account(
            name=forms["name"].data,
            account_type=forms["type"].account_type.data,
            details=forms["details"].data,
            password_hash=secrets["password"],  # a hash: the draft never holds the password
        )
    except services.EmailTaken:
        raise WizardError("name", "email", str(_l(
            "このメールアドレスはすでに登録されています。ログインするか、パスワードを再設定してください")))
    session["signup_email"] = account.email
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
