"""The single ID: sign-up, activation, sign-in, passwords, settings, employees, deletion."""
from flask import Blueprint

from mail import on_mail_request

bp = Blueprint("account", __name__)

from blueprints.account import services, views  # noqa: E402,F401

# Mail that a request may not decide (it would tell who has an account): the relay does.
on_mail_request(services.PASSWORD_RESET, services.password_reset_requested)
on_mail_request(services.ACTIVATION, services.activation_requested)
