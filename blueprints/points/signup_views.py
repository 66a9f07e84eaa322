"""The points sign-up and the member's お客様情報 page. Views parse input, call one
service of signup.py, render.

- `/points/signup`: signed in → the wizard STEP1-5 (`/points/signup/form/<step>`);
  not signed in → メールアドレス → 「会員登録用メール送信完了」, the same for every address.
- `/points/signup/<token>`: the mailed link; this browser keeps its id (never the token)
  and the mail-first wizard (`/points/signup/new/<step>`) checks it on every page.
- STEP6 is `/points/signup/done`.
- `/points/terms`, `/points/privacy`: the two documents. Opened from STEP2 (with the
  draft's reference) they are recorded in the draft: STEP2 accepts the agree box only
  once both were opened, with or without JavaScript (static/js/points.js only enables
  the box early)."""
from __future__ import annotations

from functools import wraps

from flask import (abort, flash, g, make_response, redirect, render_template, request,
                   session, url_for)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user
from flask_wtf.form import _Auto

from app import htmx, limiter
from blueprints.account.services import hash_password
from blueprints.core.attempts import Requester
from blueprints.core.links import LinkState
from blueprints.core.pages import partial_wanted
from blueprints.core.security import configured_limit
from blueprints.core.wizard import Step, Wizard
from blueprints.points import bp
from blueprints.points import signup as services
from forms.points_signup import (CustomerInfoForm, InfoEditForm, NewMemberInfoForm,
                                 ServiceForm, SignupEmailForm, confirm_form_for, consent_form,
                                 pair_form)

MAIL_LIMIT = configured_limit("MAIL_SENDING_LIMIT")
LINK_KEY = "points:signup_link"
DONE_KEY = "points:signup_done"


# -- /points/signup: the wizard, or the address --------------------------------------------
@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(MAIL_LIMIT, methods=["POST"])
def signup():
    """新規会員登録: signed in, STEP1 of the wizard; otherwise the address → 「会員登録用
    メール送信完了」, the same page for every address (the mail says the rest)."""
    if current_user.is_authenticated:
        return redirect(member_wizard.url(member_wizard.steps[0].name), code=303)
    form = SignupEmailForm()
    if form.validate_on_submit():
        services.request_signup(form.email.data)
        template = "points/_signup_sent.html" if partial_wanted() else "points/signup_sent.html"
        return render_template(template, email=form.email.data)
    template = "points/_signup_email.html" if partial_wanted() else "points/signup.html"
    status = 422 if request.method == "POST" else 200
    return render_template(template, form=form), status


def _link_problem(state: LinkState, email: str | None = None):
    """An expired, spent or altered link: say which, and ask again in one tap."""
    form = SignupEmailForm(formdata=None, data={"email": email or ""})
    status = 410 if state in (LinkState.EXPIRED, LinkState.SPENT) else 404
    return render_template("points/signup_link_problem.html", state=state.value,
                           form=form), status


@bp.get("/signup/<token>")
def signup_link(token: str):
    """The link of 【会員登録URLのお知らせ】: remember it in this browser, open STEP1."""
    if current_user.is_authenticated:  # signed in: the ID's own wizard
        return redirect(url_for("points.signup"))
    checked = services.check_signup_link(token)
    if not checked.ok:
        return _link_problem(checked.state, checked.link.email if checked.link else None)
    if session.get(LINK_KEY) != checked.link.id:
        session.pop(f"wizard:{new_member_wizard.name}", None)  # another link's draft
        session[LINK_KEY] = checked.link.id
    session.pop(DONE_KEY, None)
    return redirect(new_member_wizard.url(new_member_wizard.steps[0].name))


# -- who may use the wizards -----------------------------------------------------------------
def _refused(reason: services.Refusal):
    if reason is services.Refusal.MEMBER:
        return redirect(url_for("points.mypage"))
    return make_response(render_template("points/signup_refused.html", reason=reason.value),
                         403)


