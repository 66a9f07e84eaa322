"""The points service (seed 001 §2): the sign-up (signed in, or mail-first from another
device), the member's page with the ledger, monthly accrual from self-consumed solar,
exchange and 退会; the staff list and the credit report's CSV.

Registers with core's registry: launcher tile, demo data, the monthly job's CLI, the
monitoring panel (this month's estimate), the access line, gateway events, deletion."""
from flask import Blueprint

bp = Blueprint("points", __name__)
URL_PREFIX = "/points"

# >>> points sign-up (helper B) registrations
# <<< points sign-up

# >>> points ledger (helper C) registrations
# <<< points ledger
