"""Guesses of a secret that somebody holds on paper (a slip password, a ゲートウェイID +
パワーコンディショナ製造番号 pair): count a guess, refuse when over the limit, forget it
when right.

Failures are counted per client address and per account (config SLIP_FAILURES_*, in the
window SLIP_FAILURE_WINDOW_MINUTES), never per gateway, so that nobody can lock a gateway
for the person who holds its slip. Every kind of guess counts in the same `SlipAttempt`
rows: one budget of wrong guesses per client and account, whichever form they came from.

A guess is counted before it is checked and forgotten when it was right, so concurrent
wrong guesses all count and right ones never do. Counting and comparing with the limit
is one step per requester: PostgreSQL serialises it with transaction-scoped advisory
locks (SQLite runs one writing transaction at a time anyway). `check_guess` commits: the
caller's rollback cannot undo a failure, and no transaction stays open during the check."""
from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, func, select, text

from blueprints.core import audit
from models import db, utcnow
from models.gateway import SlipAttempt


@dataclass(frozen=True)
class Requester:
    """Who guesses: the client address and, when signed in, the account."""

    client: str | None
    account_id: int | None = None


class Guess(enum.Enum):
    RIGHT = "right"
    WRONG = "wrong"
    LIMITED = "limited"  # the requester failed too often lately: not checked at all


def check_guess(requester: Requester, is_right: Callable[[], bool], event: str,
                **audit_data) -> Guess:
    """Count one guess of `requester`, then run `is_right()` unless the requester is
    over the limit. Audits `<event>_limited` and `<event>_failed`. Commits."""
    now = utcnow()
    since = now - timedelta(minutes=current_app.config["SLIP_FAILURE_WINDOW_MINUTES"])
    db.session.execute(delete(SlipAttempt).where(SlipAttempt.at < since))
    _one_guess_at_a_time(requester)
    attempt = SlipAttempt(at=now, client=requester.client, account_id=requester.account_id)
    db.session.add(attempt)
    db.session.flush()
    attempt_id = attempt.id
    if _over_limit(requester, since):
        db.session.execute(delete(SlipAttempt).where(SlipAttempt.id == attempt_id))
        audit.record(f"{event}_limited", actor_id=requester.account_id, **audit_data)
        db.session.commit()
        return Guess.LIMITED
    db.session.commit()  # no transaction stays open during a (deliberately slow) check
    if is_right():
        db.session.execute(delete(SlipAttempt).where(SlipAttempt.id == attempt_id))
        db.session.commit()
        return Guess.RIGHT
    audit.record(f"{event}_failed", actor_id=requester.account_id, **audit_data)
    db.session.commit()
    return Guess.WRONG


def _one_guess_at_a_time(requester: Requester) -> None:
    """Concurrent guesses from one client or account queue here (until commit), so
    exactly the allowed number is checked. PostgreSQL only, locks in a fixed order."""
    if db.engine.dialect.name != "postgresql":
        return
    keys = []
    if requester.client is not None:
        keys.append(f"slip-client:{requester.client}")
    if requester.account_id is not None:
        keys.append(f"slip-account:{requester.account_id}")
    for key in keys:
        db.session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})


def _over_limit(requester: Requester, since) -> bool:
    """More guesses in the window (this one included) than the requester may fail."""
    config = current_app.config
    recent = select(func.count()).select_from(SlipAttempt).where(SlipAttempt.at >= since)
    if requester.client is not None and db.session.scalar(
            recent.where(SlipAttempt.client == requester.client)) \
            > config["SLIP_FAILURES_PER_ADDRESS"]:
        return True
    return requester.account_id is not None and db.session.scalar(
        recent.where(SlipAttempt.account_id == requester.account_id)) \
        > config["SLIP_FAILURES_PER_ACCOUNT"]
