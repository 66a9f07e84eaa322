"""「メールアドレスを忘れた場合」: someone who forgot which address is their ID gives their
name (姓・名), a phone number of theirs and the ID of a gateway they own; when the three
match an account, a mail to its address says which address is the ID.

No enumeration: the request path writes one mail request whatever was typed (the same
statements and the same work), and the page answers the same. The request holds only an
opaque job: the gateway ID and a keyed hash (HMAC with SECRET_KEY) of the normalised
name and phone, never the name or phone themselves. The relay decides
(`forgotten_email_requested`): it finds the gateway's owner and compares the hash of the
owner's name with each of the owner's phones."""
from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata

import jaconv
import phonenumbers
from flask import current_app
from sqlalchemy import select

from blueprints.core import audit
from mail import messages, request_mail
from models import db
from models.account import Account
from models.gateway import Gateway, GatewayStatus

FORGOT_EMAIL = "forgot_email"
JOB_PREFIX = "fe1"
JOB = re.compile(r"^fe1:([0-9A-Z]{12}):([0-9a-f]{64})$")
# Gateways whose owner is told: registered (and those waiting for STEP3's password: the
# owner is told the address the provisional mail went to).
OWNED_STATUSES = (GatewayStatus.ACTIVE, GatewayStatus.PROVISIONAL)


def normalized_name(value: str) -> str:
    """NFKC, without any spaces, case-folded: 「山田」「ﾔﾏﾀﾞ」「Ｙａｍａｄａ」 as stored or typed."""
    value = unicodedata.normalize("NFKC", jaconv.h2z(value or "", kana=True, ascii=False,
                                                     digit=False))
    return re.sub(r"\s+", "", value).casefold()


def normalized_phone(value: str) -> str:
    """E.164 with phonenumbers (`090-1234-5678` and `+81 90 1234 5678` are one number);
    the digits as given when it does not parse."""
    digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", value or ""))
    try:
        parsed = phonenumbers.parse(unicodedata.normalize("NFKC", value or ""), "JP")
    except phonenumbers.NumberParseException:
        return digits
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _digest(gateway_id: str, family_name: str, given_name: str, phone: str) -> str:
    message = "\0".join((FORGOT_EMAIL, gateway_id, normalized_name(family_name),
                         normalized_name(given_name), normalized_phone(phone)))
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def request_forgotten_email(family_name: str, given_name: str, phone: str,
                            gateway_id: str) -> None:
    """Write the mail request (one outbox row, the same for every input) and commit."""
    request_mail(FORGOT_EMAIL,
                 f"{JOB_PREFIX}:{gateway_id}:{_digest(gateway_id, family_name, given_name, phone)}")
    db.session.commit()


def forgotten_email_requested(job: str) -> None:
    """The relay's decision: a reminder to the owner's address when the gateway's owner
    has that name and phone; nothing otherwise. Runs in the relay's transaction."""
    matched = JOB.match(job or "")
    if matched is None:
        return
    gateway_id, digest = matched.groups()
    gateway = db.session.scalar(select(Gateway).where(Gateway.gateway_id == gateway_id,
                                                      Gateway.status.in_(OWNED_STATUSES)))
    owner = db.session.get(Account, gateway.owner_id) if gateway and gateway.owner_id else None
    if owner is None:
        return
    numbers = [phone.number for phone in owner.phones]
    if any(hmac.compare_digest(digest, _digest(gateway_id, owner.family_name,
                                               owner.given_name, number))
           for number in numbers):
        messages.send_forgotten_email_mail(owner, gateway_id)
        audit.record("account.forgotten_email_mailed", subject_id=owner.id,
                     gateway_id=gateway_id)
