"""The form of ログイン情報's e-mail change: the new address and the current password."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import PasswordField

from forms.account import email_field
from forms.fields import PageForm
from forms.validators import MaxLength, Required


class EmailChangeForm(PageForm):
    email = email_field(_l("新しいメールアドレス"))
    current_password = PasswordField(_l("現在のパスワード"),
                                     validators=[Required(), MaxLength(128)],
                                     render_kw={"autocomplete": "current-password"})
