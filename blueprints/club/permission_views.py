"""お客様情報 and its change, the login permissions an owner gives dealers (the dealer's
approval link, the owner's withdrawal) and the dealer console's 登録ユーザー一覧.

Views parse input, call one service, render; the rules live in permissions.py (and
customer.py for お客様情報)."""
from __future__ import annotations

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app import limiter
from blueprints.club import bp, customer, permissions
from blueprints.club.products import owner_products
from blueprints.core import registry
from blueprints.core.pages import partial_wanted
from blueprints.core.security import configured_limit
from forms.club import DealerUserSearchForm, DecisionForm, WithdrawForm, customer_info_form_for

MAIL_LIMIT = configured_limit("MAIL_SENDING_LIMIT")
GRANT = "club.permission_grant"  # refused while acting for the owner (not an endpoint)


def _granting() -> bool:
    return not registry.refused_while_acting(GRANT)


def _asks_for_a_permission() -> bool:
    """Only the final submission that names an address counts against the mail limit."""
    return request.form.get("step") == "confirm" and bool(request.form.get("permission_email"))


# -- お客様情報 -------------------------------------------------------------------------------
@bp.get("/mypage/info")
@login_required
def customer_info():
    """お客様情報: the ID's registration data, 情報提供可, お客様番号 and the login
    permissions with their state."""
    return render_template("club/customer_info.html", account=current_user,
                           permissions=permissions.owner_permissions(current_user),
                           state_label=permissions.state_label,
                           decided_company=permissions.decided_company)


@bp.route("/mypage/info/edit", methods=["GET", "POST"])
@login_required
@limiter.limit(MAIL_LIMIT, methods=["POST"], exempt_when=lambda: not _asks_for_a_permission())
def customer_info_edit():
    """登録情報を変更する → 確認する (the same fields, hidden) → 変更する → 変更完了."""
    granting = _granting()
    form_class = customer_info_form_for(current_user, granting)
    form = form_class(data=None if request.method == "POST"
                      else customer.customer_form_data(current_user))
    partial = partial_wanted()
    if request.method == "POST" and form.run_sub_action():
        return _edit_page(form, granting, partial)
    if request.method == "POST" and "back" not in request.form and form.validate_on_submit():
        address = form.permission_email.data if granting else None
        if form.step.data == "confirm":
            problem = customer.update_customer_info(current_user, form.data, granting)
            if problem is None:
                done = url_for("club.customer_info_done", granted="1" if address else None)
                if partial:
                    return "", 200, {"HX-Redirect": done}
                return redirect(done, code=303)
        else:
            problem = permissions.grant_problem(current_user, address) if address else None
            if problem is None:
                template = ("club/_customer_info_confirm.html" if partial
                            else "club/customer_info_confirm.html")
                return render_template(template, form=form, granting=granting)
        form.permission_email.errors = [permissions.GRANT_MESSAGES[problem]]
    return _edit_page(form, granting, partial)


def _edit_page(form, granting: bool, partial: bool):
    form.step.data = "entry"
    template = "club/_customer_info_form.html" if partial else "club/customer_info_edit.html"
    status = 422 if request.method == "POST" and form.errors else 200
    return render_template(template, form=form, granting=granting), status


@bp.get("/mypage/info/done")
@login_required
def customer_info_done():
    """変更完了."""
    return render_template("club/customer_info_done.html",
                           granted=request.args.get("granted") == "1")


@bp.route("/mypage/permissions/<int:permission_id>/withdraw", methods=["GET", "POST"])
@login_required
def permission_withdraw(permission_id: int):
    """ログインの許可を取り消す: a confirmation, then the dealer's next request no longer
    finds the owner."""
    permission = permissions.owner_permission(current_user, permission_id) or abort(404)
    form = WithdrawForm()
    if form.validate_on_submit():
        if permissions.withdraw_permission(current_user, permission_id) is None:
            abort(404)
        flash(_("ログインの許可を取り消しました"), "success")
        return redirect(url_for("club.customer_info"), code=303)
    return render_template("club/permission_withdraw.html", form=form, permission=permission,
                           company=permissions.decided_company(permission),
                           state_label=permissions.state_label), 422 if form.errors else 200


# -- the dealer's approval link ---------------------------------------------------------------
@bp.route("/approvals/<token>", methods=["GET", "POST"])
@login_required
def approval(token: str):
    """The link of the dealer's mail: the owner's data and 連携を許可 / 連携を許可しない,
    for a member of the addressed dealer company only; decided once."""
    form = DecisionForm()
    if request.method == "POST" and form.validate_on_submit():
        approve = "approve" in request.form
        if not approve and "reject" not in request.form:
            abort(400)
        found = permissions.decide(token, current_user, approve)
    else:
        found = permissions.approval_for(token, current_user)
    if found.state is permissions.ApprovalState.FOREIGN:
        return render_template("club/approval_foreign.html"), 403
    if found.state is permissions.ApprovalState.PROBLEM:
        return render_template("club/approval_problem.html", state=found.link_state.value), 410
    status = 422 if request.method == "POST" and form.errors else 200
    template = "club/_approval.html" if partial_wanted() else "club/approval.html"
    return render_template(template, found=found, form=form, token=token,
                           ApprovalState=permissions.ApprovalState), status


# -- dealer console: 登録ユーザー一覧 -----------------------------------------------------------
def _dealer_or_refuse():
    dealer = permissions.dealer_of(current_user)
    if dealer is None:
        abort(make_response(render_template("dealers/not_dealer.html"), 403))
    return dealer


def _page_number() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 7 else 1


@bp.get("/dealer/users")
@login_required
def dealer_users():
    """登録ユーザー一覧: the owners who approved this dealer, with search."""
    dealer = _dealer_or_refuse()
    search = DealerUserSearchForm(request.args)
    query = search.q.data if search.validate() and search.q.data else None
    page = permissions.registered_users(dealer, query, _page_number())
    template = "club/dealer/_users_list.html" if partial_wanted() else "club/dealer/users.html"
    return render_template(template, search=search, query=query, page=page)


@bp.get("/dealer/users/<customer_number>")
@login_required
def dealer_user(customer_number: str):
    """One registered user: e-mail, お客様番号, 登録日, name and address, 登録製品情報 with
    subscriptions, the gateways this dealer also maintains, and the 代理ログイン button."""
    dealer = _dealer_or_refuse()
    owner, permission = permissions.approved_owner(dealer, customer_number) or abort(404)
    return render_template("club/dealer/user.html", owner=owner, permission=permission,
                           products=owner_products(owner),
                           gateways=permissions.maintained_gateways(dealer, owner))
