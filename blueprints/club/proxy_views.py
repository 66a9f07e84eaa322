"""Views and request hooks of the proxy login (rules in proxy.py).

The browser of a proxy session carries a marker in its signed Flask session:
{"id": proxy id, "back": the dealer's own sign-in key, "cn": the owner's お客様番号}.
Only requests with that marker do any extra work (`_state`): the session is checked once
per request; when it may not go on, the request is not served, and the browser goes back
to the dealer's own session (or is signed out when that is gone too) with a message.
The same check answers core's `acting_check`, the banner and the audit of changes."""
from __future__ import annotations

from flask import (abort, flash, g, redirect, render_template, request, session,
                   url_for)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user

from app import htmx
from blueprints.club import bp, proxy
from blueprints.club.proxy import EndReason
from blueprints.core import registry
from forms.account import ConfirmForm
from forms.club import ProxyStartForm
from models import JST

PROXY_MARKER = "club_proxy"
CHANGING_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# Requests that end the proxy session themselves (audited as its end, not as a change).
NOT_A_CHANGE = {"club.proxy_return", "account.logout"}

END_MESSAGES = {
    EndReason.RETURNED: _l("代理ログインを終了し、販売店の画面に戻りました"),
    EndReason.EXPIRED: _l("代理ログインの時間が終了しました"),
    EndReason.WITHDRAWN: _l("お客様が代理ログインの許可を取り消したため、代理ログインを終了しました"),
    EndReason.OWNER_ENDED: _l("お客様が代理ログインを終了しました"),
}
DEFAULT_END_MESSAGE = _l("代理ログインを終了しました")


# -- the check, once per request -------------------------------------------------------
def _state() -> proxy.ProxyCheck | None:
    """None for an ordinary request (no marker: nothing is queried); otherwise what
    `proxy.check_proxy` found, kept for the rest of the request."""
    if "club_proxy_state" not in g:
        marker = session.get(PROXY_MARKER)
        if not isinstance(marker, dict) or request.endpoint == "static":
            g.club_proxy_state = None
        else:
            g.club_proxy_state = proxy.check_proxy(marker.get("id"), session.get("_user_id"))
    return g.club_proxy_state


def acting() -> bool:
    """registry.acting_check: this request runs in a live proxy session."""
    state = _state()
    return state is not None and state.proxy is not None


def banner() -> registry.Panel | None:
    """registry.page_banner: 「…様として操作中 (HH:MM まで)」 with the return button."""
    state = _state()
    if state is None or state.proxy is None:
        return None
    return registry.Panel("club/_proxy_banner.html", {"proxy": state.proxy})


def _owner_landing() -> str:
    """Where a proxy login lands: the owner's マイページ (003-29)."""
    return url_for("club.mypage")


def _dealer_landing(customer_number: str | None) -> str:
    """Back from a proxy login: the dealer's page of that owner (or the console)."""
    if customer_number:
        return url_for("club.dealer_user", customer_number=customer_number)
    return url_for("dealers.console")


def _go(target: str):
    """A redirect; for htmx the whole page goes there (a proxy page must not be swapped
    into a part of the dealer's, nor the other way round)."""
    if htmx:
        return "", 200, {"HX-Redirect": target}
    return redirect(target, code=303)


def _leave(reason: EndReason):
    """Leave the proxy session in this browser: back to the dealer's own session when it
    is still valid, signed out otherwise."""
    marker = session.pop(PROXY_MARKER, None) or {}
    g.pop("_login_user", None)
    g.club_proxy_state = None
    dealer = proxy.dealer_account(marker.get("back"))
    message = END_MESSAGES.get(reason, DEFAULT_END_MESSAGE)
    if dealer is None:
        session.clear()
        logout_user()
        flash(_("代理ログインを終了しました。販売店のアカウントで、もう一度ログインしてください"),
              "info")
        return _go(url_for("account.login"))
    login_user(dealer)
    session["lang"] = dealer.language
    flash(str(message), "success" if reason is EndReason.RETURNED else "info")
    return _go(_dealer_landing(marker.get("cn")))


@bp.before_app_request
def _proxy_guard():
    """A proxy session that may not go on (time over, permission withdrawn, dealer signed
    out …) serves no further request."""
    state = _state()
    if state is None or state.proxy is not None:
        return None
    return _leave(state.ended)


@bp.after_app_request
def _record_changes(response):
    """Every request of a proxy session that changed data (a successful POST, PUT, PATCH
    or DELETE) is audited with both people and listed in the owner's アクセス履歴."""
    state = g.get("club_proxy_state")
    if (state is not None and state.proxy is not None and request.method in CHANGING_METHODS
            and response.status_code < 400 and request.endpoint not in NOT_A_CHANGE):
        proxy.record_change(state.proxy.id, request.endpoint, request.path)
    return response


