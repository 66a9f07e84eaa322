"""The single ID: sign-up, activation, sign-in, passwords, settings, employees, deletion."""
from flask import Blueprint

bp = Blueprint("account", __name__)

from blueprints.account import views  # noqa: E402,F401
