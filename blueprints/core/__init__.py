"""Shared pieces: home launcher, health, postal lookup, language switch, dev mailbox,
link error pages, and the mechanisms every service uses (wizard, links, audit)."""
from flask import Blueprint

bp = Blueprint("core", __name__)

from blueprints.core import views  # noqa: E402,F401
from blueprints.core import help as _help  # noqa: E402,F401  (FAQ pages, sample slip)
