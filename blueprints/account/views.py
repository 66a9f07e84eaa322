"""Views of the ID: parse input, call one service, render. Rules live in services.py."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from app import htmx, limiter
from blueprints.account import bp, services
from blueprints.account.signup import signup_wizard
from blueprints.core.links import LinkState
from forms.account import (
    CompanyForm,
    ConfirmForm,
    DeleteAccountForm,
    EmailOnlyForm,
    EmployeeSearchForm,
    InvitationAcceptForm,
    InviteForm,
    LoginForm,
    PasswordChangeForm,
    PasswordChecklistForm,
    PasswordResetForm,
    personal_info_form_for,
)
from forms.validators import password_checklist

LOGIN_LIMIT = "10 per minute; 50 per hour"
MAIL_LIMIT = "5 per minute; 30 per hour"

signup_wizard.register(bp, "/signup", "signup")


def _safe_next(target: str | None) -> str:
    """Only local paths are followed after sign-in (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("core.index")


def _login_session(account, remember: bool) -> None:
    session.pop("wizard:signup", None)
    login_user(account, remember=remember)
    session["lang"] = account.language


@bp.get("/signup/done")
def signup_done():
    """「一次登録完了」: the activation mail is on its way."""
    email = session.get("signup_email")
    if not email:
        return redirect(url_for("account.signup"))
    return render_template("account/signup_done.html", email=email, form=ConfirmForm())


@bp.get("/activate/<token>")
def activate(token: str):
    """Open the account behind an activation link."""
    checked, result = services.activate(token)
    if result is services.ActivationResult.ALREADY_OPEN:
        return render_template("account/activated.html", already=True)
    if not checked.ok:
        return _link_problem(checked.state, "activation")
    return render_template("account/activated.html", already=False)


@bp.route("/activation/resend", methods=["GET", "POST"])
@limiter.limit(MAIL_LIMIT, methods=["POST"])
def resend_activation():
    """Ask for a new activation mail; the answer is the same for every address."""
    form = EmailOnlyForm()
    if form.validate_on_submit():
        services.resend_activation(form.email.data)
        return render_template("account/link_sent.html", email=form.email.data,
                               purpose="activation")
    if request.method == "GET" and request.args.get("email"):
        form.email.data = request.args["email"][:254]
    return render_template("account/resend_activation.html", form=form), _status(form)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(LOGIN_LIMIT, methods=["POST"])
def login():
    """Sign in with e-mail and password (ログイン状態の維持)."""
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    problem = None
    if form.validate_on_submit():
        result = services.sign_in(form.email.data, form.password.data, form.remember.data,
                                  request.user_agent.string)
        if result.outcome is services.LoginOutcome.OK:
            _login_session(result.account, form.remember.data)
            return redirect(_safe_next(request.args.get("next")), code=303)
        problem = result.outcome.value
    status = 401 if problem else _status(form)
    return render_template("account/login.html", form=form, problem=problem,
                           lock_minutes=_lock_minutes()), status


def _lock_minutes() -> int:
    from flask import current_app

    return current_app.config["LOGIN_LOCK_MINUTES"]


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    """Sign out (POST); GET shows the button, so a link can never sign anyone out."""
    form = ConfirmForm()
    if request.method == "POST" and form.validate_on_submit():
        if current_user.is_authenticated:
            services.sign_out(current_user)
        logout_user()
        session.clear()
        flash(_("ログアウトしました"), "success")
        return redirect(url_for("account.login"), code=303)
    if not current_user.is_authenticated:
        return redirect(url_for("account.login"))
    return render_template("account/logout.html", form=form)


@bp.route("/password/reset", methods=["GET", "POST"])
@limiter.limit(MAIL_LIMIT, methods=["POST"])
def password_reset():
    """Forgotten password: mail a one-hour link. Same answer for every address."""
    form = EmailOnlyForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data)
        return render_template("account/link_sent.html", email=form.email.data,
                               purpose="password_reset")
    return render_template("account/password_reset.html", form=form), _status(form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def password_reset_confirm(token: str):
    """Set a new password from the mailed link."""
    checked = services.check_reset_link(token)
    if not checked.ok:
        return _link_problem(checked.state, "password_reset")
    form = PasswordResetForm()
    form.password_context = [checked.link.email]
    if form.validate_on_submit():
        result = services.reset_password(token, form.password.data)
        if not result.ok:
            return _link_problem(result.state, "password_reset")
        logout_user()
        flash(_("パスワードを変更しました。新しいパスワードでログインしてください"), "success")
        return redirect(url_for("account.login"), code=303)
    return render_template("account/password_reset_confirm.html", form=form,
                           email=checked.link.email), _status(form)


@bp.post("/password/checklist")
def password_checklist_partial():
    """The live checklist under a new-password field (an HTMX partial)."""
    form = PasswordChecklistForm()
    if not form.validate_on_submit():
        abort(400)
    return render_template("account/_password_checklist.html",
                           items=password_checklist(form.password.data or ""))


@bp.post("/links/renew")
@limiter.limit(MAIL_LIMIT)
def renew_link():
    """One tap on an expired or spent link's page sends a fresh link to the same address."""
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    purpose = request.form.get("purpose", "")
    email = services.renew_link(purpose, request.form.get("token", ""))
    if email is None:
        abort(404)
    return render_template("account/link_sent.html", email=None, purpose=purpose)


def _link_problem(state: LinkState, purpose: str):
    """An expired, spent or altered link: say which, and offer a fresh one."""
    token = request.view_args.get("token", "") if request.view_args else ""
    can_renew = state in (LinkState.EXPIRED, LinkState.SPENT) and purpose != "invitation"
    status = 410 if state in (LinkState.EXPIRED, LinkState.SPENT) else 404
    return render_template("account/link_problem.html", state=state.value, purpose=purpose,
                           token=token, can_renew=can_renew, form=ConfirmForm(),
                           email_form=EmailOnlyForm()), status


# -- settings --------------------------------------------------------------------------
@bp.get("/settings")
@login_required
def settings():
    """マイアカウント: 個人情報, ログイン情報, 会社情報, 従業員."""
    return render_template("account/settings.html")


@bp.route("/settings/personal", methods=["GET", "POST"])
@login_required
def settings_personal():
    """個人情報: name and フリガナ, phones, department/position, language, and a personal
    account's address."""
    form_class = personal_info_form_for(current_user)
    form = form_class(data=None if request.method == "POST"
                      else services.personal_form_data(current_user))
    if request.method == "POST" and form.run_sub_action():
        return render_template("account/settings_personal.html", form=form)
    if form.validate_on_submit():
        services.update_personal_info(current_user, form.data)
        session["lang"] = form.language.data
        flash(_("個人情報を保存しました"), "success")
        return redirect(url_for("account.settings_personal"), code=303)
    return render_template("account/settings_personal.html", form=form), _status(form)


@bp.route("/settings/login", methods=["GET", "POST"])
@login_required
@limiter.limit(LOGIN_LIMIT, methods=["POST"])
def settings_login():
    """ログイン情報: change the password (the current one is required)."""
    form = PasswordChangeForm()
    form.password_context = [current_user.email]
    if form.validate_on_submit():
        if services.change_password(current_user, form.current_password.data,
                                    form.password.data):
            flash(_("パスワードを変更しました。変更のお知らせをメールでお送りしました"),
                  "success")
            return redirect(url_for("account.settings_login"), code=303)
        form.current_password.errors.append(_("現在のパスワードが正しくありません"))
    return render_template("account/settings_login.html", form=form), _status(form)


def _company_account_required():
    if not current_user.is_commercial or current_user.company is None:
        abort(404)


@bp.route("/settings/company", methods=["GET", "POST"])
@login_required
def settings_company():
    """会社情報 (commercial accounts; only the company's administrator edits)."""
    _company_account_required()
    company = current_user.company
    form = CompanyForm(data=None if request.method == "POST"
                       else services.company_form_data(company))
    if request.method == "POST":
        if not current_user.is_company_admin:
            abort(403)
        if form.run_sub_action():
            return render_template("account/settings_company.html", form=form)
        if form.validate_on_submit():
            services.update_company(current_user, form.data)
            flash(_("会社情報を保存しました"), "success")
            return redirect(url_for("account.settings_company"), code=303)
    return render_template("account/settings_company.html", form=form), _status(form)


@bp.route("/settings/employees", methods=["GET", "POST"])
@login_required
@limiter.limit(MAIL_LIMIT, methods=["POST"])
def settings_employees():
    """従業員: search the company's employees and invite new ones by mail."""
    _company_account_required()
    search = EmployeeSearchForm(request.args)
    query = search.q.data if search.validate() else None
    invite = InviteForm()
    if request.method == "POST":
        if not current_user.is_company_admin:
            abort(403)
        if invite.validate_on_submit():
            outcome = services.invite_employee(current_user, invite.family_name.data,
                                               invite.given_name.data, invite.email.data)
            if outcome is services.InviteOutcome.SENT:
                flash(_("%(email)s に招待メールを送りました", email=invite.email.data),
                      "success")
                return redirect(url_for("account.settings_employees"), code=303)
            invite.email.errors.append(_("この方はすでに従業員として登録されています"))
    employees = services.search_employees(current_user.company_id, query)
    template = ("account/_employee_list.html" if htmx and request.method == "GET"
                and not htmx.history_restore_request else "account/settings_employees.html")
    return render_template(template, search=search, invite=invite, employees=employees,
                           invitations=services.pending_invitations(current_user.company_id),
                           query=query), _status(invite)


@bp.route("/invitation/<token>", methods=["GET", "POST"])
@limiter.limit(LOGIN_LIMIT, methods=["POST"])
def invitation(token: str):
    """An invitation to a company account: join with a new ID or merge an existing one."""
    checked = services.check_invitation(token)
    if not checked.ok:
        return _link_problem(checked.state, "invitation")
    link = checked.link
    existing = services.find_account(link.email)
    if existing is not None:
        return _join_existing(token, link, existing)
    form = InvitationAcceptForm(data=None if request.method == "POST" else {
        "family_name": link.payload.get("family_name"),
        "given_name": link.payload.get("given_name"),
    })
    form.password_context = [link.email]
    if form.validate_on_submit():
        result, account = services.join_company_as_new(
            token, form.family_name.data, form.given_name.data, form.password.data)
        if account is None:
            return _link_problem(result.state, "invitation")
        flash(_("商用アカウントに参加しました。ログインしてください"), "success")
        return redirect(url_for("account.login"), code=303)
    return render_template("account/invitation.html", form=form, link=link,
                           company=services.invited_company(link)), _status(form)


def _join_existing(token, link, existing):
    company = services.invited_company(link)
    if not current_user.is_authenticated or current_user.id != existing.id:
        return render_template("account/invitation_signin.html", link=link, company=company,
                               wrong_user=current_user.is_authenticated)
    form = ConfirmForm()
    if request.method == "POST" and form.validate_on_submit():
        result, outcome = services.join_company_as_existing(token, current_user)
        if outcome is services.JoinOutcome.JOINED:
            flash(_("%(company)s の商用アカウントに統合しました", company=company.name),
                  "success")
            return redirect(url_for("account.settings"), code=303)
        if outcome is None:
            return _link_problem(result.state, "invitation")
        return render_template("account/invitation_merge.html", link=link, company=company,
                               form=form, problem=outcome.value), 409
    return render_template("account/invitation_merge.html", link=link, company=company,
                           form=form, problem=None)


@bp.route("/delete", methods=["GET", "POST"])
@login_required
@limiter.limit(LOGIN_LIMIT, methods=["POST"])
def delete():
    """Delete the account after an explicit, irreversible confirmation."""
    form = DeleteAccountForm()
    if form.validate_on_submit():
        if services.delete_account(current_user, form.password.data):
            logout_user()
            session.clear()
            return redirect(url_for("account.deleted"), code=303)
        form.password.errors.append(_("パスワードが正しくありません"))
    return render_template("account/delete.html", form=form), _status(form)


@bp.get("/deleted")
def deleted():
    return render_template("account/deleted.html")


def _status(form) -> int:
    """422 when a submitted form has errors, 200 otherwise."""
    return 422 if request.method == "POST" and form.errors else 200
