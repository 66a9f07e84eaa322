"""Shared operations: the launcher's entries, language choice, the dev mailbox."""
from __future__ import annotations

import re
from dataclasses import dataclass

from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from models import db
from models.account import Account
from models.mail import OutboxMail, OutboxStatus

LINK_PATTERN = re.compile(r"https?://[^\s<>\"']+")


@dataclass(frozen=True)
class LauncherEntry:
    title: object
    description: object
    endpoint: str
    icon: str

    @property
    def url(self) -> str:
        return url_for(self.endpoint)


# Each service adds its entry with a predicate telling who may use it.
LAUNCHER: list[tuple[LauncherEntry, object]] = [
    (LauncherEntry(_l("アカウント"), _l("個人情報・ログイン情報・会社情報・従業員の管理"),
                   "account.settings", "id"), lambda account: True),
    (LauncherEntry(_l("ゲートウェイ伝票の発行"),
                   _l("未登録ゲートウェイの伝票（ID・パスワード・QRコード）を発行・印刷"),
                   "staff.slips", "slips"), lambda account: account.is_staff),
    (LauncherEntry(_l("遠隔モニタリング"),
                   _l("ゲートウェイの登録・管理、運転状況の確認"),
                   "monitoring.menu", "monitoring"), lambda account: True),
    (LauncherEntry(_l("販売店コンソール"),
                   _l("保守を任されたゲートウェイの一覧・検索・お客様情報の確認"),
                   "dealers.console", "dealers"), lambda account: _is_dealer(account)),
    (LauncherEntry(_l("販売店として登録"),
                   _l("販売店IDを取得して、お客様のゲートウェイの保守を任せていただけるようにします"),
                   "dealers.register", "dealers"),
     lambda account: account.is_company_admin and not _is_dealer(account)),
]


def _is_dealer(account: Account) -> bool:
    from blueprints.dealers.services import dealer_for_account

    return dealer_for_account(account) is not None


def launcher_entries(account: Account) -> list[LauncherEntry]:
    return [entry for entry, allowed in LAUNCHER if allowed(account)]


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
