"""The support center's home (サポートセンター: 検索またはリクエスト, the tiles ケースサポート /
セルフヘルプ / 製品登録), the knowledge-base search and the article page. Views parse
input, call one function of kb.py, render.

HTMX: the search box swaps the search block (box and results) in place (`page_or_partial`,
422 with the message next to the box for a query that is too long); without JavaScript
the same URL answers the whole page."""
from __future__ import annotations

from flask import abort, current_app, render_template, request, url_for
from flask_login import current_user, login_required

from app import limiter
from blueprints.core.pages import page_or_partial
from blueprints.support import bp, kb, unlock
from forms.support_kb import KbSearchForm

# Where 製品登録 goes: the club's registered products when that service is installed,
# otherwise the gateways (a gateway is registered from its slip there).
PRODUCT_ENDPOINTS = ("club.mypage", "gateways.menu")


def product_registration_url() -> str:
    """The first of PRODUCT_ENDPOINTS this app serves."""
    for endpoint in PRODUCT_ENDPOINTS:
        if endpoint in current_app.view_functions:
            return url_for(endpoint)
    return url_for("core.index")


def _is_dealer() -> bool:
    """Whether セルフヘルプ offers the viewer the unlock codes (dealers' employees only)."""
    return unlock.dealer_of(current_user) is not None


def _search_limit() -> str:
    return current_app.config["SUPPORT_SEARCH_LIMIT"]


@bp.get("/")
@login_required
def home():
    """サポートセンター: the search box, the three tiles, the menu, the fallback link to a
    new case and the phone-support rule."""
    return render_template("support/home.html", form=KbSearchForm(formdata=None),
                           newest=kb.newest_articles(),
                           product_url=product_registration_url(), dealer=_is_dealer())


@bp.get("/search")
@login_required
@limiter.limit(_search_limit)
def search():
    """セルフヘルプ: published articles matching every term of `q`, best first; an empty
    `q` lists the newest. A query over 100 characters (or with control characters) is
    refused with 422, what was typed kept in the box."""
    form = KbSearchForm(request.args)
    if not form.validate():
        return page_or_partial("support/search.html", "support/_results.html", 422,
                               form=form, result=None, dealer=_is_dealer())
    result = kb.search(form.q.data)
    return page_or_partial("support/search.html", "support/_results.html", form=form,
                           result=result, dealer=_is_dealer())


@bp.get("/kb/<int:article_id>")
@login_required
def article(article_id: int):
    """One article: a published one for anyone signed in; staff also see unpublished ones
    (marked 非公開); for anyone else an unpublished article does not exist (404)."""
    page = kb.article_page(current_user, article_id) or abort(404)
    return render_template("support/article.html", page=page, article=page.article)
