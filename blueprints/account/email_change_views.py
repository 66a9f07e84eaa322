"""E-mail change in ログイン情報: ask (new address + current password), confirm from the
new mailbox, undo from the old one. Rules live in email_change.py."""
from __future__ import annotations

from flask import render_template, request, session
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user

from app import limiter
from blueprints.account import bp
from blueprints.account import email_change as changes
from blueprints.core.links import LinkState
from blueprints.core.security import configured_limit
from forms.account import ConfirmForm, EmailOnlyForm
from forms.account_email import EmailChangeForm

PASSWORD_LIMIT = configured_limit("PASSWORD_CHECK_LIMIT")


def _link_problem(state: LinkState, purpose: str):
    """An expired, spent or altered link: the shared link page, with what to do next."""
    status = 410 if state in (LinkState.EXPIRED, LinkState.SPENT) else 404
    return render_template("account/email_link_problem.html", state=state.value,
                           purpose=purpose), status


@bp.route("/settings/email", methods=["GET", "POST"])
@login_required
@limiter.limit(PASSWORD_LIMIT, methods=["POST"])
def email_change():
    """メールアドレスの変更: the page answers 「確認メールを送信しました」 for every new
    address; the mail to it tells the rest."""
    form = EmailChangeForm()
    if form.validate_on_submit():
        outcome = changes.request_change(current_user, form.email.data,
                                         form.current_password.data)
        if outcome is changes.RequestOutcome.SENT:
            return render_template("account/email_change_sent.html", email=form.email.data)
        if outcome is changes.RequestOutcome.SAME_ADDRESS:
            form.email.errors.append(_("現在のメールアドレスと同じです。新しいメールアドレスを入力してください"))
        else:
            form.current_password.errors.append(_("現在のパスワードが正しくありません"))
    status = 422 if request.method == "POST" and form.errors else 200
    return render_template("account/email_change.html", form=form), status


@bp.route("/email/confirm/<token>", methods=["GET", "POST"])
def email_change_confirm(token: str):
    """The link mailed to the new address: a button, then the change (signed in or not:
    the link proves the address)."""
    checked = changes.check_change_link(token)
    if not checked.ok:
        return _link_problem(checked.state, "change")
    form = ConfirmForm()
    if request.method == "POST" and form.validate_on_submit():
        signed_in = current_user.id if current_user.is_authenticated else None
        result, outcome = changes.confirm_change(token, signed_in)
        if outcome is None:
            return _link_problem(result.state, "change")
        if outcome is changes.ChangeOutcome.DONE:
            return render_template("account/email_change_done.html", email=result.link.email)
        return render_template("account/email_change_confirm.html", form=form,
                               email=checked.link.email, problem=outcome.value), 409
    return render_template("account/email_change_confirm.html", form=form,
                           email=checked.link.email, problem=None)


@bp.route("/email/undo/<token>", methods=["GET", "POST"])
def email_change_undo(token: str):
    """The link mailed to the old address: a button, then the old address is back and
    every browser of the account signed out (this one too)."""
    checked = changes.check_undo_link(token)
    if not checked.ok:
        return _link_problem(checked.state, "undo")
    form = ConfirmForm()
    if request.method == "POST" and form.validate_on_submit():
        result, outcome, restored = changes.undo_change(token)
        if outcome is None:
            return _link_problem(result.state, "undo")
        if outcome is changes.UndoOutcome.DONE:
            if current_user.is_authenticated:
                session.clear()
                logout_user()
            reset = EmailOnlyForm(formdata=None, data={"email": restored})
            return render_template("account/email_change_undone.html", email=restored,
                                   reset_form=reset)
        return render_template("account/email_change_undo.html", form=form,
                               old=(checked.link.payload or {}).get("old"),
                               problem=outcome.value), 409
    return render_template("account/email_change_undo.html", form=form,
                           old=(checked.link.payload or {}).get("old"), problem=None)
