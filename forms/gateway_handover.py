"""ゲートウェイの譲渡: the owner's current password and an explicit check box."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, PasswordField

from forms.fields import PageForm
from forms.validators import MaxLength, MustAccept, Required

PASSWORD_MAX = 128


class HandoverForm(PageForm):
    password = PasswordField(
        _l("現在のパスワード"),
        validators=[Required(), MaxLength(PASSWORD_MAX)],
        render_kw={"autocomplete": "current-password", "maxlength": PASSWORD_MAX},
        description=_l("Enelink ID のログインに使うパスワード"),
    )
    confirm = BooleanField(
        _l("譲渡すると、このゲートウェイのこれまでのデータは新しい所有者には表示されず、"
           "私はこのゲートウェイの運転状況を閲覧できなくなることを理解しました"),
        validators=[MustAccept(_l("譲渡するにはチェックを入れてください"))],
    )
