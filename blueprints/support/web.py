"""What the support center's views share: accepting uploads and the forms' one-time keys.

- Every multipart POST to the `support` and `support_staff` blueprints may carry files up
  to SUPPORT_UPLOAD_MAX_BYTES (`install_upload_limit`, registered once by the package);
  every other request stays at the app's 2 MB.
- A form that creates something carries a hidden `request_key` (`new_form_key()`), read
  back with `posted_form_key()`: the same form submitted twice creates it once.
"""
from __future__ import annotations

import re
import secrets

from flask import current_app, request

KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,40}$")
# The blueprints whose multipart posts may carry files (the customer's and the staff's).
UPLOAD_BLUEPRINTS = ("support", "support_staff")


def accept_uploads() -> None:
    """Let this request's body be as large as one submission with its files
    (SUPPORT_UPLOAD_MAX_BYTES; every other request stays at the app's 2 MB). Call it
    before anything reads the form; above the limit Werkzeug answers 413."""
    request.max_content_length = current_app.config["SUPPORT_UPLOAD_MAX_BYTES"]


def accept_uploads_early() -> None:
    """`accept_uploads` for every multipart POST to the support center, before anything
    else reads the body: CSRFProtect's check (an app-level before_request) reads the
    form, and would otherwise parse it under the app's 2 MB and answer 413 to any
    attachment larger than that, before the view could raise the limit."""
    if (request.method == "POST" and request.blueprint in UPLOAD_BLUEPRINTS
            and request.mimetype == "multipart/form-data"):
        accept_uploads()


def install_upload_limit(state) -> None:
    """Register `accept_uploads_early` as the app's first before_request (ahead of
    CSRFProtect's); for `bp.record_once`."""
    state.app.before_request_funcs.setdefault(None, []).insert(0, accept_uploads_early)


def new_form_key() -> str:
    """A one-time key for a form that creates something (a case, a reply, a request):
    the same form submitted twice carries the same key and creates it once."""
    return secrets.token_urlsafe(18)


def posted_form_key(value: str | None) -> str | None:
    """The key the form came back with, when it looks like one of ours."""
    return value if value and KEY_PATTERN.match(value) else None
