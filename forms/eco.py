"""Forms of the eco programme (みんなでつくるエコ活): the 会員規約, 申込 and 解約."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField

from forms.fields import PageForm
from forms.validators import MustAccept


class TermsForm(PageForm):
    """会員規約: 同意する (button `agree`) or 同意しない (button `decline`); the form
    carries the CSRF token."""


class ApplyForm(PageForm):
    """申込: the owner's two declarations (会員規約 第2条-2), then 申込を確定する (step
    "confirm")."""

    no_private_generator = BooleanField(
        _l("自家発電装置（エネファームなどの燃料電池）を設置していません"),
        validators=[MustAccept(_l("この条件を満たす場合にのみお申し込みいただけます"))])
    no_other_scheme = BooleanField(
        _l("J-クレジットの別のプロジェクトや他の類似制度に登録していません"),
        validators=[MustAccept(_l("この条件を満たす場合にのみお申し込みいただけます"))])
    step = HiddenField(default="entry")


class CancelForm(PageForm):
    """解約: the confirmation is the page; the form carries the CSRF token."""
