"""The gateway API (`/api/v1/...`): JSON in and out, authenticated per gateway."""
from flask import Blueprint

bp = Blueprint("api", __name__)
URL_PREFIX = "/api/v1"

from blueprints.api import views  # noqa: E402,F401
