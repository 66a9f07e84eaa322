"""ログイン中の端末: every signed-in browser of an account, its last use, signing out one,
the others or all, and the mail on a sign-in from a browser the account has not used.

How it holds together:

- A browser's sign-in is a `LoginSession` row (its key is in the session cookie and, with
  ログイン状態の維持, in Flask-Login's remember cookie: both carry the same key, so revoking
  the row ends both). `note_use` writes the row's client address and last use at most
  every SESSION_SEEN_INTERVAL, as one UPDATE (the row is already loaded by the user
  loader, so no SELECT is added), and nothing within the interval.
- Revoking a row is all it takes to end a sign-in everywhere: the user loader refuses a
  revoked key on the very next request. A proxy login (club) rides on two rows, the
  owner-side one and the dealer's own; the club's `check_proxy` ends a proxy session as
  soon as either is revoked, on its next request (tests/flows/test_devices.py proves it),
  so nothing here needs to know about proxies.
- Known browsers: a long-lived random cookie (KNOWN_BROWSER_COOKIE) whose hash is kept
  per account in `KnownBrowser`. A sign-in from a browser without it, or with a value no
  account knows (tampered, huge, not ASCII), gets a fresh one, and the account is mailed
  【新しい端末からのログイン】 unless it is its very first sign-in (activation).

Nothing here reads the request: the views hand over the address, User-Agent and cookie."""
from __future__ import annotations

import enum
import ipaddress
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import func, select, update
from ua_parser import parse as parse_user_agent

from blueprints.core import audit, registry
from blueprints.core.security import hash_key, revoke_login_sessions
from mail import messages
from models import db, utcnow
from models.account import Account, LoginSession
from models.trust import KnownBrowser

# What a browser key we issued looks like (secrets.token_urlsafe(32): 43 characters).
_BROWSER_KEY = re.compile(r"[A-Za-z0-9_-]{40,64}")


# -- last use ------------------------------------------------------------------------------
def use_due(row: LoginSession | None, now: datetime | None = None) -> bool:
    """Whether this request should write the session's last use (none yet, or older than
    SESSION_SEEN_INTERVAL)."""
    if row is None:
        return False
    now = now or utcnow()
    seen = row.last_seen_at
    return seen is None or now - seen >= current_app.config["SESSION_SEEN_INTERVAL"]


def note_use(session_id: int, ip: str | None) -> None:
    """Write a session's client address and last use: one UPDATE, committed."""
    db.session.execute(update(LoginSession).where(LoginSession.id == session_id)
                       .values(ip=(ip or "")[:45] or None, last_seen_at=utcnow()))
    db.session.commit()


# -- how a session is shown ------------------------------------------------------------------
def device_words(user_agent: str | None) -> str:
    """The browser and system in words from a User-Agent, e.g. "Chrome Mobile / Android";
    an empty string when nothing is recognised."""
    if not user_agent:
        return ""
    result = parse_user_agent(user_agent[:500])
    parts = []
    if result.user_agent is not None and result.user_agent.family != "Other":
        parts.append(result.user_agent.family)
    if result.os is not None and result.os.family != "Other":
        parts.append(result.os.family)
    return " / ".join(parts)


def short_network(ip: str | None) -> str:
    """A client address shortened to its network: IPv4 to /24 (203.0.113.*), IPv6 to /48
    (2001:db8:1::/48); an empty string for nothing or something that is no address."""
    if not ip:
        return ""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.version == 4:
        return ".".join(str(address).split(".")[:3]) + ".*"
    return str(ipaddress.ip_network(f"{address}/48", strict=False))


def _geoip_reader():
    """The MaxMind-format reader of GEOIP_DATABASE (opened once per app), or None when
    none is configured or it cannot be read: then no place is ever shown."""
    path = current_app.config.get("GEOIP_DATABASE")
    if not path:
        return None
    cache = current_app.extensions.setdefault("enelink_geoip", {})
    if path not in cache:
        try:
            import maxminddb

            cache[path] = maxminddb.open_database(path)
        except (OSError, ValueError, maxminddb.InvalidDatabaseError):
            cache[path] = None
    return cache[path]


def places_available() -> bool:
    return _geoip_reader() is not None


def place_of(ip: str | None) -> str:
    """The approximate place of an address from the local database (city, prefecture or
    country, in Japanese where the database has it); empty when unknown."""
    reader = _geoip_reader()
    if reader is None or not ip:
        return ""
    try:
        record = reader.get(ip)
    except ValueError:
        return ""
    if not isinstance(record, dict):
        return ""

    def name(entry) -> str:
        names = entry.get("names", {}) if isinstance(entry, dict) else {}
        return str(names.get("ja") or names.get("en") or "")

    parts = [name(record.get("country"))]
    subdivisions = record.get("subdivisions") or []
    if subdivisions:
        parts.append(name(subdivisions[0]))
    parts.append(name(record.get("city")))
    return " ".join(part for part in parts if part)


@dataclass(frozen=True)
class Device:
    """One live sign-in session as the devices page shows it."""

    id: int
    words: str
    remember: bool
    network: str
    place: str
    first_use: datetime
    last_use: datetime
    current: bool


def _live(account_id: int):
    return (LoginSession.account_id == account_id, LoginSession.revoked_at.is_(None),
            LoginSession.expires_at > utcnow())


