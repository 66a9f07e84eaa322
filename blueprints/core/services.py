"""Shared operations: the launcher's tiles, language choice, the dev mailbox."""
from __future__ import annotations

import re

from sqlalchemy import select

from blueprints.core import registry
from models import db
from models.account import Account
from models.mail import OutboxMail, OutboxStatus

LINK_PATTERN = re.compile(r"https?://[^\s<>\"']+")


def launcher_entries(account: Account) -> list[registry.LauncherTile]:
    """The tiles of the services this account may use, in the services' order."""
    return registry.launcher_tiles(account)


def set_language(account, language: str) -> None:
    if account is not None and getattr(account, "is_authenticated", False):
        account.language = language
        db.session.commit()


def dev_mails(limit: int = 200) -> list[OutboxMail]:
    """Written mail, newest first (mail requests the relay has not decided are no mail)."""
    return list(db.session.scalars(
        select(OutboxMail).where(OutboxMail.status != OutboxStatus.REQUESTED)
        .order_by(OutboxMail.id.desc()).limit(limit)))


def dev_mail(mail_id: int) -> OutboxMail | None:
    return db.session.get(OutboxMail, mail_id)


def links_in(mail: OutboxMail) -> list[str]:
    return list(dict.fromkeys(LINK_PATTERN.findall(mail.text_body)))
