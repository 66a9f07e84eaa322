"""Home launcher, health check, postal-code lookup, language switch and dev mailbox."""
from __future__ import annotations

import re

from flask import abort, current_app, redirect, render_template, request, session
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import text
from werkzeug.datastructures import MultiDict

from blueprints.core import bp, registry, services
from blueprints.core.caching import app_cache
from blueprints.core.templating import current_language
from blueprints.core.redirects import safe_next
from blueprints.core.transactions import read_only
from forms.account import ConfirmForm
from forms.fields import AddressForm
from models import db

PREFIX_PATTERN = re.compile(r"^[a-z_]{0,30}-?$")


@bp.get("/")
@read_only
def index():
    """Home: the launcher of the services this account may use."""
    if not current_user.is_authenticated:
        return render_template("core/welcome.html")
    return render_template("core/launcher.html", tiles=_launcher_tiles())


def _launcher_tiles() -> Markup:
    """The tiles of the services this account may use, drawn once per process for what
    they show (which tiles, the language, the script root of their URLs) and kept
    (blueprints/core/caching.py): every account with the same services sees the same
    tiles, and drawing them (each title and description translated) was a third of
    the page."""
    entries = services.launcher_entries(current_user)
    key = (request.script_root, current_language(),
           tuple(entry.endpoint for entry in entries))
    cache = app_cache("core.launcher_tiles", LAUNCHER_TILES_KEPT)
    tiles = cache.get(key)
    if tiles is None:
        tiles = cache.put(key, Markup(render_template("core/_launcher_tiles.html",
                                                      entries=entries)))
    return tiles


# One entry per set of services and language: a few dozen at most.
LAUNCHER_TILES_KEPT = 64


@bp.get("/healthz")
def healthz():
    """200 when the database answers, 503 otherwise."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:
        db.session.rollback()
        return {"status": "unavailable"}, 503
    return {"status": "ok"}


@bp.get("/postal-code")
def postal_lookup():
    """HTMX partial: 都道府県 / 市区町村 / 町名 of an address block from its postal code.
    Answers 204 (nothing to swap) until seven digits have been typed."""
    prefix = request.args.get("prefix", "")
    if not PREFIX_PATTERN.match(prefix):
        abort(400)
    form = AddressForm(formdata=MultiDict(request.args), prefix=prefix)
    code = form.postal_code.data or ""
    if len(code) != 7 or not code.isdigit():
        return "", 204
    found = form.fill_from_postal_code()
    return render_template("macros/_address_auto.html", address=form,
                           lookup_message=None if found else form.postal_code.errors[0])


@bp.post("/language")
def set_language():
    """Switch the interface language (ja / en); saved on the account when signed in."""
    form = ConfirmForm()
    language = request.form.get("language")
    if not form.validate_on_submit() or language not in current_app.config["LANGUAGES"]:
        abort(400)
    services.set_language(current_user, language)
    session["lang"] = language
    return redirect(safe_next(request.form.get("next")), code=303)


@bp.get("/dev/mail")
def dev_mailbox():
    """Development only: every mail the app has written, newest first, with its links."""
    if not current_app.config.get("DEV_MAILBOX"):
        abort(404)
    return render_template("core/dev_mailbox.html", mails=services.dev_mails())


@bp.get("/dev/mail/<int:mail_id>")
def dev_mail(mail_id: int):
    if not current_app.config.get("DEV_MAILBOX"):
        abort(404)
    mail = services.dev_mail(mail_id)
    if mail is None:
        abort(404)
    return render_template("core/dev_mail.html", mail=mail, links=services.links_in(mail))


@bp.get("/terms")
def terms():
    """利用規約."""
    return render_template("core/terms.html")


@bp.get("/privacy")
def privacy():
    """プライバシーポリシー."""
    return render_template("core/privacy.html")


@bp.before_app_request
def _refuse_while_acting():
    """Someone acting for the owner (a registry.acting_check says so) cannot open what the
    services marked with registry.refuse_while_acting: 403 with a page saying why."""
    if registry.refused_while_acting(request.endpoint):
        return render_template("errors/error.html", status=403,
                               title=_("代理ログイン中はこの操作はできません"),
                               message=_("この操作はお客様ご本人がログインして行ってください。")), 403
    return None
