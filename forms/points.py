"""Forms of the points service: the exchange (choose, confirm), 退会, and the staff's
correction and report month. Helper B's sign-up forms live in their own block."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, StringField

from forms.validators import (MaxLength, MustAccept, NoControlCharacters, OneOf, Required,
                              RequiredChoice, WholeNumber, normalize_integer,
                              normalize_one_line)

# >>> points ledger (helper C) forms
MAX_CORRECTION = 1_000_000


class ExchangeChoiceForm(FlaskForm):
    """ポイント交換: one item of the catalogue (the view sets the choices)."""

    class Meta:
        csrf = False  # a GET form: it only opens the confirmation page

    item = RadioField(_l("交換する商品"), validators=[RequiredChoice(), OneOf()],
                      validate_choice=False)


class ExchangeConfirmForm(FlaskForm):
    """交換内容の確認: the item and the page's request key (a double submit adds one)."""

    item = HiddenField()
    request_key = HiddenField()


class LeaveForm(FlaskForm):
    """退会: the person confirms they read what happens."""

    confirm = BooleanField(_l("このIDではポイントサービスに再び申し込めないこと、残っているポイントが失効することを確認しました"),
                           validators=[MustAccept(_l("確認のうえ、チェックを入れてください"))])


class CorrectionForm(FlaskForm):
    """スタッフによるポイント修正: +/− points and the reason (kept in the ledger)."""

    points = StringField(_l("ポイント（減らすときは -）"), filters=[normalize_integer],
                         validators=[Required(), WholeNumber(-MAX_CORRECTION, MAX_CORRECTION)],
                         render_kw={"inputmode": "numeric", "autocomplete": "off"})
    reason = StringField(_l("理由"), filters=[normalize_one_line],
                         validators=[Required(), MaxLength(200), NoControlCharacters()])
# <<< points ledger
