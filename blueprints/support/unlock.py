"""Device unlock codes (the manual's PUK): a dealer entrusted with a gateway asks for a
code that unlocks the settings of one of its units (power conditioners); the gateway
asks the API whether a code typed on the unit is good.

- Only an employee (any member) of a dealer company linked to the gateway (`DealerLink`)
  gets a code, for a unit of that gateway, while the gateway is in service.
- A code is 10 random characters from an alphabet without look-alikes (no 0/O, 1/I),
  shown once as `XXXXX-XXXXX`. Only its sha256 is stored, with the unit and
  `expires_at` (SUPPORT_UNLOCK_CODE_TTL later). Nobody can show it again.
- A dealer company gets at most SUPPORT_UNLOCK_CODES_PER_DAY codes per day (Japan time),
  counted from the rows under a lock of the dealer's row, so that two requests at once
  cannot both take the last one. The same form posted twice issues one code.
- A code is good once: `verify_code` marks it used with one UPDATE … WHERE used_at IS
  NULL, so two verifications at once cannot both succeed. Issuing and every verification
  are audited (never with the code).
"""
from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from blueprints.core import audit
from blueprints.core.paging import Page
from blueprints.dealers.services import dealer_for_account
from models import JST, db, utcnow
from models.account import Account
from models.gateway import Dealer, DealerLink, Gateway, GatewayStatus, PcsUnit
from models.support import UnlockCode
from forms.validators import today_in_japan

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0 O 1 I
CODE_LENGTH = 10
IN_SERVICE = (GatewayStatus.ACTIVE.value, GatewayStatus.PROVISIONAL.value)
ISSUED = "support.unlock_code_issued"
USED = "support.unlock_code_used"
REFUSED = "support.unlock_code_refused"


class NotEntrusted(Exception):
    """The account is not an employee of a dealer linked to this gateway (or the unit is
    not the gateway's, or the gateway is out of service)."""


class DailyLimitReached(Exception):
    """The dealer company had SUPPORT_UNLOCK_CODES_PER_DAY codes today."""


class AlreadyIssued(Exception):
    """This form was posted before: its code was issued (and shown) then."""


# -- codes --------------------------------------------------------------------------------
def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def display(code: str) -> str:
    """"ABCDE23456" → "ABCDE-23456"."""
    return f"{code[:5]}-{code[5:]}"


