"""Forms of the ID: the three sign-up steps, sign-in, password, settings, employees."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, PasswordField, RadioField, SelectField, StringField, SubmitField
from wtforms.validators import EqualTo, Optional

from forms.fields import (
    PHONE_KINDS,
    ConstantSelect,
    PageForm,
    address_field,
    phone_field,
    phones_field,
)
from forms.validators import (
    CorporateNumber,
    Email,
    Furigana,
    MaxLength,
    MustAccept,
    NoControlCharacters,
    OneOf,
    PasswordPolicy,
    PersonName,
    Required,
    RequiredChoice,
    WebsiteUrl,
    normalize_email,
    normalize_furigana,
    normalize_name,
    normalize_website,
)

EMAIL_KW = {"autocomplete": "email", "inputmode": "email", "type": "email",
            "autocapitalize": "none", "spellcheck": "false"}
NEW_PASSWORD_KW = {"autocomplete": "new-password", "maxlength": 128}
COMPANY_KINDS = [
    ("", _l("選択してください")),
    ("dealer", _l("販売店")),
    ("installer", _l("施工店・設置業者")),
    ("ppa", _l("PPA事業者")),
    ("electrical", _l("電気工事業者")),
    ("builder", _l("住宅メーカー・工務店")),
    ("other", _l("その他")),
]
LANGUAGES = [("ja", "日本語"), ("en", "English")]


def family_name_field():
    return StringField(_l("姓"), filters=[normalize_name], validators=[Required(), PersonName()],
                       render_kw={"autocomplete": "family-name", "maxlength": 14})


def given_name_field():
    return StringField(_l("名"), filters=[normalize_name], validators=[Required(), PersonName()],
                       render_kw={"autocomplete": "given-name", "maxlength": 14})


def kana_fields(required: bool = False):
    """フリガナ（セイ）and フリガナ（メイ）: full-width katakana (hiragana and half-width
    kana are converted); required by the monitoring registration, optional elsewhere."""
    def kana(label):
        return StringField(label, filters=[normalize_furigana],
                           validators=[Required() if required else Optional(), Furigana()],
                           render_kw={"maxlength": 30})

    return kana(_l("フリガナ（セイ）")), kana(_l("フリガナ（メイ）"))


def email_field(label=_l("メールアドレス")):
    return StringField(label, filters=[normalize_email], validators=[Required(), Email()],
                       render_kw=EMAIL_KW)


def new_password_fields():
    password = PasswordField(_l("パスワード"), validators=[Required(), PasswordPolicy()],
                             render_kw=NEW_PASSWORD_KW)
    confirm = PasswordField(
        _l("確認用パスワード"),
        validators=[Required(), EqualTo("password", message=_l("パスワードが一致しません"))],
        render_kw=NEW_PASSWORD_KW,
    )
    return password, confirm


def _trim(value):
    return value.strip(" \u3000") if isinstance(value, str) else value


def _optional_text(label, max_length, **render_kw):
    return StringField(label, filters=[_trim],
                       validators=[Optional(), MaxLength(max_length), NoControlCharacters()],
                       render_kw=render_kw or None)


def _required_text(label, max_length, **render_kw):
    return StringField(label, filters=[_trim],
                       validators=[Required(), MaxLength(max_length), NoControlCharacters()],
                       render_kw=render_kw or None)


# -- sign-up ---------------------------------------------------------------------------
class SignupNameForm(PageForm):
    """Step 1: 名前 (and its フリガナ, optional), メールアドレス, パスワード (with the live
    checklist)."""

    family_name = family_name_field()
    given_name = given_name_field()
    family_kana, given_kana = kana_fields()
    email = email_field()
    # Whether the address already has an ID is not checked here: that would tell anyone
    # who has an account. The sign-up's last step mails the owner instead.
    password, password_confirm = new_password_fields()


class SignupTypeForm(PageForm):
    """Step 2: 個人ユーザー or 商用アカウント."""

    account_type = RadioField(
        _l("アカウントタイプ"),
        choices=[
            ("personal", _l("個人ユーザーアカウント")),
            ("commercial", _l("商用アカウント")),
        ],
        validators=[RequiredChoice(), OneOf()],
        validate_choice=False,
    )


class ConsentMixin:
    accept_terms = BooleanField(_l("利用規約を読み、これに同意します"), validators=[MustAccept()])
    accept_privacy = BooleanField(_l("プライバシーポリシーを読みました"),
                                  validators=[MustAccept()])
    newsletter = BooleanField(_l("ニュースレター（製品・サービス・イベントのご案内）を受け取る"))


class PersonalDetailsForm(ConsentMixin, PageForm):
    """Step 3 for a personal account: 住所 and 電話番号."""

    address = address_field(_l("住所"))
    phone = phone_field()


class CompanyFieldsMixin:
    company_name = _required_text(_l("会社名"), 100, autocomplete="organization")
    company_kind = SelectField(_l("会社種類"), choices=COMPANY_KINDS,
                               validators=[RequiredChoice(), OneOf()], validate_choice=False,
                               widget=ConstantSelect(COMPANY_KINDS))
    registration_number = StringField(
        _l("法人番号・登録番号"), filters=[_trim],
        validators=[Optional(), CorporateNumber()],
        render_kw={"inputmode": "numeric", "placeholder": "1234567890123"},
        description=_l("13桁の法人番号、または T から始まる適格請求書発行事業者の登録番号"),
    )
    company_address = address_field(_l("会社住所"))
    company_email = email_field(_l("会社のメールアドレス"))
    website = StringField(_l("会社ウェブサイト"), filters=[normalize_website],
                          validators=[Optional(), WebsiteUrl()],
                          render_kw={"inputmode": "url", "autocomplete": "url",
                                     "placeholder": "https://example.co.jp"})
    company_phone = phone_field(_l("会社の電話番号"), placeholder=None)


class CommercialDetailsForm(ConsentMixin, CompanyFieldsMixin, PageForm):
    """Step 3 for a commercial account: 会社情報 and the person's own role and phones."""

    department = _required_text(_l("部門・事業分野"), 60)
    position = _required_text(_l("職位"), 60, autocomplete="organization-title")
    phones = phones_field()
    add_phone = SubmitField(_l("別の電話を追加"), render_kw={"formnovalidate": True})


