"""Forms of 会社の検索 and the join requests (従業員からのリクエスト): the search (a GET form),
the choice of a found company on sign-up step 3 (instead of a new company), the message to
the company's administrators, and the setting 「会社の検索に表示する」."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, StringField, SubmitField
from wtforms.validators import Optional, StopValidation

from forms.account import CommercialDetailsForm
from forms.fields import PageForm
from forms.validators import (
    CompanyQuery,
    MaxLength,
    NoControlCharacters,
    Required,
    normalize_company_query,
)

QUERY_LABEL = _l("会社の検索（会社名または法人番号）")
QUERY_HELP = _l("会社名は2文字以上（一部でも可）、法人番号は13桁で入力してください")
QUERY_KW = {"type": "search", "maxlength": 100, "autocomplete": "off"}
MESSAGE_MAX = 200
# The company fields of step 3: not asked when joining a company found by the search.
COMPANY_FIELDS = ("company_name", "company_kind", "registration_number", "company_address",
                  "company_email", "website", "company_phone")


def _trim(value):
    return value.strip(" \u3000") if isinstance(value, str) else value


def _message_field():
    return StringField(_l("管理者へのメッセージ（任意）"), filters=[_trim],
                       validators=[Optional(), MaxLength(MESSAGE_MAX), NoControlCharacters()],
                       description=_l("例: 工事部の山田です。よろしくお願いします。"),
                       render_kw={"maxlength": MESSAGE_MAX})


class CompanyId:
    """The id of a chosen company as the page sent it: digits only (the server checks
    again that the company exists and is findable)."""

    def __call__(self, form, field):
        value = field.data if isinstance(field.data, str) else ""
        if not (value.isascii() and value.isdigit() and len(value) <= 12):
            raise StopValidation(_l("選択した会社が見つかりません。もう一度検索してください"))


class CompanySearchForm(PageForm):
    """会社の検索 (GET: results on the same page; htmx swaps only the results)."""

    class Meta:
        csrf = False

    q = StringField(QUERY_LABEL, filters=[normalize_company_query],
                    validators=[Required(_l("会社名または法人番号を入力してください")),
                                MaxLength(100), NoControlCharacters(), CompanyQuery()],
                    description=QUERY_HELP, render_kw=QUERY_KW)


class JoinRequestForm(PageForm):
    """Ask a found company to let one join (会社情報 of an account without a company)."""

    message = _message_field()


class FindableForm(PageForm):
    """会社情報: 「会社の検索に表示する」."""

    findable = BooleanField(_l("会社の検索に表示する"), description=_l(
        "オンにすると、アカウントを作成する従業員が会社名または法人番号でこの会社を見つけ、"
        "参加をリクエストできます（表示されるのは会社名と都道府県のみです）。"))


class CompanyChoiceMixin:
    """Sign-up step 3 (commercial): search the registered companies and choose one to ask
    to join instead of creating a second company. The choice travels in `join_company`
    (kept in the wizard's draft like any typed value); while it is set, the company
    fields are neither shown nor checked. Searching, choosing and clearing the choice are
    sub-actions: the step is shown again, nothing is validated or saved."""

    company_query = StringField(QUERY_LABEL, filters=[normalize_company_query],
                                validators=[Optional(), MaxLength(100), NoControlCharacters()],
                                description=QUERY_HELP, render_kw=QUERY_KW)
    search_company = SubmitField(_l("検索"), render_kw={"formnovalidate": True})
    choose_company = HiddenField()
    clear_company = SubmitField(_l("選択を解除して新しい会社を登録する"),
                                render_kw={"formnovalidate": True})
    join_company = HiddenField(filters=[_trim], validators=[Optional(), CompanyId()])
    join_message = _message_field()

    @property
    def joining(self) -> bool:
        return bool(self.join_company.data)

    def validate(self, extra_validators=None):
        if not self.joining:
            return super().validate(extra_validators)
        every = self._fields
        self._fields = {name: f for name, f in every.items() if name not in COMPANY_FIELDS}
        try:
            return super().validate(extra_validators)
        finally:
            self._fields = every


class CommercialJoinDetailsForm(CompanyChoiceMixin, CommercialDetailsForm):
    """Step 3 of a commercial sign-up with 会社の検索."""
