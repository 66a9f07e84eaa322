"""Staff administration pages (staff admins only; everyone else gets 404, anonymous
visitors sign in first): the staff and their roles (/staff/people), the audit log
(/staff/audit, its CSV) and the proxy sessions (/staff/audit/proxy). Views parse input,
call one function of people.py or auditlog.py, render."""
from __future__ import annotations

import csv
import io

from flask import Response, abort, flash, render_template, request, stream_with_context
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from blueprints.core.pages import go_to, page_or_partial
from blueprints.core.staff import STAFF_ROLES
from blueprints.staff import auditlog, bp, people
from forms.staff import AuditFilterForm, PersonAddForm, ProxyFilterForm, RemoveForm, RolesForm
from models import db

REFUSALS = {
    people.NOT_FOUND: _l("このメールアドレスの、登録が完了したEnelink IDはありません"),
    people.ALREADY_STAFF: _l("このアカウントはすでにスタッフです。役割は一覧から変更してください"),
    people.NO_ROLE: _l("役割を1つ以上選択してください"),
    people.OWN_ADMIN: _l("自分のスタッフ管理者の役割は外せません。ほかのスタッフ管理者に依頼してください"),
    people.LAST_ADMIN: _l("最後のスタッフ管理者の役割は外せません。先にほかのスタッフにスタッフ管理者の役割を付けてください"),
}


def _page_number() -> int:
    value = request.args.get("page", "1")
    return int(value) if value.isdigit() and len(value) < 7 else 1


# -- /staff/people ---------------------------------------------------------------------------
@bp.get("/people", endpoint="people")
def people_list():
    """スタッフ管理: every staff account with its roles and last sign-in."""
    return render_template("staff/people.html", staff=people.staff_page(_page_number()),
                           roles=STAFF_ROLES)


def _add_page(form: PersonAddForm, status: int = 200):
    return page_or_partial("staff/people_add.html", "staff/_people_add.html", status,
                           form=form, roles=STAFF_ROLES)


@bp.route("/people/add", methods=["GET", "POST"])
def people_add():
    """スタッフの追加: an existing, opened Enelink ID by its address, with roles."""
    form = PersonAddForm()
    if request.method == "GET":
        return _add_page(form)
    if not form.validate_on_submit():
        return _add_page(form, 422)
    try:
        account = people.add_staff(current_user, form.email.data, form.roles.data)
    except people.StaffChangeRefused as refused:
        target = form.roles if refused.reason == people.NO_ROLE else form.email
        target.errors = [REFUSALS[refused.reason]]
        return _add_page(form, 422)
    flash(_("%(email)s をスタッフにしました", email=account.email), "success")
    return go_to("staff.person", account_id=account.id)


def _person_page(account_id: int, form: RolesForm | None = None, status: int = 200,
                 error: str | None = None):
    member = people.staff_member(account_id) or abort(404)
    if form is None:
        form = RolesForm(formdata=None, data={"roles": member.roles})
    return page_or_partial("staff/person.html", "staff/_person.html", status,
                           member=member, form=form, remove_form=RemoveForm(),
                           roles=STAFF_ROLES, error=error,
                           is_self=member.account.id == current_user.id)


@bp.get("/people/<int:account_id>")
def person(account_id: int):
    """One staff member: their roles (checkboxes) and 「スタッフ権限を外す」."""
    return _person_page(account_id)


@bp.post("/people/<int:account_id>")
def person_roles(account_id: int):
    """Change a staff member's roles (audited, mailed)."""
    form = RolesForm()
    if not form.validate_on_submit():
        return _person_page(account_id, form, 422)
    try:
        changed = people.change_roles(current_user, account_id, form.roles.data)
    except people.StaffChangeRefused as refused:
        if refused.reason == people.NOT_FOUND:
            abort(404)
        form.roles.errors = [REFUSALS[refused.reason]]
        return _person_page(account_id, form, 422)  # htmx swaps 422 (base.html)
    flash(_("役割を変更しました") if changed else _("役割は変わっていません"),
          "success" if changed else "info")
    return go_to("staff.person", account_id=account_id)


@bp.post("/people/<int:account_id>/remove")
def person_remove(account_id: int):
    """「スタッフ権限を外す」: back to a user account, every role deleted."""
    form = RemoveForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        removed = people.remove_staff(current_user, account_id)
    except people.StaffChangeRefused as refused:
        return _person_page(account_id, status=409, error=REFUSALS[refused.reason])
    if removed:
        flash(_("スタッフ権限を外しました"), "success")
    return go_to("staff.people")


# -- /staff/audit ----------------------------------------------------------------------------
def _audit_filters() -> tuple[AuditFilterForm, auditlog.AuditFilters]:
    form = AuditFilterForm(request.args)
    form.set_actions(auditlog.action_prefixes())
    form.validate()
    return form, auditlog.AuditFilters(**form.filter_values())


@bp.get("/audit")
def audit():
    """監査ログ: the rows newest first, 50 a page, with filters."""
    form, filters = _audit_filters()
    return render_template("staff/audit.html", form=form, filters=filters,
                           rows=auditlog.audit_page(filters, _page_number())), \
        422 if form.errors else 200


@bp.get("/audit.csv")
def audit_csv():
    """The filtered rows as CSV (UTF-8 with BOM for Excel), streamed."""
    _form, filters = _audit_filters()
    db.session.commit()  # end this request's read: nothing is held while the client reads

    def lines():
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        buffer.write("\ufeff")
        writer.writerow(auditlog.CSV_HEADER)
        for line in auditlog.audit_csv_lines(filters):
            writer.writerow(line)
            if buffer.tell() > 64_000:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return Response(stream_with_context(lines()), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="audit.csv"'})


@bp.get("/audit/proxy")
def audit_proxy():
    """代理ログインの記録: proxy sessions with who, whom, why, when, and their changes."""
    from blueprints.club.proxy_views import END_REASON_LABELS

    form = ProxyFilterForm(request.args)
    form.validate()
    filters = auditlog.ProxyFilters(**form.filter_values())
    return render_template("staff/audit_proxy.html", form=form, filters=filters,
                           sessions=auditlog.proxy_page(filters, _page_number()),
                           end_reasons=END_REASON_LABELS,
                           change_time=auditlog.change_time), 422 if form.errors else 200
