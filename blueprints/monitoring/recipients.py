"""Extra alert recipients of a gateway (family members): up to ALERT_RECIPIENTS_MAX
addresses per gateway that get its alert mails, each only once it confirmed by a link.

- The owner adds an address (`add_recipient`): a row 確認待ち and a mail with a link
  (`issue_link`, purpose ALERT_RECIPIENT, its payload the recipient's id, valid
  ALERT_RECIPIENT_LINK_TTL). Nothing else is ever mailed to an unconfirmed address. The
  limit counts unconfirmed rows; the owner's own address and a second row for the same
  address (whatever its case) are refused. The gateway row is locked while adding, and
  the unique index `uq_alert_recipient_gateway_email` has the last word when two adds
  of one address race: the loser is told "already registered", like a plain duplicate.
- The link confirms (`confirm`): no sign-in is needed, the link proves the address. A
  removed recipient's link is as dead as a tampered one.
- Every alert mail to a recipient carries a stop link (`stop_token`): signed with the
  SECRET_KEY (itsdangerous), carrying the recipient's id and address, stored nowhere and
  never expiring. Stopping deletes the row; a recipient already gone gets the same
  answer, so the link tells nothing.
- The owner removes a recipient at any time; the owner is mailed when a recipient
  confirms or stops.
- A recipient belongs to the owner and the gateway: it follows an exchange to the new
  gateway and is deleted when the gateway is disposed of or released (gateway events).

Every change is audited with the gateway's ID. Services commit; views never do."""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, url_for
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from blueprints.core import audit
from blueprints.core.links import LinkState, check_link, issue_link, public_url, spend_link
from blueprints.core.registry import AccessLine
from mail import messages
from models import db, utcnow
from models.account import Account
from models.audit import AuditEvent
from models.gateway import Gateway, GatewayStatus
from models.link import MailLink
from models.trust import AlertRecipient

ALERT_RECIPIENT = "alert_recipient"   # MailLink.purpose of the confirmation link
STOP_SALT = "enelink.alert-recipient.stop"
STOP_TOKEN_MAX = 300
# Confirmation mails one owner may have sent in 24 hours (adding and removing again and
# again must not make the site mail an address without end). Counted from the audit
# rows of the owner's own adds, so it holds across workers and touches nobody else.
CONFIRMATIONS_PER_DAY = 10
# Gateways whose owner may name recipients: claimed or in service, not retired.
OWNED_STATUSES = (GatewayStatus.ACTIVE.value, GatewayStatus.PROVISIONAL.value)


class AddProblem(enum.Enum):
    OWN_ADDRESS = "own_address"
    DUPLICATE = "duplicate"
    LIMIT = "limit"
    TOO_MANY = "too_many"


ADD_MESSAGES = {
    AddProblem.OWN_ADDRESS: _l("ご自身のメールアドレスには、すでにアラートメールが届きます"),
    AddProblem.DUPLICATE: _l("このメールアドレスはすでに登録されています"),
    AddProblem.TOO_MANY: _l("確認メールの送信回数が上限に達しました。24時間ほどおいてからお試しください"),
}


def add_message(problem: AddProblem):
    """The message shown at the e-mail field."""
    if problem is AddProblem.LIMIT:
        return _l("1台のゲートウェイに登録できる宛先は%(max)d件までです", max=max_recipients())
    return ADD_MESSAGES[problem]


def max_recipients() -> int:
    return current_app.config["ALERT_RECIPIENTS_MAX"]


# -- look-ups --------------------------------------------------------------------------
def owned_gateway(owner: Account, gateway_id, lock: bool = False) -> Gateway | None:
    """The owner's gateway (claimed or in service) by its ゲートウェイID; None for anything
    else (unknown, someone else's, retired, malformed)."""
    if (not isinstance(gateway_id, str) or not gateway_id or len(gateway_id) > 12
            or not gateway_id.isascii() or not gateway_id.isalnum()):
        return None
    statement = select(Gateway).where(Gateway.gateway_id == gateway_id,
                                      Gateway.owner_id == owner.id,
                                      Gateway.status.in_(OWNED_STATUSES))
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return db.session.scalar(statement)


