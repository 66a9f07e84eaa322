"""The phone-support calendar (seed 000 注意事項 条件1-2): business days, the 16:00 cutoff
two business days ahead, the slots of a day and what the form offers. Every case is a
fixed moment in Japan time; nothing here reads the clock."""
from __future__ import annotations

from datetime import date, datetime, time, timezone

import pytest

from app import create_app
from blueprints.support import phone
from config import TestConfig
from models import JST


def _app(**overrides):
    config = {key: getattr(TestConfig, key) for key in dir(TestConfig) if key.isupper()}
    config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
    config.update(overrides)
    return create_app(config)


@pytest.fixture(scope="module")
def ctx():
    app = _app()
    with app.app_context(), app.test_request_context():
        yield app


def jst(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=JST)


# (now in Japan time, slot start in Japan time) → allowed
CALENDAR = [
    # Monday 2026-11-30: before 16:00 → Wednesday; from 16:00 → Thursday.
    ("2026-11-30 15:59", "2026-12-02 09:00", True),
    ("2026-11-30 15:59", "2026-12-01 17:00", False),
    ("2026-11-30 00:00", "2026-12-02 09:00", True),
    ("2026-11-30 16:00", "2026-12-02 09:00", False),
    ("2026-11-30 16:00", "2026-12-03 09:00", True),
    ("2026-11-30 16:01", "2026-12-02 17:00", False),
    ("2026-11-30 16:01", "2026-12-03 09:00", True),
    # Weekend: not a business day → the 3rd business day (Mon, Tue, Wed).
    ("2026-11-28 10:00", "2026-12-01 09:00", False),
    ("2026-11-28 10:00", "2026-12-02 09:00", True),
    ("2026-11-29 23:59", "2026-12-02 16:30", True),
    # The day before a holiday: Friday 11/20, Monday 11/23 is 勤労感謝の日.
    ("2026-11-20 15:59", "2026-11-24 10:00", False),
    ("2026-11-20 15:59", "2026-11-25 10:00", True),
    ("2026-11-20 16:01", "2026-11-25 10:00", False),
    ("2026-11-20 16:01", "2026-11-26 10:00", True),
    ("2026-11-23 10:00", "2026-11-25 10:00", False),  # on the holiday itself
    ("2026-11-23 10:00", "2026-11-26 10:00", True),
    ("2026-11-19 15:00", "2026-11-23 10:00", False),  # a slot on the holiday
    # Golden Week 2026: 4/29 昭和の日, 5/4-5/6 (5/6 振替休日).
    ("2026-04-28 15:59", "2026-05-01 09:00", True),
    ("2026-04-28 16:01", "2026-05-01 09:00", False),
    ("2026-04-28 16:01", "2026-05-07 09:00", True),
    ("2026-04-30 12:00", "2026-05-01 09:00", False),
    ("2026-04-30 12:00", "2026-05-06 09:00", False),
    ("2026-04-30 12:00", "2026-05-07 09:00", True),
    # Year-end closing 12/29-1/3 (config), not public holidays.
    ("2026-12-25 15:59", "2026-12-28 09:00", False),
    ("2026-12-25 15:59", "2026-12-29 09:00", False),
    ("2026-12-25 15:59", "2027-01-04 09:00", True),
    ("2026-12-25 16:01", "2027-01-04 09:00", False),
    ("2026-12-25 16:01", "2027-01-05 09:00", True),
    ("2026-12-30 10:00", "2027-01-06 09:00", True),   # closed day: D+3 from 1/4
    ("2026-12-30 10:00", "2027-01-05 09:00", False),
    # The slots of a day: 9:00 … 17:00 (ending 17:30), every 30 minutes.
    ("2026-11-30 10:00", "2026-12-03 17:00", True),
    ("2026-11-30 10:00", "2026-12-03 17:30", False),
    ("2026-11-30 10:00", "2026-12-03 08:30", False),
    ("2026-11-30 10:00", "2026-12-03 09:15", False),
    ("2026-11-30 10:00", "2026-12-05 10:00", False),  # Saturday
    ("2026-11-30 10:00", "2026-11-27 10:00", False),  # in the past
    # Up to 20 business days ahead (the 20th business day after 11/30 is 12/28).
    ("2026-11-30 10:00", "2026-12-28 17:00", True),
    ("2026-11-30 10:00", "2027-01-04 09:00", False),
]


@pytest.mark.parametrize("now, slot, allowed", CALENDAR)
def test_calendar(ctx, now, slot, allowed):
    assert phone.slot_allowed(jst(now), jst(slot)) is allowed
    offered = {s for day in phone.allowed_slots(jst(now)) for s in day.slots}
    assert (jst(slot).astimezone(timezone.utc) in offered) is allowed


def test_the_table_covers_enough_cases():
    assert len(CALENDAR) >= 15


def test_utc_moments_are_read_in_japan_time(ctx):
    # 06:59 UTC is 15:59 in Japan, 07:00 UTC is 16:00; a naive datetime is UTC.
    wednesday = jst("2026-12-02 09:00")
    assert phone.slot_allowed(datetime(2026, 11, 30, 6, 59, tzinfo=timezone.utc), wednesday)
    assert not phone.slot_allowed(datetime(2026, 11, 30, 7, 0, tzinfo=timezone.utc), wednesday)
    assert not phone.slot_allowed(datetime(2026, 11, 30, 7, 0), wednesday)
    assert phone.earliest_day(datetime(2026, 11, 29, 15, 30, tzinfo=timezone.utc)) == \
        date(2026, 12, 2)  # Monday 00:30 in Japan


