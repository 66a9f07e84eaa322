"""Outgoing mail: one function per message (mail/messages.py), written to the outbox in
the caller's transaction and delivered by the relay (mail/relay.py)."""
from __future__ import annotations

from flask import current_app, render_template
from flask_babel import force_locale

from models import db
from models.mail import OutboxMail, OutboxStatus


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
