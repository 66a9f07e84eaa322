"""Forms of the staff administration (/staff/people, /staff/audit): a person added by
the e-mail of their Enelink ID with roles, a person's roles, the removal (CSRF only), and
the GET filters of the audit log and of the proxy sessions (no CSRF). Field rules come
from forms/validators.py."""
from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, StringField
from wtforms.validators import Optional, StopValidation

from blueprints.core.staff import STAFF_ROLES
from forms.validators import (Email, MaxLength, NoControlCharacters, PastDate, Required,
                              normalize_alnum_width, normalize_date, normalize_email,
                              normalize_gateway_id, normalize_one_line)

WHO_MAX = 254          # an e-mail address or a お客様番号
ACTION_MAX = 40        # audit_event.action


def _role_choices():
    return [(role, name) for role, name in STAFF_ROLES.items()]


class RolesField(SelectMultipleField):
    """Checkboxes of the staff roles; unknown values are refused in Japanese."""

    def __init__(self, label=None, **kwargs):
        super().__init__(label, choices=_role_choices(), validate_choice=False, **kwargs)

    def pre_validate(self, form):
        if any(value not in STAFF_ROLES for value in (self.data or [])):
            raise StopValidation(_l("一覧から選択してください"))


class AtLeastOneRole:
    def __call__(self, form, field):
        if not field.data:
            raise StopValidation(_l("役割を1つ以上選択してください"))


class PersonAddForm(FlaskForm):
    email = StringField(_l("Enelink IDのメールアドレス"), filters=[normalize_email],
                        validators=[Required(), NoControlCharacters(), Email()],
                        description=_l("登録が完了しているEnelink IDのメールアドレス"),
                        render_kw={"autocomplete": "off", "inputmode": "email"})
    roles = RolesField(_l("役割"), validators=[AtLeastOneRole()])


class RolesForm(FlaskForm):
    roles = RolesField(_l("役割"), validators=[AtLeastOneRole()])


class RemoveForm(FlaskForm):
    """「スタッフ権限を外す」: nothing to type, the CSRF token only."""


def _who_field(label, description):
    return StringField(label, filters=[normalize_one_line, normalize_alnum_width],
                       validators=[Optional(), NoControlCharacters(), MaxLength(WHO_MAX)],
                       description=description)


def _day_field(label):
    return StringField(label, filters=[normalize_date],
                       validators=[Optional(), NoControlCharacters(), MaxLength(20),
                                   PastDate()],
                       render_kw={"type": "date"})


class _PeriodForm(FlaskForm):
    class Meta:
        csrf = False

    date_from = _day_field(_l("期間（開始日）"))
    date_to = _day_field(_l("期間（終了日）"))

    def validate_date_to(self, field):
        if (field.data and self.date_from.data and not self.date_from.errors
                and field.data < self.date_from.data):
            raise StopValidation(_l("終了日は開始日以降の日付を入力してください"))

    def day(self, field) -> date | None:
        return date.fromisoformat(field.data) if field.data and not field.errors else None

    def good(self, field) -> str:
        """A filter's value, empty when it has an error (it then filters nothing)."""
        return "" if field.errors or not field.data else field.data


WHO_HELP = _l("メールアドレスまたはお客様番号")


class AuditFilterForm(_PeriodForm):
    actor = _who_field(_l("操作した人"), WHO_HELP)
    subject = _who_field(_l("対象のアカウント"), WHO_HELP)
    gateway = StringField(_l("ゲートウェイID"), filters=[normalize_gateway_id],
                          validators=[Optional(), NoControlCharacters(), MaxLength(12)])
    action = SelectField(_l("操作の種類"), validate_choice=False)

    def set_actions(self, prefixes: list[str]) -> None:
        self.action.choices = [("", _l("すべて"))] + [(p, p) for p in prefixes]

    def validate_action(self, field):
        if field.data and field.data not in {value for value, _label in field.choices}:
            raise StopValidation(_l("一覧から選択してください"))

    def filter_values(self) -> dict:
        return dict(actor=self.good(self.actor), subject=self.good(self.subject),
                    gateway=self.good(self.gateway), action=self.good(self.action),
                    date_from=self.day(self.date_from), date_to=self.day(self.date_to))


class ProxyFilterForm(_PeriodForm):
    owner = _who_field(_l("お客様"), WHO_HELP)
    employee = _who_field(_l("販売店の担当者"), _l("メールアドレスまたはお客様番号"))

    def filter_values(self) -> dict:
        return dict(owner=self.good(self.owner), employee=self.good(self.employee),
                    date_from=self.day(self.date_from), date_to=self.day(self.date_to))
