"""Forms of the monitoring service: the registration wizard's steps (利用規約, お客様情報・
ゲートウェイ情報, 確認), the provisional link's password page, and adding a gateway."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict
from wtforms import PasswordField, RadioField, StringField
from wtforms.validators import Optional, ValidationError

from forms.account import (
    NEW_PASSWORD_KW,
    email_field,
    family_name_field,
    given_name_field,
    new_password_fields,
)
from forms.fields import PageForm, PhoneField, address_field, set_value
from forms.validators import (
    Furigana,
    GatewayId,
    MaxLength,
    NoControlCharacters,
    OneOf,
    PasswordPolicy,
    PhoneNumber,
    Required,
    RequiredChoice,
    normalize_furigana,
    normalize_gateway_id,
    normalize_phone,
)

SLIP_REJECTED = _l("ゲートウェイIDまたはゲートウェイパスワードが正しくないか、すでに登録されています")
SLIP_LOCKED = _l("このゲートウェイは試行回数が上限に達したため、15分間登録できません")
EMAIL_HAS_ID = _l("このメールアドレスはすでにEnelink IDに登録されています。"
                  "「すでにアカウントをお持ちの方」からログインしてゲートウェイを登録してください")

SAME_ADDRESS = "same"
OTHER_ADDRESS = "other"


def _trim(value):
    return value.strip(" \u3000") if isinstance(value, str) else value


def _text(label, max_length, required=False, **render_kw):
    return StringField(label, filters=[_trim],
                       validators=[Required() if required else Optional(),
                                   MaxLength(max_length), NoControlCharacters()],
                       render_kw=render_kw or None)


def furigana_field(label, autocomplete):
    return StringField(label, filters=[normalize_furigana],
                       validators=[Required(), Furigana(14)],
                       render_kw={"autocomplete": autocomplete, "maxlength": 14})


class SlipMixin:
    """ゲートウェイID + ゲートウェイパスワード (from the paper slip), 案件, 設置先住所.

    After a successful check, `gateway_password.data` holds a proof of the check instead
    of the password (see services.verify_slip): the wizard keeps only that proof."""

    gateway_id = StringField(
        _l("ゲートウェイID"), filters=[normalize_gateway_id], validators=[Required(), GatewayId()],
        render_kw={"autocomplete": "off", "autocapitalize": "characters", "maxlength": 20,
                   "placeholder": "01AB12345678"},
        description=_l("「遠隔モニタリングサービス ご登録にあたって」に記載の英数字12桁"))
    gateway_password = PasswordField(
        _l("ゲートウェイパスワード"), validators=[Required(), MaxLength(64)],
        render_kw={"autocomplete": "off", "autocapitalize": "none"})
    site_name = _text(_l("案件"), 60, required=True, placeholder="山田様邸")
    site_address = address_field(_l("設置先住所"))

    def validate_gateway_password(self, field):
        from blueprints.monitoring import services

        if self.gateway_id.errors or not self.gateway_id.data:
            return
        outcome = services.verify_slip(self.gateway_id.data, field.data)
        if outcome.locked:
            raise ValidationError(SLIP_LOCKED)
        if not outcome.ok:
            raise ValidationError(SLIP_REJECTED)
        field.data = outcome.proof


class RegistrationTermsForm(PageForm):
    """利用規約: 同意する / 同意しない (refusing ends the registration on its own page)."""

    consent = RadioField(
        _l("利用規約への同意"),
        choices=[("agree", _l("同意する")), ("disagree", _l("同意しない"))],
        validators=[RequiredChoice(), OneOf()], validate_choice=False)


class RegistrationDetailsForm(SlipMixin, PageForm):
    """STEP2: お客様情報, 法人様情報 (optional), ゲートウェイ情報, 案件, 設置先住所."""

    family_name = family_name_field()
    given_name = given_name_field()
    family_kana = furigana_field(_l("フリガナ（セイ）"), "off")
    given_kana = furigana_field(_l("フリガナ（メイ）"), "off")
    email = email_field()
    email_confirm = email_field(_l("メールアドレス（確認用）"))
    address = address_field(_l("住所"))
    phone = PhoneField(
        _l("電話番号"), filters=[normalize_phone], validators=[Required(), PhoneNumber()],
        render_kw={"inputmode": "tel", "autocomplete": "tel", "placeholder": "09012345678"},
        description=_l("本登録の際に、ここで入力した電話番号をもう一度入力していただきます"))
    company_name = _text(_l("法人名"), 100, autocomplete="organization")
    department = _text(_l("部署名"), 60)
    site_address_choice = RadioField(
        _l("設置先住所"),
        choices=[(SAME_ADDRESS, _l("お客様住所と同じ")), (OTHER_ADDRESS, _l("別の住所を入力する"))],
        default=SAME_ADDRESS, validators=[RequiredChoice(), OneOf()], validate_choice=False)

    def validate_email(self, field):
        from blueprints.account.services import email_registered

        if field.data and email_registered(field.data):
            raise ValidationError(EMAIL_HAS_ID)

    def validate_email_confirm(self, field):
        if (field.data or "").lower() != (self.email.data or "").lower():
            raise ValidationError(_l("メールアドレスが一致しません"))

    def process(self, formdata=None, obj=None, data=None, extra_filters=None, **kwargs):
        super().process(formdata, obj, data, extra_filters, **kwargs)
        if self.site_address_choice.data == SAME_ADDRESS:
            copy_customer_address(self)


def copy_customer_address(form) -> None:
    """「お客様住所と同じ」: the installation address is the customer's address."""
    for name in ("postal_code", "prefecture", "city", "street", "building"):
        set_value(form.site_address.form[name], form.address.form[name].data)


class RegistrationConfirmForm(PageForm):
    """確認: nothing to type; the page shows STEP2 as it will be registered."""


def confirm_form_for(values: dict) -> type[PageForm]:
    """The confirm step's form carries the normalised STEP2 values it shows."""
    details = RegistrationDetailsForm(formdata=MultiDict(values.get("details", {})),
                                      meta={"csrf": False})

    class _Confirm(RegistrationConfirmForm):
        summary = details

    return _Confirm


class _IdentifierPasswordPolicy(PasswordPolicy):
    """Also refuses the gateway IDs and site names in `form.password_identifiers`."""

    def _context_values(self, form) -> list[str]:
        return [*super()._context_values(form),
                *[str(v) for v in getattr(form, "password_identifiers", []) if v]]


class RegistrationPasswordForm(PageForm):
    """STEP3: 新パスワード + 確認 + the STEP2 phone number again (a second factor)."""

    password = PasswordField(_l("パスワード"),
                             validators=[Required(), _IdentifierPasswordPolicy()],
                             render_kw=NEW_PASSWORD_KW)
    password_confirm = new_password_fields()[1]
    phone = PhoneField(
        _l("電話番号（仮登録時に入力したもの）"), filters=[normalize_phone],
        validators=[Required(), PhoneNumber()],
        render_kw={"inputmode": "tel", "autocomplete": "tel", "placeholder": "09012345678"})


class AddGatewayForm(SlipMixin, PageForm):
    """ゲートウェイの登録 by a signed-in owner: the slip, 案件 and 設置先住所."""


__all__ = [name for name in dir() if name.endswith("Form")] + [
    "SLIP_REJECTED", "SLIP_LOCKED", "EMAIL_HAS_ID", "confirm_form_for",
]
