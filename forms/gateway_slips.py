"""Form of the staff page that issues gateway slips."""
from __future__ import annotations

import re
import unicodedata

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import StopValidation

from forms.validators import MaxLength, NoControlCharacters, Required

NUMERIC = {"inputmode": "numeric", "autocomplete": "off"}
MAX_SLIPS_PER_PAGE = 100
MAX_PCS_UNITS = 6


def _normalize_ascii(value):
    """Full-width digits and letters to half-width, trimmed, upper-cased."""
    if not isinstance(value, str):
        return value
    return unicodedata.normalize("NFKC", value).strip().upper()


class IntegerBetween:
    """A whole number typed as text (full-width digits accepted), within bounds."""

    def __init__(self, minimum: int, maximum: int):
        self.minimum, self.maximum = minimum, maximum

    def __call__(self, form, field):
        data = field.data if isinstance(field.data, str) else ""
        if not re.fullmatch(r"[0-9]{1,4}", data) or not (
                self.minimum <= int(data) <= self.maximum):
            raise StopValidation(_l("%(min)dから%(max)dまでの数字で入力してください",
                                    min=self.minimum, max=self.maximum))


class GatewayModel:
    def __call__(self, form, field):
        if not re.fullmatch(r"GW-M[0-9]{3}", field.data if isinstance(field.data, str) else ""):
            raise StopValidation(_l("機種は GW-M と数字3桁で入力してください（例: GW-M001）"))


class SlipIssueForm(FlaskForm):
    """スリップ発行: how many gateways, which model, how many power conditioners each."""

    count = StringField(_l("発行枚数"), default="10",
                        description=_l("1〜%(max)d枚", max=MAX_SLIPS_PER_PAGE),
                        filters=[_normalize_ascii],
                        validators=[Required(), MaxLength(10), NoControlCharacters(),
                                    IntegerBetween(1, MAX_SLIPS_PER_PAGE)],
                        render_kw=NUMERIC)
    model = StringField(_l("ゲートウェイ機種"), default="GW-M001",
                        description=_l("GW-M と数字3桁（例: GW-M001）"),
                        filters=[_normalize_ascii],
                        validators=[Required(), MaxLength(20), NoControlCharacters(),
                                    GatewayModel()],
                        render_kw={"autocomplete": "off", "autocapitalize": "characters",
                                   "spellcheck": "false"})
    pcs = StringField(_l("パワーコンディショナ台数"), default="1",
                      description=_l("1台のゲートウェイにつき1〜%(max)d台", max=MAX_PCS_UNITS),
                      filters=[_normalize_ascii],
                      validators=[Required(), MaxLength(10), NoControlCharacters(),
                                  IntegerBetween(1, MAX_PCS_UNITS)],
                      render_kw=NUMERIC)
