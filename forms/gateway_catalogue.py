"""Forms of the staff pages that keep the system-model catalogue and set a gateway's
運転開始日 (`/staff/gateways/models`, `/staff/gateways/gateways/<ID>`)."""
from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import Optional, StopValidation

from forms.gateway_slips import GatewayModel, IntegerBetween, _normalize_ascii
from forms.validators import (
    MaxLength,
    NoControlCharacters,
    PastDate,
    Required,
    WebsiteUrl,
    normalize_date,
    normalize_gateway_id,
    normalize_website,
)

NUMERIC = {"inputmode": "numeric", "autocomplete": "off"}
MAX_WARRANTY_YEARS = 30
MAX_STORAGE_KWH = 1000


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class StorageKwh:
    """蓄電容量 in kWh: a number above 0 with at most two decimals (`7.4`, `14.85`)."""

    def __call__(self, form, field):
        value = field.data if isinstance(field.data, str) else ""
        if not re.fullmatch(r"[0-9]{1,4}(\.[0-9]{1,2})?", value) or not (
                0 < float(value) <= MAX_STORAGE_KWH):
            raise StopValidation(_l("蓄電容量は0より大きい数字で入力してください（例: 7.4）"))


class SystemModelForm(FlaskForm):
    """システム機種: the code printed on slips, the name owners see, the warranty."""

    code = StringField(_l("機種コード"), description=_l("GW-M と数字3桁（例: GW-M004）"),
                       filters=[_normalize_ascii],
                       validators=[Required(), MaxLength(20), NoControlCharacters(),
                                   GatewayModel()],
                       render_kw={"autocomplete": "off", "autocapitalize": "characters",
                                  "spellcheck": "false"})
    name = StringField(_l("システム機種名"), filters=[_strip],
                       validators=[Required(), MaxLength(60), NoControlCharacters()],
                       render_kw={"autocomplete": "off"})
    storage_kwh = StringField(_l("蓄電容量（kWh）"), description=_l("空欄可（例: 7.4）"),
                              filters=[_normalize_ascii],
                              validators=[Optional(), MaxLength(10), StorageKwh()],
                              render_kw={"inputmode": "decimal", "autocomplete": "off"})
    warranty_years = StringField(
        _l("標準保証（年）"), default="10", filters=[_normalize_ascii],
        validators=[Required(), MaxLength(4), IntegerBetween(1, MAX_WARRANTY_YEARS)],
        render_kw=NUMERIC)
    extension_years = StringField(
        _l("製品登録による延長（年）"), default="0", filters=[_normalize_ascii],
        description=_l("設置日から期限内に製品登録されたときに加わる年数。延長なしは0"),
        validators=[Required(), MaxLength(4), IntegerBetween(0, MAX_WARRANTY_YEARS)],
        render_kw=NUMERIC)
    manual_url = StringField(_l("取扱説明書のURL"), description=_l("空欄可"),
                             filters=[normalize_website],
                             validators=[Optional(), WebsiteUrl()],
                             render_kw={"inputmode": "url", "autocomplete": "off"})
    eco_eligible = BooleanField(_l("エコ活の対象機種"))
    offered = BooleanField(_l("製品登録で選択できる（販売中）"), default=True)

    def catalogue_data(self) -> dict:
        return {"code": self.code.data, "name": self.name.data,
                "storage_kwh": float(self.storage_kwh.data) if self.storage_kwh.data else None,
                "eco_eligible": bool(self.eco_eligible.data),
                "warranty_years": int(self.warranty_years.data),
                "extension_years": int(self.extension_years.data),
                "manual_url": self.manual_url.data or None,
                "offered": bool(self.offered.data)}


class GatewayLookupForm(FlaskForm):
    """Find a gateway by its ゲートウェイID (a GET form: no CSRF)."""

    class Meta:
        csrf = False

    gateway_id = StringField(_l("ゲートウェイID"), filters=[normalize_gateway_id],
                             validators=[Required(), MaxLength(30), NoControlCharacters()],
                             render_kw={"autocomplete": "off", "autocapitalize": "characters",
                                        "spellcheck": "false", "placeholder": "01AB12345678"})


class OperationStartForm(FlaskForm):
    """運転開始日 of one gateway; empty clears it (the first reading's day counts then)."""

    operation_started_on = StringField(
        _l("運転開始日"), filters=[normalize_date],
        description=_l("空欄にすると初回通信日が運転開始日になります"),
        validators=[Optional(), MaxLength(20), PastDate()],
        render_kw={"type": "date", "min": "2000-01-01"})
