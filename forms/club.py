"""Forms of the owners club (one class per page or step). Each part of the club keeps
its classes in its own block."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict
from wtforms import HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import Optional

from forms.account import (EMAIL_KW, ConsentMixin, family_name_field, given_name_field,
                           kana_fields, new_password_fields)
from forms.fields import PageForm, address_field, phone_field
from forms.validators import (
    Email,
    MaxLength,
    NoControlCharacters,
    OneOf,
    PastDate,
    PostalCode,
    ProductSerial,
    Required,
    RequiredChoice,
    normalize_date,
    normalize_email,
    normalize_one_line,
    normalize_postal_code,
    normalize_serial,
)


# -- products --
SERIAL_KW = {"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}


class ProductForm(PageForm):
    """登録製品の登録・編集: システム機種名 (the offered catalogue), システム製造番号,
    室内リモコン製造番号 (optional), 設置場所郵便番号, 設置日/運転開始日. The view sets
    `model_id.choices` from the catalogue."""

    model_id = SelectField(_l("システム機種名"), validators=[RequiredChoice(), OneOf()],
                           validate_choice=False)
    system_serial = StringField(
        _l("システム製造番号"), filters=[normalize_serial],
        description=_l("本体の銘板に記載の製造番号（半角英数字6〜20文字。例: HC-A10001WN1）"),
        validators=[Required(), MaxLength(40), NoControlCharacters(), ProductSerial()],
        render_kw=SERIAL_KW)
    remote_serial = StringField(
        _l("室内リモコン製造番号"), filters=[normalize_serial],
        description=_l("任意。室内リモコン裏面の製造番号（例: RC-0012345）"),
        validators=[Optional(), MaxLength(40), NoControlCharacters(), ProductSerial()],
        render_kw=SERIAL_KW)
    postal_code = StringField(
        _l("設置場所郵便番号"), filters=[normalize_postal_code],
        description=_l("7桁。ハイフンなし・ありのどちらでも入力できます"),
        validators=[Required(), MaxLength(20), PostalCode()],
        render_kw={"inputmode": "numeric", "autocomplete": "postal-code", "maxlength": 10,
                   "placeholder": "1030026"})
    installed_on = StringField(
        _l("設置日/運転開始日"), filters=[normalize_date],
        description=_l("2000年以降、今日までの日付（例: 2024-04-27）"),
        validators=[Required(), MaxLength(20), PastDate()],
        render_kw={"type": "date", "min": "2000-01-01"})

    def product_data(self) -> dict:
        from datetime import date

        return {"model_id": self.model_id.data,
                "system_serial": self.system_serial.data,
                "remote_serial": self.remote_serial.data or None,
                "postal_code": self.postal_code.data,
                "installed_on": date.fromisoformat(self.installed_on.data)}


class ProductDeleteForm(PageForm):
    """登録製品の削除: the confirmation is the page; the form carries the CSRF token."""


SUBSCRIPTION_CHOICES = [("in", _l("加入")), ("out", _l("未加入"))]


class SubscriptionForm(PageForm):
    """サービス加入状況の変更: 加入 / 未加入 → 確認 (step "confirm") → 完了."""

    state = RadioField(_l("加入状況"), choices=SUBSCRIPTION_CHOICES,
                       validators=[RequiredChoice(), OneOf()], validate_choice=False)
    step = HiddenField(default="entry")


# -- dealer sign-up --
def _trim(value):
    return value.strip(" \u3000") if isinstance(value, str) else value


def company_name_field():
    return StringField(_l("企業名"), filters=[_trim],
                       validators=[Required(), MaxLength(100), NoControlCharacters()],
                       render_kw={"autocomplete": "organization", "maxlength": 100})


class DealerInfoFields:
    """販売店情報 as the manual lists it: 企業名, 氏名, フリガナ, 住所 (郵便番号 with autofill),
    電話番号 (the one owners give with the 販売店ID)."""

    company_name = company_name_field()
    family_name = family_name_field()
    given_name = given_name_field()
    family_kana, given_kana = kana_fields(required=True)
    address = address_field(_l("住所"))
    phone = phone_field(placeholder="0336667945",
                        description=_l("お客様が販売店IDと一緒に入力する電話番号です"))


class DealerSignupInfoForm(DealerInfoFields, PageForm):
    """Sign-up step 1: 販売店情報 and the ID's password (the address is fixed: it is the
    one the mailed link was sent to; `password_context` holds it, see
    `dealer_signup_info_form_for`)."""

    password, password_confirm = new_password_fields()


def dealer_signup_info_form_for(email: str) -> type[DealerSignupInfoForm]:
    """The step-1 form for the address of the opened link, so that the password rule
    refuses a password containing the address's local part."""
    return type("DealerSignupInfoForm", (DealerSignupInfoForm,),
                {"password_context": [email]})


