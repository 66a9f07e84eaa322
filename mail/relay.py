"""The outbox relay: decides mail requests, then delivers pending mail over SMTP with a
timeout, retries with exponential backoff, and marks what was delivered.

No transaction stays open while an SMTP server is talking (on SQLite every transaction
holds the database's write lock, so a slow server would stall every request):

1. claim one mail in a short transaction: a conditional UPDATE sets a lease
   (`lease_owner`, `lease_until`) on a due, unleased mail, then commit. Several relays
   (processes or threads) can run at once without sending a mail twice;
2. read what to send and end that transaction;
3. talk SMTP with no transaction open;
4. mark the mail sent, or count the failure and schedule a retry (backoff), in a new
   short transaction. A failed SMTP server loses no mail; a relay that dies mid-send
   leaves a lease that runs out, and the mail is sent again later (at least once).

Without an SMTP server in development, mail is kept for the dev mailbox page instead."""
from __future__ import annotations

import logging
import smtplib
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask, current_app
from flask_mail import Message
from sqlalchemy import delete, or_, select, update

from mail import REQUEST_HANDLERS
from models import db, utcnow
from models.mail import OutboxMail, OutboxStatus

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
BACKOFF_BASE_SECONDS = 5
BACKOFF_MAX_SECONDS = 3600
# An SMTP conversation is several steps (connect, STARTTLS, login, data), each with its
# own timeout: the lease outlasts them all, so that no other relay takes a mail that is
# still being sent.
SMTP_STEPS = 6


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s … capped at an hour."""
    return timedelta(seconds=min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0),
                                 BACKOFF_MAX_SECONDS))


def _lease() -> timedelta:
    return max(LEASE, timedelta(seconds=SMTP_STEPS * current_app.config["MAIL_TIMEOUT_SECONDS"]))


# -- mail requests -------------------------------------------------------------------------
def prepare_requested(limit: int = 50) -> int:
    """Decide up to `limit` mail requests: each becomes what its kind's handler queues
    (a mail, or nothing), in one short transaction that also removes the request. A
    request is decided once even with several relays (its conditional DELETE is the
    claim). Returns how many were decided."""
    ids = db.session.scalars(
        select(OutboxMail.id).where(OutboxMail.status == OutboxStatus.REQUESTED)
        .order_by(OutboxMail.id).limit(limit)
    ).all()
    db.session.commit()
    decided = 0
    for mail_id in ids:
        row = db.session.execute(
            select(OutboxMail.kind, OutboxMail.recipient)
            .where(OutboxMail.id == mail_id, OutboxMail.status == OutboxStatus.REQUESTED)
        ).first()
        handler = REQUEST_HANDLERS.get(row.kind) if row is not None else None
        if handler is None:
            db.session.rollback()
            if row is not None:
                _give_up(mail_id, f"no handler for mail requests of kind {row.kind!r}")
            continue
        claimed = db.session.execute(
            delete(OutboxMail)
            .where(OutboxMail.id == mail_id, OutboxMail.status == OutboxStatus.REQUESTED)
        ).rowcount
        if claimed != 1:  # another relay decided it first
            db.session.rollback()
            continue
        try:
            handler(row.recipient)
        except Exception as error:  # a request its handler cannot decide is kept, failed
            db.session.rollback()
            log.exception("mail request %s could not be decided", mail_id)
            _give_up(mail_id, f"{type(error).__name__}: {error}")
            continue
        db.session.commit()
        decided += 1
    return decided


def _give_up(mail_id: int, reason: str) -> None:
    db.session.execute(
        update(OutboxMail)
        .where(OutboxMail.id == mail_id, OutboxMail.status == OutboxStatus.REQUESTED)
        .values(status=OutboxStatus.FAILED, last_error=reason[:500])
    )
    db.session.commit()


# -- delivery ------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Claimed:
    id: int
    attempts: int
    message: Message


def _claim_next(relay_id: str) -> _Claimed | None:
    """Lease the next due mail to this relay and read it, in one short transaction."""
    now = utcnow()
    free = or_(OutboxMail.lease_until.is_(None), OutboxMail.lease_until < now)
    candidates = db.session.scalars(
        select(OutboxMail.id)
        .where(OutboxMail.status == OutboxStatus.PENDING, OutboxMail.next_attempt_at <= now,
               free)
        .order_by(OutboxMail.next_attempt_at, OutboxMail.id)
        .limit(5)
    ).all()
    for mail_id in candidates:
        taken = db.session.execute(
            update(OutboxMail)
            .where(OutboxMail.id == mail_id, OutboxMail.status == OutboxStatus.PENDING, free)
            .values(lease_owner=relay_id, lease_until=now + _lease())
        ).rowcount
        if taken == 1:
            outbox_mail = db.session.get(OutboxMail, mail_id, populate_existing=True)
            claimed = _Claimed(mail_id, outbox_mail.attempts, _message(outbox_mail))
            db.session.commit()
            return claimed
    db.session.commit()
    return None


def _message(outbox_mail: OutboxMail) -> Message:
    config = current_app.config
    message = Message(subject=outbox_mail.subject, recipients=[outbox_mail.recipient],
                      body=outbox_mail.text_body, html=outbox_mail.html_body,
                      sender=config["MAIL_DEFAULT_SENDER"])
    message.extra_headers = {"X-Enelink-Mail-Id": str(outbox_mail.id),
                             "Auto-Submitted": "auto-generated"}
    return message


def _smtp_send(message: Message) -> None:
    config = current_app.config
    timeout = config["MAIL_TIMEOUT_SECONDS"]
    smtp_class = smtplib.SMTP_SSL if config["MAIL_USE_SSL"] else smtplib.SMTP
    with smtp_class(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=timeout) as smtp:
        if config["MAIL_USE_TLS"]:
            smtp.starttls()
        if config["MAIL_USERNAME"] and config["MAIL_PASSWORD"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        smtp.sendmail(message.sender, message.send_to, message.as_bytes())


def _mark_delivered(claimed: _Claimed, status: str) -> None:
    """Sent (or kept for the dev mailbox): never sent again, whoever holds the lease now."""
    db.session.execute(
        update(OutboxMail)
        .where(OutboxMail.id == claimed.id, OutboxMail.status == OutboxStatus.PENDING)
        .values(status=status, sent_at=utcnow(), lease_owner=None, lease_until=None,
                attempts=claimed.attempts + 1 if status == OutboxStatus.SENT
                else claimed.attempts)
    )
    db.session.commit()


def _mark_failed(claimed: _Claimed, relay_id: str, error: Exception) -> None:
    """Count the failure and schedule the next try, or give up after MAIL_MAX_ATTEMPTS."""
    attempts = claimed.attempts + 1
    last_error = f"{type(error).__name__}: {error}"[:500]
    values = {"attempts": attempts, "last_error": last_error, "lease_owner": None,
              "lease_until": None}
    if attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]:
        values["status"] = OutboxStatus.FAILED
        log.error("mail %s given up: %s", claimed.id, last_error)
    else:
        values["next_attempt_at"] = utcnow() + backoff(attempts)
        log.warning("mail %s failed (attempt %s): %s", claimed.id, attempts, last_error)
    db.session.execute(
        update(OutboxMail)
        .where(OutboxMail.id == claimed.id, OutboxMail.lease_owner == relay_id,
               OutboxMail.status == OutboxStatus.PENDING)
        .values(**values)
    )
    db.session.commit()


def deliver_pending(limit: int = 50, relay_id: str | None = None) -> int:
    """Decide mail requests, then deliver up to `limit` due mails; returns how many were
    delivered (or kept for the dev mailbox). Failures are rescheduled, never lost.
    Without an SMTP server or the dev mailbox, mail waits for a relay that has one."""
    relay_id = relay_id or uuid.uuid4().hex
    prepare_requested(limit)
    config = current_app.config
    dev_mailbox = not config.get("MAIL_SERVER")
    if dev_mailbox and not config.get("DEV_MAILBOX"):
        return 0
    delivered = 0
    for _ in range(limit):
        claimed = _claim_next(relay_id)
        if claimed is None:
            break
        if dev_mailbox:
            _mark_delivered(claimed, OutboxStatus.DEV)
            delivered += 1
            continue
        try:
            _smtp_send(claimed.message)  # no transaction is open here
        except (OSError, smtplib.SMTPException, socket.timeout) as error:
            _mark_failed(claimed, relay_id, error)
        else:
            _mark_delivered(claimed, OutboxStatus.SENT)
            delivered += 1
    return delivered


def run_relay(app: Flask, stop: threading.Event, poll_seconds: float | None = None) -> None:
    """Deliver until `stop` is set, sleeping between empty polls."""
    poll = poll_seconds or app.config["MAIL_RELAY_POLL_SECONDS"]
    relay_id = uuid.uuid4().hex
    while not stop.is_set():
        try:
            with app.app_context():
                count = deliver_pending(relay_id=relay_id)
                db.session.remove()
        except Exception:  # keep relaying whatever one round did
            log.exception("mail relay round failed")
            count = 0
        if not count:
            stop.wait(poll)


def relay_forever(app: Flask) -> None:
    """`flask --app app mail relay`: the standalone relay until interrupted."""
    stop = threading.Event()
    try:
        run_relay(app, stop)
    except KeyboardInterrupt:
        stop.set()
    time.sleep(0)
