"""Owner pages (保守を任せる販売店様の管理), becoming a dealer, and the dealer console.

Views parse input, call one service, render; the rules (who may link what, at most five
dealers per gateway, the mails) live in services.py."""
from __future__ import annotations

from flask import (abort, flash, make_response, redirect, render_template, request, session,
                   url_for)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app import limiter
from blueprints.core import registry
from blueprints.core.pages import partial_wanted
from blueprints.core.security import configured_limit
from blueprints.core.transactions import read_only
from blueprints.dealers import bp, services
from forms.dealers import (ConsoleSearchForm, DealerLinkForm, DealerRegistrationForm,
                           GatewaySearchForm, UnlinkForm)

LINK_LIMIT = configured_limit("DEALER_LINK_LIMIT")
CONSOLE_PER_PAGE = 20
MAX_PAGE = 100_000
_DONE_KEY = "dealers:done"


def _problem_message(result: services.LinkResult) -> str:
    if result is services.LinkResult.ALREADY_LINKED:
        return _("この販売店様はすでにこのゲートウェイに登録されています")
    if result is services.LinkResult.LIMIT_REACHED:
        return _("1台のゲートウェイに登録できる販売店は%(max)d社までです",
                 max=services.MAX_DEALERS_PER_GATEWAY)
    return _("販売店IDまたは電話番号が正しくありません")


def _search_query(form) -> str | None:
    return form.q.data if form.validate() and form.q.data else None


def _page_number(name: str = "page") -> int | None:
    raw = request.args.get(name, "1" if name == "page" else "")
    if raw.isascii() and raw.isdigit() and len(raw) < 8:
        return min(int(raw), MAX_PAGE)
    return 1 if name == "page" else None


# -- owner: 保守を任せる販売店様の管理 ---------------------------------------------------
@bp.get("/my")
@login_required
def my_dealers():
    """The owner's gateways, each with the dealers entrusted with it."""
    owned = services.owner_gateways(current_user)
    dealers = services.linked_dealers_of(owned)
    gateways = [(g, dealers[g.id]) for g in owned]
    return render_template("dealers/my.html", gateways=gateways,
                           max_dealers=services.MAX_DEALERS_PER_GATEWAY)


@bp.route("/my/link", methods=["GET", "POST"])
@login_required
@limiter.limit(LINK_LIMIT, methods=["POST"])
def my_link():
    """保守を任せる販売店様の登録: gateway + 販売店ID + 電話番号 → 次に進む → confirmation
    → 登録する. The final POST carries the same fields and link_dealer checks them again."""
    gateways = services.owner_gateways(current_user)
    form = DealerLinkForm()
    form.gateway.choices = [("", _("選択してください"))] + [
        (g.gateway_id, f"{g.gateway_id}（{g.site_name}）" if g.site_name else g.gateway_id)
        for g in gateways]
    wanted = form.gateway.data if request.method == "POST" else request.args.get("gateway")
    if wanted and services.owned_gateway(current_user, wanted) is None:
        abort(404)
    if request.method == "GET" and (wanted or len(gateways) == 1):
        form.gateway.data = wanted or gateways[0].gateway_id
    problem = None
    if request.method == "POST" and "back" not in request.form and form.validate_on_submit():
        gateway = services.owned_gateway(current_user, form.gateway.data)
        code, phone = form.dealer_code.data, form.phone.data
        if form.step.data == "confirm":
            result = services.link_dealer(current_user, gateway, code, phone)
            if result is services.LinkResult.LINKED:
                dealer = services.find_dealer(code, phone)
                session[_DONE_KEY] = {"action": "link", "gateway_id": gateway.gateway_id,
                                      "dealer_code": dealer.dealer_code,
                                      "company": services.dealer_company(dealer).name}
                return redirect(url_for("dealers.my_link_done"), code=303)
        else:
            result, dealer = services.preview_link(current_user, gateway, code, phone)
            if result is services.LinkResult.LINKED:
                return render_template("dealers/link_confirm.html", form=form,
                                       gateway=gateway, dealer=dealer,
                                       company=services.dealer_company(dealer))
        if result is services.LinkResult.NOT_FOUND:
            abort(404)
        problem = _problem_message(result)
    form.step.data = "entry"
    status = 422 if problem or (request.method == "POST" and form.errors) else 200
    return render_template("dealers/link.html", form=form, problem=problem,
                           has_gateways=bool(gateways)), status


@bp.get("/my/link/done")
@login_required
def my_link_done():
    """登録完了: the dealer has been told by mail."""
    done = session.get(_DONE_KEY)
    if not done or done.get("action") != "link":
        return redirect(url_for("dealers.my_dealers"))
    return render_template("dealers/link_done.html", done=done)


@bp.get("/my/unlink")
@login_required
def my_unlink_search():
    """保守を任せている販売店様を解除するゲートウェイの検索 (ID or site name)."""
    search = GatewaySearchForm(request.args)
    gateways = services.owner_gateways(current_user, _search_query(search))
    template = ("dealers/_owner_gateway_list.html" if partial_wanted()
                else "dealers/unlink_search.html")
    return render_template(template, search=search, gateways=gateways)


