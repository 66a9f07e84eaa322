"""「メールアドレスを忘れた場合」: the one form (姓・名, 電話番号, ゲートウェイID)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField

from forms.account import family_name_field, given_name_field
from forms.fields import phone_field
from forms.validators import GatewayId, Required, normalize_gateway_id


class ForgotEmailForm(FlaskForm):
    """Only the form of the values is checked here, never whether they match an account
    (that would tell who has one): the mail relay decides off the request path."""

    family_name = family_name_field()
    given_name = given_name_field()
    phone = phone_field(_l("ご登録の電話番号"))
    gateway_id = StringField(
        _l("ゲートウェイID"), filters=[normalize_gateway_id],
        validators=[Required(), GatewayId()],
        render_kw={"autocomplete": "off", "autocapitalize": "characters", "maxlength": 20,
                   "placeholder": "01AB12345678"},
        description=_l("お使いのゲートウェイのID（「遠隔モニタリングサービス ご登録にあたって」に記載の英数字12桁）"))
