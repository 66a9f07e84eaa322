"""Staff pages of the points service (`/staff/points/...`): eco members and points members
with their state, one member's ledger with corrections, and the month's credit report
(CSV). Views parse input, call one service of ledger.py, render."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from blueprints.core.staff import PROGRAMME, staff_blueprint
from blueprints.points import ledger
from forms.points import CorrectionForm
from forms.validators import parse_month, today_in_japan
from models import JST

staff_bp = staff_blueprint("points", __name__, role=PROGRAMME)


def _page_number(name: str) -> int:
    value = request.args.get(name, "1")
    return int(value) if value.isdigit() and len(value) < 7 else 1


def _last_month():
    return ledger.month_start(ledger.month_start(today_in_japan()) - timedelta(days=1))


@staff_bp.get("/")
def members():
    """ポイント会員・エコ活会員の一覧 (paged), and the month of the credit report."""
    month_text = request.args.get("month")
    month = parse_month(month_text) if month_text is not None else _last_month()
    status = 200 if month is not None else 422
    return render_template("points/staff_members.html",
                           members=ledger.staff_members(_page_number("page")),
                           eco=ledger.staff_eco_members(_page_number("eco_page")),
                           month=month, month_text=(month_text or "")[:20]
                           if month is None else month.strftime("%Y-%m")), status


def _member_page(member_id: int, form: CorrectionForm, status: int = 200):
    found = ledger.staff_member(member_id) or abort(404)
    shown, entries = found
    return render_template("points/staff_member.html", shown=shown, entries=entries,
                           form=form, items={i["code"]: i["name"]
                                             for i in ledger.exchange_items()}), status


@staff_bp.get("/members/<int:member_id>")
def member(member_id: int):
    """One member: state, balance, the whole ledger, and the correction form."""
    return _member_page(member_id, CorrectionForm())


@staff_bp.post("/members/<int:member_id>/corrections")
def correction(member_id: int):
    """ポイント修正 (+/−, with its reason; never below zero; audited)."""
    form = CorrectionForm()
    if not form.validate_on_submit():
        return _member_page(member_id, form, 422)
    try:
        entry = ledger.add_correction(current_user, member_id, int(form.points.data),
                                      form.reason.data)
    except ledger.NotEnoughPoints:
        form.points.errors = [_("残高がマイナスになる修正はできません")]
        return _member_page(member_id, form, 422)
    if entry is None:
        abort(404)
    flash(_("ポイントを修正しました"), "success")
    return redirect(url_for("points_staff.member", member_id=member_id), code=303)


REPORT_HEADER = ("会員番号", "ゲートウェイID", "エコ活申込日", "エコ活終了日",
                 "ポイント会員登録日", "退会日", "自家消費量(kWh)", "付与ポイント")


def _day(value) -> str:
    return value.astimezone(JST).date().isoformat() if value is not None else ""


@staff_bp.get("/report.csv")
def report():
    """The month's self-consumed kWh per member gateway, UTF-8 with BOM (Excel)."""
    month = parse_month(request.args.get("month", ""))
    if month is None:
        flash(_("年月を「2026-05」の形で入力してください"), "error")
        return redirect(url_for("points_staff.members"), code=303)
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(REPORT_HEADER)
    for row in ledger.credit_report(month):
        writer.writerow([row.member_id, row.gateway_code or "", _day(row.eco_applied_at),
                         _day(row.eco_ended_at), _day(row.joined_at), _day(row.left_at),
                         f"{row.kwh:.3f}", "" if row.points is None else row.points])
    filename = f"points-report-{month:%Y-%m}.csv"
    return Response(buffer.getvalue(), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
