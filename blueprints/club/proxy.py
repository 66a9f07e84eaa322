"""Proxy login (代理ログイン): an employee of a dealer company the owner approved acts as
the owner for at most PROXY_SESSION_MINUTES, with a reason the owner is mailed.

How it holds together:

- `start_proxy` opens a second sign-in session (`LoginSession`) for the owner and records
  a `ProxySession` that names both sessions: the owner-side one (`login_session_id`, the
  browser now signs in with its key) and the dealer's own (`parent_session_id`, where the
  return button goes). One dealer browser has at most one running proxy session: a new
  start ends the one before it (the parent row is locked while this is decided).
- `check_proxy` is asked on every request of a browser that carries the proxy marker
  (only those: ordinary requests do no extra query). It answers the running session, or
  ends it and says why: the time is over, the owner withdrew the permission (or it is no
  longer approved), the owner or the dealer ended it, the owner-side or the dealer's own
  session is gone (signed out elsewhere, password changed), or the employee left the
  dealer company.
- `end_proxy` revokes the owner-side session and keeps the end and its reason. The
  account's sign-out ends a proxy session through `proxy_signed_out` (and signs the
  dealer out too: a proxy browser's sign-out is the dealer's).
- `record_change` keeps every request that changed data (audited with both people) for
  the owner's アクセス履歴.

Nothing here reads the request: the views hand over the keys, endpoint and path."""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, or_, select, update

from blueprints.club.permissions import approved_owner, approved_permission
from blueprints.core import audit
from blueprints.core.security import hash_key, load_account, open_login_session
from blueprints.dealers.services import dealer_for_account
from mail import messages
from models import db, utcnow
from models.account import Account, Company, LoginSession
from models.club import ProxySession
from models.gateway import Dealer

HISTORY_PAGE_SIZE = 20
ACCESS_PAGE_DAYS = 90


class EndReason(str, enum.Enum):
    """Why a proxy session ended (kept in `ProxySession.end_reason`)."""

    RETURNED = "returned"            # the dealer pressed 「販売店の画面に戻る」
    EXPIRED = "expired"              # PROXY_SESSION_MINUTES passed
    WITHDRAWN = "withdrawn"          # the owner's permission is no longer approved
    OWNER_ENDED = "owner_ended"      # the owner pressed 「今すぐ終了」
    SIGNED_OUT = "signed_out"        # sign-out in the proxy browser, or the dealer's own
    DEALER_SESSION = "dealer_gone"   # the dealer's own session ended elsewhere
    OWNER_SESSION = "owner_session"  # the owner-side session was revoked (password …)
    SUPERSEDED = "superseded"        # the same dealer browser started another one
    LEFT_COMPANY = "left_company"    # the employee is no longer of the dealer company


@dataclass(frozen=True)
class ProxyCheck:
    """What `check_proxy` found: the running session, or the reason it ended."""

    proxy: ProxySession | None
    ended: EndReason | None = None


def _dealer_name(dealer: Dealer) -> str:
    company = db.session.get(Company, dealer.company_id)
    return company.name if company is not None else ""


def proxy_target(employee: Account, customer_number: str) -> tuple[Account, Dealer] | None:
    """The owner behind a お客様番号 and the employee's dealer, when the owner approved
    that dealer; None otherwise (staff, owners, unapproved or other dealers, forged
    numbers: the caller answers 404 to all alike)."""
    dealer = dealer_for_account(employee)
    if dealer is None or employee.is_staff:
        return None
    found = approved_owner(dealer, customer_number)
    if found is None:
        return None
    owner = found[0]
    if owner.id == employee.id or not owner.is_active:
        return None
    return owner, dealer


@dataclass(frozen=True)
class ProxyStart:
    proxy: ProxySession
    owner: Account  # its `login_session_key` is the key the browser signs in with


def _session_row(key: str | None, for_update: bool = False) -> LoginSession | None:
    if not key:
        return None
    statement = select(LoginSession).where(LoginSession.key_hash == hash_key(key))
    if for_update:
        statement = statement.with_for_update()
    return db.session.scalar(statement)


def _session_live(row: LoginSession | None, account_id: int | None) -> bool:
    return (row is not None and row.revoked_at is None and row.expires_at > utcnow()
            and row.account_id == account_id)


