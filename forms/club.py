"""Forms of the owners club."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import TextAreaField

from forms.fields import PageForm
from forms.validators import MaxLength, NoControlCharacters, Required, normalize_one_line


# -- proxy login --
class ProxyStartForm(PageForm):
    """代理ログイン: the reason the owner will read in the mail and the アクセス履歴."""

    reason = TextAreaField(
        _l("代理ログインの理由"), filters=[normalize_one_line],
        validators=[Required(), NoControlCharacters(), MaxLength(200)],
        description=_l("お客様にメールでお知らせし、アクセス履歴に残ります（200文字以内）。"),
        render_kw={"rows": 3})