@pytest.mark.parametrize("day, business", [
    (date(2026, 11, 30), True), (date(2026, 11, 28), False), (date(2026, 11, 29), False),
    (date(2026, 11, 23), False), (date(2026, 5, 6), False), (date(2026, 12, 28), True),
    (date(2026, 12, 29), False), (date(2027, 1, 3), False), (date(2027, 1, 4), True),
    (date(2027, 1, 11), False),  # 成人の日
])
def test_business_days(ctx, day, business):
    assert phone.is_business_day(day) is business


def test_slots_of_a_day(ctx):
    starts = phone.slot_times()
    assert len(starts) == 17
    assert (starts[0], starts[1], starts[-1]) == (time(9, 0), time(9, 30), time(17, 0))


def test_offered_slots_shape(ctx):
    days = phone.allowed_slots(jst("2026-11-30 15:59"))
    assert days[0].day == date(2026, 12, 2) and days[0].label == "12月2日（水）"
    assert days[-1].day == date(2026, 12, 28)
    assert len(days) == 19  # business days 2 … 20 after Monday
    assert all(phone.is_business_day(d.day) and len(d.slots) == 17 for d in days)
    assert [d.day for d in days] == sorted(d.day for d in days)
    first = days[0].slots[0]
    assert first == datetime(2026, 12, 2, 0, 0, tzinfo=timezone.utc)  # 9:00 in Japan
    assert phone.slot_value(first) == "2026-12-02T09:00"
    assert phone.slot_label(first) == "12月2日（水） 9:00〜9:30"
    assert phone.slot_label(days[0].slots[-1], with_year=True) == "2026年12月2日（水） 17:00〜17:30"
    after_cutoff = phone.allowed_slots(jst("2026-11-30 16:00"))
    assert after_cutoff[0].day == date(2026, 12, 3) and len(after_cutoff) == 18


@pytest.mark.parametrize("value", [
    "", None, "2026-12-02", "2026-12-02 09:00", "2026-12-02T9:00", "2026-02-30T09:00",
    "2026-12-02T25:00", "２０２６-12-02T09:00", "2026-12-02T09:00\x00", "x" * 5000,
    "<script>", "2026-12-02T09:00:00",
])
def test_malformed_slot_values_are_none(ctx, value):
    assert phone.parse_slot(value) is None


def test_slot_value_round_trip(ctx):
    slot = phone.parse_slot("2026-12-02T10:30")
    assert slot == datetime(2026, 12, 2, 1, 30, tzinfo=timezone.utc)
    assert phone.slot_value(slot) == "2026-12-02T10:30"


@pytest.mark.parametrize("value, message", [
    ("2026-12-02T09:00", None),
    ("2026-12-01T09:00", "12月2日（水）以降"),   # a real slot, too soon
    ("2026-12-02T17:30", "一覧から選択"),
    ("2026-12-05T10:00", "一覧から選択"),
    ("2027-06-01T10:00", "一覧から選択"),
    ("tampered", "一覧から選択"),
])
def test_check_slot_messages(ctx, value, message):
    now = jst("2026-11-30 15:59")
    if message is None:
        assert phone.check_slot(now, value) == phone.parse_slot(value)
        return
    with pytest.raises(phone.PhoneRequestRefused) as refused:
        phone.check_slot(now, value)
    assert refused.value.field == "slot" and message in refused.value.message


def test_the_configuration_is_followed():
    """Another cutoff, closing days, hours and slot length."""
    app = _app(SUPPORT_PHONE_CUTOFF="12:00", SUPPORT_CLOSED_DAYS=("12-02",),
               SUPPORT_PHONE_OPENS="10:00", SUPPORT_PHONE_CLOSES="12:00",
               SUPPORT_PHONE_SLOT_MINUTES=60, SUPPORT_PHONE_LEAD_DAYS=1)
    with app.app_context(), app.test_request_context():
        assert phone.slot_times() == [time(10, 0), time(11, 0)]
        assert not phone.is_business_day(date(2026, 12, 2))
        # Monday 11:59 → the 1st business day after (Tuesday); 12:00 → the 2nd, which
        # skips the closed Wednesday → Thursday.
        assert phone.earliest_day(jst("2026-11-30 11:59")) == date(2026, 12, 1)
        assert phone.earliest_day(jst("2026-11-30 12:00")) == date(2026, 12, 3)
        assert not phone.slot_allowed(jst("2026-11-30 11:59"), jst("2026-12-01 12:00"))


def test_a_day_reads_in_the_readers_language(ctx):
    """「12月2日（水）」 in Japanese, "Wed, 12/2" in English: the weekday is not 'month' or
    'day' (the same characters mean those elsewhere)."""
    from flask_babel import force_locale

    assert phone.day_label(date(2026, 12, 2)) == "12月2日（水）"
    with force_locale("en"):
        assert phone.day_label(date(2026, 12, 2)) == "Wed, 12/2"
        assert phone.day_label(date(2026, 11, 30)) == "Mon, 11/30"
        assert phone.day_label(date(2026, 12, 6)) == "Sun, 12/6"
