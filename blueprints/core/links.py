"""Links sent by mail: random, stored hashed, single use, bound to purpose and address,
with an expiry per purpose, and built only from the configured public host."""
from __future__ import annotations

import enum
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, has_request_context, url_for
from sqlalchemy import func, select

from blueprints.core import audit
from mail import mailed_since
from models import db, utcnow
from models.account import Account
from models.link import MailLink


class LinkState(str, enum.Enum):
    VALID = "valid"
    EXPIRED = "expired"
    SPENT = "spent"
    INVALID = "invalid"


@dataclass(frozen=True)
class LinkCheck:
    state: LinkState
    link: MailLink | None = None

    @property
    def ok(self) -> bool:
        return self.state is LinkState.VALID


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def public_url(endpoint: str, **values) -> str:
    """An absolute URL on the configured public host (never the request's Host header).
    Works outside a request too (mail written by the CLI, e.g. the gateway watch)."""
    scheme = current_app.config["PREFERRED_URL_SCHEME"]
    if has_request_context():
        path = url_for(endpoint, _external=False, **values)
    else:
        adapter = current_app.url_map.bind(current_app.config["PUBLIC_HOST"], url_scheme=scheme)
        path = adapter.build(endpoint, values)
    return f"{scheme}://{current_app.config['PUBLIC_HOST']}{path}"


def issue_link(
    purpose: str,
    email: str,
    ttl: timedelta,
    account: Account | None = None,
    company_id: int | None = None,
    payload: dict | None = None,
    replace: bool = True,
) -> str:
    """Create a link row and return the raw token (only the mail ever sees it).

    Earlier unused links of the same purpose and address stop working, so that
    only the newest mail's link opens. `replace=False` keeps them: for links that live
    side by side for one address (e.g. one approval link per owner to the same dealer
    address); the caller then ends the one it replaces itself."""
    now = utcnow()
    if replace:
        for old in db.session.scalars(
            select(MailLink).where(
                MailLink.purpose == purpose,
                MailLink.email == email,
                MailLink.used_at.is_(None),
            )
        ):
            old.expires_at = min(old.expires_at, now)
    token = secrets.token_urlsafe(32)
    db.session.add(
        MailLink(
            token_hash=_hash(token),
            purpose=purpose,
            email=email,
            account_id=account.id if account else None,
            company_id=company_id,
            payload=payload or {},
            expires_at=now + ttl,
        )
    )
    return token


def check_link(purpose: str, token: str | None) -> LinkCheck:
    """Look a token up for `purpose`: valid, expired, spent, or invalid (unknown/altered)."""
    if not token or len(token) > 100 or not token.isascii():
        return LinkCheck(LinkState.INVALID)
    link = db.session.scalar(select(MailLink).where(MailLink.token_hash == _hash(token)))
    return _checked(purpose, link)


def check_link_id(purpose: str, link_id) -> LinkCheck:
    """`check_link` for a link whose token a request of this browser already opened: a
    multi-page flow keeps the link's id in the session (never the raw token) and checks
    it again on every page, so that an expiry or a use elsewhere takes effect at once."""
    if not isinstance(link_id, int) or isinstance(link_id, bool):
        return LinkCheck(LinkState.INVALID)
    return _checked(purpose, db.session.get(MailLink, link_id))


def _checked(purpose: str, link: MailLink | None) -> LinkCheck:
    if link is None or link.purpose != purpose:
        return LinkCheck(LinkState.INVALID)
    if link.used_at is not None:
        return LinkCheck(LinkState.SPENT, link)
    if link.expires_at <= utcnow():
        return LinkCheck(LinkState.EXPIRED, link)
    return LinkCheck(LinkState.VALID, link)


def spend_link(link: MailLink) -> bool:
    """Mark the link used. Returns False when another request spent it first."""
    result = db.session.execute(
        MailLink.__table__.update()
        .where(MailLink.id == link.id, MailLink.used_at.is_(None))
        .values(used_at=utcnow())
    )
    return result.rowcount == 1


def link_or_sign_in_mail(email: str, purpose: str, ttl: timedelta, existing_kind: str,
                         send_link: Callable[[str, str, datetime], None],
                         send_sign_in: Callable[[Account], None], audit_as: str) -> None:
    """The relay's decision for a mail-first flow (a page that asks only an address and
    says the same for every one): an address without an ID gets `send_link(email, token,
    expires_at)` with a fresh link of `purpose`; the owner of an ID gets `send_sign_in(account)`
    instead (sign in and go on from there), at most once per ACCOUNT_EXISTS_MAIL_INTERVAL,
    because anyone can type the address. Runs in the relay's transaction; audited as
    `<audit_as>_existing` / `<audit_as>_link_sent`."""
    account = db.session.scalar(select(Account).where(
        func.lower(Account.email) == email.lower())) if email else None
    if account is not None:
        since = utcnow() - current_app.config["ACCOUNT_EXISTS_MAIL_INTERVAL"]
        recent = mailed_since(existing_kind, account.email, since)
        if not recent:
            send_sign_in(account)
        audit.record(f"{audit_as}_existing", subject_id=account.id, mailed=not recent)
        return
    token = issue_link(purpose, email, ttl)
    send_link(email, token, utcnow() + ttl)
    audit.record(f"{audit_as}_link_sent")
