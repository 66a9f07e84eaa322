"""The device credential of a gateway: the API key issued with its slip (never the
owner's password), stored only as a hash, and the check of a key the gateway presents."""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from sqlalchemy import Select, bindparam, select
from sqlalchemy.engine import Row

from models import db, utcnow
from models.gateway import Gateway, GatewayStatus

API_KEY_PREFIX = "gwk_"
REPORTING_STATUSES = (GatewayStatus.ACTIVE, GatewayStatus.PROVISIONAL)


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key() -> str:
    """A random device key (256 bits). Only its hash is stored."""
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def set_api_key(gateway: Gateway, key: str | None = None) -> str:
    """Give the gateway a (new) API key and return it; the caller commits. The old key,
    if any, stops working."""
    key = key or new_api_key()
    gateway.api_key_hash = _key_hash(key)
    gateway.api_key_issued_at = utcnow()
    return key


# Built once: SQLAlchemy then reuses its compiled form for every request.
BY_GATEWAY_ID = select(Gateway).where(Gateway.gateway_id == bindparam("gateway_id"))


def authenticate(gateway_id: str, key: str | None) -> Gateway | None:
    """The gateway whose ID and API key these are, whatever its status, or None. An
    unknown ID and a wrong key take the same path (a hash and a constant-time compare)."""
    row = authenticate_row(gateway_id, key, BY_GATEWAY_ID)
    return row[0] if row is not None else None


def authenticate_row(gateway_id: str, key: str | None, statement: Select) -> Row | None:
    """As `authenticate`, with `statement` (BY_GATEWAY_ID with more columns a caller
    needs, read in the same statement): its row, the gateway first, or None."""
    if not isinstance(key, str) or not key or len(key) > 200:
        return None
    if not isinstance(gateway_id, str) or not re.fullmatch(r"[0-9A-Z]{12}", gateway_id):
        return None
    row = db.session.execute(statement, {"gateway_id": gateway_id}).first()
    gateway = row[0] if row is not None else None
    stored = gateway.api_key_hash if gateway is not None and gateway.api_key_hash else ""
    if not hmac.compare_digest(_key_hash(key), stored or "0" * 64) or not stored:
        return None
    return row


def may_report(gateway: Gateway) -> bool:
    """Registered gateways in service report; unregistered and retired ones are refused."""
    return GatewayStatus(gateway.status) in REPORTING_STATUSES
