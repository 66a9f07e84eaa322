"""Forms of the support center's customer side: the case form (seed 000 「入力項目の詳細に
ついて」, in the manual's order) and the reply form of a case page.

The choices (the account's sites, the chosen site's units, the categories and the chosen
category's 詳細) are data: `blueprints/support/case_form.py` sets them before validating,
so a posted value outside them is refused next to its field, never a 500."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (HiddenField, MultipleFileField, SelectField, StringField, SubmitField,
                     TextAreaField)
from wtforms.validators import StopValidation

from forms.validators import (CaseSerial, MaxLength, NoControlCharacters, OneOf, Required,
                              RequiredChoice, TextBlock, normalize_one_line, normalize_serial,
                              normalize_text_block)

SUBJECT_MAX = 100
BODY_MAX = 5000
SITE_NAME_MAX = 60
ERROR_CODE_MAX = 100
OTHER = "other"  # 「その他（入力する）」 of the 発電所名 and 製造番号 selects


class CaseForm(FlaskForm):
    """新しいケース: 件名*, お問い合わせ内容, 添付ファイル, 発電所名*, 機器タイプ, 製造番号,
    エラーコード, サポート内容*, 詳細 (required when the category has details)."""

    request_key = HiddenField()
    alert = HiddenField()  # the monitoring alert the case was opened from (発生日時)

    subject = StringField(_l("件名"), filters=[normalize_one_line],
                          validators=[Required(), NoControlCharacters(), MaxLength(SUBJECT_MAX)],
                          render_kw={"autocomplete": "off"})
    body = TextAreaField(_l("お問い合わせ内容"), filters=[normalize_text_block],
                         validators=[TextBlock(), MaxLength(BODY_MAX)],
                         description=_l("具体的なお問い合わせ内容を詳細にご記入ください（%(max)s文字以内）。",
                                        max=f"{BODY_MAX:,}"),
                         render_kw={"rows": 8})
    files = MultipleFileField(_l("添付ファイル"))
    site = SelectField(_l("発電所名"), validators=[RequiredChoice(), OneOf()],
                       validate_choice=False)
    site_other = StringField(_l("発電所名（入力）"), filters=[normalize_one_line],
                             validators=[NoControlCharacters(), MaxLength(SITE_NAME_MAX)])
    device_type = SelectField(_l("機器タイプ"), validate_choice=False)
    serial = SelectField(_l("製造番号"), validate_choice=False)
    serial_other = StringField(_l("製造番号（入力）"), filters=[normalize_serial],
                               validators=[CaseSerial()],
                               render_kw={"autocomplete": "off", "autocapitalize": "characters",
                                          "spellcheck": "false"})
    error_code = StringField(_l("エラーコード"), filters=[normalize_one_line],
                             validators=[NoControlCharacters(), MaxLength(ERROR_CODE_MAX)],
                             description=_l("エラーコードやエラー内容が表示されている場合はご記入ください。"),
                             render_kw={"autocomplete": "off"})
    category = SelectField(_l("サポート内容"), validators=[RequiredChoice(), OneOf()],
                           validate_choice=False,
                           description=_l("選択肢から一番近いものを選択してください。"))
    detail = SelectField(_l("詳細"), validate_choice=False,
                         description=_l("サポート内容によって選択肢が変わります。"))
    refresh = SubmitField(_l("更新"))

    def validate_site_other(self, field):
        if self.site.data == OTHER and not field.data:
            raise StopValidation(_l("発電所名を入力してください"))

    def validate_device_type(self, field):
        if field.data:
            OneOf()(self, field)

    def validate_serial(self, field):
        if field.data and field.data != OTHER:
            OneOf(_l("選択した発電所の機器から選択するか、「その他（入力する）」を選んで入力してください"))(
                self, field)

    def validate_detail(self, field):
        offered = [value for value, _label in field.choices or [] if value != ""]
        if not offered:
            return
        if not field.data:
            raise StopValidation(_l("詳細を選択してください"))
        if field.data not in offered:
            raise StopValidation(_l("選択したサポート内容の詳細から選択してください"))


class ReplyForm(FlaskForm):
    """ケースへの返信: コメント and 添付 (one of them at least; the view checks the files)."""

    request_key = HiddenField()
    comment = TextAreaField(_l("コメント"), filters=[normalize_text_block],
                            validators=[TextBlock(), MaxLength(BODY_MAX)],
                            render_kw={"rows": 5})
    files = MultipleFileField(_l("添付ファイル"))
