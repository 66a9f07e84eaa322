"""Where a `next` parameter may send the browser: a path of this site, never elsewhere.

`safe_next(raw)` is the one check every view uses before redirecting to a target that
came with the request (`?next=` after sign-in, the language switch's hidden field, the
page an htmx request was made from). It answers the target to redirect to, or `/`.

A target is refused when, as typed or once percent-decoded:
- it holds a control character or whitespace (browsers drop tab, CR and LF from URLs,
  so `/<TAB>/evil.example` becomes `//evil.example`; CR/LF in a header is a 500);
- it holds a backslash (browsers read `/\\evil.example` as `//evil.example`);
- it has a scheme or a host (`https://evil`, `https:evil`, `javascript:...`), or does
  not start with exactly one `/` (`//evil`, `///evil`, `evil`).
The decoded form is checked too (`/%2F%2Fevil`, `/%5Cevil`): no page of ours needs them.
Then it is normalised the way the response will write it (Werkzeug's `iri_to_uri` for the
Location header) and checked again, resolved against this site (`urljoin`): whatever the
browser makes of it must stay on the same host.
"""
from __future__ import annotations

import unicodedata
from urllib.parse import unquote, urljoin, urlsplit

from werkzeug.urls import iri_to_uri

DEFAULT_TARGET = "/"
MAX_TARGET_LENGTH = 2000
# Any host will do: only whether the target stays on it matters.
_PROBE_BASE = "https://enelink.invalid/here/"


def safe_next(raw: str | None) -> str:
    """The local path to redirect to for the untrusted target `raw`, or `/` when it
    could lead anywhere else (see the module docstring for what is refused)."""
    if not isinstance(raw, str) or not raw or len(raw) > MAX_TARGET_LENGTH:
        return DEFAULT_TARGET
    try:
        if not all(_acceptable(form) for form in _decoded_forms(raw)):
            return DEFAULT_TARGET
        location = iri_to_uri(raw)
        if not all(_acceptable(form) for form in _decoded_forms(location)):
            return DEFAULT_TARGET
    except ValueError:  # e.g. a percent-encoding that is not UTF-8 (`%FF`)
        return DEFAULT_TARGET
    probe = urlsplit(urljoin(_PROBE_BASE, location))
    base = urlsplit(_PROBE_BASE)
    if (probe.scheme, probe.netloc) != (base.scheme, base.netloc):
        return DEFAULT_TARGET
    return location


def _decoded_forms(raw: str) -> list[str]:
    """`raw`, then each percent-decoding of it until nothing changes (at most 3 rounds:
    `%252F` is `%2F` once and `/` twice)."""
    forms = [raw]
    for _ in range(3):
        decoded = unquote(forms[-1], errors="strict") if "%" in forms[-1] else forms[-1]
        if decoded == forms[-1]:
            break
        forms.append(decoded)
    return forms


def _acceptable(target: str) -> bool:
    if "\\" in target:
        return False
    if any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf") for ch in target):
        return False
    if not target.startswith("/") or target.startswith("//"):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc
