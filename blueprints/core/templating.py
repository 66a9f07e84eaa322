"""Template globals and filters shared by every page and mail."""
from __future__ import annotations

from datetime import date, datetime

from flask import Flask
from flask_babel import get_locale

from models import JST


def format_datetime_jst(value: datetime | None) -> str:
    """`2026年11月22日 18:05` in Japan time (what every page and mail shows)."""
    if value is None:
        return ""
    local = value.astimezone(JST)
    if str(get_locale() or "ja") == "en":
        return local.strftime("%d %b %Y, %H:%M JST")
    return local.strftime("%Y年%m月%d日 %H:%M")


def format_date(value: date | None) -> str:
    """`2026年11月22日` (a calendar date: 設置日, 保証期限), `22 Nov 2026` in English."""
    if value is None:
        return ""
    if str(get_locale() or "ja") == "en":
        return value.strftime("%d %b %Y")
    return f"{value.year}年{value.month}月{value.day}日"


def format_clock(value: datetime | None) -> str:
    """`18:05` in Japan time (e.g. until when a proxy login lasts)."""
    return value.astimezone(JST).strftime("%H:%M") if value else ""


def format_slot_time(value: datetime | None) -> str:
    """`2026/11/23 12:05` in Japan time, as the monitoring screen shows a reading's time."""
    return value.astimezone(JST).strftime("%Y/%m/%d %H:%M") if value else ""


WEEKDAYS_JA = "月火水木金土日"


def format_period(period) -> str:
    """A chart period (kind day / month / year, start date) as a heading."""
    start, english = period.start, str(get_locale() or "ja") == "en"
    if period.kind == "day":
        if english:
            return start.strftime("%a %d %b %Y")
        return f"{start.year}年{start.month}月{start.day}日（{WEEKDAYS_JA[start.weekday()]}）"
    if period.kind == "month":
        return start.strftime("%b %Y") if english else f"{start.year}年{start.month}月"
    return str(start.year) if english else f"{start.year}年"


def format_percent(value: float | None) -> str:
    return "—" if value is None else f"{round(value * 100)}%"


def format_postal(value: str | None) -> str:
    return f"{value[:3]}-{value[3:]}" if value and len(value) == 7 else (value or "")


def init_app(app: Flask) -> None:
    from blueprints.core import registry
    from forms.validators import format_phone, password_checklist

    app.add_template_filter(format_datetime_jst, "datetime")
    app.add_template_filter(format_date, "date")
    app.add_template_filter(format_postal, "postal")
    app.add_template_filter(format_phone, "phone")  # every phone shown: 090-1234-5678
    app.add_template_filter(format_slot_time, "slot_time")
    app.add_template_filter(format_clock, "clock")
    app.add_template_filter(format_period, "period")
    app.add_template_filter(format_percent, "percent")

    @app.context_processor
    def _globals():
        return {
            "current_locale": lambda: str(get_locale() or "ja"),
            "password_items": lambda value: password_checklist(value or ""),
            # Called by base.html only: partials never show a banner.
            "page_banners": registry.page_banners,
            "page_sections": registry.page_sections,
            "acting_for_owner": registry.acting_now,
        }
