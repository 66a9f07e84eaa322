"""Forms of the points sign-up (seed 001 §2, STEP1-5) and of the member's お客様情報
page (/points/info). One class per wizard step; the view hands in what a form needs
from the service (which documents were opened in this draft, the pair check)."""
from __future__ import annotations

from collections.abc import Callable

from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict
from wtforms import BooleanField, HiddenField, RadioField, StringField
from wtforms.validators import ValidationError

from forms.account import EMAIL_KW, family_name_field, given_name_field, kana_fields, new_password_fields
from forms.fields import PageForm, boxed_address_field, phone_boxes_field
from forms.gateways import OTHER_ADDRESS, SAME_ADDRESS, copy_customer_address
from forms.validators import (
    Email,
    GatewayId,
    MaxLength,
    MustAccept,
    NoControlCharacters,
    OneOf,
    PcsSerial,
    Required,
    RequiredChoice,
    normalize_email,
    normalize_gateway_id,
    normalize_pcs_serial,
)

# STEP1: which monitoring service the person uses (PointsMember.service).
SERVICES = [
    ("enelink", _l("Enelink 遠隔モニタリングサービスをご利用中")),
    ("partner", _l("提携先の蓄電池見守りサービスをご利用中")),
]
TERMS, PRIVACY = "terms", "privacy"  # the two documents STEP2 asks to open

PAIR_REJECTED = _l("ゲートウェイIDとパワーコンディショナ製造番号の組み合わせが、"
                   "お申込み済みの「みんなでつくるエコ活」と一致しません。"
                   "エコ活の申込完了メールに記載の番号をご確認ください")
PAIR_LIMITED = _l("入力の誤りが続いたため、しばらくの間お受けできません。時間をおいてお試しください")
PAIR_TAKEN = _l("このゲートウェイはすでにポイントサービスに登録されています")
NOT_OPENED = _l("「サービス利用規約」と「個人情報の取扱について」の両方を開いてご確認ください")


class SignupEmailForm(PageForm):
    """メールアドレス → 送信する (not signed in)."""

    email = StringField(_l("メールアドレス"), filters=[normalize_email],
                        validators=[Required(), MaxLength(254), Email()], render_kw=EMAIL_KW,
                        description=_l("半角英数字"))


class ServiceForm(PageForm):
    """STEP1 新規会員登録: the monitoring service in use."""

    service = RadioField(_l("ご利用中のサービス"), choices=SERVICES,
                         validators=[RequiredChoice(), OneOf()], validate_choice=False)


def consent_form(opened: Callable[[], set[str]]) -> type[PageForm]:
    """STEP2: the agree box, accepted only once both documents were opened in this
    draft (`opened()`, recorded by the documents' pages)."""

    class ConsentForm(PageForm):
        agree = BooleanField(_l("上記について確認したので、同意します。"),
                             validators=[MustAccept()])

        def validate_agree(self, field):
            if not {TERMS, PRIVACY} <= opened():
                raise ValidationError(NOT_OPENED)

    return ConsentForm


def pair_form(check: Callable[[str, str], str]) -> type[PageForm]:
    """STEP3: ゲートウェイID + パワーコンディショナ製造番号. `check(gateway_code, pcs_serial)`
    answers "ok", "wrong", "limited" or "taken"; one message for every mismatch."""

    class PairForm(PageForm):
        gateway_code = StringField(
            _l("ゲートウェイID"), filters=[normalize_gateway_id],
            validators=[Required(), MaxLength(40), GatewayId()],
            render_kw={"autocomplete": "off", "autocapitalize": "characters", "maxlength": 20,
                       "placeholder": "01AB12345678"},
            description=_l("半角英数字12桁"))
        pcs_serial = StringField(
            _l("パワーコンディショナ製造番号"), filters=[normalize_pcs_serial],
            validators=[Required(), MaxLength(40), PcsSerial()],
            render_kw={"autocomplete": "off", "autocapitalize": "characters", "maxlength": 12,
                       "placeholder": "PC123456"},
            description=_l("半角英数字8桁。エコ活の申込完了画面・メールに記載の番号です"))

        def validate_pcs_serial(self, field):
            if self.gateway_code.errors or not self.gateway_code.data:
                return
            outcome = check(self.gateway_code.data, field.data)
            if outcome == "limited":
                raise ValidationError(PAIR_LIMITED)
            if outcome == "taken":
                raise ValidationError(PAIR_TAKEN)
            if outcome != "ok":
                raise ValidationError(PAIR_REJECTED)

    return PairForm


class CustomerInfoForm(PageForm):
    """STEP4 お客様情報 (and the member's /points/info): 氏名, フリガナ, お客様住所,
    太陽光発電設備/蓄電池設置先住所 (同じ / 異なる), 電話番号 in three boxes."""

    family_name = family_name_field()
    given_name = given_name_field()
    family_kana, given_kana = kana_fields(required=True)
    address = boxed_address_field(_l("お客様住所"))
    site_address_choice = RadioField(
        _l("太陽光発電設備/蓄電池設置先住所"),
        choices=[(SAME_ADDRESS, _l("お客様住所と同じ")), (OTHER_ADDRESS, _l("お客様住所と異なる"))],
        default=SAME_ADDRESS, validators=[RequiredChoice(), OneOf()], validate_choice=False)
    site_address = boxed_address_field(_l("設置先住所"))
    phone = phone_boxes_field()

    def process(self, formdata=None, obj=None, data=None, extra_filters=None, **kwargs):
        super().process(formdata, obj, data, extra_filters, **kwargs)
        if self.site_address_choice.data == SAME_ADDRESS:
            copy_customer_address(self)

    @property
    def install_same(self) -> bool:
        return self.site_address_choice.data == SAME_ADDRESS


class NewMemberInfoForm(CustomerInfoForm):
    """STEP4 of the mail-first sign-up: also the new ID's password (the ID's rule)."""

    password, password_confirm = new_password_fields()


class InfoEditForm(CustomerInfoForm):
    """/points/info: the same fields, entry → 確認 → 変更する."""

    step = HiddenField(default="entry")


class ConfirmForm(PageForm):
    """STEP5: nothing to type; the page shows what will be registered."""


def confirm_form_for(info_form: type[PageForm]) -> Callable[[dict], type[PageForm]]:
    """STEP5's form carries the normalised STEP3 and STEP4 values it shows."""

    def build(values: dict) -> type[PageForm]:
        info = info_form(formdata=MultiDict(values.get("info", {})), meta={"csrf": False})
        pair = MultiDict(values.get("pair", {}))

        class _Confirm(ConfirmForm):
            summary = info
            gateway_code = normalize_gateway_id(pair.get("gateway_code", ""))
            pcs_serial = normalize_pcs_serial(pair.get("pcs_serial", ""))

        return _Confirm

    return build
