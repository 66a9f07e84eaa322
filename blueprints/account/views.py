"""Views of the ID: parse input, call one service, render. Rules live in services.py."""
from __future__ import annotations

import hashlib
import json

from flask import (
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user, logout_user
from markupsafe import Markup

from app import htmx, limiter
from blueprints.account import bp, services
from blueprints.account.join_requests_signup import company_search_sub_action
from blueprints.account.signup import signup_wizard
from blueprints.core import registry
from blueprints.core.links import LinkState
from blueprints.core.redirects import safe_next
from blueprints.core.security import configured_limit
from blueprints.core.caching import app_cache
from blueprints.core.transactions import read_only
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
from forms.validators import normalize_email, password_checklist

LOGIN_LIMIT = configured_limit("PASSWORD_CHECK_LIMIT")
MAIL_LIMIT = configured_limit("MAIL_SENDING_LIMIT")

# The last step creates the account (or tells the owner of the address) by mail. Its
# 会社の検索 buttons (search, choose) are counted by the search's own limit instead.
signup_wizard.register(bp, "/signup", "signup", decorators=[
    limiter.limit(MAIL_LIMIT, methods=["POST"], exempt_when=lambda: (
        signup_wizard.not_final_step() or company_search_sub_action()))])


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
        return render_template("account/activated.html", already=True,
                               email=checked.link.email)
    if not checked.ok:
        return _link_problem(checked.state, "activation")
    return render_template("account/activated.html", already=False, email=checked.link.email)


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


def _sign_in_failed(_response) -> bool:
    """Only a wrong e-mail/password pair counts against the sign-in limits: the right
    password from an address that has not been failing always gets through."""
    return bool(g.get("sign_in_failed"))


def _client_and_email() -> str:
    """The limit key of one e-mail address tried from one client (the address hashed:
    rate-limit storage need not hold who was tried)."""
    email = (normalize_email(request.form.get("email", "")) or "")[:254].lower()
    return f"{get_remote_address()}/{hashlib.sha256(email.encode()).hexdigest()[:32]}"


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(configured_limit("LOGIN_FAILURE_LIMIT_PER_ADDRESS"),
               methods=["POST"], deduct_when=_sign_in_failed)
@limiter.limit(configured_limit("LOGIN_FAILURE_LIMIT_PER_ACCOUNT"),
               key_func=_client_and_email, methods=["POST"], deduct_when=_sign_in_failed)
def login():
    """Sign in with e-mail and password (ログイン状態の維持). A client that failed too
    often gets 429, the same for every e-mail, known or not."""
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    problem = None
    if form.validate_on_submit():
        result = services.sign_in(form.email.data, form.password.data, form.remember.data,
                                  request.user_agent.string)
        if result.outcome is services.LoginOutcome.OK:
            # >>> twostep
            # With a second step the session is pending: no remember cookie until it is
            # passed; an account that must have one and has none is led to its set-up.
            from blueprints.account import second_step_views
            pending = second_step_views.has_second_step(result.account.id)
            _login_session(result.account, form.remember.data and not pending)
            target = safe_next(request.args.get("next"))
            if pending:
                session[second_step_views.REMEMBER_AFTER_STEP] = bool(form.remember.data)
                return redirect(url_for("account.second_step", next=target), code=303)
            if second_step_views.setup_due(result.account):
                return redirect(url_for("account.second_step_settings", next=target),
                                code=303)
            # <<< twostep
            return redirect(safe_next(request.args.get("next")), code=303)
        if result.outcome is services.LoginOutcome.MIGRATE:  # old portal: one-time step
            from blueprints.account import legacy_views
            return legacy_views.start(result.account, form.remember.data,
                                      safe_next(request.args.get("next")))
        g.sign_in_failed = result.outcome is services.LoginOutcome.INVALID
        problem = result.outcome.value
    status = 401 if problem else _status(form)
    return render_template("account/login.html", form=form, problem=problem), status


def _end_browser_session() -> None:
    """Forget the browser's sign-in: the session emptied first, then Flask-Login's
    sign-out, which marks the 「ログイン状態の維持」 cookie for deletion in the session
    (emptying the session afterwards would lose that mark and leave the cookie)."""
    session.clear()
    logout_user()


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    """Sign out (POST); GET shows the button, so a link can never sign anyone out."""
    form = ConfirmForm()
    if request.method == "POST" and form.validate_on_submit():
        if current_user.is_authenticated:
            services.sign_out(current_user)
        _end_browser_session()
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
@read_only
def settings():
    """マイアカウント: 個人情報, ログイン情報, 会社情報, 従業員."""
    return render_template("account/settings.html")


@bp.get("/access")
@login_required
@read_only
def access():
    """わが家の情報を見られる人: everyone a service lets see or act on the owner's home
    (maintenance dealers, …), each with what they may do and where to end it."""
    return render_template("account/access.html", lines=registry.access_lines_for(current_user))


@bp.route("/settings/personal", methods=["GET", "POST"])
@login_required
@read_only
def settings_personal():
    """個人情報: name and フリガナ, phones, department/position, language, and a personal
    account's address."""
    form_class = personal_info_form_for(current_user)
    if request.method != "POST":
        return render_template("account/settings_personal.html", form=None,
                               fields=_personal_fields(form_class))
    form = form_class()
    if form.run_sub_action():
        return render_template("account/settings_personal.html", form=form)
    if form.validate_on_submit():
        services.update_personal_info(current_user, form.data)
        session["lang"] = form.language.data
        flash(_("個人情報を保存しました"), "success")
        return redirect(url_for("account.settings_personal"), code=303)
    return render_template("account/settings_personal.html", form=form), _status(form)


def _personal_fields(form_class) -> Markup:
    """個人情報's fields as a GET shows them: the stored data, no errors. Drawn once per
    process for what they show (the form, the stored data, the e-mail shown and the
    language: a change of any draws afresh) and kept (blueprints/core/caching.py); the
    form's per-session CSRF token is outside them."""
    account = current_user._get_current_object()
    data = services.personal_form_data(account)
    key = (form_class.__name__, str(get_locale()), account.email,
           json.dumps(data, sort_keys=True, default=str))
    cache = app_cache("account.personal_fields", PERSONAL_FIELDS_KEPT)
    fields = cache.get(key)
    if fields is None:
        fields = cache.put(key, Markup(render_template(
            "account/_personal_fields.html", form=form_class(data=data),
            shown_email=account.email)))
    return fields


# Each entry a rendered form of about 10 KB: a few thousand people's pages per process.
PERSONAL_FIELDS_KEPT = 2048


@bp.route("/settings/login", methods=["GET", "POST"])
@login_required
@read_only
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
@read_only
def settings_company():
    """会社情報 (commercial accounts; only the company's administrator edits)."""
    if current_user.is_commercial and current_user.company is None:  # 会社の検索
        return redirect(url_for("account.company_join"))
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
@read_only
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
            if outcome is services.InviteOutcome.DAILY_LIMIT:
                invite.email.errors.append(_(
                    "招待メールを送れるのは24時間に%(count)s件までです。時間をおいてからもう一度お送りください",
                    count=current_app.config["INVITATIONS_PER_DAY"]))
            else:
                invite.email.errors.append(_("この方はすでに従業員として登録されています"))
    employees = services.search_employees(current_user.company_id, query)
    template = ("account/_employee_list.html" if htmx and request.method == "GET"
                and not htmx.history_restore_request else "account/settings_employees.html")
    return render_template(template, search=search, invite=invite, employees=employees,
                           invitations=services.pending_invitations(current_user.company_id),
                           query=query), _status(invite)


def _employee_action_page(template: str, target, settled: str | None = None,
                          status: int = 200, **context):
    """The confirmation page of an action on an employee or an invitation, for the
    company's administrator only. `settled`: the action has nothing left to do (e.g. the
    invitation was used meanwhile); the list is shown with that message instead."""
    if target is None:
        abort(404)
    if not current_user.is_company_admin:
        abort(403)
    if settled:
        flash(settled, "info")
        return redirect(url_for("account.settings_employees"), code=303)
    return render_template(template, target=target, form=ConfirmForm(), **context), status


def _employee_action_done(outcome, done_message: str, again_message: str):
    """Where an employee action's POST goes: back to the list with what happened."""
    if outcome is services.EmployeeOutcome.NOT_FOUND:
        abort(404)
    if outcome is services.EmployeeOutcome.FORBIDDEN:
        abort(403)
    if outcome is services.EmployeeOutcome.DONE:
        flash(done_message, "success")
    else:  # ALREADY_DONE: a repeated submit; nothing more was changed
        flash(again_message, "info")
    if current_user.company_id is None:  # an administrator who left the company
        return redirect(url_for("account.settings"), code=303)
    return redirect(url_for("account.settings_employees"), code=303)


@bp.route("/settings/employees/<int:account_id>/remove", methods=["GET", "POST"])
@login_required
def employee_remove(account_id: int):
    """従業員の削除: confirm, then the person leaves the company (their ID stays, as a
    personal account) and is told by mail. The last administrator cannot leave."""
    _company_account_required()
    employee = services.company_employee(current_user, account_id)
    name = employee.full_name if employee is not None else ""
    form = ConfirmForm()
    if request.method == "POST" and form.validate_on_submit():
        outcome = services.remove_employee(current_user, account_id)
        if outcome is services.EmployeeOutcome.LAST_ADMIN:
            return _employee_action_page("account/employee_remove.html", employee,
                                         status=409, last_admin=True)
        return _employee_action_done(
            outcome, _("%(name)s 様を従業員から削除しました。お知らせのメールを送りました",
                       name=name),
            _("この従業員はすでに削除されています"))
    return _employee_action_page("account/employee_remove.html", employee,
                                 last_admin=employee is not None
                                 and services.is_last_admin(employee))


@bp.route("/settings/employees/<int:account_id>/admin", methods=["GET", "POST"])
@login_required
def employee_admin(account_id: int):
    """管理者の引き継ぎ: confirm, then the employee becomes the administrator and the
    current administrator an employee."""
    _company_account_required()
    employee = services.company_employee(current_user, account_id)
    name = employee.full_name if employee is not None else ""
    already = _("%(name)s 様はすでに管理者です", name=name)
    form = ConfirmForm()
    if request.method == "POST" and form.validate_on_submit():
        outcome = services.hand_over_admin(current_user, account_id)
        return _employee_action_done(
            outcome, _("管理者の権限を %(name)s 様に引き継ぎました", name=name), already)
    is_admin = employee is not None and employee.is_company_admin
    return _employee_action_page("account/employee_admin.html", employee,
                                 settled=already if is_admin else None)


@bp.route("/settings/invitations/<int:invitation_id>/cancel", methods=["GET", "POST"])
@login_required
def invitation_cancel(invitation_id: int):
    """招待の取り消し: confirm, then the invitation's link stops working."""
    _company_account_required()
    invitation = services.company_invitation(current_user, invitation_id)
    email = invitation.email if invitation is not None else ""
    settled = _("この招待はすでに使用されたか、期限切れか、取り消されています")
    form = ConfirmForm()
    if request.method == "POST" and form.validate_on_submit():
        outcome = services.cancel_invitation(current_user, invitation_id)
        return _employee_action_done(
            outcome, _("%(email)s への招待を取り消しました", email=email), settled)
    pending = invitation is not None and services.is_pending(invitation)
    return _employee_action_page("account/invitation_cancel.html", invitation,
                                 settled=None if pending else settled)


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
            _end_browser_session()
            return redirect(url_for("account.deleted"), code=303)
        form.password.errors.append(_("パスワードが正しくありません"))
    return render_template("account/delete.html", form=form), _status(form)


@bp.get("/deleted")
def deleted():
    return render_template("account/deleted.html")


def _status(form) -> int:
    """422 when a submitted form has errors, 200 otherwise."""
    return 422 if request.method == "POST" and form.errors else 200
