"""The warranty of a registered product (seed 000-77: registering a product extends its
warranty for free).

One pure function, `warranty_for`, answers everything the pages show:

- the standard warranty covers `warranty_years` full years from 設置日/運転開始日: it ends
  the day before the anniversary (installed 2020-04-01, 10 years → until 2030-03-31;
  a 29 February's anniversary in a common year is 1 March, so it ends on 28 February);
- the model's `extension_years` are added when the product was registered (the Japanese
  date of `registered_at`) on or before the same day `WARRANTY_EXTENSION_MONTHS` months
  after 設置日 (installed 2024-01-15, 6 months → registered by 2024-07-15); a day that
  month lacks becomes its last day (installed 2024-08-31 → by 2025-02-28).

No clock, no database: every boundary is unit-tested in tests/unit/test_warranty.py.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta


def add_months(day: date, months: int) -> date:
    """The same day `months` later; the month's last day when that month is shorter."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def anniversary(day: date, years: int) -> date:
    """The day `years` later; 29 February's anniversary in a common year is 1 March."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


@dataclass(frozen=True)
class Warranty:
    """What the pages say about a product's warranty. `ends_on` is the last day covered
    (with the extension when `extended`); `register_by` is the last day on which
    registering still grants the extension (None when the model has none)."""

    standard_ends_on: date
    ends_on: date
    extended: bool
    extension_years: int
    register_by: date | None

    def extension_still_possible(self, today: date) -> bool:
        """Not extended yet, but registering today would still extend it."""
        return (not self.extended and self.register_by is not None
                and today <= self.register_by)


def warranty_for(installed_on: date | None, registered_on: date | None,
                 warranty_years: int | None, extension_years: int | None,
                 extension_months: int) -> Warranty | None:
    """The warranty of a product installed on `installed_on` and registered on
    `registered_on` (a Japanese date; None: not registered yet), for a model with these
    years; None when there is nothing to compute (no 設置日, or no model)."""
    if installed_on is None or warranty_years is None:
        return None
    extra = max(extension_years or 0, 0)
    register_by = add_months(installed_on, extension_months) if extra else None
    extended = bool(register_by and registered_on is not None
                    and registered_on <= register_by)
    standard = anniversary(installed_on, warranty_years) - timedelta(days=1)
    ends = (anniversary(installed_on, warranty_years + extra) - timedelta(days=1)
            if extended else standard)
    return Warranty(standard_ends_on=standard, ends_on=ends, extended=extended,
                    extension_years=extra, register_by=register_by)
