"""Views of two-step sign-in (rules in second_step.py; the gate of every request in
blueprints/core/second_step.py): the verify page after the password, and the set-up in
ログイン情報 (authenticator app, passkeys, recovery codes)."""
from __future__ import annotations

from flask import (abort, current_app, flash, g, redirect, render_template,
                   request, session, url_for)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required

from app import limiter
from blueprints.account import bp
from blueprints.account import second_step as rules
from blueprints.core.qr import qr_svg
from blueprints.core.redirects import safe_next
from blueprints.core.security import configured_limit
from blueprints.core.second_step import has_second_step
from forms.account import ConfirmForm
from forms.second_step import (PasskeyAnswerForm, PasskeyRegisterForm, PasswordConfirmForm,
                               SecondStepForm, TotpConfirmForm)

PASSWORD_LIMIT = configured_limit("PASSWORD_CHECK_LIMIT")
# The Flask session keys: the WebAuthn challenges, and 「ログイン状態の維持」 asked for at
# the password (it takes effect only once the second step is passed).
REGISTER_CHALLENGE = "passkey_register_challenge"
SIGN_IN_CHALLENGE = "passkey_sign_in_challenge"
REMEMBER_AFTER_STEP = "second_step_remember"
WRONG_CODE = _l("認証コードが正しくありません。もう一度入力してください")


def _next() -> str:
    return safe_next(request.args.get("next"))


def _next_values() -> dict:
    target = _next()
    return {"next": target} if target != "/" else {}


def _status(form) -> int:
    return 422 if request.method == "POST" and form.errors else 200


@bp.app_context_processor
def _second_step_summary():
    """`second_step_state()` for the section in ログイン情報."""
    def second_step_state():
        if not current_user.is_authenticated:
            return None
        return rules.state_of(current_user)
    return {"second_step_state": second_step_state}


def setup_due(account) -> bool:
    """For the sign-in view: lead this new session to the set-up page?"""
    return rules.setup_due(account)


# -- the step after the password ---------------------------------------------------------
def _pending() -> bool:
    login_session = g.get("login_session")
    return (current_user.is_authenticated and login_session is not None
            and login_session.second_step_at is None and has_second_step(current_user.id))


def _passed():
    """The step is passed: 「ログイン状態の維持」 now takes effect; on to `next`."""
    if session.pop(REMEMBER_AFTER_STEP, False):
        session["_remember"] = "set"
    session.pop(SIGN_IN_CHALLENGE, None)
    return redirect(_next(), code=303)


def _limited():
    return render_template("errors/error.html", status=429,
                           title=_("しばらくしてからお試しください"),
                           message=_("認証コードの入力に続けて失敗したため、しばらく入力できません。時間をおいてからもう一度お試しください。")), 429


def _verify_page(form, status: int = 200, passkey_failed: bool = False):
    state = rules.state_of(current_user)
    return render_template("account/second_step/verify.html", form=form, state=state,
                           passkey_form=PasskeyAnswerForm(formdata=None),
                           passkey_failed=passkey_failed, next_values=_next_values()), status


@bp.route("/login/verify", methods=["GET", "POST"])
@login_required
def second_step():
    """2段階認証: the code from the app, a recovery code, or a passkey."""
    if not _pending():
        return redirect(_next(), code=303)
    form = SecondStepForm()
    if form.validate_on_submit():
        outcome = rules.verify_code(current_user, g.login_session, form.code.data,
                                    get_remote_address())
        if outcome is rules.StepOutcome.LIMITED:
            return _limited()
        if outcome is rules.StepOutcome.PASSED:
            return _passed()
        form.code.errors.append(str(WRONG_CODE))
    return _verify_page(form, _status(form))


@bp.post("/login/verify/passkey/options")
@login_required
def second_step_passkey_options():
    """The WebAuthn request options (JSON) for this account's passkeys."""
    if not _pending():
        abort(404)
    options, challenge = rules.authentication_options(current_user)
    session[SIGN_IN_CHALLENGE] = challenge
    return current_app.response_class(options, mimetype="application/json")


@bp.post("/login/verify/passkey")
@login_required
def second_step_passkey():
    """The authenticator's answer (a form posted by passkeys.js)."""
    if not _pending():
        return redirect(_next(), code=303)
    form = PasskeyAnswerForm()
    if not form.validate_on_submit():
        return _verify_page(SecondStepForm(formdata=None), 422, passkey_failed=True)
    outcome = rules.verify_passkey(current_user, g.login_session, form.credential.data,
                                   session.pop(SIGN_IN_CHALLENGE, None), get_remote_address())
    if outcome is rules.StepOutcome.LIMITED:
        return _limited()
    if outcome is rules.StepOutcome.PASSED:
        return _passed()
    return _verify_page(SecondStepForm(formdata=None), 422, passkey_failed=True)


# -- set-up in ログイン情報 -------------------------------------------------------------
@bp.get("/settings/second-step")
@login_required
def second_step_settings():
    """2段階認証の設定: the authenticator app, passkeys, recovery codes. With `next` (after
    a sign-in that must set one up) it offers 「後で設定する」."""
    state = rules.state_of(current_user)
    target = request.args.get("next")
    return render_template("account/second_step/settings.html", state=state,
                           later=safe_next(target) if target else None,
                           next_values=_next_values(),
                           passkey_form=PasskeyRegisterForm(formdata=None))


def _codes_page(codes: list[str], first: bool):
    return render_template("account/second_step/codes.html", codes=codes, first=first,
                           next_target=_next())


