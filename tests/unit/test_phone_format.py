"""Phone numbers as pages show them: forms/validators.format_phone (the `phone` filter)
and forms/fields.PhoneField, which stores digits and shows the number with hyphens."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict
from wtforms import Form

from forms.fields import PhoneField
from forms.validators import format_phone, is_japanese_phone, normalize_phone


@pytest.mark.parametrize("digits, shown", [
    ("09012345678", "090-1234-5678"),   # mobile
    ("08011112222", "080-1111-2222"),
    ("05012345678", "050-1234-5678"),   # IP phone
    ("0312345678", "03-1234-5678"),     # Tokyo: 2-digit area code
    ("0662345678", "06-6234-5678"),     # Osaka
    ("0462345678", "046-234-5678"),     # 3-digit area code
    ("0996123456", "0996-12-3456"),     # 4-digit area code
    ("0120123456", "0120-123-456"),     # toll free
    ("0570012345", "0570-012-345"),     # navi dial
])
def test_national_format(digits, shown):
    assert format_phone(digits) == shown


@pytest.mark.parametrize("value", ["", None, "12", "0111234567", "090-1234-5678x", "abc",
                                   "090๑๒๓๔๕๖๗๘", "01๒0000000"])  # Thai digits: not a number
def test_anything_else_is_shown_unchanged(value):
    assert format_phone(value) == (value or "")


@settings(max_examples=200, derandomize=True, database=None, deadline=None)
@given(st.from_regex(r"0[1-9][0-9]{8,9}", fullmatch=True))
def test_formatting_keeps_the_number(digits):
    shown = format_phone(digits)
    assert normalize_phone(shown) == digits
    if is_japanese_phone(digits):
        assert "-" in shown


class _PhoneForm(Form):
    number = PhoneField(filters=[normalize_phone])


def test_field_stores_digits_and_shows_hyphens():
    form = _PhoneForm(MultiDict({"number": "０９０（１２３４）５６７８"}))
    assert form.number.data == "09012345678"
    assert 'value="090-1234-5678"' in form.number()
    assert 'value="03-1234-5678"' in _PhoneForm(data={"number": "0312345678"}).number()


def test_only_ascii_digits_make_a_japanese_number():
    assert is_japanese_phone("09012345678")
    assert not is_japanese_phone(normalize_phone("090๑๒๓๔๕๖๗๘"))


def test_field_shows_an_invalid_number_as_typed():
    form = _PhoneForm(MultiDict({"number": "０９０-12"}))
    assert form.number.data == "09012"
    assert 'value="０９０-12"' in form.number()
    assert 'value=""' in _PhoneForm().number()
