"""Phone-support requests, the pages: the customer's 電話サポートのご依頼 on a case
(`/support/cases/<number>/phone`), and on the staff desk the list of requests
(`/staff/support/phone`) and 確定する / お受けできない (`POST /staff/support/phone/<id>`).

Views parse input, call one service of phone.py and render. The time is read once per
request from `clock` (tests replace it) and handed to the services. htmx posts get the
form (or the staff section) back as a partial; without JavaScript every form is a plain
post/redirect/get."""
from __future__ import annotations

from flask import abort, current_app, flash, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from blueprints.core.pages import go_to, page_or_partial
from blueprints.support import bp, cases, phone, web
from blueprints.support.staff_views import staff_bp
from forms.support_phone import PhoneDecisionForm, PhoneRequestForm
from models import utcnow

clock = utcnow


# -- what the case pages' 電話サポート sections use ----------------------------------------------
@bp.app_template_global("support_phone_requests")
def _requests_of(case):
    return phone.case_requests(case)


@bp.app_template_global("support_phone_slot")
def _slot_label(slot_at, with_year: bool = False):
    return phone.slot_label(slot_at, with_year)


@bp.app_template_global("support_phone_state")
def _state_label(state):
    return phone.state_label(state)


# -- the customer ----------------------------------------------------------------------------------
def _slot_groups(now) -> list[tuple[str, list[tuple[str, str]]]]:
    return [(day.label, [(phone.slot_value(slot), phone.slot_label(slot)) for slot in day.slots])
            for day in phone.allowed_slots(now)]


def _request_page(case, form: PhoneRequestForm, now, status: int = 200, problem=None):
    if not web.posted_form_key(form.request_key.data):
        form.request_key.data = web.new_form_key()
    return page_or_partial(
        "support/phone_request.html", "support/_phone_form.html", status, case=case, form=form,
        slot_groups=_slot_groups(now), earliest=phone.day_label(phone.earliest_day(now)),
        problem=problem or phone.refusal(case),
        cutoff=current_app.config["SUPPORT_PHONE_CUTOFF"])


@bp.route("/cases/<number>/phone", methods=["GET", "POST"])
@login_required
def phone_request(number: str):
    """電話サポートのご依頼: the form with the slots allowed now (GET), the request (POST)."""
    case = cases.find_case(current_user, number) or abort(404)
    now = clock()
    if request.method == "GET":
        primary = current_user.primary_phone
        form = PhoneRequestForm(data={"contact_name": current_user.full_name,
                                      "phone": primary.number if primary else None,
                                      "request_key": web.new_form_key()})
        return _request_page(case, form, now)
    form = PhoneRequestForm()
    if not form.validate_on_submit():
        return _request_page(case, form, now, 422)
    fields = phone.PhoneFields(contact_name=form.contact_name.data, phone=form.phone.data,
                               slot=form.slot.data, topic=form.topic.data)
    try:
        phone.request_phone_support(current_user, case, fields,
                                    web.posted_form_key(form.request_key.data), now)
    except phone.PhoneRequestRefused as refused:
        if refused.field:
            getattr(form, refused.field).errors = [refused.message]
            return _request_page(case, form, now, 422)
        return _request_page(case, form, now, 409, problem=refused.message)
    flash(_("電話サポートのご依頼を受け付けました。サポートからの連絡をお待ちください。"), "success")
    return go_to("support.case", number=case.number)


# -- staff ------------------------------------------------------------------------------------------
def _page_number() -> int:
    value = request.args.get("page", "1")
    return int(value) if value.isdigit() and len(value) < 7 else 1


@staff_bp.get("/phone")
def phone_requests():
    """電話サポートのご依頼の一覧: one state (default 受付済み) or all, soonest slot first."""
    filter_name, page = phone.staff_requests(request.args.get("state"), _page_number())
    return render_template("support/staff/phone_requests.html", rows=page, current=filter_name,
                           filters=phone.FILTERS)


@staff_bp.post("/phone/<int:request_id>")
def phone_decide(request_id: int):
    """確定する / お受けできない (with a note to the customer, required to decline), once."""
    found = phone.staff_request(request_id) or abort(404)
    phone_request_row, case = found
    form = PhoneDecisionForm()
    context = dict(case=case, phone_request=phone_request_row, decide_form=form,
                   decide_id=request_id)
    if not form.validate_on_submit():
        return page_or_partial("support/staff/phone_decide.html",
                               "support/staff/_phone_section.html", 422, **context)
    try:
        phone.decide(current_user, request_id, form.decision.data == "confirm", form.note.data,
                     clock())
    except phone.AlreadyDecided:
        context["problem"] = _("このご依頼はすでに対応済みです（確定またはお受けできない）。")
        return page_or_partial("support/staff/phone_decide.html",
                               "support/staff/_phone_section.html", 409, **context)
    flash(_("電話サポートのご依頼を確定しました。") if form.decision.data == "confirm"
          else _("電話サポートのご依頼をお受けできないとお知らせしました。"), "success")
    return go_to("support_staff.case", number=case.number)
