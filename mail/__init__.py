"""Outgoing mail: one function per message (mail/messages.py), written to the outbox in
the caller's transaction and delivered by the relay (mail/relay.py).

A request that must not tell who has an account (password reset, a new activation link)
writes only a *mail request* (`request_mail`): one outbox row with the typed address, the
same work for every address. The relay decides off the request path, through the handler
that a service registered for that kind (`on_mail_request`): it queues the real mail, or
nothing."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import current_app, render_template
from flask_babel import force_locale
from sqlalchemy import func, select

from models import db
from models.mail import OutboxMail, OutboxStatus

# kind -> handler(address): queues the mail(s) the request leads to, in the relay's
# transaction (it must not commit), or nothing when the address has no use for one.
REQUEST_HANDLERS: dict[str, Callable[[str], None]] = {}


def on_mail_request(kind: str, handler: Callable[[str], None]) -> None:
    """Register the handler that decides what a mail request of `kind` becomes."""
    REQUEST_HANDLERS[kind] = handler


def request_mail(kind: str, address: str) -> OutboxMail:
    """Add a mail request for `address` to the outbox (the caller commits). It says
    nothing about the address: the relay decides what, if anything, is sent."""
    outbox_mail = OutboxMail(kind=kind, recipient=address, subject="", text_body="",
                             html_body="", status=OutboxStatus.REQUESTED)
    db.session.add(outbox_mail)
    return outbox_mail


def queue_mail(kind: str, recipient: str, subject: str, template: str,
               locale: str = "ja", **context) -> OutboxMail:
    """Render `templates/mail/<template>.txt` and `.html` and add them to the outbox.

    The caller commits: the mail exists exactly when the change that caused it does."""
    context.setdefault("site_name", current_app.config["SITE_NAME"])
    context.setdefault("operator_name", current_app.config["OPERATOR_NAME"])
    context.setdefault("support_phone", current_app.config["SUPPORT_PHONE"])
    context.setdefault("support_hours", current_app.config["SUPPORT_HOURS"])
    context.setdefault("support_email", current_app.config["SUPPORT_EMAIL"])
    with force_locale(locale):
        text = render_template(f"mail/{template}.txt", subject=subject, **context)
        html = render_template(f"mail/{template}.html", subject=subject, **context)
    outbox_mail = OutboxMail(kind=kind, recipient=recipient, subject=str(subject),
                             text_body=text, html_body=html, status=OutboxStatus.PENDING)
    db.session.add(outbox_mail)
    return outbox_mail


def mailed_since(kind: str, recipient: str, since: datetime) -> bool:
    """Whether a mail of `kind` went (or is going) to `recipient` after `since`: for
    mails that anyone can make the site send to an address (e.g. "you already have an
    ID"), so that they reach it at most once in a while."""
    return bool(db.session.scalar(
        select(func.count()).select_from(OutboxMail)
        .where(OutboxMail.kind == kind, func.lower(OutboxMail.recipient) == recipient.lower(),
               OutboxMail.created_at > since)))