def normalize_code(value) -> str | None:
    """What a person may type for a code, as stored: full width to half, lower case to
    upper, dashes and spaces dropped; None unless 10 characters of the alphabet.
    " abcde－２３４５６ " → "ABCDE23456"."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    cleaned = unicodedata.normalize("NFKC", value).upper()
    cleaned = "".join(char for char in cleaned if char not in " -\u2010\u2011\u2212\u30fc")
    if len(cleaned) != CODE_LENGTH or any(char not in ALPHABET for char in cleaned):
        return None
    return cleaned


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


# -- which gateways and units ----------------------------------------------------------------
def dealer_of(account: Account) -> Dealer | None:
    """The dealer whose employee `account` is (None: not a dealer's employee)."""
    return dealer_for_account(account)


def linked_gateways(dealer: Dealer) -> list[Gateway]:
    """The gateways in service entrusted to the dealer, by ゲートウェイID."""
    return list(db.session.scalars(
        select(Gateway).join(DealerLink, DealerLink.gateway_id == Gateway.id)
        .where(DealerLink.dealer_id == dealer.id, Gateway.status.in_(IN_SERVICE))
        .order_by(Gateway.gateway_id)))


def linked_gateway(dealer: Dealer, gateway_id: str | None) -> Gateway | None:
    """One of them by its ゲートウェイID, or None (malformed, not linked, out of service)."""
    if not isinstance(gateway_id, str) or len(gateway_id) != 12:
        return None
    return db.session.scalar(
        select(Gateway).join(DealerLink, DealerLink.gateway_id == Gateway.id)
        .where(DealerLink.dealer_id == dealer.id, Gateway.gateway_id == gateway_id,
               Gateway.status.in_(IN_SERVICE)))


def units_of(gateway: Gateway) -> list[PcsUnit]:
    return list(db.session.scalars(select(PcsUnit).where(PcsUnit.gateway_id == gateway.id)
                                   .order_by(PcsUnit.unit_no)))


def unit_of(gateway: Gateway, unit_no: int) -> PcsUnit | None:
    return db.session.scalar(select(PcsUnit).where(PcsUnit.gateway_id == gateway.id,
                                                   PcsUnit.unit_no == unit_no))


# -- issuing --------------------------------------------------------------------------------
def _day_start() -> datetime:
    return datetime.combine(today_in_japan(), time(0), tzinfo=JST)


def _company_codes_since(dealer_id: int, since: datetime) -> int:
    return db.session.scalar(
        select(func.count()).select_from(UnlockCode)
        .where(UnlockCode.dealer_id == dealer_id, UnlockCode.issued_at >= since))


def _posted_before(dealer_id: int, request_key: str) -> bool:
    """Whether this form (its one-time key) issued a code already."""
    return db.session.scalar(select(UnlockCode.id).where(
        UnlockCode.dealer_id == dealer_id, UnlockCode.request_key == request_key)) is not None


def issue_code(dealer_account: Account, gateway: Gateway, unit: PcsUnit,
               request_key: str | None = None) -> str:
    """A new code for `unit` of `gateway`, returned once (formatted XXXXX-XXXXX) and
    committed hashed. Raises NotEntrusted, DailyLimitReached or (the same form again)
    AlreadyIssued."""
    dealer = dealer_of(dealer_account)
    if (dealer is None or unit.gateway_id != gateway.id
            or linked_gateway(dealer, gateway.gateway_id) is None):
        raise NotEntrusted()
    # One issue at a time per dealer company (PostgreSQL: this row lock; SQLite: every
    # transaction holds the write lock): the count and the key below stay true until
    # the commit.
    db.session.scalar(select(Dealer.id).where(Dealer.id == dealer.id).with_for_update())
    since = _day_start()
    if request_key and _posted_before(dealer.id, request_key):
        db.session.rollback()
        raise AlreadyIssued()
    if _company_codes_since(dealer.id, since) >= current_app.config[
            "SUPPORT_UNLOCK_CODES_PER_DAY"]:
        db.session.rollback()
        raise DailyLimitReached()
    now = utcnow()
    while True:
        code = new_code()
        row = UnlockCode(dealer_id=dealer.id, request_key=request_key, gateway_id=gateway.id,
                         unit_id=unit.id, code_hash=code_hash(code),
                         issued_by_id=dealer_account.id, issued_at=now,
                         expires_at=now + current_app.config["SUPPORT_UNLOCK_CODE_TTL"])
        try:
            with db.session.begin_nested():
                db.session.add(row)
        except IntegrityError:
            if request_key and _posted_before(dealer.id, request_key):
                db.session.rollback()  # the same form, posted at the same moment
                raise AlreadyIssued() from None
            continue  # the same 50 random bits twice: draw again
        break
    audit.record(ISSUED, actor_id=dealer_account.id, gateway=gateway.gateway_id,
                 unit=unit.unit_no, code_id=row.id, dealer=dealer.dealer_code)
    db.session.commit()
    return display(code)


def expiry_of(code: str) -> datetime | None:
    """When a code just issued expires (for the page that shows it once)."""
    normalised = normalize_code(code)
    if normalised is None:
        return None
    return db.session.scalar(select(UnlockCode.expires_at)
                             .where(UnlockCode.code_hash == code_hash(normalised)))


# -- verifying ------------------------------------------------------------------------------
def verify_code(gateway: Gateway, unit_no: int, code: str) -> bool:
    """Whether `code` is a good code for unit `unit_no` of `gateway`: the right hash, the
    same gateway and unit, not expired, not used. A good one is used up now (one UPDATE:
    of two verifications at once, one succeeds)."""
    normalised = normalize_code(code)
    unit = unit_of(gateway, unit_no) if normalised else None
    used = False
    if unit is not None:
        now = utcnow()
        result = db.session.execute(
            update(UnlockCode)
            .where(UnlockCode.code_hash == code_hash(normalised),
                   UnlockCode.gateway_id == gateway.id, UnlockCode.unit_id == unit.id,
                   UnlockCode.used_at.is_(None), UnlockCode.expires_at > now)
            .values(used_at=now)
            .execution_options(synchronize_session=False))
        used = result.rowcount == 1
    audit.record(USED if used else REFUSED, gateway=gateway.gateway_id, unit=unit_no)
    db.session.commit()
    return used


# -- the company's history ---------------------------------------------------------------
@dataclass
class IssuedCode:
    """One line of the history (never the code: it is not kept)."""

    gateway_id: str
    unit_no: int
    serial: str
    issued_by: str
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None

    @property
    def state(self) -> str:
        if self.used_at is not None:
            return "used"
        return "expired" if self.expires_at <= utcnow() else "unused"


def company_history(dealer: Dealer, page: int = 1, per_page: int = 20) -> Page:
    """The codes the dealer's company was issued, newest first (one query per page)."""
    page, per_page = max(1, page), max(1, per_page)
    total = db.session.scalar(select(func.count()).select_from(UnlockCode)
                              .where(UnlockCode.dealer_id == dealer.id))
    rows = db.session.execute(
        select(Gateway.gateway_id, PcsUnit.unit_no, PcsUnit.serial, Account.family_name,
               Account.given_name, UnlockCode.issued_at, UnlockCode.expires_at,
               UnlockCode.used_at)
        .join(Gateway, Gateway.id == UnlockCode.gateway_id)
        .join(PcsUnit, PcsUnit.id == UnlockCode.unit_id)
        .outerjoin(Account, Account.id == UnlockCode.issued_by_id)
        .where(UnlockCode.dealer_id == dealer.id)
        .order_by(UnlockCode.issued_at.desc(), UnlockCode.id.desc())
        .limit(per_page).offset((page - 1) * per_page))
    items = [IssuedCode(gateway_id, unit_no, serial,
                        f"{family} {given}" if family else _("削除されたアカウント"),
                        issued, expires, used)
             for gateway_id, unit_no, serial, family, given, issued, expires, used in rows]
    return Page(items, total, page, per_page)


def ttl_hours() -> int:
    return int(current_app.config["SUPPORT_UNLOCK_CODE_TTL"] / timedelta(hours=1))
