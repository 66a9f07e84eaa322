"""Reusable field groups (address, phones) and the base form every page form extends."""
from __future__ import annotations

from operator import is_

from flask_babel import get_locale, gettext, lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import Form, SelectField, StringField, SubmitField
from wtforms.fields import FieldList, FormField
from wtforms.utils import unset_value
from wtforms.validators import Optional
from wtforms.widgets import Select, html_params
from werkzeug.datastructures import MultiDict

from forms.validators import (
    PREFECTURES,
    Building,
    MaxLength,
    NoControlCharacters,
    OneOf,
    PhoneNumber,
    PostalCode,
    Prefecture,
    Required,
    RequiredChoice,
    Street,
    format_phone,
    is_japanese_phone,
    lookup_postal_code,
    normalize_building,
    normalize_phone,
    normalize_postal_code,
    normalize_street,
)


class ConstantSelect(Select):
    """The <select> of a field whose choices are a constant of the code (the 47 都道府県,
    the kinds of phone, the languages): its options are rendered once per process and
    language, and a request only picks which of them carries `selected`. WTForms
    otherwise formats and escapes every option of every select on every page (the
    address block alone has 48). The markup is WTForms' own, byte for byte.

    Choices other than the constant the widget was made for (a form that sets them per
    request) are rendered the ordinary way. (A field keeps a shallow copy of its choices:
    the same tuples in another list.)"""

    def __init__(self, choices: list[tuple]):
        super().__init__()
        self.choices = choices
        self._options: dict[str, tuple[tuple[object, Markup, Markup], ...]] = {}

    def _rendered_options(self) -> tuple[tuple[object, Markup, Markup], ...]:
        """(value, the option, the option selected) of each choice, in this language."""
        language = str(get_locale() or "")
        options = self._options.get(language)
        if options is None:
            options = self._options[language] = tuple(
                (value, self.render_option(value, label, False),
                 self.render_option(value, label, True))
                for value, label in self.choices)
        return options

    def __call__(self, field, **kwargs):
        choices = field.choices
        if not (isinstance(choices, list) and len(choices) == len(self.choices)
                and all(map(is_, choices, self.choices))):
            return super().__call__(field, **kwargs)
        kwargs.setdefault("id", field.id)
        flags = getattr(field, "flags", {})
        for key in dir(flags):
            if key in self.validation_attrs and key not in kwargs:
                kwargs[key] = getattr(flags, key)
        coerce, data = field.coerce, field.data
        html = [f"<select {html_params(name=field.name, **kwargs)}>"]
        html.extend(selected if coerce(value) == data else option
                    for value, option, selected in self._rendered_options())
        html.append("</select>")
        return Markup("".join(html))


def field_markup(field, required: bool = False, extra_class: str = "", **kwargs) -> Markup:
    """The `field` macro of templates/macros/forms.html (the most used one: every field of
    every form), written here: a Jinja macro call and its dozen lookups and escapes cost a
    form page more than the fields themselves. The markup is the macro's, byte for byte:
    the label (with 必須 when `required`), the help text, the input with its aria-
    attributes (`kwargs` go to the widget), the first error."""
    errors, description, field_id = field.errors, field.description, escape(field.id)
    html = [f'<div class="field{" has-error" if errors else ""} {escape(extra_class)}" '
            f'id="{field_id}-field">\n    <label for="{field_id}">{escape(field.label.text)}']
    if required:
        html.append(f' <span class="required">{gettext("必須")}</span>')
    html.append("</label>\n    ")
    if description:
        html.append(f'<p class="help" id="{field_id}-help">{escape(description)}</p>')
    html.append("\n    \n    \n    \n    \n    \n    ")
    describedby = " ".join(([f"{field.id}-help"] if description else [])
                           + ([f"{field.id}-error"] if errors else []))
    if describedby:
        kwargs["aria-describedby"] = describedby
    if errors:
        kwargs["aria-invalid"] = "true"
    if required:
        kwargs["required"] = True
    html.append(field(**kwargs))
    html.append("\n    ")
    if errors:
        html.append(f'\n  <p class="field-error" id="{field_id}-error">{escape(errors[0])}</p>\n  ')
    html.append("\n  </div>")
    return Markup("".join(html))


