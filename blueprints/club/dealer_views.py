"""Dealer sign-up (mail-first), the dealer console's sign-in page and the dealer info
page. Views parse input, call one service of dealer_services.py, render.

The sign-up: 送信する → (mail) → the link → the wizard 販売店情報 → 確認 → 登録する → 完了.
The opened link's id (never its token) stays in the session; every page of the wizard
checks it again, so an expired or spent link stops the wizard at once. After 登録する the
new dealer is sent to sign in rather than signed in: sign-in stays one path (its rate
limits, its session row, its audit), and the replay of a double-submitted last step
(which the wizard answers with the first result) never opens a session."""
from __future__ import annotations

from functools import wraps

from flask import (abort, flash, g, make_response, redirect, render_template, request,
                   session, url_for)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from app import htmx, limiter
from blueprints.account.services import hash_password
from blueprints.club import bp
from blueprints.club import dealer_services as services
from blueprints.core.links import LinkState
from blueprints.core.pages import partial_wanted
from blueprints.core.security import configured_limit
from blueprints.core.wizard import Step, Wizard
from forms.account import EmailOnlyForm, LoginForm
from forms.club import (DealerInfoEditForm, dealer_signup_confirm_form_for,
                        dealer_signup_info_form_for)

MAIL_LIMIT = configured_limit("MAIL_SENDING_LIMIT")
LINK_KEY = "club:dealer_signup_link"
DONE_KEY = "club:dealer_signup_done"


# -- the console's sign-in page (003-01, 003-25) ----------------------------------------
@bp.get("/dealer/login")
def dealer_login():
    """「販売店・業者様向け 管理画面」: the ID's own sign-in form (it posts to
    account.login, with its rate limits) with the dealer heading, landing on the console."""
    console = url_for("dealers.console")
    if current_user.is_authenticated:
        return redirect(console)
    return render_template("club/dealer_login.html", form=LoginForm(),
                           action=url_for("account.login", next=console))


# -- 1. メールアドレス → 送信する ---------------------------------------------------------------
@bp.route("/dealer/signup", methods=["GET", "POST"])
@limiter.limit(MAIL_LIMIT, methods=["POST"])
def dealer_signup():
    """新規会員登録: the address → 「仮登録メールを送信しました」, the same for every address."""
    form = EmailOnlyForm()
    if form.validate_on_submit():
        services.request_dealer_signup(form.email.data)
        template = ("club/_dealer_signup_sent.html" if partial_wanted()
                    else "club/dealer_signup_sent.html")
        return render_template(template, email=form.email.data)
    template = ("club/_dealer_signup_form.html" if partial_wanted()
                else "club/dealer_signup.html")
    status = 422 if request.method == "POST" else 200
    return render_template(template, form=form), status


def _link_problem(state: LinkState, email: str | None = None):
    """An expired, spent or altered link: say which, and offer to ask again."""
    form = EmailOnlyForm(formdata=None, data={"email": email or ""})
    status = 410 if state in (LinkState.EXPIRED, LinkState.SPENT) else 404
    return render_template("club/dealer_link_problem.html", state=state.value,
                           form=form), status


@bp.get("/dealer/signup/link/<token>")
def dealer_signup_link(token: str):
    """The link of the 仮登録 mail: remember it in this browser and open 販売店情報."""
    checked = services.check_signup_link(token)
    if not checked.ok:
        return _link_problem(checked.state, checked.link.email if checked.link else None)
    if session.get(LINK_KEY) != checked.link.id:
        session.pop(f"wizard:{dealer_signup_wizard.name}", None)  # another link's draft
        session[LINK_KEY] = checked.link.id
    session.pop(DONE_KEY, None)
    return redirect(dealer_signup_wizard.url("info"))


