"""Staff pages of the ID (/staff/accounts/, support agents): find an account by e-mail or
お客様番号 and reset its second sign-in step when the owner lost the device (a required
reason, audited; the account is mailed and signed out everywhere)."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from blueprints.account import second_step as rules
from blueprints.account import staff_bp
from forms.second_step import StaffResetForm, StaffSearchForm


@staff_bp.get("/")
def search():
    """アカウントの検索: one account by its e-mail or お客様番号."""
    form = StaffSearchForm(request.args)
    account = None
    searched = bool(request.args.get("q"))
    if searched and form.validate():
        account = rules.find_account_for_staff(form.q.data)
    state = rules.state_of(account) if account is not None else None
    status = 422 if searched and form.errors else 200
    return render_template("account/second_step/staff_search.html", form=form,
                           account=account, state=state, searched=searched), status


@staff_bp.route("/<customer_number>/second-step/reset", methods=["GET", "POST"])
def second_step_reset(customer_number: str):
    """2段階認証のリセット: removes the app, passkeys and recovery codes of the account,
    signs it out everywhere, audits the reason and mails the account."""
    account = rules.account_by_customer_number(customer_number)
    if account is None:
        abort(404)
    form = StaffResetForm()
    if form.validate_on_submit():
        rules.staff_reset(current_user, account, form.reason.data)
        flash(_("2段階認証をリセットしました。お客様にメールでお知らせしました"), "success")
        return redirect(url_for("accounts_staff.search", q=customer_number), code=303)
    return render_template("account/second_step/staff_reset.html", form=form, account=account,
                           state=rules.state_of(account)), \
        422 if request.method == "POST" and form.errors else 200
