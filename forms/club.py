"""Forms of the owners club. Each part of the club keeps its classes in its own block."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict
from wtforms import HiddenField, StringField

from forms.account import (ConsentMixin, family_name_field, given_name_field, kana_fields,
                           new_password_fields)
from forms.fields import PageForm, address_field, phone_field
from forms.validators import MaxLength, NoControlCharacters, Required


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
