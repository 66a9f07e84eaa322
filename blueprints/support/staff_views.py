"""The staff desk (`/staff/support/...`, staff only: core.staff answers 404 to anyone else):
the case queue, one case with its thread, reply, internal note, state and assignee, the
categories of the case form and the knowledge-base articles. Helpers C and D add their
staff pages to `staff_bp` from their own modules.

Views parse the request, call one service of desk.py, render; every change is a POST with
CSRF, then post/redirect/get (`go_to`, which htmx follows as a full navigation)."""
from __future__ import annotations

from flask import abort, current_app, flash, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from blueprints.core.pages import go_to, page_or_partial
from blueprints.core.staff import SUPPORT, staff_blueprint
from blueprints.core.transactions import read_only
from blueprints.support import cases, desk, web
from blueprints.support import files as support_files
from forms.support_staff import (ArticleForm, AssignForm, CategoryForm, NoteForm,
                                 QueueFilterForm, StaffReplyForm, StateForm)
from models.support import CaseState

staff_bp = staff_blueprint("support", __name__, role=SUPPORT)


@staff_bp.context_processor
def _desk_helpers():
    """For every desk template: a state's label and key, and whether a page of another
    part of the desk exists (its link is shown then)."""
    return {"state_label": cases.state_label,
            "state_key": lambda state: CaseState(state).value,
            "has_endpoint": lambda endpoint: endpoint in current_app.view_functions}


def _page_number() -> int:
    value = request.args.get("page", "1")
    return int(value) if value.isdigit() and len(value) < 7 else 1


# -- the queue -------------------------------------------------------------------------------
@staff_bp.get("/")
@read_only
def queue():
    """The queue: filters (状態, サポート内容, 経過, 担当) and search as GET parameters; for
    htmx the filter form and the table only. A filter the form refuses counts as not set
    (422 with its message)."""
    form = QueueFilterForm(formdata=request.args)
    form.set_categories(desk.categories())
    status = 200 if form.validate() else 422
    page = desk.queue(current_user, desk.QueueFilters(**form.filter_values(),
                                                      page=_page_number()))
    filter_args = {key: value for key, value in request.args.items() if key != "page"}
    return page_or_partial("support/staff/queue.html", "support/staff/_queue.html", status,
                           form=form, page=page, filter_args=filter_args)


# -- one case --------------------------------------------------------------------------------
def _state_choices():
    return [(state.value, cases.state_label(state)) for state in cases.STATE_LABELS]


def _reply_form(formdata=None) -> StaffReplyForm:
    form = StaffReplyForm(formdata=formdata) if formdata is not None else StaffReplyForm(
        formdata=None, new_state=desk.REPLY_STATES[0].value, request_key=web.new_form_key())
    form.new_state.choices = [(state.value, cases.state_label(state))
                              for state in desk.REPLY_STATES]
    return form


def _note_form(formdata=None) -> NoteForm:
    # Prefixed: the reply form on the same page has fields of the same names.
    if formdata is not None:
        return NoteForm(formdata=formdata, prefix="note")
    return NoteForm(formdata=None, prefix="note", request_key=web.new_form_key())


def _state_form(case, formdata=None) -> StateForm:
    form = StateForm(formdata=formdata) if formdata is not None else StateForm(
        formdata=None, state=CaseState(case.state).value)
    form.state.choices = _state_choices()
    return form


def _assign_form(case, formdata=None) -> AssignForm:
    form = AssignForm(formdata=formdata) if formdata is not None else AssignForm(
        formdata=None, assignee=str(case.assignee_id) if case.assignee_id else "none")
    form.set_staff(desk.staff_accounts())
    return form


def _case_page(number: str, status: int = 200, partial: str | None = None, **forms):
    view = desk.case_view(number)
    if view is None:
        abort(404)
    case = view.case
    context = dict(
        view=view, case=case, human_size=support_files.human_size,
        reply_form=forms.get("reply_form") or _reply_form(),
        note_form=forms.get("note_form") or _note_form(),
        state_form=forms.get("state_form") or _state_form(case),
        assign_form=forms.get("assign_form") or _assign_form(case))
    if partial is None:
        return render_template("support/staff/case.html", **context), status
    return page_or_partial("support/staff/case.html", partial, status, **context)