@bp.route("/settings/second-step/totp", methods=["GET", "POST"])
@login_required
def totp_setup():
    """認証アプリの設定: QR code and the key in groups of 4, confirmed with a code; then the
    recovery codes, shown once."""
    if rules.state_of(current_user).totp is not None:
        flash(_("認証アプリはすでに設定されています"), "info")
        return redirect(url_for("account.second_step_settings", **_next_values()), code=303)
    form = TotpConfirmForm()
    if form.validate_on_submit():
        codes = rules.confirm_totp(current_user, form.code.data, g.get("login_session"))
        if codes is not None:
            flash(_("認証アプリを設定しました"), "success")
            return _codes_page(codes, first=True)
        form.code.errors.append(str(WRONG_CODE))
    _row, secret = rules.pending_totp(current_user)
    uri = rules.provisioning_uri(current_user, secret)
    return render_template("account/second_step/totp_setup.html", form=form,
                           qr=qr_svg(uri, _("認証アプリ用のQRコード")),
                           secret=rules.grouped(secret),
                           next_values=_next_values()), _status(form)


LAST_REQUIRED = _l("このアカウントでは2段階認証が必須のため、最後の認証方法は削除できません。先に別の認証方法を追加してください")


def _remove_page(what: str, form, status: int = 200, name: str | None = None,
                 refused: str | None = None):
    return render_template("account/second_step/remove.html", form=form, what=what,
                           name=name, refused=refused), status


def _removed(outcome, form, what: str, name: str | None = None):
    if outcome is rules.RemoveOutcome.NOT_FOUND:
        abort(404)
    if outcome is rules.RemoveOutcome.REMOVED:
        flash(_("認証アプリの設定を削除しました") if what == "totp"
              else _("パスキーを削除しました"), "success")
        return redirect(url_for("account.second_step_settings"), code=303)
    if outcome is rules.RemoveOutcome.LAST_REQUIRED:
        return _remove_page(what, form, 409, name, refused=str(LAST_REQUIRED))
    form.password.errors.append(_("パスワードが正しくありません"))
    return _remove_page(what, form, 422, name)


@bp.route("/settings/second-step/totp/remove", methods=["GET", "POST"])
@login_required
@limiter.limit(PASSWORD_LIMIT, methods=["POST"])
def totp_remove():
    """認証アプリの削除 (the current password is required)."""
    state = rules.state_of(current_user)
    if state.totp is None:
        abort(404)
    form = PasswordConfirmForm()
    if form.validate_on_submit():
        return _removed(rules.remove_totp(current_user, form.password.data), form, "totp")
    refused = (str(LAST_REQUIRED)
               if state.due and state.count <= 1 else None)
    return _remove_page("totp", form, _status(form), refused=refused)


@bp.route("/settings/second-step/passkeys/<int:passkey_id>/remove", methods=["GET", "POST"])
@login_required
@limiter.limit(PASSWORD_LIMIT, methods=["POST"])
def passkey_remove(passkey_id: int):
    """パスキーの削除 (the current password is required)."""
    passkey = rules.account_passkey(current_user, passkey_id)
    if passkey is None:
        abort(404)
    name = passkey.name
    state = rules.state_of(current_user)
    form = PasswordConfirmForm()
    if form.validate_on_submit():
        return _removed(rules.remove_passkey(current_user, passkey_id, form.password.data),
                        form, "passkey", name)
    refused = (str(LAST_REQUIRED)
               if state.due and state.count <= 1 else None)
    return _remove_page("passkey", form, _status(form), name, refused=refused)


@bp.route("/settings/second-step/recovery-codes", methods=["GET", "POST"])
@login_required
def recovery_codes_new():
    """リカバリーコードの再発行: a new set, shown once; the old codes stop working."""
    state = rules.state_of(current_user)
    if not state.configured:
        return redirect(url_for("account.second_step_settings"), code=303)
    form = ConfirmForm()
    if request.method == "POST" and form.validate_on_submit():
        codes = rules.regenerate_recovery_codes(current_user)
        if codes is None:
            return redirect(url_for("account.second_step_settings"), code=303)
        return _codes_page(codes, first=False)
    return render_template("account/second_step/codes_new.html", form=form, state=state)


@bp.post("/settings/second-step/passkeys/options")
@login_required
def passkey_register_options():
    """The WebAuthn creation options (JSON) for a new passkey of this account."""
    options, challenge = rules.registration_options(current_user)
    session[REGISTER_CHALLENGE] = challenge
    return current_app.response_class(options, mimetype="application/json")


@bp.post("/settings/second-step/passkeys")
@login_required
def passkey_register():
    """Keep the new passkey (the form posted by passkeys.js with the authenticator's
    answer)."""
    form = PasskeyRegisterForm()
    result = None
    if form.validate_on_submit():
        result = rules.register_passkey(current_user, form.credential.data,
                                        session.pop(REGISTER_CHALLENGE, None), form.name.data,
                                        g.get("login_session"))
        if result is None:
            form.credential.errors.append(_("パスキーを登録できませんでした。もう一度お試しください"))
    elif form.name.errors:  # passkeys.js asks the authenticator only once a name is typed
        form.credential.errors = []
    elif form.credential.errors:
        form.credential.errors = [_("パスキーの登録には JavaScript が必要です。JavaScript を使えない場合は認証アプリをご利用ください")]
    if result is None:
        state = rules.state_of(current_user)
        return render_template("account/second_step/settings.html", state=state, later=None,
                               next_values=_next_values(), passkey_form=form), 422
    _passkey, codes = result
    flash(_("パスキーを登録しました"), "success")
    if codes:
        return _codes_page(codes, first=True)
    return redirect(url_for("account.second_step_settings", **_next_values()), code=303)

