"""Forms of ゲートウェイの管理 (owner pages): 照会・編集 of the site, 交換, 廃棄."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import StopValidation

from forms.fields import PageForm, address_field
from forms.validators import (
    GatewayId,
    MaxLength,
    MustAccept,
    Required,
    _is_pictograph,
    has_control_characters,
    normalize_gateway_id,
    normalize_name,
)

SITE_NAME_MAX = 60
SLIP_PASSWORD_MAX = 64


class SiteName:
    """案件 (site name): printable text without pictographs, at most 60 characters."""

    def __call__(self, form, field):
        value = field.data if isinstance(field.data, str) else ""
        if has_control_characters(value) or any(_is_pictograph(char) for char in value):
            raise StopValidation(_l("使用できない文字（制御文字・絵文字など）が含まれています"))


class GatewaySiteForm(PageForm):
    """ゲートウェイ情報の編集: 案件 and 設置先住所."""

    site_name = StringField(
        _l("案件（設置場所の名称）"),
        filters=[normalize_name],
        validators=[Required(), MaxLength(SITE_NAME_MAX), SiteName()],
        render_kw={"maxlength": SITE_NAME_MAX, "placeholder": "山田様邸"},
    )
    address = address_field(_l("設置先住所"))


class ExchangeSlipForm(PageForm):
    """ゲートウェイの交換: the ID and password printed on the NEW gateway's slip."""

    new_gateway_id = StringField(
        _l("新しいゲートウェイのゲートウェイID"),
        filters=[normalize_gateway_id],
        validators=[Required(), GatewayId()],
        render_kw={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false",
                   "maxlength": 20, "placeholder": "01AB12345678"},
        description=_l("新しいゲートウェイに同梱の用紙に記載された英数字12桁"),
    )
    slip_password = PasswordField(
        _l("新しいゲートウェイのゲートウェイパスワード"),
        validators=[Required(), MaxLength(SLIP_PASSWORD_MAX)],
        render_kw={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false",
                   "maxlength": SLIP_PASSWORD_MAX},
    )


class ConfirmExchangeForm(PageForm):
    """交換する (the confirmation page carries only the CSRF token)."""


class DisposeForm(PageForm):
    confirm = BooleanField(
        _l("上記の内容を確認し、このゲートウェイを廃棄します"),
        validators=[MustAccept(_l("廃棄するにはチェックを入れてください"))],
    )