@staff_bp.get("/cases/<number>")
def case(number: str):
    """Everything the customer gave, their contact, the whole thread (internal notes
    marked), the files, and the reply, note, state and assignee forms."""
    return _case_page(number)


@staff_bp.get("/cases/<number>/files/<int:file_id>")
def case_file(number: str, file_id: int):
    """A file of the case, as an attachment (the same response the customer gets)."""
    record = desk.case_file(number, file_id)
    if record is None:
        abort(404)
    return support_files.download_response(record)


@staff_bp.post("/cases/<number>/reply")
def case_reply(number: str):
    """返信: mails the customer a link; the case goes to the chosen state. The form's
    one-time key makes a double submit one reply."""
    case = cases.staff_case(number) or abort(404)
    form = _reply_form(request.form)
    if not form.validate_on_submit():
        return _case_page(number, 422, "support/staff/_reply_form.html", reply_form=form)
    try:
        desk.reply(case, current_user, form.body.data, request.files.getlist(form.files.name),
                   web.posted_form_key(form.request_key.data), CaseState(form.new_state.data))
    except support_files.FileRefused as refused:
        form.files.errors = [str(refused)]
        return _case_page(number, 422, "support/staff/_reply_form.html", reply_form=form)
    flash(_("返信を送信しました。お客様にメールでお知らせしました。"), "success")
    return go_to("support_staff.case", number=case.number)


@staff_bp.post("/cases/<number>/note")
def case_note(number: str):
    """社内メモ: staff only; no mail, never on the customer's pages."""
    case = cases.staff_case(number) or abort(404)
    form = _note_form(request.form)
    if not form.validate_on_submit():
        return _case_page(number, 422, "support/staff/_note_form.html", note_form=form)
    try:
        desk.add_note(case, current_user, form.body.data,
                      request.files.getlist(form.files.name),
                      web.posted_form_key(form.request_key.data))
    except support_files.FileRefused as refused:
        form.files.errors = [str(refused)]
        return _case_page(number, 422, "support/staff/_note_form.html", note_form=form)
    flash(_("社内メモを追加しました。"), "success")
    return go_to("support_staff.case", number=case.number)


@staff_bp.post("/cases/<number>/state")
def case_state(number: str):
    """状態の変更 alone: no mail; audited."""
    case = cases.staff_case(number) or abort(404)
    form = _state_form(case, request.form)
    if not form.validate_on_submit():
        return _case_page(number, 422, state_form=form)
    if desk.change_state(case, current_user, CaseState(form.state.data)):
        flash(_("状態を「%(state)s」に変更しました。", state=cases.state_label(case.state)),
              "success")
    return go_to("support_staff.case", number=case.number)


@staff_bp.post("/cases/<number>/assign")
def case_assign(number: str):
    """担当者の変更, or 「自分に割り当てる」; audited."""
    case = cases.staff_case(number) or abort(404)
    form = _assign_form(case, request.form)
    if form.take.data:
        assignee_id = current_user.id
    elif form.validate_on_submit():
        assignee_id = None if form.assignee.data == "none" else int(form.assignee.data)
    else:
        return _case_page(number, 422, assign_form=form)
    try:
        changed = desk.assign(case, current_user, assignee_id)
    except LookupError:
        form.assignee.errors = [_("一覧から選択してください")]
        return _case_page(number, 422, assign_form=form)
    if changed:
        flash(_("担当者を変更しました。"), "success")
    return go_to("support_staff.case", number=case.number)


# -- categories ------------------------------------------------------------------------------
def _category_form(prefix: str, row=None, formdata=None) -> CategoryForm:
    if formdata is not None:
        return CategoryForm(formdata=formdata, prefix=prefix)
    if row is None:
        return CategoryForm(formdata=None, prefix=prefix, position="0", active=True)
    return CategoryForm(formdata=None, prefix=prefix, name=row.name,
                        position=str(row.position), active=row.active)


def _categories_page(failed: CategoryForm | None = None, status: int = 200):
    rows = desk.categories()
    forms = {"new-category": _category_form("new-category")}
    for category in rows:
        forms[f"category-{category.id}"] = _category_form(f"category-{category.id}", category)
        forms[f"new-detail-{category.id}"] = _category_form(f"new-detail-{category.id}")
        for detail in category.details:
            forms[f"detail-{detail.id}"] = _category_form(f"detail-{detail.id}", detail)
    if failed is not None:
        forms[failed._prefix.rstrip("-")] = failed
    return render_template("support/staff/categories.html", categories=rows,
                           forms=forms), status


