"""Gateway registration and monitoring: slips, the registration wizard, gateway management."""
from flask import Blueprint

bp = Blueprint("monitoring", __name__)

from blueprints.monitoring import manage, monitor, views  # noqa: E402,F401