class DealerSignupConfirmForm(ConsentMixin, PageForm):
    """Sign-up step 2: everything shown back, the terms accepted → 登録する."""


class DealerInfoEditForm(DealerInfoFields, PageForm):
    """販売店情報更新 (the company administrator): the company's name and address, the
    dealer phone, and the administrator's own name, フリガナ and phone."""

    person_phone = phone_field(_l("担当者の電話番号"), placeholder="09012345678")
    step = HiddenField(default="entry")


def dealer_signup_confirm_form_for(values: dict) -> type[DealerSignupConfirmForm]:
    """The confirm step's form carries the normalised 販売店情報 it shows."""
    info = DealerSignupInfoForm(formdata=MultiDict(values.get("info", {})),
                                meta={"csrf": False})

    class _Confirm(DealerSignupConfirmForm):
        summary = info

    return _Confirm


# -- proxy login --
class ProxyStartForm(PageForm):
    """代理ログイン: the reason the owner will read in the mail and the アクセス履歴."""

    reason = TextAreaField(
        _l("代理ログインの理由"), filters=[normalize_one_line],
        validators=[Required(), NoControlCharacters(), MaxLength(200)],
        description=_l("お客様にメールでお知らせし、アクセス履歴に残ります（200文字以内）。"),
        render_kw={"rows": 3})


# -- permissions --
class CustomerInfoForm(PageForm):
    """お客様情報の変更 of a commercial account: name, フリガナ, the main phone, 情報提供可
    and the address of a dealer to permit (its address is the company's, changed on
    会社情報). The confirmation page carries the same fields hidden; the final POST
    validates them again."""

    family_name = family_name_field()
    given_name = given_name_field()
    family_kana, given_kana = kana_fields()
    phone = phone_field()
    newsletter = RadioField(_l("情報提供可"), choices=[("yes", _l("はい")), ("no", _l("いいえ"))],
                            validators=[RequiredChoice(), OneOf()], validate_choice=False,
                            description=_l("製品・サービス・イベントのご案内をお送りしてよいか"))
    permission_email = StringField(
        _l("ログインを許可する販売店・業者様のメールアドレス"), filters=[normalize_email],
        validators=[Optional(), NoControlCharacters(), Email()], render_kw=EMAIL_KW,
        description=_l("任意。販売店・業者様が承認すると、登録情報の確認と代理ログインができるようになります（1回に1件）"))
    step = HiddenField(default="entry")


class CustomerAddressInfoForm(CustomerInfoForm):
    """お客様情報の変更 of a personal account: also its address."""

    address = address_field(_l("住所"))


class NoGrantCustomerInfoForm(CustomerInfoForm):
    """While someone acts for the owner, permissions cannot be granted."""

    permission_email = None


class NoGrantCustomerAddressInfoForm(CustomerAddressInfoForm):
    permission_email = None


def customer_info_form_for(account, granting: bool = True) -> type[CustomerInfoForm]:
    if account.is_commercial:
        return CustomerInfoForm if granting else NoGrantCustomerInfoForm
    return CustomerAddressInfoForm if granting else NoGrantCustomerAddressInfoForm


class DecisionForm(PageForm):
    """連携を許可 / 連携を許可しない: only the CSRF token and the button pressed."""


class WithdrawForm(PageForm):
    """ログインの許可の取消し: only the CSRF token; the permission is in the URL."""


class DealerUserSearchForm(PageForm):
    """A GET search box (no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    q = StringField(_l("検索（Email、またはお客様番号）"), filters=[_trim],
                    validators=[Optional(), MaxLength(254), NoControlCharacters()],
                    render_kw={"type": "search"})