NUMERIC = {"inputmode": "numeric"}
PREFECTURE_CHOICES = [("", _l("選択してください"))] + [(p, p) for p in PREFECTURES]
PHONE_KINDS = [
    ("mobile", _l("携帯電話")),
    ("landline", _l("固定電話")),
    ("office", _l("勤務先")),
]


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def set_value(field, value) -> None:
    """Set a field's value so that it is also what gets rendered (raw_data wins there)."""
    field.data = value
    field.raw_data = [value]


class AddressForm(Form):
    """郵便番号 → 都道府県 / 市区町村 (filled from Japan Post data) / 町名・番地 / 建物名."""

    postal_code = StringField(
        _l("郵便番号"),
        filters=[normalize_postal_code],
        validators=[Required(), PostalCode()],
        render_kw={**NUMERIC, "autocomplete": "postal-code", "maxlength": 10,
                   "placeholder": "1030026"},
        description=_l("ハイフンなし・ありのどちらでも入力できます"),
    )
    lookup = SubmitField(_l("住所を検索"), render_kw={"formnovalidate": True})
    prefecture = SelectField(
        _l("都道府県"),
        choices=PREFECTURE_CHOICES,
        validators=[RequiredChoice(), Prefecture()],
        validate_choice=False,
        widget=ConstantSelect(PREFECTURE_CHOICES),
        render_kw={"autocomplete": "address-level1"},
    )
    city = StringField(
        _l("市区町村"),
        filters=[_strip],
        validators=[Required(), MaxLength(60), NoControlCharacters()],
        render_kw={"autocomplete": "address-level2"},
    )
    street = StringField(
        _l("町名・番地"),
        filters=[normalize_street],
        validators=[Required(), Street()],
        render_kw={"autocomplete": "address-line1", "placeholder": "日本橋兜町1-2-3"},
    )
    building = StringField(
        _l("建物名・部屋番号"),
        filters=[normalize_building],
        validators=[Optional(), Building()],
        render_kw={"autocomplete": "address-line2"},
    )

    def fill_from_postal_code(self) -> bool:
        """Fill 都道府県 and 市区町村 (and the town into 町名・番地 when empty)."""
        self.postal_code.errors = []
        code = self.postal_code.data or ""
        found = lookup_postal_code(code) if len(code) == 7 and code.isdigit() else None
        if found is None:
            self.postal_code.errors = [
                _l("該当する住所が見つかりませんでした。郵便番号をご確認ください")
            ]
            return False
        set_value(self.prefecture, found.prefecture)
        set_value(self.city, found.city)
        if not (self.street.data or "").strip() and found.town:
            set_value(self.street, found.town)
        return True


class PhoneField(StringField):
    """A phone number: stored as digits (normalize_phone), shown as people write it
    (`090-1234-5678`, format_phone), also when the form is shown again after 別の電話を追加
    or a mistake elsewhere. A number that is not valid is shown as it was typed."""

    def _value(self):
        if isinstance(self.data, str) and is_japanese_phone(self.data):
            return format_phone(self.data)
        if self.raw_data:
            return self.raw_data[0]
        return super()._value()


def phone_field(label=None, description=None, placeholder: str | None = "09012345678",
                autocomplete: str = "tel", validators=None) -> PhoneField:
    """A required Japanese phone number (digits stored, hyphens shown), with the phone
    keyboard; `validators` replaces the default check of a valid JP number."""
    render_kw = {"inputmode": "tel", "autocomplete": autocomplete}
    if placeholder:
        render_kw["placeholder"] = placeholder
    return PhoneField(label if label is not None else _l("電話番号"),
                      filters=[normalize_phone],
                      validators=validators or [Required(), PhoneNumber()],
                      render_kw=render_kw, description=description)


class PhoneEntryForm(Form):
    kind = SelectField(_l("電話の種類"), choices=PHONE_KINDS, default="mobile",
                       validators=[OneOf()], validate_choice=False,
                       widget=ConstantSelect(PHONE_KINDS))
    number = phone_field()



