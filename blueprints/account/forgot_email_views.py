"""「ユーザID・パスワードを忘れた場合」 (a chooser) and 「メールアドレスを忘れた場合」 (name,
phone and a gateway ID → a reminder mailed to the registered address when they match,
decided by the mail relay; the page answers the same in every case)."""
from __future__ import annotations

from flask import render_template, request

from app import limiter
from blueprints.account import bp, forgot_email
from blueprints.core.security import configured_limit
from forms.forgot_email import ForgotEmailForm

FORGOT_EMAIL_LIMIT = configured_limit("FORGOT_EMAIL_LIMIT")


@bp.get("/forgot")
def forgot():
    """ユーザID・パスワードを忘れた場合はこちら: the two ways back in."""
    return render_template("account/forgot_email_choice.html")


@bp.route("/forgot-email", methods=["GET", "POST"])
@limiter.limit(FORGOT_EMAIL_LIMIT, methods=["POST"])
def forgot_email_request():
    """メールアドレスを忘れた場合: the same answer whether or not the three match."""
    form = ForgotEmailForm()
    if form.validate_on_submit():
        forgot_email.request_forgotten_email(form.family_name.data, form.given_name.data,
                                             form.phone.data, form.gateway_id.data)
        return render_template("account/forgot_email_sent.html")
    status = 422 if request.method == "POST" else 200
    return render_template("account/forgot_email.html", form=form), status