def live_devices(account: Account, current_session_id: int | None) -> list[Device]:
    """Every live (neither revoked nor expired) sign-in session of the account, this one
    first, then by last use, newest first."""
    rows = db.session.scalars(select(LoginSession).where(*_live(account.id))).all()
    with_places = places_available()
    devices = [Device(id=row.id, words=device_words(row.user_agent), remember=row.remember,
                      network=short_network(row.ip),
                      place=place_of(row.ip) if with_places else "",
                      first_use=row.created_at, last_use=row.last_seen_at or row.created_at,
                      current=row.id == current_session_id) for row in rows]
    return sorted(devices, key=lambda d: (not d.current, -d.last_use.timestamp(), -d.id))


# -- signing out -------------------------------------------------------------------------------
class SignOutOutcome(enum.Enum):
    DONE = "done"
    ALREADY = "already"      # that session had ended already (a repeated submit)
    NOT_FOUND = "not_found"  # not a session of this account, or this browser's own


def sign_out_device(account: Account, session_id: int) -> SignOutOutcome:
    """Sign out one other browser of the account (its cookie, remember-me included, no
    longer opens anything; a proxy login riding on it ends with it)."""
    row = db.session.scalar(select(LoginSession).where(
        LoginSession.id == session_id, LoginSession.account_id == account.id)
        .with_for_update())
    current = hash_key(account.login_session_key or "")
    if row is None or row.key_hash == current:
        db.session.rollback()
        return SignOutOutcome.NOT_FOUND
    if row.revoked_at is not None or row.expires_at <= utcnow():
        db.session.rollback()
        return SignOutOutcome.ALREADY
    row.revoked_at = utcnow()
    registry.sessions_revoked([row.id], row.revoked_at)
    audit.record("account.device_sign_out", actor_id=account.id, subject_id=account.id,
                 session_id=row.id)
    db.session.commit()
    return SignOutOutcome.DONE


def sign_out_others(account: Account) -> int:
    """Sign out every browser of the account but this one; answers how many."""
    count = revoke_login_sessions(account.id, keep_key=account.login_session_key)
    audit.record("account.devices_sign_out_others", actor_id=account.id,
                 subject_id=account.id, count=count)
    db.session.commit()
    return count


def sign_out_everywhere(account: Account) -> int:
    """「すべての端末からログアウト」: every browser of the account, this one included
    (remember-me cookies too). The services' sign-out hooks run for this browser, and
    what rides on the others ends with them (`registry.on_sessions_revoked`: a proxy
    login of the account, as owner or as dealer, ends at once)."""
    registry.signed_out(account)
    count = revoke_login_sessions(account.id)
    audit.record("account.devices_sign_out_all", actor_id=account.id, subject_id=account.id,
                 count=count)
    db.session.commit()
    return count


# -- known browsers ---------------------------------------------------------------------------
def usable_browser_key(value) -> str | None:
    """A browser cookie's value when it looks like one we issue; None for anything else
    (missing, huge, not ASCII, other characters)."""
    if not isinstance(value, str) or not value.isascii() or not _BROWSER_KEY.fullmatch(value):
        return None
    return value


def signed_in(account_id: int, session_key: str | None, ip: str | None,
              user_agent: str | None, browser_key: str | None, fresh: bool) -> str | None:
    """After a successful sign-in: note the session's address and first use and, for a
    fresh sign-in (not a proxy login's switch between two sessions of one browser), check
    the browser. Answers the browser key for the cookie (None: leave the cookie alone).

    The browser is known when the account has its key. A key no account has (never
    issued, or altered) is replaced by a fresh one, so that nobody chooses their own. The
    very first sign-in of an account (no known browser, no earlier session) is not
    mailed; every other sign-in from an unknown browser is. Commits."""
    now = utcnow()
    if session_key:
        db.session.execute(update(LoginSession)
                           .where(LoginSession.key_hash == hash_key(session_key))
                           .values(ip=(ip or "")[:45] or None, last_seen_at=now))
    if not fresh:
        db.session.commit()
        return None
    key = usable_browser_key(browser_key)
    known = None
    if key is not None:
        known = db.session.scalar(select(KnownBrowser).where(
            KnownBrowser.account_id == account_id, KnownBrowser.key_hash == hash_key(key)))
    if known is not None:
        known.last_seen_at = now
        db.session.commit()
        return key
    if key is not None and db.session.scalar(select(func.count()).select_from(KnownBrowser)
                                             .where(KnownBrowser.key_hash == hash_key(key))) == 0:
        key = None  # known to nobody: not ours to keep
    key = key or secrets.token_urlsafe(32)
    first = (db.session.scalar(select(func.count()).select_from(KnownBrowser)
                               .where(KnownBrowser.account_id == account_id)) == 0
             and db.session.scalar(select(func.count()).select_from(LoginSession)
                                   .where(LoginSession.account_id == account_id)) <= 1)
    db.session.add(KnownBrowser(account_id=account_id, key_hash=hash_key(key),
                                first_seen_at=now, last_seen_at=now))
    account = db.session.get(Account, account_id)
    if not first and account is not None:
        messages.send_new_browser_mail(account, now, device_words(user_agent),
                                       short_network(ip), place_of(ip))
        audit.record("account.new_browser_sign_in", actor_id=account_id,
                     subject_id=account_id)
    db.session.commit()
    return key