def _may_join(wizard_getter):
    """Signed in: an individual ID that never was a member. The repeated last step of a
    finished sign-up (a double click) passes, to land where the first one did."""
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            reason = services.refusal(current_user)
            if reason is None:
                return view(*args, **kwargs)
            if request.method == "POST":
                draft = wizard_getter().load_draft(create=False, keep_finished=True)
                if draft is not None and draft.finished:
                    return view(*args, **kwargs)
            if htmx:  # htmx swaps no 4xx: the whole page shows why
                return "", 200, {"HX-Redirect": url_for("points.signup")}
            return _refused(reason)
        return wrapped
    return decorator


def _with_opened_link(view):
    """Every page of the mail-first wizard needs the link this browser opened, still
    valid; only the repeated last step of a finished sign-up passes without it."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        if current_user.is_authenticated:
            # Signed in (on this device, or after finishing here): the ID's own wizard,
            # except for the repeated last step of this finished sign-up.
            draft = new_member_wizard.load_draft(create=False, keep_finished=True)
            if request.method == "POST" and draft is not None and draft.finished:
                g.points_signup_link = None
                return view(*args, **kwargs)
            if htmx:
                return "", 200, {"HX-Redirect": url_for("points.signup")}
            return redirect(url_for("points.signup"))
        checked = services.opened_signup_link(session.get(LINK_KEY))
        if checked.ok:
            g.points_signup_link = checked.link
            return view(*args, **kwargs)
        if request.method == "POST":
            draft = new_member_wizard.load_draft(create=False, keep_finished=True)
            if draft is not None and draft.finished:
                g.points_signup_link = None
                return view(*args, **kwargs)
        if htmx:
            return "", 200, {"HX-Redirect": request.path}
        return _link_problem(checked.state, checked.link.email if checked.link else None)
    return wrapped


# -- the steps ---------------------------------------------------------------------------------
def _requester() -> Requester:
    return Requester(request.remote_addr,
                     current_user.id if current_user.is_authenticated else None)


def _consent_form_of(wizard_getter):
    def build(_values):
        draft = wizard_getter().load_draft(create=False, keep_finished=True)
        g.points_doc_reference = services.document_reference(draft.row.id) if draft else ""
        g.points_docs_opened = sorted(services.opened_documents(draft))
        return consent_form(lambda: services.opened_documents(
            wizard_getter().load_draft(create=False, keep_finished=True)))
    return build


def _pair_check(account):
    """STEP3's check of the pair, counted per client and account. The last step's
    re-validation of every step does not count a guess again (nor commit, which would
    end the draft's lock early): `join` checks the pair itself, in its transaction."""
    def check(code: str, serial: str) -> str:
        if (request.view_args or {}).get("step") != "pair":
            return "ok"
        return services.check_pair(code, serial, _requester(), account)
    return check


def _member_pair_form(_values):
    return pair_form(_pair_check(current_user))


def _new_member_pair_form(_values):
    return pair_form(_pair_check(None))


class PrefilledInfoForm(CustomerInfoForm):
    """STEP4 of a signed-in person: shown first with the ID's data."""

    def __init__(self, formdata=_Auto, **kwargs):
        if formdata is None and "data" not in kwargs:
            kwargs["data"] = services.info_form_data(current_user)
        super().__init__(formdata=formdata, **kwargs)


def _finish_member(forms, _secrets) -> str:
    """登録する (signed in): the membership and the ID's お客様情報, one transaction."""
    result = services.join(current_user, None, forms["service"].service.data,
                           forms["info"].data, forms["pair"].data)
    session[DONE_KEY] = {"outcome": result.outcome.value,
                         "name": f"{result.account.family_name} {result.account.given_name}"}
    return url_for("points.signup_done")


def _finish_new_member(forms, secrets) -> str:
    """登録する (mail-first): the ID, its sign-in and the membership, one transaction."""
    result = services.join(None, g.points_signup_link, forms["service"].service.data,
                           forms["info"].data, forms["pair"].data,
                           password_hash=secrets["password"],  # a hash, never the password
                           user_agent=request.user_agent.string)
    done = {"outcome": result.outcome.value, "name": ""}
    if result.account is not None:
        login_user(result.account)
        session["lang"] = result.account.language
        done["name"] = f"{result.account.family_name} {result.account.given_name}"
    session[DONE_KEY] = done
    return url_for("points.signup_done")


def _steps(wizard_getter, pair, info_form, secrets=None, dropped=()) -> list[Step]:
    return [
        Step("service", _l("新規会員登録"), ServiceForm, "points/_signup_service.html"),
        Step("consent", _l("規約への同意"), _consent_form_of(wizard_getter),
             "points/_signup_consent.html"),
        Step("pair", _l("ゲートウェイ情報"), pair, "points/_signup_pair.html"),
        Step("info", _l("お客様情報"), info_form, "points/_signup_info.html",
             secrets=secrets or {}, dropped=dropped),
        Step("confirm", _l("登録内容の確認"), confirm_form_for(info_form),
             "points/_signup_confirm.html"),
    ]


member_wizard = Wizard(
    "points_signup",
    steps=_steps(lambda: member_wizard, _member_pair_form, PrefilledInfoForm),
    finish=_finish_member, page_template="points/signup_page.html",
    title=_l("ポイントサービス 新規会員登録"), submit_label=_l("次へ"), final_label=_l("登録する"))
member_wizard.register(bp, "/signup/form", "signup_form", decorators=[
    login_required, _may_join(lambda: member_wizard)])

new_member_wizard = Wizard(
    "points_signup_new",
    steps=_steps(lambda: new_member_wizard, _new_member_pair_form, NewMemberInfoForm,
                 secrets={"password": hash_password}, dropped=("password_confirm",)),
    finish=_finish_new_member, page_template="points/signup_page.html",
    title=_l("ポイントサービス 新規会員登録"), submit_label=_l("次へ"), final_label=_l("登録する"))
new_member_wizard.register(bp, "/signup/new", "signup_new", decorators=[
    _with_opened_link,
    limiter.limit(MAIL_LIMIT, methods=["POST"], exempt_when=new_member_wizard.not_final_step),
])


@bp.get("/signup/done")
def signup_done():
    """STEP6 「登録が完了しました」「氏名 様」 (or why nothing was created)."""
    done = session.get(DONE_KEY)
    if not isinstance(done, dict):
        return redirect(url_for("points.signup"))
    return render_template("points/signup_done.html", outcome=done.get("outcome"),
                           name=done.get("name"), mypage=url_for("points.mypage"))


# -- the two documents ---------------------------------------------------------------------------
def _document(document: str, template: str):
    reference = request.args.get("ref")
    if reference:
        for wizard in (member_wizard, new_member_wizard):
            draft = wizard.load_draft(create=False)
            if services.record_opened(draft, document, reference[:100]):
                break
    return render_template(template)


@bp.get("/terms")
def terms():
    """ポイントサービス利用規約."""
    return _document("terms", "points/terms.html")


@bp.get("/privacy")
def privacy():
    """ポイントサービスにおける個人情報の取扱について."""
    return _document("privacy", "points/terms_privacy.html")


# -- the member's お客様情報 -----------------------------------------------------------------------
def _member_or_signup():
    member = services.running_member(current_user)
    if member is None:
        abort(redirect(url_for("points.signup")))
    return member


@bp.get("/info")
@login_required
def info():
    """お客様情報: STEP4's data as registered, and the gateway of the membership."""
    member = _member_or_signup()
    form = InfoEditForm(formdata=None, data=services.info_form_data(current_user, member))
    return render_template("points/info.html", form=form, member=member,
                           membership=services.membership_of(member))


@bp.route("/info/edit", methods=["GET", "POST"])
@login_required
def info_edit():
    """お客様情報の変更: the STEP4 form → 確認 → 変更する (the ID and the install address)."""
    member = _member_or_signup()
    form = InfoEditForm(data=None if request.method == "POST"
                        else services.info_form_data(current_user, member))
    if request.method == "POST" and form.run_sub_action():
        return render_template("points/info_edit.html", form=form)
    if request.method == "POST" and "back" not in request.form and form.validate_on_submit():
        if form.step.data == "confirm":
            services.update_member_info(current_user, form.data)
            flash(_("お客様情報を変更しました"), "success")
            return redirect(url_for("points.info"), code=303)
        form.step.data = "confirm"
        return render_template("points/info_confirm.html", form=form)
    form.step.data = "entry"
    status = 422 if request.method == "POST" and form.errors else 200
    return render_template("points/info_edit.html", form=form), status