def gateway_recipients(gateway: Gateway) -> list[AlertRecipient]:
    """The gateway's recipients (of its present owner), oldest first."""
    return list(db.session.scalars(
        select(AlertRecipient)
        .where(AlertRecipient.gateway_id == gateway.id,
               AlertRecipient.owner_id == gateway.owner_id)
        .order_by(AlertRecipient.created_at, AlertRecipient.id)))


def _is_id(value) -> bool:
    """A row id the database can hold (a URL may carry any number of digits)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31


def gateway_recipient(gateway: Gateway, recipient_id) -> AlertRecipient | None:
    if not _is_id(recipient_id):
        return None
    return db.session.scalar(select(AlertRecipient).where(
        AlertRecipient.id == recipient_id, AlertRecipient.gateway_id == gateway.id,
        AlertRecipient.owner_id == gateway.owner_id))


def link_expired(recipient: AlertRecipient) -> bool:
    """An unconfirmed recipient whose confirmation link has run out: the owner removes
    it and adds it again for a new link."""
    return (recipient.confirmed_at is None and recipient.created_at
            + current_app.config["ALERT_RECIPIENT_LINK_TTL"] <= utcnow())


def confirmed_recipients(gateway: Gateway) -> list[AlertRecipient]:
    if gateway.owner_id is None:
        return []
    return [r for r in gateway_recipients(gateway) if r.confirmed_at is not None]


# -- the owner adds and removes ----------------------------------------------------------
def add_recipient(owner: Account, gateway_id: str, email: str) -> AddProblem | None:
    """Add `email` (already normalised by the form) as a recipient of the owner's gateway
    and mail it the confirmation link; or say why not. Commits."""
    gateway = owned_gateway(owner, gateway_id, lock=True)
    if gateway is None:
        db.session.rollback()
        raise LookupError(gateway_id)
    wanted = email.lower()
    if wanted == (owner.email or "").lower():
        db.session.rollback()
        return AddProblem.OWN_ADDRESS
    present = gateway_recipients(gateway)
    if any(r.email.lower() == wanted for r in present):
        db.session.rollback()
        return AddProblem.DUPLICATE
    if len(present) >= max_recipients():
        db.session.rollback()
        return AddProblem.LIMIT
    if _confirmations_sent(owner) >= CONFIRMATIONS_PER_DAY:
        db.session.rollback()
        return AddProblem.TOO_MANY
    recipient = AlertRecipient(gateway_id=gateway.id, owner_id=owner.id, email=email)
    db.session.add(recipient)
    try:
        db.session.flush()
    except IntegrityError:  # the same address added at the same moment elsewhere
        db.session.rollback()
        return AddProblem.DUPLICATE
    ttl = current_app.config["ALERT_RECIPIENT_LINK_TTL"]
    # replace=False: the same address may be asked by other owners for other gateways.
    token = issue_link(ALERT_RECIPIENT, email, ttl, account=owner,
                       payload={"recipient_id": recipient.id}, replace=False)
    messages.send_alert_recipient_confirm_mail(email, owner, gateway, token, utcnow() + ttl)
    audit.record("alert_recipient.added", actor_id=owner.id, subject_id=owner.id,
                 gateway_id=gateway.gateway_id, recipient_id=recipient.id, email=email)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return AddProblem.DUPLICATE
    return None


def _confirmations_sent(owner: Account) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "alert_recipient.added", AuditEvent.actor_id == owner.id,
        AuditEvent.at > utcnow() - timedelta(hours=24)))


def remove_recipient(owner: Account, gateway_id: str, recipient_id) -> bool:
    """The owner removes a recipient (confirmed or not): its links stop working. False
    when it is not one of this owner's gateway's. Commits."""
    gateway = owned_gateway(owner, gateway_id, lock=True)
    recipient = gateway_recipient(gateway, recipient_id) if gateway is not None else None
    if recipient is None:
        db.session.rollback()
        return False
    _end_links(recipient)
    audit.record("alert_recipient.removed", actor_id=owner.id, subject_id=owner.id,
                 gateway_id=gateway.gateway_id, recipient_id=recipient.id,
                 email=recipient.email, confirmed=recipient.confirmed_at is not None)
    db.session.delete(recipient)
    db.session.commit()
    return True


def _end_links(recipient: AlertRecipient) -> None:
    """Delete the unused confirmation links of this recipient: its link then reads as
    any unknown one (the row it named is gone anyway)."""
    for link in db.session.scalars(select(MailLink).where(
            MailLink.purpose == ALERT_RECIPIENT,
            func.lower(MailLink.email) == recipient.email.lower(),
            MailLink.used_at.is_(None))):
        if (link.payload or {}).get("recipient_id") == recipient.id:
            db.session.delete(link)


# -- the recipient confirms ----------------------------------------------------------------
@dataclass(frozen=True)
class Invitation:
    """What the confirmation page shows: whose gateway, and whether it can go on."""

    state: LinkState
    recipient: AlertRecipient | None = None
    gateway: Gateway | None = None
    owner: Account | None = None

    @property
    def ok(self) -> bool:
        return self.state is LinkState.VALID


def _invitation(token: str | None, lock: bool = False) -> tuple[Invitation, MailLink | None]:
    checked = check_link(ALERT_RECIPIENT, token)
    if not checked.ok:
        return Invitation(checked.state), None
    link = checked.link
    recipient_id = (link.payload or {}).get("recipient_id")
    recipient = None
    if _is_id(recipient_id):
        statement = select(AlertRecipient).where(AlertRecipient.id == recipient_id)
        if lock:
            statement = statement.with_for_update().execution_options(populate_existing=True)
        recipient = db.session.scalar(statement)
    gateway = db.session.get(Gateway, recipient.gateway_id) if recipient else None
    if (recipient is None or recipient.email.lower() != link.email.lower()
            or gateway is None or gateway.owner_id != recipient.owner_id
            or gateway.status not in OWNED_STATUSES):
        return Invitation(LinkState.INVALID), None  # removed since: the link is dead
    owner = db.session.get(Account, recipient.owner_id)
    return Invitation(LinkState.VALID, recipient, gateway, owner), link


def invitation_for(token: str | None) -> Invitation:
    """The confirmation link's page (GET): valid, or why not."""
    return _invitation(token)[0]


