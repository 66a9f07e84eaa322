"""Views of 会社の検索 and 従業員からのリクエスト: the search on sign-up step 3 (htmx results;
without JavaScript the step's own search button), 会社情報 of a commercial account without
a company (search, 参加をリクエスト, its requests and 取り下げ), 「従業員からのリクエストの管理」
for the company's administrators (承認 / 拒否 after a confirmation page), and the setting
「会社の検索に表示する」. Rules live in join_requests.py."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app import htmx
from blueprints.account import bp, join_requests
from blueprints.account.join_requests_signup import run_search
from forms.account import ConfirmForm
from forms.join import CompanySearchForm, FindableForm, JoinRequestForm

Outcome = join_requests.RequestOutcome
Decision = join_requests.DecideOutcome
REFUSED = {
    Outcome.ALREADY_MEMBER: "すでにこの会社の従業員です",
    Outcome.HAS_COMPANY: "すでに会社に所属しています。別の会社に参加するには、いまの会社の管理者に従業員からの削除を依頼してください",
    Outcome.DUPLICATE: "この会社へのリクエストはすでに送信済みで、承認待ちです",
}


def _partial_request() -> bool:
    return bool(htmx) and not htmx.history_restore_request


def _search_answer(query: str | None):
    """A search from a GET: (form, result, status); over the limit 429, with the message
    at the search field (on the page or in the results partial)."""
    if query is None:
        return CompanySearchForm(formdata=None), None, 200
    form, result, limited = run_search(query[:1000])
    return form, result, (429 if limited else 422 if form.q.errors else 200)


@bp.get("/signup/company-search")
def signup_company_search():
    """会社の検索 of sign-up step 3 with htmx: the results partial, whose buttons choose a
    company in the step's own form. Without htmx the step itself searches (its search
    button): back to the step."""
    if not _partial_request():
        return redirect(url_for("account.signup", step="details"), code=303)
    form, result, status = _search_answer(request.args.get("company_query", ""))
    return render_template("account/_join_company_results.html", search=form, result=result,
                           mode="signup"), status, {"Vary": "HX-Request"}


# -- 会社情報 of a commercial account without a company -----------------------------------
def _requester_required():
    """Only a commercial account without a company asks to join one; one with a company
    is sent to its 会社情報."""
    if not current_user.is_commercial:
        abort(404)


@bp.get("/settings/company/join")
@login_required
def company_join():
    """会社情報 without a company: the account's requests (取り下げ) and 会社の検索."""
    _requester_required()
    if current_user.company_id is not None:
        return redirect(url_for("account.settings_company"), code=303)
    query = request.args.get("q")
    form, result, status = _search_answer(query)
    context = dict(search=form, result=result, mode="settings")
    headers = {"Vary": "HX-Request"}
    if _partial_request():
        return render_template("account/_join_company_results.html", **context), status, headers
    return render_template("account/join_company.html", requests=join_requests.own_requests(
        current_user), confirm=ConfirmForm(), **context), status, headers


@bp.route("/settings/company/join/<int:company_id>", methods=["GET", "POST"])
@login_required
def company_join_confirm(company_id: int):
    """参加をリクエスト: the found company (name, prefecture), an optional message to its
    administrators, and the request; they are mailed at once."""
    _requester_required()
    company = join_requests.findable_company(company_id)
    if company is None:
        abort(404)
    form = JoinRequestForm()
    problem = None
    if current_user.company_id == company.id:
        problem = REFUSED[Outcome.ALREADY_MEMBER]
    elif current_user.company_id is not None:
        problem = REFUSED[Outcome.HAS_COMPANY]
    elif join_requests.pending_request(current_user, company.id) is not None:
        problem = REFUSED[Outcome.DUPLICATE]
    if request.method == "POST" and form.validate_on_submit():
        outcome = join_requests.request_to_join(current_user, company.id, form.message.data)
        if outcome is Outcome.NOT_FOUND:
            abort(404)
        if outcome is Outcome.SENT:
            flash(_("%(company)s の管理者に参加のリクエストを送りました。承認されるとメールでお知らせします",
                    company=company.name), "success")
            return redirect(url_for("account.company_join"), code=303)
        problem = REFUSED[outcome]
    status = 409 if problem and request.method == "POST" else (
        422 if request.method == "POST" else 200)
    return render_template("account/join_company_confirm.html", company=company, form=form,
                           problem=_(problem) if problem else None), status