def details_form_for(values: dict) -> type[PageForm]:
    """Step 3's form depends on the type chosen in step 2."""
    chosen = values.get("type", {}).get("account_type")
    return CommercialDetailsForm if chosen == "commercial" else PersonalDetailsForm


# -- sign-in and passwords -------------------------------------------------------------
class LoginForm(PageForm):
    # The e-mail, or the user name of an account imported from the old portal.
    email = StringField(_l("メールアドレスまたはユーザー名"), filters=[normalize_email],
                        validators=[Required(), MaxLength(254), NoControlCharacters()],
                        render_kw={**EMAIL_KW, "type": "text", "autocomplete": "username"},
                        description=_l("旧ポータルをご利用だった方は、旧ポータルのユーザー名でもログインできます"))
    password = PasswordField(_l("パスワード"), validators=[Required(), MaxLength(128)],
                             render_kw={"autocomplete": "current-password"})
    remember = BooleanField(_l("ログイン状態を維持する"))


class EmailOnlyForm(PageForm):
    """Asking for a new link: password reset or activation mail."""

    email = email_field()


class PasswordResetForm(PageForm):
    password, password_confirm = new_password_fields()


class PasswordChangeForm(PageForm):
    current_password = PasswordField(_l("現在のパスワード"),
                                     validators=[Required(), MaxLength(128)],
                                     render_kw={"autocomplete": "current-password"})
    password, password_confirm = new_password_fields()


class PasswordChecklistForm(PageForm):
    """Input of the live checklist (a partial request while typing)."""

    password = PasswordField()


# -- settings --------------------------------------------------------------------------
class PersonalInfoForm(PageForm):
    """個人情報 of a commercial account (its address is the company's)."""

    family_name = family_name_field()
    given_name = given_name_field()
    family_kana, given_kana = kana_fields()
    phones = phones_field()
    add_phone = SubmitField(_l("別の電話を追加"), render_kw={"formnovalidate": True})
    department = _optional_text(_l("部門・事業分野"), 60)
    position = _optional_text(_l("職位"), 60, autocomplete="organization-title")
    language = SelectField(_l("優先的に使用する言語"), choices=LANGUAGES,
                           validators=[RequiredChoice(), OneOf()], validate_choice=False,
                           widget=ConstantSelect(LANGUAGES))


class PersonalAddressInfoForm(PersonalInfoForm):
    """個人情報 of a personal account: also its address, the block of the sign-up."""

    address = address_field(_l("住所"))


def personal_info_form_for(account) -> type[PersonalInfoForm]:
    return PersonalInfoForm if account.is_commercial else PersonalAddressInfoForm


class CompanyForm(CompanyFieldsMixin, PageForm):
    pass


class InviteForm(PageForm):
    family_name = family_name_field()
    given_name = given_name_field()
    email = email_field()


class EmployeeSearchForm(PageForm):
    class Meta:
        csrf = False

    q = StringField(_l("検索（名前またはメールアドレス）"), filters=[_trim],
                    validators=[Optional(), MaxLength(100), NoControlCharacters()],
                    render_kw={"type": "search"})


class InvitationAcceptForm(PageForm):
    """A new person joining by invitation: their name and a password."""

    family_name = family_name_field()
    given_name = given_name_field()
    password, password_confirm = new_password_fields()


class DeleteAccountForm(PageForm):
    confirm = BooleanField(
        _l("アカウントと関連するすべてのデータが完全に削除され、元に戻せないことを理解しました"),
        validators=[MustAccept()],
    )
    password = PasswordField(_l("現在のパスワード"), validators=[Required(), MaxLength(128)],
                             render_kw={"autocomplete": "current-password"})


class ConfirmForm(PageForm):
    """A form with only the CSRF token: one-tap actions (send a new link, sign out)."""


__all__ = [name for name in dir() if name.endswith("Form")] + [
    "details_form_for", "personal_info_form_for", "kana_fields", "PHONE_KINDS",
]