def confirm(token: str | None) -> Invitation:
    """The recipient presses 受信を開始する: the link is spent, the recipient confirmed,
    the owner mailed. A second press finds the link spent. Commits."""
    found, link = _invitation(token, lock=True)
    if not found.ok:
        db.session.rollback()
        return found
    if not spend_link(link):
        db.session.rollback()
        return Invitation(LinkState.SPENT)
    recipient = found.recipient
    recipient.confirmed_at = recipient.confirmed_at or utcnow()
    audit.record("alert_recipient.confirmed", subject_id=recipient.owner_id,
                 gateway_id=found.gateway.gateway_id, recipient_id=recipient.id,
                 email=recipient.email)
    if found.owner is not None and found.owner.is_active:
        messages.send_alert_recipient_confirmed_mail(found.owner, recipient.email,
                                                     found.gateway)
    db.session.commit()
    return found


# -- the recipient stops -------------------------------------------------------------------
def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=STOP_SALT)


def stop_token(recipient: AlertRecipient) -> str:
    """The token of the stop link in every alert mail to `recipient` (stored nowhere)."""
    return _serializer().dumps([recipient.id, recipient.email])


def stop_url(recipient: AlertRecipient) -> str:
    return public_url("monitoring.alert_recipient_stop", token=stop_token(recipient))


def read_stop_token(token: str | None) -> tuple[int, str] | None:
    """(recipient id, address) of a stop token, or None when it was not made here."""
    if not isinstance(token, str) or not token or len(token) > STOP_TOKEN_MAX:
        return None
    try:
        value = _serializer().loads(token)
    except (BadSignature, UnicodeError, ValueError):
        return None
    if (not isinstance(value, list) or len(value) != 2 or not isinstance(value[0], int)
            or isinstance(value[0], bool) or not isinstance(value[1], str)):
        return None
    return value[0], value[1]