def start_proxy(employee: Account, customer_number: str, reason: str,
                user_agent: str | None) -> ProxyStart | None:
    """Open a proxy session of `employee` for the owner of `customer_number` (None when
    not allowed). Audited (actor: the employee, subject: the owner) and mailed to the
    owner in the same transaction."""
    target = proxy_target(employee, customer_number)
    if target is None:
        return None
    owner, dealer = target
    parent = _session_row(employee.login_session_key, for_update=True)
    if not _session_live(parent, employee.id):
        return None
    now = utcnow()
    for running in db.session.scalars(select(ProxySession).where(
            ProxySession.parent_session_id == parent.id, ProxySession.ended_at.is_(None))):
        _end(running, EndReason.SUPERSEDED, now)
    minutes = current_app.config["PROXY_SESSION_MINUTES"]
    key = open_login_session(owner, remember=False, lifetime=timedelta(minutes=minutes),
                             user_agent=user_agent)
    db.session.flush()
    owner_side = _session_row(key)
    owner_side.expires_at = now + timedelta(minutes=minutes)  # exactly the proxy's end
    proxy = ProxySession(
        owner_id=owner.id, permission_id=approved_permission(owner.id, dealer.id).id,
        dealer_id=dealer.id, dealer_name=_dealer_name(dealer)[:100], actor_id=employee.id,
        actor_name=employee.full_name[:60], reason=reason, login_session_id=owner_side.id,
        parent_session_id=parent.id, started_at=now, expires_at=owner_side.expires_at,
        changes=[])
    db.session.add(proxy)
    db.session.flush()
    audit.record("club.proxy_start", actor_id=employee.id, subject_id=owner.id,
                 proxy_id=proxy.id, dealer_id=dealer.id, reason=reason)
    messages.send_proxy_started_mail(owner, proxy)
    db.session.commit()
    owner.login_session_key = key
    return ProxyStart(proxy, owner)


def _end(proxy: ProxySession, reason: EndReason, now=None) -> None:
    now = now or utcnow()
    proxy.ended_at = now
    proxy.end_reason = reason.value
    if proxy.login_session_id is not None:
        db.session.execute(update(LoginSession)
                           .where(LoginSession.id == proxy.login_session_id,
                                  LoginSession.revoked_at.is_(None))
                           .values(revoked_at=now))
    audit.record("club.proxy_end", actor_id=proxy.actor_id, subject_id=proxy.owner_id,
                 proxy_id=proxy.id, reason=reason.value)


def end_for_revoked_sessions(session_ids: list[int], now) -> None:
    """Sign-in sessions were revoked (a password change, 「すべての端末からログアウト」, one
    browser signed out …): the proxy logins riding on them end now, in that transaction,
    not on the proxy browser's next request (the owner's access page then no longer shows
    them running)."""
    running = db.session.scalars(
        select(ProxySession).where(ProxySession.ended_at.is_(None),
                                   or_(ProxySession.login_session_id.in_(session_ids),
                                       ProxySession.parent_session_id.in_(session_ids)))
        .with_for_update())
    for proxy in running:
        reason = (EndReason.OWNER_SESSION if proxy.login_session_id in session_ids
                  else EndReason.DEALER_SESSION)
        _end(proxy, reason, now)


def end_proxy(proxy_id: int, reason: EndReason) -> None:
    """End a proxy session (nothing happens when it already ended) and commit."""
    proxy = db.session.scalar(select(ProxySession).where(ProxySession.id == proxy_id)
                              .with_for_update())
    if proxy is not None and proxy.ended_at is None:
        _end(proxy, reason)
    db.session.commit()


def check_proxy(proxy_id, owner_key: str | None) -> ProxyCheck:
    """The running proxy session `proxy_id` of the browser signed in with `owner_key`, or
    why it may not go on; a session found over is ended (and committed) here."""
    proxy = db.session.get(ProxySession, proxy_id) if isinstance(proxy_id, int) else None
    if proxy is None:
        return ProxyCheck(None, EndReason.OWNER_SESSION)
    if proxy.ended_at is not None:
        return ProxyCheck(None, EndReason(proxy.end_reason or EndReason.OWNER_SESSION.value))
    reason = None
    owner_side = db.session.get(LoginSession, proxy.login_session_id) \
        if proxy.login_session_id is not None else None
    parent = db.session.get(LoginSession, proxy.parent_session_id) \
        if proxy.parent_session_id is not None else None
    actor = db.session.get(Account, proxy.actor_id) if proxy.actor_id is not None else None
    dealer = db.session.get(Dealer, proxy.dealer_id) if proxy.dealer_id is not None else None
    if proxy.expires_at <= utcnow():
        reason = EndReason.EXPIRED
    elif (not _session_live(owner_side, proxy.owner_id)
          or owner_side.key_hash != hash_key(owner_key or "")):
        reason = EndReason.OWNER_SESSION
    elif dealer is None or approved_permission(proxy.owner_id, dealer.id) is None:
        reason = EndReason.WITHDRAWN
    elif not _session_live(parent, proxy.actor_id) or actor is None or not actor.is_active:
        reason = EndReason.DEALER_SESSION
    elif actor.company_id != dealer.company_id:
        reason = EndReason.LEFT_COMPANY
    if reason is None:
        return ProxyCheck(proxy)
    end_proxy(proxy.id, reason)
    return ProxyCheck(None, reason)


