"""Dealers: maintenance links between owners' gateways and dealers (販売店), the owner's
dealer pages and the dealer console. Importing this package registers the account-deletion
hook (in services) that releases an account's gateways."""
from flask import Blueprint

bp = Blueprint("dealers", __name__)

from blueprints.dealers import services, views  # noqa: E402,F401
