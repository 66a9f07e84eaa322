"""Forms of the dealer pages: an owner links a dealer (販売店ID + 電話番号), searches,
unlinks; a company becomes a dealer; the console's search."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import Optional, Regexp

from forms.fields import PageForm, phone_field
from forms.validators import (
    Email,
    MaxLength,
    NoControlCharacters,
    OneOf,
    Required,
    RequiredChoice,
    normalize_email,
)

EMAIL_KW = {"autocomplete": "email", "inputmode": "email", "type": "email",
            "autocapitalize": "none", "spellcheck": "false"}


def _trim(value):
    return value.strip(" \u3000") if isinstance(value, str) else value


def _dealer_code(value):
    from blueprints.dealers.services import normalize_dealer_code

    return normalize_dealer_code(value) if isinstance(value, str) else value


class DealerLinkForm(PageForm):
    """保守を任せる販売店様の登録: the gateway, and the dealer's 販売店ID + 電話番号.
    The confirmation page carries the same fields hidden; the final POST validates them
    again and link_dealer checks everything once more."""

    gateway = SelectField(_l("ゲートウェイ"), validators=[RequiredChoice(), OneOf()],
                          validate_choice=False)
    dealer_code = StringField(
        _l("販売店ID"), filters=[_dealer_code],
        validators=[Required(), MaxLength(10), NoControlCharacters(),
                    Regexp(r"^\d+$", message=_l("販売店IDは半角数字で入力してください"))],
        render_kw={"inputmode": "numeric", "autocomplete": "off", "placeholder": "4001"},
        description=_l("販売店様からお知らせいただいたIDを入力してください"))
    phone = phone_field(
        autocomplete="off", validators=[Required(), MaxLength(20), NoControlCharacters()],
        description=_l("販売店様が登録した電話番号（ハイフンなし・ありのどちらでも）"))
    step = HiddenField(default="entry")


class GatewaySearchForm(PageForm):
    """A GET search box (no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    q = StringField(_l("検索（ゲートウェイIDまたは案件名）"), filters=[_trim],
                    validators=[Optional(), MaxLength(100), NoControlCharacters()],
                    render_kw={"type": "search"})


class ConsoleSearchForm(GatewaySearchForm):
    q = StringField(_l("検索（メールアドレス、ゲートウェイIDまたは案件名）"), filters=[_trim],
                    validators=[Optional(), MaxLength(100), NoControlCharacters()],
                    render_kw={"type": "search"})


class UnlinkForm(PageForm):
    """解除: only the CSRF token; the gateway and the dealer are in the URL."""


def _contact_field(n: int) -> StringField:
    return StringField(_l("保守担当者のメールアドレス %(n)d", n=n), filters=[normalize_email],
                       validators=[Optional(), NoControlCharacters(), Email()],
                       render_kw=EMAIL_KW)


class DealerRegistrationForm(PageForm):
    """販売店登録: the phone number owners give with the 販売店ID, and up to three
    maintenance contact addresses (alert and link mails)."""

    phone = phone_field(placeholder="0312345678",
                        description=_l("お客様が販売店IDと一緒に入力する電話番号です"))
    contact_1 = _contact_field(1)
    contact_2 = _contact_field(2)
    contact_3 = _contact_field(3)

    @property
    def contacts(self) -> list[str]:
        return [f.data for f in (self.contact_1, self.contact_2, self.contact_3) if f.data]