# -- the dealer's side ------------------------------------------------------------------
@bp.route("/dealer/users/<customer_number>/proxy", methods=["GET", "POST"])
@login_required
def proxy_start(customer_number: str):
    """代理ログイン: an employee of a dealer the owner approved gives a reason and enters
    the owner's pages as the owner. Anyone else: 404."""
    target = proxy.proxy_target(current_user, customer_number)
    if target is None:
        abort(404)
    owner, _dealer = target
    form = ProxyStartForm()
    if form.validate_on_submit():
        back = current_user.login_session_key
        started = proxy.start_proxy(current_user, customer_number, form.reason.data,
                                    request.user_agent.string)
        if started is None:
            abort(404)
        login_user(started.owner)
        session[PROXY_MARKER] = {"id": started.proxy.id, "back": back, "cn": customer_number}
        session["lang"] = started.owner.language
        return _go(_owner_landing())
    template = ("club/dealer/_proxy_form.html" if htmx and not htmx.history_restore_request
                else "club/dealer/proxy_start.html")
    return render_template(template, owner=owner, proxy_form=form), 422 if form.errors else 200


@bp.post("/proxy/return")
def proxy_return():
    """「販売店の画面に戻る」: end the proxy session, back to the dealer's own session."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    state = _state()
    if state is None or state.proxy is None:
        return _go(url_for("core.index"))
    proxy.end_proxy(state.proxy.id, EndReason.RETURNED)
    return _leave(EndReason.RETURNED)


# -- the owner's side -------------------------------------------------------------------
@bp.route("/proxy/<int:proxy_id>/end", methods=["GET", "POST"])
@login_required
def proxy_end(proxy_id: int):
    """「今すぐ終了」: the owner ends a running proxy session (after a confirmation)."""
    item = proxy.owner_proxy(current_user, proxy_id)
    if item is None:
        abort(404)
    form = ConfirmForm()
    if request.method == "POST" and form.validate_on_submit():
        proxy.end_by_owner(current_user, proxy_id)
        flash(_("代理ログインを終了しました"), "success")
        return redirect(url_for("account.access"), code=303)
    if not proxy.is_running(item):
        flash(_("この代理ログインはすでに終了しています"), "info")
        return redirect(url_for("account.access"), code=303)
    return render_template("club/proxy_end.html", item=item, form=form)


@bp.get("/mypage/access-history")
@login_required
def access_history():
    """アクセス履歴: every proxy session of the owner, newest first, with what it changed."""
    page = request.args.get("page", 1, type=int)
    rows, pages = proxy.access_history(current_user, page)
    page = min(max(page, 1), pages)
    return render_template("club/access_history.html", rows=rows, page=page, pages=pages,
                           end_reasons=END_REASON_LABELS, is_running=proxy.is_running)


END_REASON_LABELS = {
    EndReason.RETURNED.value: _l("販売店が終了"),
    EndReason.EXPIRED.value: _l("時間切れ"),
    EndReason.WITHDRAWN.value: _l("許可の取り消し"),
    EndReason.OWNER_ENDED.value: _l("お客様が終了"),
    EndReason.SIGNED_OUT.value: _l("ログアウト"),
    EndReason.DEALER_SESSION.value: _l("販売店のログイン終了"),
    EndReason.OWNER_SESSION.value: _l("お客様のログイン情報の変更"),
    EndReason.SUPERSEDED.value: _l("新しい代理ログインの開始"),
    EndReason.LEFT_COMPANY.value: _l("担当者の退職"),
}


def access_lines(account):
    """registry.access_lines: the proxy sessions of the last 90 days on the owner's
    access page; a running one offers 「今すぐ終了」."""
    lines = []
    for item in proxy.recent_proxies(account):
        running = proxy.is_running(item)
        if running:
            what = _("代理ログイン（実行中・%(until)s まで）。理由：%(reason)s",
                     until=item.expires_at.astimezone(JST).strftime("%H:%M"),
                     reason=item.reason)
        else:
            what = _("代理ログイン（終了）。理由：%(reason)s", reason=item.reason)
        lines.append(registry.AccessLine(
            who=_("%(dealer)s の %(name)s さん", dealer=item.dealer_name, name=item.actor_name),
            what=what, scope=_("お客様のすべてのページ"), since=item.started_at,
            manage_url=url_for("club.proxy_end", proxy_id=item.id) if running else None,
            manage_label=_("今すぐ終了"),
            detail_url=url_for("club.access_history"), detail_label=_("アクセス履歴を見る")))
    return lines
