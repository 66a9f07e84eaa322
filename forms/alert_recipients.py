"""Forms of the extra alert recipients (blueprints/monitoring/recipients.py): the owner
adds an address; removing, confirming and stopping are a button (the CSRF token only)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import StringField

from forms.fields import PageForm
from forms.validators import Email, NoControlCharacters, Required, normalize_email

EMAIL_KW = {"autocomplete": "off", "inputmode": "email", "type": "email",
            "autocapitalize": "none", "spellcheck": "false"}


class AlertRecipientForm(PageForm):
    """宛先を追加: the address of a family member (the rules of every e-mail field)."""

    email = StringField(_l("メールアドレス"), filters=[normalize_email],
                        validators=[Required(), NoControlCharacters(), Email()],
                        render_kw=EMAIL_KW)


class AlertRecipientActionForm(PageForm):
    """削除する / 受信を開始する / 受信を停止する: the subject is in the URL."""
