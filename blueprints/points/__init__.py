"""The points service (seed 001 §2): the sign-up (signed in, or mail-first from another
device), the member's page with the ledger, monthly accrual from self-consumed solar,
exchange and 退会; the staff list and the credit report's CSV.

Registers with core's registry: launcher tile, demo data, the monthly job's CLI, the
monitoring panel (this month's estimate), the access line, gateway events, deletion."""
from flask import Blueprint

bp = Blueprint("points", __name__)
URL_PREFIX = "/points"

# >>> points sign-up (helper B) registrations
from blueprints.core import registry  # noqa: E402
from blueprints.points import signup, signup_views  # noqa: E402,F401
from mail import on_mail_request  # noqa: E402

# Whether the sign-up link or a "sign in and continue" mail goes out: the relay decides.
on_mail_request(signup.SIGNUP, signup.signup_requested)
# Joining the points service and changing お客様情報 are the owner's own acts.
registry.refuse_while_acting("points.signup_form", "points.info_edit")
# <<< points sign-up

# >>> points ledger (helper C) registrations
# <<< points ledger
