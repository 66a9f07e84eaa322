"""The eco programme's pages (seed 001 §1-3, 001-24): 会員規約 (同意する / 同意しない) →
申込状態の照会・申込・解約 (the owner's gateways) → a gateway's checklist and the two
declarations → 申込を確定する → 申込完了; 解約 through a confirmation page.

Views parse input, call one function of services.py and render. HTMX: the apply and
cancel forms post with `hx-post`; a partial answers (422 on a mistake) and success sends
the browser on with `HX-Redirect`. Without JavaScript the same URLs post, redirect, get."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from blueprints.core.pages import go_to, page_or_partial
from blueprints.eco import bp, services
from forms.eco import ApplyForm, CancelForm, TermsForm


@bp.get("/")
@login_required
def index():
    """「みんなでつくるエコ活サークル」に申込するための各種条件 and the 会員規約."""
    # From the STEP4 offer of 本登録完了 the page offers 前に戻る to it (002-28).
    back = url_for("gateways.registration_complete") \
        if request.args.get("from") == "registration" else None
    return render_template("eco/terms.html", form=TermsForm(), back=back,
                           accepted=services.has_accepted_terms(current_user))


@bp.post("/terms")
@login_required
def terms():
    """同意する records the consent and opens the gateway list; 同意しない explains that
    the service cannot be used."""
    form = TermsForm()
    if not form.validate_on_submit():
        return render_template("eco/terms.html", form=form, accepted=False, back=None), 400
    if "agree" not in request.form:
        return redirect(url_for("eco.declined"), code=303)
    services.accept_terms(current_user)
    return redirect(url_for("eco.gateways"), code=303)


@bp.get("/declined")
@login_required
def declined():
    """同意しない: the service cannot be used without the 会員規約."""
    return render_template("eco/declined.html")


def _terms_first():
    if not services.has_accepted_terms(current_user):
        flash(_("「みんなでつくるエコ活サークル」の会員規約をご確認ください。"), "info")
        return redirect(url_for("eco.index"))
    return None


@bp.get("/gateways")
@login_required
def gateways():
    """申込状態の照会・申込・解約: the owner's gateways with 申込可 / 申込済 / 対象外."""
    if (back := _terms_first()) is not None:
        return back
    return render_template("eco/gateways.html", states=services.gateway_states(current_user),
                           State=services.State)


@bp.route("/gateways/<gateway_id>/apply", methods=["GET", "POST"])
@login_required
def apply(gateway_id: str):
    """A gateway's checklist and the two declarations → 確認 → 申込を確定する."""
    shown = services.gateway_state(current_user, gateway_id) or abort(404)
    if (back := _terms_first()) is not None:
        return back
    if shown.membership is not None:  # applied meanwhile (another tab, a double submit)
        flash(_("このゲートウェイはすでに申込済みです。"), "info")
        return go_to("eco.gateways")
    form = ApplyForm()
    context = dict(form=form, shown=shown, serial=services.first_pcs_serial(shown.gateway),
                   State=services.State)
    if request.method == "POST" and "back" not in request.form and form.validate_on_submit():
        if not shown.eligibility.measurable_ok:  # a condition fails: no confirmation step
            form.step.data = "entry"
            return page_or_partial("eco/apply.html", "eco/_apply_form.html", 409, **context)
        if form.step.data != "confirm":
            form.step.data = "confirm"
            return page_or_partial("eco/apply_confirm.html", "eco/_apply_confirm.html", **context)
        done = services.apply(current_user, gateway_id, form.no_private_generator.data,
                              form.no_other_scheme.data)
        if done.result is services.ApplyResult.NOT_FOUND:
            abort(404)
        if done.result is services.ApplyResult.NO_TERMS:
            return go_to("eco.index")
        if done.result is services.ApplyResult.ALREADY:
            flash(_("このゲートウェイはすでに申込済みです。"), "info")
            return go_to("eco.gateways")
        if done.result is services.ApplyResult.NOT_ELIGIBLE:
            shown = services.gateway_state(current_user, gateway_id) or abort(404)
            context.update(shown=shown)
            form.step.data = "entry"
            return page_or_partial("eco/apply.html", "eco/_apply_form.html", 409, **context)
        return go_to("eco.applied", gateway_id=done.membership.gateway_code)
    form.step.data = "entry"
    status = 422 if form.errors else 200
    return page_or_partial("eco/apply.html", "eco/_apply_form.html", status, **context)


@bp.get("/gateways/<gateway_id>/applied")
@login_required
def applied(gateway_id: str):
    """申込完了: ゲートウェイID, パワーコンディショナ製造番号 (write them down), the points
    sign-up, メインメニューに戻る."""
    membership = services.running_membership(current_user, gateway_id) or abort(404)
    return render_template("eco/applied.html", membership=membership,
                           points_signup=url_for("points.signup"))


@bp.route("/gateways/<gateway_id>/cancel", methods=["GET", "POST"])
@login_required
def cancel(gateway_id: str):
    """解約: the membership, what ending it means, 解約する."""
    membership = services.running_membership(current_user, gateway_id) or abort(404)
    form = CancelForm()
    if request.method == "POST" and form.validate_on_submit():
        if services.cancel(current_user, gateway_id):
            flash(_("「みんなでつくるエコ活サークル」を解約しました。確認のメールをお送りしました。"),
                  "success")
        return go_to("eco.gateways")
    return page_or_partial("eco/cancel.html", "eco/_cancel_form.html",
                 400 if request.method == "POST" else 200, form=form, membership=membership)
