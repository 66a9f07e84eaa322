"""The outbox relay: claims pending mail with a lease, delivers it over SMTP with a
timeout, retries with exponential backoff, and marks what was delivered.

Leases are taken with a conditional UPDATE, so several relays (processes or threads)
can run against one PostgreSQL database without sending a mail twice. Without an SMTP
server in development, mail is kept for the dev mailbox page instead."""
from __future__ import annotations

import logging
import smtplib
import socket
import threading
import time
import uuid
from datetime import timedelta

from flask import Flask, current_app
from flask_mail import Message
from sqlalchemy import or_, select, update

from models import db, utcnow
from models.mail import OutboxMail, OutboxStatus

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
BACKOFF_BASE_SECONDS = 5
BACKOFF_MAX_SECONDS = 3600


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s … capped at an hour."""
    return timedelta(seconds=min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0),
                                 BACKOFF_MAX_SECONDS))


def _claim(relay_id: str, limit: int) -> list[int]:
    now = utcnow()
    candidates = db.session.scalars(
        select(OutboxMail.id)
        .where(
            OutboxMail.status == OutboxStatus.PENDING,
            OutboxMail.next_attempt_at <= now,
            or_(OutboxMail.lease_until.is_(None), OutboxMail.lease_until < now),
        )
        .order_by(OutboxMail.next_attempt_at, OutboxMail.id)
        .limit(limit)
    ).all()
    db.session.commit()
    claimed = []
    for mail_id in candidates:
        result = db.session.execute(
            update(OutboxMail)
            .where(
                OutboxMail.id == mail_id,
                OutboxMail.status == OutboxStatus.PENDING,
                or_(OutboxMail.lease_until.is_(None), OutboxMail.lease_until < now),
            )
            .values(lease_owner=relay_id, lease_until=now + LEASE)
        )
        db.session.commit()
        if result.rowcount == 1:
            claimed.append(mail_id)
    return claimed


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


def deliver_pending(limit: int = 50, relay_id: str | None = None) -> int:
    """Deliver what is due; returns how many mails were delivered (or kept for the
    dev mailbox). Failures are rescheduled, never lost."""
    relay_id = relay_id or uuid.uuid4().hex
    dev_mailbox = not current_app.config.get("MAIL_SERVER")
    delivered = 0
    for mail_id in _claim(relay_id, limit):
        outbox_mail = db.session.get(OutboxMail, mail_id)
        if outbox_mail is None or outbox_mail.lease_owner != relay_id:
            continue
        if dev_mailbox:
            if not current_app.config.get("DEV_MAILBOX"):
                # Nowhere to send it: leave it pending for a relay that has a server.
                outbox_mail.lease_owner = outbox_mail.lease_until = None
                outbox_mail.next_attempt_at = utcnow() + timedelta(minutes=1)
                db.session.commit()
                continue
            outbox_mail.status = OutboxStatus.DEV
            outbox_mail.sent_at = utcnow()
            delivered += 1
        else:
            try:
                _smtp_send(_message(outbox_mail))
            except (OSError, smtplib.SMTPException, socket.timeout) as error:
                outbox_mail.attempts += 1
                outbox_mail.last_error = f"{type(error).__name__}: {error}"[:500]
                if outbox_mail.attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]:
                    outbox_mail.status = OutboxStatus.FAILED
                    log.error("mail %s given up: %s", mail_id, outbox_mail.last_error)
                else:
                    outbox_mail.next_attempt_at = utcnow() + backoff(outbox_mail.attempts)
                    log.warning("mail %s failed (attempt %s): %s", mail_id,
                                outbox_mail.attempts, outbox_mail.last_error)
            else:
                outbox_mail.attempts += 1
                outbox_mail.status = OutboxStatus.SENT
                outbox_mail.sent_at = utcnow()
                delivered += 1
        outbox_mail.lease_owner = None
        outbox_mail.lease_until = None
        db.session.commit()
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