def stop(token: str | None) -> bool:
    """The recipient stops receiving: the row is deleted and the owner told. True for
    any token made here, whether the recipient still existed or not (no enumeration);
    False for a tampered one. Commits."""
    read = read_stop_token(token)
    if read is None:
        return False
    recipient_id, email = read
    if not _is_id(recipient_id):
        return True
    recipient = db.session.scalar(
        select(AlertRecipient).where(AlertRecipient.id == recipient_id)
        .with_for_update().execution_options(populate_existing=True))
    if recipient is None or recipient.email.lower() != email.lower():
        db.session.rollback()
        return True
    gateway = db.session.get(Gateway, recipient.gateway_id)
    owner = db.session.get(Account, recipient.owner_id)
    _end_links(recipient)
    audit.record("alert_recipient.stopped", subject_id=recipient.owner_id,
                 gateway_id=gateway.gateway_id if gateway else None,
                 recipient_id=recipient.id, email=recipient.email)
    if owner is not None and owner.is_active and gateway is not None:
        messages.send_alert_recipient_stopped_mail(owner, recipient.email, gateway)
    db.session.delete(recipient)
    db.session.commit()
    return True


# -- alerts ------------------------------------------------------------------------------
def notify(gateway: Gateway, alert, recovered: bool, now: datetime,
           owner: Account | None) -> None:
    """Queue an alert's mail to every confirmed recipient of the gateway, one each, with
    its stop link (in the caller's transaction)."""
    if owner is None:
        return
    for recipient in confirmed_recipients(gateway):
        messages.send_alert_recipient_alert_mail(recipient.email, owner, gateway, alert,
                                                 recovered, now, stop_url(recipient))


# -- gateway events ----------------------------------------------------------------------
def follow_exchange(old_pk: int, new_pk: int, _now: datetime) -> None:
    """An exchange: the recipients go on with the new gateway (the owner stays)."""
    db.session.execute(update(AlertRecipient).where(AlertRecipient.gateway_id == old_pk)
                       .values(gateway_id=new_pk),
                       execution_options={"synchronize_session": False})


def drop_recipients(gateway_pks: list[int], _now: datetime, reason: str) -> None:
    """Disposal or release: the recipients belonged to the owner and this gateway."""
    if not gateway_pks:
        return
    db.session.execute(delete(AlertRecipient).where(AlertRecipient.gateway_id.in_(gateway_pks)),
                       execution_options={"synchronize_session": False})


# -- who can see my home -------------------------------------------------------------------
def access_lines(owner: Account) -> list[AccessLine]:
    """A line per confirmed recipient: they receive the gateway's alert mails."""
    rows = db.session.execute(
        select(AlertRecipient.id, AlertRecipient.email, AlertRecipient.confirmed_at,
               Gateway.gateway_id, Gateway.site_name)
        .join(Gateway, Gateway.id == AlertRecipient.gateway_id)
        .where(AlertRecipient.owner_id == owner.id, Gateway.owner_id == owner.id,
               Gateway.status.in_(OWNED_STATUSES),
               AlertRecipient.confirmed_at.is_not(None))
        .order_by(Gateway.gateway_id, AlertRecipient.confirmed_at, AlertRecipient.id))
    return [AccessLine(who=email, what=_l("アラートメールの受信"),
                       scope=f"{gateway_id} {site or ''}".strip(), since=since,
                       manage_url=url_for("monitoring.alert_recipient_remove",
                                          gateway_id=gateway_id, recipient_id=recipient_id))
            for recipient_id, email, since, gateway_id, site in rows]


def personal_data(owner: Account) -> dict:
    """The owner's extra alert recipients, for 個人データのダウンロード."""
    from blueprints.account.data_export import Table, iso
    rows = db.session.execute(
        select(Gateway.gateway_id, AlertRecipient.email, AlertRecipient.created_at,
               AlertRecipient.confirmed_at)
        .join(Gateway, Gateway.id == AlertRecipient.gateway_id)
        .where(AlertRecipient.owner_id == owner.id)
        .order_by(AlertRecipient.created_at, AlertRecipient.id))
    return {"alert_recipients": Table(
        ("gateway_id", "email", "added_at", "confirmed_at"),
        [{"gateway_id": gateway_id, "email": email, "added_at": iso(added),
          "confirmed_at": iso(confirmed)}
         for gateway_id, email, added, confirmed in rows])}
