"""The warranty rule (000-77) at its boundaries: month ends, leap days, the last day to
register for the extension."""
from __future__ import annotations

from datetime import date

import pytest

from blueprints.club.warranty import add_months, anniversary, warranty_for


@pytest.mark.parametrize("day, months, expected", [
    (date(2024, 1, 15), 6, date(2024, 7, 15)),
    (date(2024, 8, 31), 6, date(2025, 2, 28)),   # February is shorter
    (date(2023, 8, 31), 6, date(2024, 2, 29)),   # … and longer in a leap year
    (date(2024, 12, 31), 2, date(2025, 2, 28)),
    (date(2024, 3, 31), 1, date(2024, 4, 30)),
    (date(2024, 11, 30), 3, date(2025, 2, 28)),  # across a year end
])
def test_add_months_keeps_the_day_or_takes_the_months_last(day, months, expected):
    assert add_months(day, months) == expected


def test_a_leap_days_anniversary_in_a_common_year_is_the_first_of_march():
    assert anniversary(date(2024, 2, 29), 1) == date(2025, 3, 1)
    assert anniversary(date(2024, 2, 29), 4) == date(2028, 2, 29)


def test_standard_warranty_ends_the_day_before_the_anniversary():
    warranty = warranty_for(date(2020, 4, 1), date(2021, 1, 1), 10, 5, 6)
    assert warranty.standard_ends_on == date(2030, 3, 31)
    assert (warranty.ends_on, warranty.extended) == (date(2030, 3, 31), False)


def test_leap_day_installation_ends_on_the_28th():
    warranty = warranty_for(date(2024, 2, 29), None, 10, 0, 6)
    assert warranty.ends_on == date(2034, 2, 28)
    # Installed on 1 March of a year before a leap year: the day before is 29 February.
    assert warranty_for(date(2023, 3, 1), None, 1, 0, 6).ends_on == date(2024, 2, 29)


@pytest.mark.parametrize("registered, extended", [
    (date(2024, 7, 15), True),    # the last day
    (date(2024, 7, 16), False),   # one day late
    (date(2024, 1, 15), True),    # the same day
    (date(2023, 12, 1), True),    # registered (a gateway) before it started operating
])
def test_extension_when_registered_within_the_months(registered, extended):
    warranty = warranty_for(date(2024, 1, 15), registered, 10, 5, 6)
    assert warranty.extended is extended
    assert warranty.register_by == date(2024, 7, 15)
    assert warranty.ends_on == (date(2039, 1, 14) if extended else date(2034, 1, 14))


def test_extension_deadline_at_a_month_end():
    warranty = warranty_for(date(2024, 8, 31), date(2025, 2, 28), 10, 5, 6)
    assert warranty.extended and warranty.register_by == date(2025, 2, 28)
    assert not warranty_for(date(2024, 8, 31), date(2025, 3, 1), 10, 5, 6).extended


def test_extension_still_possible_until_the_deadline():
    warranty = warranty_for(date(2024, 1, 15), None, 10, 5, 6)
    assert not warranty.extended
    assert warranty.extension_still_possible(date(2024, 7, 15))
    assert not warranty.extension_still_possible(date(2024, 7, 16))


def test_a_model_without_extension_has_no_deadline():
    warranty = warranty_for(date(2024, 1, 15), date(2024, 1, 20), 10, 0, 6)
    assert (warranty.extended, warranty.register_by) == (False, None)
    assert warranty.ends_on == date(2034, 1, 14)


def test_nothing_without_a_date_or_a_model():
    assert warranty_for(None, date(2024, 1, 1), 10, 5, 6) is None
    assert warranty_for(date(2024, 1, 1), date(2024, 1, 1), None, None, 6) is None
