"""The customer's case pages (`/support/cases/...`): 新しいケース (with the HTMX swap of
詳細 and its 更新 button without JavaScript), the completion page with the ケース番号,
マイケース, a case page with its thread and the reply form, and downloads.

Views parse, call one service (case_form.py, customer.py on cases.py and files.py) and
render; every page works without JavaScript (post/redirect/get) and, for htmx, answers
the partial it swaps. Someone else's case or file is a 404, as one that does not exist."""
from __future__ import annotations

from flask import abort, current_app, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from blueprints.core.pages import go_to, page_or_partial, partial_wanted
from blueprints.support import bp, case_form, cases, customer, web
from blueprints.support import files as support_files
from forms.support import ReplyForm


def _limits() -> dict:
    """What the file fields say and the browser checks (the server checks again)."""
    config = current_app.config
    return dict(files_per_post=config["SUPPORT_FILES_PER_POST"],
                file_max=config["SUPPORT_FILE_MAX_BYTES"],
                file_max_text=support_files.human_size(config["SUPPORT_FILE_MAX_BYTES"]),
                case_max_text=support_files.human_size(config["SUPPORT_CASE_MAX_BYTES"]),
                human_size=support_files.human_size)


def _form_page(page, status: int = 200, files_error: str | None = None,
               files_again: bool = False):
    return page_or_partial("support/new_case.html", "support/_case_form.html", status,
                           page=page, form=page.form, files_error=files_error,
                           files_again=files_again, **_limits())


@bp.route("/cases/new", methods=["GET", "POST"])
@login_required
def new_case():
    """新しいケースを作成: the form (prefilled from `?q=`, `?gateway=`, `?alert=`); 更新
    re-renders it with the choices of what was picked; 送信 files the case."""
    if request.method == "GET":
        page = case_form.build(current_user, None, case_form.prefill(current_user, request.args))
        page.form.request_key.data = web.new_form_key()
        return _form_page(page)
    page = case_form.build(current_user)
    sent_files = any(storage.filename for storage in request.files.getlist("files"))
    if "refresh" in request.form:  # 更新 without JavaScript: new choices, no errors
        return _form_page(page, files_again=sent_files)
    form = page.form
    if not form.validate_on_submit():
        return _form_page(page, 422, files_again=sent_files)
    try:
        uploads = support_files.inspect_all(request.files.getlist("files"))
    except support_files.FileRefused as error:
        return _form_page(page, 422, files_error=str(error), files_again=True)
    case = customer.file_new_case(current_user, case_form.case_fields(current_user, page),
                                  uploads, web.posted_form_key(form.request_key.data))
    return go_to("support.case_filed", number=case.number)


@bp.get("/cases/new/details")
@login_required
def case_details():
    """The HTMX swap of the form's parts that depend on a choice: 詳細 (from サポート内容)
    or, with `part=site`, 製造番号 and the duplicate hint (from 発電所名)."""
    page = case_form.details_form(current_user, request.args)
    if not partial_wanted():
        return go_to("support.new_case")
    return render_template("support/_details.html", page=page, form=page.form,
                           part=request.args.get("part", "detail")), 200, {"Vary": "HX-Request"}


@bp.get("/cases/<number>/filed")
@login_required
def case_filed(number: str):
    """お問い合わせを受け付けました: the ケース番号, large, and where to go next."""
    case = cases.find_case(current_user, number) or abort(404)
    return render_template("support/case_filed.html", case=case)


@bp.get("/cases")
@login_required
def my_cases():
    """マイケース: the cases the account sees (a company's members: the company's), by
    state, 20 a page."""
    state = customer.state_filter(request.args.get("state"))
    page_no = request.args.get("page", 1, type=int) or 1
    page = customer.my_cases(current_user, state, min(max(page_no, 1), 10**6))
    return page_or_partial("support/my_cases.html", "support/_case_list.html", page=page,
                           state=state, company=current_user.company_id is not None,
                           state_label=cases.state_label, filters=customer.STATE_FILTERS)


def _case_page(view, form, status: int = 200, problem: str | None = None,
               files_error: str | None = None, oob_state: bool = False):
    return page_or_partial("support/case.html", "support/_thread.html", status, view=view,
                           case=view.case, form=form, problem=problem, files_error=files_error,
                           state_label=cases.state_label, oob_state=oob_state, **_limits())


@bp.get("/cases/<number>")
@login_required
def case(number: str):
    """A case: its facts, the thread (the customer's messages and support's answers),
    files, and the reply form (or, closed, the way to a new case)."""
    view = customer.case_view(current_user, number) or abort(404)
    form = ReplyForm(data={"request_key": web.new_form_key()})
    return render_template("support/case.html", view=view, case=view.case, form=form,
                           problem=None, files_error=None, state_label=cases.state_label,
                           **_limits())


@bp.post("/cases/<number>/reply")
@login_required
def case_reply(number: str):
    """A reply with コメント and files: HTMX swaps the thread and a fresh form; without
    JavaScript post/redirect/get. Closed → 409; nothing to send → 422."""
    view = customer.case_view(current_user, number) or abort(404)
    form = ReplyForm()
    if view.closed:
        return _case_page(view, form, 409,
                          problem=_("このケースはクローズされています。新しいケースを作成してください"))
    if not form.validate_on_submit():
        return _case_page(view, form, 422)
    storages = request.files.getlist("files")
    try:
        uploads = customer.inspect_reply_files(view.case, storages)
    except support_files.FileRefused as error:
        return _case_page(view, form, 422, files_error=str(error))
    if not form.comment.data and not uploads:
        form.comment.errors = [_("コメントを入力するか、ファイルを添付してください")]
        return _case_page(view, form, 422)
    try:
        customer.reply(current_user, view.case, form.comment.data or "", uploads,
                       web.posted_form_key(form.request_key.data))
    except cases.CaseClosed:
        view = customer.case_view(current_user, number) or abort(404)
        return _case_page(view, form, 409,
                          problem=_("このケースはクローズされています。新しいケースを作成してください"))
    if partial_wanted():
        view = customer.case_view(current_user, number) or abort(404)
        # The reply may have reopened the case: its state in the header follows (oob).
        return _case_page(view, ReplyForm(formdata=None,
                                          data={"request_key": web.new_form_key()}),
                          oob_state=True)
    return go_to("support.case", number=number)


@bp.get("/cases/<number>/files/<int:file_id>")
@login_required
def case_file(number: str, file_id: int):
    """A file of a case the account sees (else 404): streamed as an attachment."""
    record = customer.case_file(current_user, number, file_id) or abort(404)
    return support_files.download_response(record)
