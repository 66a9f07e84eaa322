"""The form of the remote settings page (blueprints/monitoring/settings.py): the whole
set of settings, and the version it was based on (hidden), so that a form older than the
current settings changes nothing."""
from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, RadioField, SelectField, StringField

from blueprints.monitoring import settings
from forms.fields import PageForm
from forms.validators import (
    ClockStep,
    NoControlCharacters,
    OneOf,
    PercentRange,
    Required,
    RequiredChoice,
    normalize_clock,
    normalize_integer,
)

SELL_CHOICES = [("yes", settings.SELLING[True]), ("no", settings.SELLING[False])]


def _version(value):
    text = normalize_integer(value)
    return text if isinstance(text, str) and re.fullmatch(r"\d{1,9}", text) else None


class SettingsForm(PageForm):
    """運転モード, 充電する時間帯, 放電下限の蓄電残量, 放電時の売電, 停電時の自立運転."""

    base_version = HiddenField(filters=[_version])
    operation_mode = RadioField(
        settings.FIELD_LABELS["operation_mode"], choices=list(settings.MODES.items()),
        validators=[RequiredChoice(), OneOf()], validate_choice=False)
    charge_start = SelectField(
        settings.FIELD_LABELS["charge_start"], filters=[normalize_clock],
        validators=[RequiredChoice(), NoControlCharacters(), ClockStep(settings.STEP_MINUTES)],
        validate_choice=False)
    charge_end = SelectField(
        settings.FIELD_LABELS["charge_end"], filters=[normalize_clock],
        validators=[RequiredChoice(), NoControlCharacters(), ClockStep(settings.STEP_MINUTES)],
        validate_choice=False)
    discharge_floor = StringField(
        settings.FIELD_LABELS["discharge_floor"], filters=[normalize_integer],
        validators=[Required(), NoControlCharacters(),
                    PercentRange(settings.FLOOR_MIN, settings.FLOOR_MAX)],
        description=_l("%(min)d〜%(max)d%%。蓄電残量がこの値まで下がると放電を止め、残りを停電に備えて残します。",
                       min=settings.FLOOR_MIN, max=settings.FLOOR_MAX),
        render_kw={"inputmode": "numeric", "maxlength": 4, "autocomplete": "off"})
    sell_when_discharging = RadioField(
        settings.FIELD_LABELS["sell_when_discharging"], choices=SELL_CHOICES,
        validators=[RequiredChoice(), OneOf()], validate_choice=False)
    islanding = RadioField(
        settings.FIELD_LABELS["islanding"], choices=list(settings.ISLANDING.items()),
        validators=[RequiredChoice(), OneOf()], validate_choice=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(settings.time_label(m), settings.time_label(m))
                   for m in range(0, settings.DAY_MINUTES, settings.STEP_MINUTES)]
        self.charge_start.choices = choices
        self.charge_end.choices = choices

    def fill(self, values: settings.Values, version: int) -> None:
        """Show `values` (the current version) in the form."""
        for name, value in (("operation_mode", values.operation_mode),
                            ("charge_start", settings.time_label(values.charge_start)),
                            ("charge_end", settings.time_label(values.charge_end)),
                            ("discharge_floor", str(values.discharge_floor)),
                            ("sell_when_discharging",
                             "yes" if values.sell_when_discharging else "no"),
                            ("islanding", values.islanding),
                            ("base_version", str(version))):
            getattr(self, name).data = value
            getattr(self, name).raw_data = [value]

    def values(self) -> settings.Values:
        """The settings typed (after validate())."""
        return settings.Values(
            operation_mode=self.operation_mode.data,
            charge_start=settings.parse_time(self.charge_start.data),
            charge_end=settings.parse_time(self.charge_end.data),
            discharge_floor=int(self.discharge_floor.data.rstrip("%％")),
            sell_when_discharging=self.sell_when_discharging.data == "yes",
            islanding=self.islanding.data)