def dealer_account(return_key: str | None) -> Account | None:
    """The dealer's own signed-in account behind the kept key, when still valid."""
    return load_account(return_key) if return_key else None


def proxy_signed_out(account: Account) -> None:
    """Sign-out hook: a sign-out in a proxy browser ends the proxy session and the
    dealer's own session; a dealer's sign-out ends the proxy sessions opened from it."""
    row = _session_row(account.login_session_key)
    if row is None:
        return
    now = utcnow()
    for proxy in db.session.scalars(select(ProxySession).where(
            ProxySession.ended_at.is_(None),
            or_(ProxySession.login_session_id == row.id,
                ProxySession.parent_session_id == row.id))):
        _end(proxy, EndReason.SIGNED_OUT, now)
        if proxy.parent_session_id is not None:
            db.session.execute(update(LoginSession)
                               .where(LoginSession.id == proxy.parent_session_id,
                                      LoginSession.revoked_at.is_(None))
                               .values(revoked_at=now))


def record_change(proxy_id: int, endpoint: str | None, path: str) -> None:
    """A request of the proxy session changed data: audit it with both people and keep
    it for the owner's アクセス履歴. Commits."""
    proxy = db.session.scalar(select(ProxySession).where(ProxySession.id == proxy_id)
                              .with_for_update())
    if proxy is None:
        return
    now = utcnow()
    proxy.changes = [*(proxy.changes or []),
                     {"at": now.isoformat(), "endpoint": endpoint or "", "path": path[:300]}]
    audit.record("club.proxy_change", actor_id=proxy.actor_id, subject_id=proxy.owner_id,
                 proxy_id=proxy.id, endpoint=endpoint or "", path=path[:300])
    db.session.commit()


# -- the owner's side ---------------------------------------------------------------------
def owner_proxy(owner: Account, proxy_id: int) -> ProxySession | None:
    """One of the owner's proxy sessions (None for another owner's: 404)."""
    proxy = db.session.get(ProxySession, proxy_id)
    return proxy if proxy is not None and proxy.owner_id == owner.id else None


def end_by_owner(owner: Account, proxy_id: int) -> bool:
    """「今すぐ終了」: the owner ends a running proxy session; the dealer's next request
    is refused. False when it is not the owner's (already ended is fine: idempotent)."""
    proxy = owner_proxy(owner, proxy_id)
    if proxy is None:
        return False
    if proxy.ended_at is None:
        _end(proxy, EndReason.OWNER_ENDED)
        audit.record("club.proxy_end_by_owner", actor_id=owner.id, subject_id=owner.id,
                     proxy_id=proxy.id)
    db.session.commit()
    return True


def is_running(proxy: ProxySession) -> bool:
    return proxy.ended_at is None and proxy.expires_at > utcnow()


def access_history(owner: Account, page: int) -> tuple[list[ProxySession], int]:
    """The owner's proxy sessions, newest first, one page of HISTORY_PAGE_SIZE; and the
    number of pages."""
    total = db.session.scalar(select(func.count()).select_from(ProxySession)
                              .where(ProxySession.owner_id == owner.id)) or 0
    pages = max(1, -(-total // HISTORY_PAGE_SIZE))
    page = min(max(page, 1), pages)
    rows = db.session.scalars(
        select(ProxySession).where(ProxySession.owner_id == owner.id)
        .order_by(ProxySession.started_at.desc(), ProxySession.id.desc())
        .offset((page - 1) * HISTORY_PAGE_SIZE).limit(HISTORY_PAGE_SIZE)).all()
    return list(rows), pages


def recent_proxies(owner: Account) -> list[ProxySession]:
    """Proxy sessions of the last ACCESS_PAGE_DAYS days, newest first (the access page)."""
    since = utcnow() - timedelta(days=ACCESS_PAGE_DAYS)
    return list(db.session.scalars(
        select(ProxySession).where(ProxySession.owner_id == owner.id,
                                   ProxySession.started_at >= since)
        .order_by(ProxySession.started_at.desc(), ProxySession.id.desc())))