@bp.get("/my/unlink/<gateway_id>")
@login_required
def my_unlink_pick(gateway_id: str):
    """Pick the dealer whose maintenance of this gateway ends."""
    gateway = services.owned_gateway(current_user, gateway_id) or abort(404)
    return render_template("dealers/unlink_pick.html", gateway=gateway,
                           dealers=services.linked_dealers(gateway))


@bp.route("/my/unlink/<gateway_id>/<dealer_code>", methods=["GET", "POST"])
@login_required
def my_unlink_confirm(gateway_id: str, dealer_code: str):
    """保守を任せている販売店様の解除確認 → 解除 (the dealer is told by mail)."""
    gateway = services.owned_gateway(current_user, gateway_id) or abort(404)
    linked = services.linked_dealer(gateway, dealer_code) or abort(404)
    form = UnlinkForm()
    if form.validate_on_submit():
        if not services.unlink_dealer(current_user, gateway, linked.dealer):
            abort(404)
        session[_DONE_KEY] = {"action": "unlink", "gateway_id": gateway_id,
                              "dealer_code": dealer_code, "company": linked.company.name}
        return redirect(url_for("dealers.my_unlink_done"), code=303)
    return render_template("dealers/unlink_confirm.html", form=form, gateway=gateway,
                           linked=linked), 422 if form.errors else 200


@bp.get("/my/unlink/done")
@login_required
def my_unlink_done():
    """解除完了."""
    done = session.get(_DONE_KEY)
    if not done or done.get("action") != "unlink":
        return redirect(url_for("dealers.my_dealers"))
    return render_template("dealers/unlink_done.html", done=done)


# -- becoming a dealer ---------------------------------------------------------------------
@bp.route("/register", methods=["GET", "POST"])
@login_required
def register():
    """販売店登録 for a company administrator: the phone number owners will give and the
    maintenance contacts; afterwards the page shows the 販売店ID to hand out."""
    if not current_user.is_commercial or current_user.company is None:
        abort(404)
    dealer = services.dealer_for_account(current_user)
    if not current_user.is_company_admin:
        return render_template("dealers/register_refused.html", dealer=dealer), 403
    form = DealerRegistrationForm(data=None if request.method == "POST" or dealer is None else {
        "phone": dealer.phone,
        **{f"contact_{n}": c.email for n, c in enumerate(dealer.contacts[:3], start=1)},
    })
    if form.validate_on_submit():
        try:
            services.become_dealer(current_user.company, form.phone.data, form.contacts)
        except services.InvalidDealerPhone:
            form.phone.errors.append(_("電話番号は市外局番から数字で入力してください（例: 090-1234-5678）"))
        else:
            flash(_("販売店情報を保存しました") if dealer else _("販売店として登録しました"),
                  "success")
            return redirect(url_for("dealers.register"), code=303)
    status = 422 if request.method == "POST" and form.errors else 200
    return render_template("dealers/register.html", form=form, dealer=dealer), status


# -- dealer console ----------------------------------------------------------------------
def _dealer_or_refuse():
    """The viewer's dealer; without one, a page on how to become a dealer (403)."""
    dealer = services.dealer_for_account(current_user)
    if dealer is None:
        abort(_not_a_dealer())
    return dealer


def _not_a_dealer():
    return make_response(render_template("dealers/not_dealer.html"), 403)


@bp.get("/")
@login_required
@read_only
def console():
    """The dealer console: gateways entrusted to the viewer's company, those in alert
    first, each with its operating status; with search."""
    dealer = _dealer_or_refuse()
    search = ConsoleSearchForm(request.args)
    query = _search_query(search)
    # `edge` and `from`: the page the visitor comes from by 次へ/前へ (keyset paging)
    page = services.dealer_gateways(dealer, query, _page_number(), CONSOLE_PER_PAGE,
                                    request.args.get("edge"), _page_number("from"))
    template = "dealers/_console_list.html" if partial_wanted() else "dealers/console.html"
    return render_template(template, search=search, query=query, page=page, dealer=dealer,
                           company=services.dealer_company(dealer),
                           states=registry.gateway_states([item.gateway for item in page.items]))


@bp.get("/gateways/<gateway_id>")
@login_required
@read_only
def console_gateway(gateway_id: str):
    """One entrusted gateway: the owner's registration data, the gateway, its PCS units."""
    dealer = _dealer_or_refuse()
    linked = services.dealer_gateway(dealer, gateway_id) or abort(404)
    return render_template("dealers/console_gateway.html", linked=linked,
                           gateway=linked.gateway, owner=linked.owner,
                           state=registry.gateway_states([linked.gateway]).get(linked.gateway.id),
                           sections=registry.dealer_sections_for(dealer, linked.gateway))
