"""Forms of the old portal's migration: the rows of `flask --app app accounts import` (the
sign-up's field rules, once, from forms/validators.py) and the one-time step's consents
and new password. The step's data page is the account settings' 個人情報 form."""
from __future__ import annotations

import unicodedata

from flask_babel import lazy_gettext as _l
from wtforms import Form, StringField
from wtforms.validators import Optional, StopValidation

from forms.account import (
    ConsentMixin,
    email_field,
    family_name_field,
    given_name_field,
    kana_fields,
    new_password_fields,
)
from forms.fields import PageForm, address_field, phone_field
from forms.validators import MaxLength, NoControlCharacters, PhoneNumber, Required


def normalize_username(value):
    """Trimmed and composed (NFC); the case is kept (sign-in ignores it)."""
    if not isinstance(value, str):
        return value
    return unicodedata.normalize("NFC", value.strip(" \u3000\t\r\n"))


class UserName:
    """An old portal user name: 1-64 characters, no "@" (that is how sign-in tells it
    from an e-mail) and no spaces."""

    def __call__(self, form, field):
        value = field.data or ""
        if "@" in value or any(char.isspace() for char in value):
            raise StopValidation(_l("ユーザー名に「@」や空白は使えません"))


def _trimmed(value):
    return value.strip(" \u3000") if isinstance(value, str) else value


class LegacyRowForm(Form):
    """One row of the old portal's CSV. Name and e-mail are required; フリガナ, phone and
    address are checked when given (the one-time step asks for what is missing)."""

    username = StringField(filters=[normalize_username],
                           validators=[Required(), MaxLength(64), NoControlCharacters(),
                                       UserName()])
    email = email_field()
    family_name = family_name_field()
    given_name = given_name_field()
    family_kana, given_kana = kana_fields()
    phone = phone_field(validators=[Optional(), PhoneNumber()])
    company = StringField(filters=[_trimmed],
                          validators=[Optional(), MaxLength(100), NoControlCharacters()])


class LegacyRowWithAddressForm(LegacyRowForm):
    """A row that gives an address (any of its columns): then all of it, as at sign-up."""

    address = address_field()


class LegacyConsentForm(ConsentMixin, PageForm):
    """Step 2: today's 利用規約 and プライバシーポリシー (and the newsletter, optional)."""


class LegacyPasswordForm(PageForm):
    """Step 3: a new password under today's rule (the old one is deleted after)."""

    password, password_confirm = new_password_fields()
