"""The eco programme (みんなでつくるエコ活, seed 001 §1, seed 002 STEP4): eligibility per
gateway, the guidance mail, 申込 / 照会 / 解約 from the gateways main menu.

Registers with core's registry: the main-menu entry and the STEP4 offer (page sections),
the guidance job, the owner's access line, gateway events and the deletion hook."""
from flask import Blueprint

bp = Blueprint("eco", __name__)
URL_PREFIX = "/eco"

# >>> eco (helper A) registrations
# <<< eco
