"""Forms of phone-support requests: the customer's request on a case (the view fills the
slot choices from `phone.allowed_slots`; whether the posted slot is allowed is decided
by the service with the time of the POST) and staff's 確定する / お受けできない."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import StopValidation

from forms.fields import phone_field
from forms.validators import (MaxLength, MinLength, NoControlCharacters,
                              TextBlock, OneOf, Required, RequiredChoice,
                              normalize_name, normalize_one_line, normalize_text_block)

CONTACT_NAME_MAX = 40
TOPIC_MIN = 10
TOPIC_MAX = 2000
NOTE_MAX = 500


class PhoneRequestForm(FlaskForm):
    """電話サポートのご依頼: ご担当者名, 連絡先電話番号, 希望日時, ご相談内容 (条件3)."""

    contact_name = StringField(
        _l("ご担当者名"), filters=[normalize_name],
        validators=[Required(), MaxLength(CONTACT_NAME_MAX), NoControlCharacters()],
        render_kw={"autocomplete": "name"})
    phone = phone_field(_l("連絡先電話番号"),
                        description=_l("サポートからこの番号にお電話します"))
    # Choices (grouped by day) come from the view; the value is checked by the service.
    slot = SelectField(_l("希望日時"), validators=[RequiredChoice()], validate_choice=False,
                       description=_l("ご依頼の受付期限は、ご希望日の2営業日前の16時です"))
    topic = TextAreaField(
        _l("ご相談内容"), filters=[normalize_text_block],
        validators=[Required(), MinLength(TOPIC_MIN), MaxLength(TOPIC_MAX),
                    TextBlock()],
        description=_l("電話でご相談になりたい具体的な内容をご記入ください（%(min)d〜%(max)s文字）",
                       min=TOPIC_MIN, max=f"{TOPIC_MAX:,}"),
        render_kw={"rows": 6})
    request_key = HiddenField()


DECISIONS = [("confirm", _l("確定する")), ("decline", _l("お受けできない"))]


class PhoneDecisionForm(FlaskForm):
    """スタッフの判断: 確定する or お受けできない; the note goes to the customer and is
    required to decline."""

    decision = SelectField(_l("対応"), choices=DECISIONS, validators=[OneOf()],
                           validate_choice=False)
    note = TextAreaField(
        _l("お客様へのメモ"), filters=[normalize_one_line],
        validators=[MaxLength(NOTE_MAX), NoControlCharacters()],
        description=_l("お受けできない場合は理由を必ずご記入ください（%(max)d文字以内）",
                       max=NOTE_MAX),
        render_kw={"rows": 3})

    def validate_note(self, field):
        if self.decision.data == "decline" and not (field.data or "").strip():
            raise StopValidation(_l("お受けできない理由を入力してください"))
