"""How a view answers from one URL both a whole page and, for htmx, the partial it swaps
in (STYLE.md: for an `HX-Request` the partial, otherwise the whole page; `Vary:
HX-Request` so that no cache mixes them up), and how it moves on after a post.

    return page_or_partial("eco/apply.html", "eco/_apply.html", 422, form=form)
    return go_to("eco.applied", gateway_id=gateway.gateway_id)
"""
from __future__ import annotations

from flask import redirect, render_template, url_for

from app import htmx


def partial_wanted() -> bool:
    """An htmx request that swaps a part of the page (not a history restore, which
    wants the whole page)."""
    return bool(htmx) and not htmx.history_restore_request


def page_or_partial(template: str, partial: str, status: int = 200, **context):
    """The partial for htmx, otherwise the whole page; the same context for both."""
    body = render_template(partial if partial_wanted() else template, **context)
    return body, status, {"Vary": "HX-Request"}


def go_to(endpoint: str, **values):
    """Post/redirect/get; for htmx a full navigation to the same place (`HX-Redirect`)."""
    target = url_for(endpoint, **values)
    if htmx:
        return "", 200, {"HX-Redirect": target}
    return redirect(target, code=303)
