"""Forms of セルフヘルプ: the knowledge-base search box (「検索またはリクエスト」) and the
dealer's unlock-code request (ゲートウェイ, then the unit)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import Optional

from forms.fields import PageForm
from forms.validators import MaxLength, NoControlCharacters, OneOf, RequiredChoice

QUERY_MAX = 100


def _trim(value):
    return value.strip(" \u3000\t\r\n") if isinstance(value, str) else value


class KbSearchForm(PageForm):
    """検索またはリクエスト: a GET box (it changes nothing, so no CSRF). Empty is allowed
    (the newest articles); more than QUERY_MAX characters or control characters are not."""

    class Meta:
        csrf = False

    q = StringField(_l("検索またはリクエスト"), filters=[_trim],
                    validators=[Optional(), MaxLength(QUERY_MAX), NoControlCharacters()],
                    render_kw={"type": "search", "autocomplete": "off", "enterkeyhint": "search",
                               "placeholder": _l("例: 停電 蓄電池、充電されない")},
                    description=_l("キーワードを入力してください（複数のときはスペースで区切ります）"))


class UnlockGatewayForm(PageForm):
    """Step 1 of the unlock code (GET): the gateway, among those entrusted to the dealer."""

    class Meta:
        csrf = False

    gateway = SelectField(_l("ゲートウェイID"), validators=[RequiredChoice(), OneOf()],
                          validate_choice=False)


class UnlockRequestForm(PageForm):
    """Step 2 (POST): the unit of the chosen gateway; the one-time key makes a second
    submission of the same form issue nothing."""

    gateway = HiddenField()
    unit = SelectField(_l("機器（機器No.・製造番号）"), validators=[RequiredChoice(), OneOf()],
                       validate_choice=False)
    request_key = HiddenField()