@bp.post("/settings/company/requests/<int:request_id>/withdraw")
@login_required
def join_request_withdraw(request_id: int):
    """取り下げ of one's own pending request."""
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    if not join_requests.withdraw(current_user, request_id):
        abort(404)
    flash(_("リクエストを取り下げました"), "success")
    return redirect(url_for("account.company_join"), code=303)


# -- 会社情報: 会社の検索に表示する ----------------------------------------------------------
@bp.app_context_processor
def _findable_form():
    """会社情報's 「会社の検索に表示する」 form, filled with the company's setting."""
    def findable_form_for(company):
        return FindableForm(formdata=None, data={"findable": company.findable})

    return {"findable_form_for": findable_form_for}


@bp.post("/settings/company/findable")
@login_required
def company_findable():
    """The company's administrator chooses whether 会社の検索 finds the company."""
    if not current_user.is_company_admin:
        abort(404)
    form = FindableForm()
    if not form.validate_on_submit():
        abort(400)
    join_requests.set_findable(current_user, bool(form.findable.data))
    flash(_("会社の検索に表示する設定を保存しました"), "success")
    return redirect(url_for("account.settings_company") + "#findable", code=303)


# -- 従業員からのリクエストの管理 ------------------------------------------------------------
def _admin_required():
    if not current_user.is_company_admin:
        abort(404)


@bp.get("/settings/employees/requests", endpoint="join_requests")
@login_required
def join_requests_page():
    """従業員からのリクエストの管理: pending requests (承認 / 拒否) and decided ones."""
    _admin_required()
    return render_template("account/join_requests.html",
                           pending=join_requests.pending_for(current_user),
                           history=join_requests.history_for(current_user))


def _decide(request_id: int, approve: bool):
    _admin_required()
    join_request = join_requests.request_of_company(current_user, request_id)
    if join_request is None:
        abort(404)
    form = ConfirmForm()
    problem, status = None, 200
    if join_request.status != join_requests.JoinRequestStatus.PENDING:
        flash(_("このリクエストはすでに処理されています"), "info")
        return redirect(url_for("account.join_requests"), code=303)
    if request.method == "POST" and form.validate_on_submit():
        name = join_request.account.full_name
        outcome = join_requests.decide(current_user, request_id, approve)
        if outcome is Decision.NOT_FOUND:
            abort(404)
        if outcome is Decision.APPROVED:
            flash(_("%(name)s 様の参加を承認しました。従業員として追加され、お知らせのメールを送りました",
                    name=name), "success")
        elif outcome is Decision.DECLINED:
            flash(_("%(name)s 様のリクエストを拒否しました。お知らせのメールを送りました", name=name),
                  "success")
        elif outcome is Decision.ALREADY_DECIDED:
            flash(_("このリクエストはすでに処理されています"), "info")
        if outcome is not Decision.HAS_COMPANY:
            return redirect(url_for("account.join_requests"), code=303)
        problem, status = _("この方はすでに別の会社に所属しているため、承認できません。拒否してください"), 409
        join_request = join_requests.request_of_company(current_user, request_id)
    return render_template("account/join_request_decide.html", join_request=join_request,
                           approve=approve, form=form, problem=problem), status


@bp.route("/settings/employees/requests/<int:request_id>/approve", methods=["GET", "POST"])
@login_required
def join_request_approve(request_id: int):
    """承認: confirm, then the requester joins the company as an employee."""
    return _decide(request_id, approve=True)


@bp.route("/settings/employees/requests/<int:request_id>/decline", methods=["GET", "POST"])
@login_required
def join_request_decline(request_id: int):
    """拒否: confirm, then the request is closed; the requester is told by mail."""
    return _decide(request_id, approve=False)