class BoxesField(StringField):
    """A value typed in several boxes, as paper forms ask it: 郵便番号 3+4, 電話番号 in
    three. The boxes are posted as `<name>-1`, `<name>-2` …; joined with hyphens they are
    one value that the field's filters normalise and its validators check, exactly as if
    it had been typed in one box (a post of `<name>` alone works too). `split(value)`
    gives a valid stored value's boxes back for display; anything else is shown as typed."""

    def __init__(self, label=None, validators=None, sizes: tuple[int, ...] = (3, 4),
                 split=None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.box_sizes = sizes
        self._split = split
        self.typed_boxes: list[str] | None = None

    def box_name(self, number: int) -> str:
        return f"{self.name}-{number}"

    def process(self, formdata, data=unset_value, extra_filters=None):
        self.typed_boxes = None
        if formdata is not None:
            names = [self.box_name(i) for i in range(1, len(self.box_sizes) + 1)]
            if any(name in formdata for name in names):
                self.typed_boxes = [str(formdata.get(name, ""))[:100] for name in names]
                parts = [box.strip(" \u3000") for box in self.typed_boxes]
                formdata = MultiDict([(self.name, "-".join(parts) if any(parts) else "")])
        super().process(formdata, data, extra_filters)

    def boxes(self) -> list[str]:
        """What each box shows: the stored value split, or what was typed."""
        if not self.errors and isinstance(self.data, str) and self.data and self._split:
            parts = self._split(self.data)
            if parts and len(parts) == len(self.box_sizes):
                return parts
        if self.typed_boxes is not None:
            return self.typed_boxes
        return [self.data or ""] + [""] * (len(self.box_sizes) - 1)


def _postal_boxes(value: str) -> list[str] | None:
    return [value[:3], value[3:]] if len(value) == 7 and value.isdigit() else None


def _phone_boxes(value: str) -> list[str] | None:
    parts = format_phone(value).split("-")
    return parts if len(parts) == 3 and is_japanese_phone(value) else None


def postal_boxes_field() -> BoxesField:
    """郵便番号 in two boxes, 3 + 4 half-width digits (full-width and 〒 are converted)."""
    return BoxesField(_l("郵便番号"), filters=[normalize_postal_code],
                      validators=[Required(), PostalCode()], sizes=(3, 4), split=_postal_boxes,
                      render_kw={**NUMERIC, "autocomplete": "postal-code"},
                      description=_l("半角数字（3桁・4桁）"))


def phone_boxes_field(label=None, description=None) -> BoxesField:
    """A required Japanese phone number in three boxes (市外局番・市内局番・加入者番号)."""
    return BoxesField(label if label is not None else _l("電話番号"), filters=[normalize_phone],
                      validators=[Required(), PhoneNumber()], sizes=(5, 4, 4),
                      split=_phone_boxes, render_kw={"inputmode": "tel", "autocomplete": "tel"},
                      description=description or _l("半角数字（例: 090・1234・5678）"))


class BoxedAddressForm(AddressForm):
    """The address block with its 郵便番号 in 3 + 4 boxes."""

    postal_code = postal_boxes_field()


def boxed_address_field(label=None) -> FormField:
    return FormField(BoxedAddressForm, label=label, separator="-")


ADDRESS_PARTS = ("postal_code", "prefecture", "city", "street", "building")


def address_data(holder) -> dict:
    """An address block's data (AddressForm) from an account, a company or a gateway:
    they all keep the same five columns."""
    return {part: getattr(holder, part) or "" for part in ADDRESS_PARTS}


def store_address(holder, address: dict) -> None:
    """Keep an address block's data (AddressForm) on an account, a company or a gateway;
    an empty 建物名 is stored as nothing."""
    for part in ADDRESS_PARTS:
        setattr(holder, part, address.get(part) or None)


def address_field(label=None) -> FormField:
    return FormField(AddressForm, label=label, separator="-")


def phones_field(max_entries: int = 3) -> FieldList:
    return FieldList(FormField(PhoneEntryForm), min_entries=1, max_entries=max_entries)


class PageForm(FlaskForm):
    """Base of every page form: runs sub-actions (postal lookup, add a phone)
    that redisplay the form without validating it."""

    def run_sub_action(self) -> bool:
        for field in self:
            if isinstance(field, FormField) and isinstance(field.form, AddressForm):
                if field.form.lookup.data:
                    field.form.fill_from_postal_code()
                    return True
            if isinstance(field, FieldList) and getattr(self, "add_phone", None) is not None:
                if self.add_phone.data and len(field.entries) < (field.max_entries or 3):
                    field.append_entry()
                    return True
                if self.add_phone.data:
                    return True
        return False
