"""The member's pages (`/points/...`): マイページ (balance, this month's estimate, monthly
accruals with their calculation, exchanges, corrections), the exchange (choose → confirm
→ 受付), and 退会. Views parse input, call one service of ledger.py, render. Every page
is a plain form: it works without JavaScript."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from blueprints.points import bp, ledger
from forms.points import ExchangeChoiceForm, ExchangeConfirmForm, LeaveForm

def _not_a_member():
    flash(_("ポイントサービスの会員ではありません。会員登録をお願いします。"), "info")
    return redirect(url_for("points.signup"), code=303)


def _running_member():
    member = ledger.member_of(current_user)
    if member is None:
        return None, _not_a_member()
    if member.left_at is not None:
        flash(_("ポイントサービスは退会済みです。"), "info")
        return None, redirect(url_for("points.mypage"), code=303)
    return member, None


@bp.get("/")
@login_required
def mypage():
    """マイページ: the signed-in account's own membership only."""
    page = ledger.member_page(current_user)
    if page is None:
        return _not_a_member()
    return render_template("points/mypage.html", page=page)


def _choice_form(data=None) -> ExchangeChoiceForm:
    form = ExchangeChoiceForm(data)
    form.item.choices = [(item["code"], item["name"]) for item in ledger.exchange_items()]
    return form


@bp.get("/exchange")
@login_required
def exchange():
    """ポイント交換: the catalogue with the balance; the form opens the confirmation."""
    member, refused = _running_member()
    if refused:
        return refused
    return render_template("points/exchange.html", form=_choice_form(),
                           items=ledger.exchange_items(), balance=ledger.balance(member.id))


@bp.route("/exchange/confirm", methods=["GET", "POST"])
@login_required
def exchange_confirm():
    """交換内容の確認 (GET ?item=CODE) and the request (POST)."""
    member, refused = _running_member()
    if refused:
        return refused
    if request.method == "GET":
        choice = _choice_form(request.args)
        if not choice.validate():
            return render_template("points/exchange.html", form=choice,
                                   items=ledger.exchange_items(),
                                   balance=ledger.balance(member.id)), 422
        item = ledger.find_item(choice.item.data)
        form = ExchangeConfirmForm(data={"item": item["code"],
                                         "request_key": ledger.new_request_key()})
        return _confirm_page(form, item, member)
    form = ExchangeConfirmForm()
    item = ledger.find_item(form.item.data)
    if item is None:
        flash(_("交換する商品を一覧から選択してください"), "error")
        return redirect(url_for("points.exchange"), code=303)
    if not form.validate_on_submit():
        return _confirm_page(form, item, member, 422)
    try:
        result = ledger.request_exchange(current_user, item["code"], form.request_key.data)
    except ledger.UnknownItem:
        abort(404)
    except ledger.NotEnoughPoints:
        return _confirm_page(form, item, member, 422,
                             problem=_("ポイントが足りません。残高をご確認ください。"))
    if result is None:
        return redirect(url_for("points.mypage"), code=303)
    return redirect(url_for("points.exchange_done", entry_id=result.entry.id), code=303)


def _confirm_page(form, item, member, status: int = 200, problem: str | None = None):
    current = ledger.balance(member.id)
    return render_template("points/exchange_confirm.html", form=form, item=item,
                           balance=current, problem=problem), status


@bp.get("/exchange/<int:entry_id>")
@login_required
def exchange_done(entry_id: int):
    """交換受付完了: one of the account's own exchanges (another's → 404)."""
    entry = ledger.exchange_entry(current_user, entry_id) or abort(404)
    member = ledger.member_of(current_user)
    return render_template("points/exchange_done.html", entry=entry,
                           item=ledger.find_item(entry.item), balance=ledger.balance(member.id))


@bp.route("/leave", methods=["GET", "POST"])
@login_required
def leave():
    """退会の確認: what happens (the ID can never join again, the balance is forfeited),
    then 退会 and its mail."""
    member = ledger.member_of(current_user)
    if member is None:
        return _not_a_member()
    if member.left_at is not None:
        return redirect(url_for("points.mypage"), code=303)
    form = LeaveForm()
    if form.validate_on_submit():
        ledger.leave(current_user)
        flash(_("ポイントサービスを退会しました。"), "success")
        return redirect(url_for("points.mypage"), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("points/leave.html", form=form, member=member,
                           balance=ledger.balance(member.id)), status
