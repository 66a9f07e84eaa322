"""Forms of the owners club."""
from __future__ import annotations

# -- permissions --
from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, RadioField, StringField
from wtforms.validators import Optional

from forms.account import EMAIL_KW, family_name_field, given_name_field, kana_fields
from forms.fields import PageForm, address_field, phone_field
from forms.validators import (
    Email,
    MaxLength,
    NoControlCharacters,
    OneOf,
    RequiredChoice,
    normalize_email,
)


def _trim(value):
    return value.strip(" \u3000") if isinstance(value, str) else value


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
