"""会社の検索 on sign-up step 3 (commercial): the step's form with its sub-actions
(search, choose a found company, clear the choice), and the count of searches per client
that this step and 会社情報's search share (config COMPANY_SEARCH_LIMIT)."""
from __future__ import annotations

from functools import cached_property

from flask import abort, current_app, request
from flask_babel import lazy_gettext as _l
from flask_limiter.util import get_remote_address
from limits import parse_many
from werkzeug.datastructures import MultiDict
from wtforms.validators import ValidationError

from app import limiter
from blueprints.account import join_requests
from forms.account import CommercialDetailsForm
from forms.account import details_form_for as account_details_form_for
from forms.join import CommercialJoinDetailsForm, CompanySearchForm

GONE = _l("この会社は選択できなくなりました。選択を解除して、会社情報を入力してください")
NOT_FOUND = _l("選択した会社が見つかりません。もう一度検索してください")
LIMITED = _l("検索の回数が多すぎます。しばらくしてからもう一度お試しください")


def count_search() -> bool:
    """Count one 会社の検索 of this client address; False when it is over
    COMPANY_SEARCH_LIMIT (then nothing is searched)."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return True
    key = get_remote_address() or "unknown"
    allowed = True
    for item in parse_many(current_app.config["COMPANY_SEARCH_LIMIT"]):
        if not limiter.limiter.hit(item, "company_search", key):
            allowed = False
    return allowed


def company_search_sub_action() -> bool:
    """Whether this POST of step 3 is a button of 会社の検索 (search, choose, clear): it
    neither creates an account nor mails, so the sign-up's mail limit does not count it."""
    return any(name in request.form for name in ("search_company", "choose_company",
                                                  "clear_company"))


def run_search(query: str) -> tuple[CompanySearchForm, join_requests.SearchResult | None, bool]:
    """The search form checked and, when valid and within the limit, the findable
    companies found: (form, result, over the limit)."""
    form = CompanySearchForm(formdata=MultiDict({"q": query}))
    if not form.validate():
        return form, None, False
    if not count_search():
        form.q.errors = [LIMITED]
        return form, None, True
    return form, join_requests.search_companies(form.q.data), False


class SignupCompanyStepForm(CommercialJoinDetailsForm):
    """Step 3 of a commercial sign-up: the company's data, or a found company to ask to
    join (checked again, still there and findable, whenever the step is validated: also
    at the end of the wizard)."""

    search_result: join_requests.SearchResult | None = None

    @cached_property
    def chosen(self):
        return join_requests.findable_company(self.join_company.data) if self.joining else None

    def validate_join_company(self, field):
        if field.data and self.chosen is None:
            raise ValidationError(GONE)

    def run_sub_action(self) -> bool:
        if self.search_company.data:
            if self.company_query.data:  # (Enter in another field of the step: nothing)
                search_form, self.search_result, limited = run_search(self.company_query.data)
                if limited:  # the page of 429 (what was typed stays in the browser)
                    abort(429)
                self.company_query.errors = list(search_form.q.errors)
            return True
        if self.choose_company.data:
            company = join_requests.findable_company(self.choose_company.data)
            if company is None:
                self.company_query.errors = [NOT_FOUND]
            else:
                self.join_company.data = str(company.id)
                self.__dict__.pop("chosen", None)
            return True
        if self.clear_company.data:
            self.join_company.data = ""
            self.__dict__.pop("chosen", None)
            return True
        return super().run_sub_action()


def details_form_for(values: dict):
    """Step 3's form: the account's (by the type chosen in step 2), with 会社の検索 for a
    commercial account."""
    form_class = account_details_form_for(values)
    return SignupCompanyStepForm if form_class is CommercialDetailsForm else form_class
