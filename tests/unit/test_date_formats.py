"""How pages write a moment: Japan time, 年月日 in Japanese, `30 Nov 2026, 00:05 JST` in
English (blueprints/core/templating.py), whichever way it is formatted."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from flask_babel import force_locale

from blueprints.core.templating import datetime_formatter, format_datetime_jst
from models import JST

MOMENTS = [
    datetime(2026, 11, 29, 15, 5, tzinfo=timezone.utc),       # the next day in Japan
    datetime(2026, 12, 31, 14, 59, 59, tzinfo=timezone.utc),  # the year's last minute
    datetime(2026, 12, 31, 15, 0, tzinfo=timezone.utc),       # the new year in Japan
    datetime(2027, 1, 5, 8, 7, tzinfo=JST),                   # given in Japan time
    datetime(2027, 2, 1, 0, 0, tzinfo=timezone(timedelta(hours=-5))),  # another zone
]


@pytest.mark.parametrize("moment", MOMENTS)
def test_a_moment_is_written_in_japan_time_in_each_language(app, moment):
    in_japan = moment.astimezone(JST)
    with app.test_request_context("/"):
        with force_locale("ja"):
            assert format_datetime_jst(moment) == datetime_formatter()(moment) == (
                f"{in_japan.year}年{in_japan.month:02d}月{in_japan.day:02d}日 "
                f"{in_japan.hour:02d}:{in_japan.minute:02d}")
        with force_locale("en"):
            assert format_datetime_jst(moment) == datetime_formatter()(moment) == \
                in_japan.strftime("%d %b %Y, %H:%M JST")


def test_the_examples_read_as_the_pages_show_them(app):
    with app.test_request_context("/"):
        with force_locale("ja"):
            assert format_datetime_jst(MOMENTS[0]) == "2026年11月30日 00:05"
            assert format_datetime_jst(MOMENTS[2]) == "2027年01月01日 00:00"
            assert format_datetime_jst(None) == ""
        with force_locale("en"):
            assert format_datetime_jst(MOMENTS[0]) == "30 Nov 2026, 00:05 JST"
