"""Forms of the gateways service: the registration wizard's steps (利用規約, お客様情報・
ゲートウェイ情報, 確認), the provisional link's password page, and adding a gateway."""
from __future__ import annotations

from flask import request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.datastructures import MultiDict
from wtforms import BooleanField, PasswordField, RadioField, StringField
from wtforms.validators import Optional, ValidationError

from forms.account import (
    NEW_PASSWORD_KW,
    email_field,
    family_name_field,
    given_name_field,
    kana_fields,
    new_password_fields,
)
from forms.fields import PageForm, address_field, phone_field, set_value
from forms.validators import (
    GatewayId,
    MaxLength,
    MustAccept,
    NoControlCharacters,
    OneOf,
    PasswordPolicy,
    Required,
    RequiredChoice,
    normalize_gateway_id,
)

SLIP_REJECTED = _l("ゲートウェイIDまたはゲートウェイパスワードが正しくないか、すでに登録されています")
SLIP_LIMITED = _l("ゲートウェイIDまたはゲートウェイパスワードの誤りが続いたため、しばらくの間お受けできません。"
                  "時間をおいてからもう一度お試しください")

SAME_ADDRESS = "same"
OTHER_ADDRESS = "other"


def _trim(value):
    return value.strip(" \u3000") if isinstance(value, str) else value


def _text(label, max_length, required=False, **render_kw):
    return StringField(label, filters=[_trim],
                       validators=[Required() if required else Optional(),
                                   MaxLength(max_length), NoControlCharacters()],
                       render_kw=render_kw or None)


class SlipMixin:
    """ゲートウェイID + ゲートウェイパスワード (from the paper slip), 案件, 設置先住所.

    After a successful check, `gateway_password.data` holds a proof of the check instead
    of the password (see services.verify_slip): the wizard keeps only that proof. Wrong
    passwords count against the client address and the signed-in account; after too
    many, `slip_limited` is set and the slip is not checked at all."""

    slip_limited = False

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
        from blueprints.gateways import registration as services

        if self.gateway_id.errors or not self.gateway_id.data:
            return
        outcome = services.verify_slip(self.gateway_id.data, field.data, slip_requester())
        if outcome.limited:
            self.slip_limited = True
            raise ValidationError(SLIP_LIMITED)
        if not outcome.ok:
            raise ValidationError(SLIP_REJECTED)
        field.data = outcome.proof


def slip_requester():
    """The client address and the signed-in account a slip check counts against."""
    from blueprints.gateways import registration as services

    account_id = current_user.id if current_user.is_authenticated else None
    return services.SlipRequester(request.remote_addr, account_id)


class RegistrationTermsForm(PageForm):
    """STEP1, both consents the registration needs: the monitoring service's 利用規約
    (同意する / 同意しない; refusing ends the registration on its own page), and, for the ID
    it creates, the ID's 利用規約 and プライバシーポリシー (as the sign-up asks them)."""

    consent = RadioField(
        _l("遠隔モニタリングサービス 利用規約への同意"),
        choices=[("agree", _l("同意する")), ("disagree", _l("同意しない"))],
        validators=[RequiredChoice(), OneOf()], validate_choice=False)
    accept_terms = BooleanField(_l("アカウント（ID）の利用規約を読み、これに同意します"),
                                validators=[MustAccept()])
    accept_privacy = BooleanField(_l("プライバシーポリシーを読み、個人情報の取扱いに同意します"),
                                  validators=[MustAccept()])


class RegistrationDetailsForm(SlipMixin, PageForm):
    """STEP2: お客様情報, 法人様情報 (optional), ゲートウェイ情報, 案件, 設置先住所."""

    family_name = family_name_field()
    given_name = given_name_field()
    family_kana, given_kana = kana_fields(required=True)
    email = email_field()
    email_confirm = email_field(_l("メールアドレス（確認用）"))
    address = address_field(_l("住所"))
    phone = phone_field(
        description=_l("本登録の際に、ここで入力した電話番号をもう一度入力していただきます"))
    company_name = StringField(
        _l("法人名"), filters=[_trim],
        validators=[Optional(), MaxLength(100), NoControlCharacters()],
        render_kw={"autocomplete": "organization"},
        description=_l("入力すると、この法人の商用アカウントとして登録します（会社種類などは登録後に会社情報で入力できます）"))
    department = _text(_l("部署名"), 60)
    site_address_choice = RadioField(
        _l("設置先住所"),
        choices=[(SAME_ADDRESS, _l("お客様住所と同じ")), (OTHER_ADDRESS, _l("別の住所を入力する"))],
        default=SAME_ADDRESS, validators=[RequiredChoice(), OneOf()], validate_choice=False)

    def validate_department(self, field):
        if field.data and not self.company_name.data:
            raise ValidationError(_l("部署名は法人名とあわせて入力してください"))

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
    phone = phone_field(_l("電話番号（仮登録時に入力したもの）"))


class AddGatewayForm(SlipMixin, PageForm):
    """ゲートウェイの登録 by a signed-in owner: the slip, 案件 and 設置先住所, and the
    monitoring service's 利用規約 while the owner has not agreed to them (the view
    removes the check box otherwise)."""

    accept_monitoring_terms = BooleanField(
        _l("遠隔モニタリングサービス 利用規約を読み、これに同意します"), validators=[MustAccept()])


__all__ = [name for name in dir() if name.endswith("Form")] + [
    "SLIP_REJECTED", "SLIP_LIMITED", "confirm_form_for", "slip_requester",
]