@staff_bp.get("/categories")
def categories():
    """サポート内容 and their 詳細: add, rename, reorder, (de)activate (never delete)."""
    return _categories_page()


def _save_category(prefix: str, save):
    """Validate the row's form and call `save(form)`; a taken name is a message."""
    form = _category_form(prefix, formdata=request.form)
    if not form.validate_on_submit():
        return _categories_page(form, 422)
    try:
        if save(form) is None:
            abort(404)
    except desk.DuplicateName:
        form.name.errors = [_("同じ名前がすでにあります。別の名前にしてください。")]
        return _categories_page(form, 422)
    flash(_("保存しました。"), "success")
    return go_to("support_staff.categories")


@staff_bp.post("/categories")
def category_add():
    """A new サポート内容 (offered on the case form at once)."""
    return _save_category("new-category", lambda form: desk.add_category(
        current_user, form.name.data, int(form.position.data)))


@staff_bp.post("/categories/<int:category_id>")
def category_update(category_id: int):
    """Rename, move or (de)activate a サポート内容."""
    return _save_category(f"category-{category_id}", lambda form: desk.update_category(
        current_user, category_id, form.name.data, int(form.position.data),
        bool(form.active.data)))


@staff_bp.post("/categories/<int:category_id>/details")
def detail_add(category_id: int):
    """A new 詳細 of a サポート内容."""
    return _save_category(f"new-detail-{category_id}", lambda form: desk.add_detail(
        current_user, category_id, form.name.data, int(form.position.data)))


@staff_bp.post("/categories/details/<int:detail_id>")
def detail_update(detail_id: int):
    """Rename, move or (de)activate a 詳細."""
    return _save_category(f"detail-{detail_id}", lambda form: desk.update_detail(
        current_user, detail_id, form.name.data, int(form.position.data),
        bool(form.active.data)))


# -- knowledge-base articles ----------------------------------------------------------------
@staff_bp.get("/articles")
def articles():
    """Every article with 公開/非公開 and its last update."""
    return render_template("support/staff/articles.html", page=desk.articles(_page_number()))


def _article_form(record=None, formdata=None) -> ArticleForm:
    if formdata is not None:
        form = ArticleForm(formdata=formdata)
    elif record is None:
        form = ArticleForm(formdata=None, category="none")
    else:
        form = ArticleForm(formdata=None, title=record.title, body=record.body,
                           category=str(record.category_id) if record.category_id else "none",
                           published=record.published)
    form.set_categories(desk.categories())
    return form


@staff_bp.route("/articles/new", methods=["GET", "POST"])
def article_new():
    """A new article (非公開 unless 公開する is ticked). A double submit saves it once."""
    if request.method == "GET":
        return render_template("support/staff/article_form.html", form=_article_form(),
                               article=None)
    form = _article_form(formdata=request.form)
    if not form.validate_on_submit():
        return render_template("support/staff/article_form.html", form=form,
                               article=None), 422
    try:
        desk.create_article(current_user, desk.ArticleFields(**form.values()))
    except desk.DuplicateName:
        form.title.errors = [_("同じタイトルの記事がすでにあります。")]
        return render_template("support/staff/article_form.html", form=form,
                               article=None), 422
    flash(_("記事を保存しました。"), "success")
    return go_to("support_staff.articles")


@staff_bp.route("/articles/<int:article_id>", methods=["GET", "POST"])
def article_edit(article_id: int):
    """Change an article's text, category or 公開."""
    record = desk.article(article_id) or abort(404)
    if request.method == "GET":
        return render_template("support/staff/article_form.html",
                               form=_article_form(record), article=record)
    form = _article_form(formdata=request.form)
    if not form.validate_on_submit():
        return render_template("support/staff/article_form.html", form=form,
                               article=record), 422
    try:
        desk.update_article(current_user, article_id, desk.ArticleFields(**form.values()))
    except desk.DuplicateName:
        form.title.errors = [_("同じタイトルの記事がすでにあります。")]
        return render_template("support/staff/article_form.html", form=form,
                               article=record), 422
    flash(_("記事を保存しました。"), "success")
    return go_to("support_staff.articles")
