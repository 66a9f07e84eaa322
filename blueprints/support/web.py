"""What the support center's views share: accepting uploads and the forms' one-time keys.

    @bp.route(...)
    def new_case():
        web.accept_uploads()          # before the form is read: this request may be large
        key = web.form_key(form)      # the hidden `request_key` of the form, or a new one
"""
from __future__ import annotations

import re
import secrets

from flask import current_app, request

KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,40}$")


def accept_uploads() -> None:
    """Let this request's body be as large as one submission with its files
    (SUPPORT_UPLOAD_MAX_BYTES; every other request stays at the app's 2 MB). Call it
    before anything reads the form; above the limit Werkzeug answers 413."""
    request.max_content_length = current_app.config["SUPPORT_UPLOAD_MAX_BYTES"]


def new_form_key() -> str:
    """A one-time key for a form that creates something (a case, a reply, a request):
    the same form submitted twice carries the same key and creates it once."""
    return secrets.token_urlsafe(18)


def posted_form_key(value: str | None) -> str | None:
    """The key the form came back with, when it looks like one of ours."""
    return value if value and KEY_PATTERN.match(value) else None