# -- 2. the wizard: 販売店情報 → 確認する → 登録する ----------------------------------------------
def _with_opened_link(view):
    """Every page of the wizard needs the link this browser opened, still valid; only
    the repeated last step of a finished sign-up (a double click) passes without it, to
    land where the first one did."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        checked = services.opened_signup_link(session.get(LINK_KEY))
        if checked.ok:
            g.dealer_signup_link = checked.link
            return view(*args, **kwargs)
        if request.method == "POST":
            draft = dealer_signup_wizard.load_draft(create=False, keep_finished=True)
            if draft is not None and draft.finished:
                return view(*args, **kwargs)
        if htmx:  # htmx swaps no 4xx: the whole page shows the problem instead
            return "", 200, {"HX-Redirect": request.path}
        return _link_problem(checked.state, checked.link.email if checked.link else None)
    return wrapped


def _info_form(_values):
    return dealer_signup_info_form_for(g.dealer_signup_link.email)


def _finish(forms, secrets) -> str:
    """登録する: the ID, its company and the dealer in the wizard's one transaction."""
    result = services.register_dealer(g.dealer_signup_link, forms["info"].data,
                                      secrets["password"],  # a hash, never the password
                                      newsletter=bool(forms["confirm"].newsletter.data))
    session[DONE_KEY] = {"outcome": result.outcome.value, "dealer_code": result.dealer_code}
    return url_for("club.dealer_signup_done")


dealer_signup_wizard = Wizard(
    "club_dealer_signup",
    steps=[
        Step("info", _l("販売店情報"), _info_form, "club/_dealer_signup_info.html",
             secrets={"password": hash_password}, dropped=("password_confirm",)),
        Step("confirm", _l("入力内容の確認"), dealer_signup_confirm_form_for,
             "club/_dealer_signup_confirm.html"),
    ],
    finish=_finish,
    title=_l("販売店・業者様の新規会員登録"),
    submit_label=_l("確認する"),
    final_label=_l("登録する"),
)
dealer_signup_wizard.register(bp, "/dealer/signup/form", "dealer_signup_form", decorators=[
    _with_opened_link,
    limiter.limit(MAIL_LIMIT, methods=["POST"], exempt_when=dealer_signup_wizard.not_final_step),
])


@bp.get("/dealer/signup/done")
def dealer_signup_done():
    """登録完了 (or why nothing was created): the way to sign in."""
    done = session.get(DONE_KEY)
    if not isinstance(done, dict):
        return redirect(url_for("club.dealer_signup"))
    return render_template("club/dealer_signup_done.html", outcome=done.get("outcome"),
                           dealer_code=done.get("dealer_code"))


# -- the dealer info page (003-26) ---------------------------------------------------------
def _info_or_refuse() -> services.DealerInfo:
    """The viewer's dealer info; without a dealer, the console's page on becoming one."""
    info = services.dealer_info(current_user)
    if info is None:
        abort(make_response(render_template("dealers/not_dealer.html"), 403))
    return info


@bp.get("/dealer/info")
@login_required
def dealer_info():
    """販売店情報: 販売店ID, the company, the person, the address, phone and e-mail."""
    info = _info_or_refuse()
    return render_template("club/dealer_info.html", info=info,
                           info_values=services.info_form_data(info))


@bp.route("/dealer/info/edit", methods=["GET", "POST"])
@login_required
def dealer_info_edit():
    """登録情報を変更する (the company administrator): form → 確認する → 変更する."""
    info = _info_or_refuse()
    if not current_user.is_company_admin:
        return render_template("club/dealer_info_refused.html"), 403
    form = DealerInfoEditForm(data=None if request.method == "POST"
                              else services.info_form_data(info))
    if request.method == "POST" and form.run_sub_action():
        return render_template("club/dealer_info_edit.html", form=form, info=info)
    if request.method == "POST" and "back" not in request.form and form.validate_on_submit():
        if form.step.data == "confirm":
            services.update_dealer_info(current_user, form.data)
            flash(_("販売店情報を変更しました"), "success")
            return redirect(url_for("club.dealer_info"), code=303)
        form.step.data = "confirm"
        return render_template("club/dealer_info_confirm.html", form=form, info=info)
    form.step.data = "entry"
    status = 422 if request.method == "POST" and form.errors else 200
    return render_template("club/dealer_info_edit.html", form=form, info=info), status
