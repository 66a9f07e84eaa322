"""Paper slips: operator staff issue unowned gateways, each with a slip password that is
printed once and stored only as a hash, and the power-conditioner units it ships with."""
from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass

from flask import current_app
from markupsafe import Markup
from sqlalchemy import select

from blueprints.account.services import hash_password
from blueprints.core import audit
from blueprints.core.qr import qr_svg as core_qr_svg
from blueprints.gateways.credentials import new_api_key, set_api_key
from models import db
from models.gateway import Gateway, GatewayStatus, PcsUnit

MAX_SLIPS = 500
MAX_PCS_UNITS = 6
DEFAULT_MODEL = "GW-M001"
PCS_MODEL = "PCS-5K"
MODEL_PATTERN = re.compile(r"GW-M[0-9]{3}")
REGISTRATION_PATH = "/monitoring/register"  # fixed entry point, printed on every slip

# Lowercase letters and digits without the pairs that are confused on paper
# (l/1, o/0): an owner types the password from the printed slip.
PASSWORD_ALPHABET = "".join(c for c in string.ascii_lowercase + string.digits if c not in "lo01")
PASSWORD_LENGTH = 12
SERIAL_ALPHABET = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class IssuedSlip:
    """What is printed on one slip. The password exists nowhere else."""

    gateway_id: str
    password: str
    model: str
    pcs_serials: tuple[str, ...]
    api_key: str = ""  # the device's credential for the gateway API (not printed on the slip)


def _random_gateway_id() -> str:
    """`01AB12345678` style: 2 digits, 2 letters, 8 digits."""
    return ("".join(secrets.choice(string.digits) for _ in range(2))
            + "".join(secrets.choice(string.ascii_uppercase) for _ in range(2))
            + "".join(secrets.choice(string.digits) for _ in range(8)))


def random_slip_password() -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


def _random_serial() -> str:
    return "".join(secrets.choice(SERIAL_ALPHABET) for _ in range(8))


def _unused_gateway_ids(count: int) -> list[str]:
    ids: set[str] = set()
    while len(ids) < count:
        wanted = {_random_gateway_id() for _ in range(count - len(ids))} - ids
        taken = set(db.session.scalars(select(Gateway.gateway_id)
                                       .where(Gateway.gateway_id.in_(wanted))))
        ids |= wanted - taken
    return sorted(ids)


def new_gateway(gateway_id: str, password: str, model: str,
                serials: list[str] | tuple[str, ...], api_key: str | None = None) -> Gateway:
    """An unowned gateway with its units and an API key (random unless given), added to
    the session (the caller commits)."""
    gateway = Gateway(gateway_id=gateway_id, slip_password_hash=hash_password(password),
                      model=model, status=GatewayStatus.UNREGISTERED)
    set_api_key(gateway, api_key)
    gateway.units = [PcsUnit(unit_no=no, model=PCS_MODEL, serial=serial)
                     for no, serial in enumerate(serials, start=1)]
    db.session.add(gateway)
    return gateway


def issue_slips(count: int, model: str = DEFAULT_MODEL, pcs_units: int = 1,
                actor_id: int | None = None) -> list[IssuedSlip]:
    """Create `count` unowned gateways and return their slips (with the plain passwords
    and API keys, shown this once). Raises ValueError for a count, model or unit count
    out of bounds."""
    if not isinstance(count, int) or not 1 <= count <= MAX_SLIPS:
        raise ValueError(f"count must be between 1 and {MAX_SLIPS}")
    if not isinstance(model, str) or not MODEL_PATTERN.fullmatch(model):
        raise ValueError("model must look like GW-M001")
    if not isinstance(pcs_units, int) or not 1 <= pcs_units <= MAX_PCS_UNITS:
        raise ValueError(f"pcs_units must be between 1 and {MAX_PCS_UNITS}")
    slips = []
    for gateway_id in _unused_gateway_ids(count):
        password = random_slip_password()
        serials = tuple(_random_serial() for _ in range(pcs_units))
        api_key = new_api_key()
        new_gateway(gateway_id, password, model, serials, api_key)
        slips.append(IssuedSlip(gateway_id, password, model, serials, api_key))
    audit.record("gateway.slips_issued", actor_id=actor_id, count=count, model=model,
                 pcs_units=pcs_units)
    db.session.commit()
    return slips


def registration_url() -> str:
    """The absolute registration URL printed on slips, on the configured public host."""
    scheme = current_app.config["PREFERRED_URL_SCHEME"]
    return f"{scheme}://{current_app.config['PUBLIC_HOST']}{REGISTRATION_PATH}"


def qr_svg(data: str, label: str) -> Markup:
    """The registration URL's QR code as printed on a slip."""
    return core_qr_svg(data, label, "slip-qr")
