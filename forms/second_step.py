"""Forms of two-step sign-in: the code of the second step, the authenticator set-up,
removing a second step (password), naming a passkey, and staff's reset."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, PasswordField, StringField, TextAreaField

from forms.fields import PageForm
from forms.validators import (MaxLength, NoControlCharacters, Required, SecondStepCode,
                              normalize_code, normalize_one_line)

CODE_KW = {"autocomplete": "one-time-code", "inputmode": "text", "autocapitalize": "none",
           "spellcheck": "false"}


class SecondStepForm(PageForm):
    """認証コード: 6 digits from the app, or a recovery code."""

    code = StringField(
        _l("認証コード"), filters=[normalize_code],
        validators=[Required(), MaxLength(40), SecondStepCode(recovery=True)],
        description=_l("認証アプリに表示されている6桁の数字、またはリカバリーコード（xxxx-xxxx）を入力してください。"),
        render_kw=CODE_KW)


class TotpConfirmForm(PageForm):
    """The first code from the app confirms its set-up."""

    code = StringField(
        _l("認証アプリに表示されている6桁のコード"), filters=[normalize_code],
        validators=[Required(), MaxLength(40), SecondStepCode(recovery=False)],
        render_kw={**CODE_KW, "inputmode": "numeric"})


class PasswordConfirmForm(PageForm):
    """Removing a second step needs the current password."""

    password = PasswordField(_l("現在のパスワード"), validators=[Required(), MaxLength(128)],
                             render_kw={"autocomplete": "current-password"})


class PasskeyAnswerForm(PageForm):
    """The authenticator's answer at sign-in (filled by passkeys.js)."""

    credential = HiddenField(validators=[Required(), MaxLength(20000)])


class PasskeyRegisterForm(PageForm):
    """The name of a new passkey and the authenticator's answer (filled by passkeys.js)."""

    name = StringField(
        _l("パスキーの名前"), filters=[normalize_one_line],
        validators=[Required(), NoControlCharacters(), MaxLength(60)],
        description=_l("どの端末のパスキーか分かる名前（例: 仕事用のパソコン）。60文字以内。"))
    credential = HiddenField(validators=[Required(), MaxLength(20000)])


class StaffSearchForm(PageForm):
    class Meta:
        csrf = False

    q = StringField(_l("メールアドレスまたはお客様番号"), filters=[normalize_one_line],
                    validators=[Required(), NoControlCharacters(), MaxLength(254)])


class StaffResetForm(PageForm):
    """Staff reset of a lost device: the reason is audited."""

    reason = TextAreaField(
        _l("リセットの理由"), filters=[normalize_one_line],
        validators=[Required(), NoControlCharacters(), MaxLength(500)],
        description=_l("本人確認の方法とご依頼の内容を記入してください。監査ログに残ります（500文字以内）。"),
        render_kw={"rows": 3})
