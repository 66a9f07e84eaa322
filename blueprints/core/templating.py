"""Template globals and filters shared by every page and mail, and the translations of a
request looked up once.

Translations: Flask-Babel finds the translations object anew for every `_()` (three
lookups of its per-request namespace in `g`, the locale's name built, a cache probed),
some 20 µs a call, and a page makes 80 of them. `RequestDomain` keeps the object it found
in that namespace next to the locale it was found for, so the next call of the request
costs one lookup; a locale changed in the request (`force_locale`, `refresh()`, which put
another Locale object there or remove it) is seen at once, since the kept object is used
only for the very Locale it was found for. The templates' `_()` goes straight to it.

WTForms' own messages (a field's default label, "Not a valid choice" …): Flask-WTF reads
their catalog from disk again in every request that builds a form with a CSRF field
(every form). `WTFORMS_CATALOGS` keeps one per locale for the life of the process;
which one is chosen at each call, so a language switch takes effect at once.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from babel import support
from flask import Flask, current_app, g, has_request_context, request
from flask_babel import Domain, get_locale
from jinja2 import pass_eval_context
from markupsafe import Markup
from wtforms.i18n import messages_path

from models import JST


def current_language() -> str:
    """The request's language, "ja" or "en" ("ja" outside a request's locale)."""
    return str(get_locale() or "ja")


def _datetime_ja(value: datetime) -> str:
    jst = value.astimezone(JST)
    # `%` formatting: half what strftime costs with a format holding 年月日
    return "%d年%02d月%02d日 %02d:%02d" % (jst.year, jst.month, jst.day, jst.hour, jst.minute)


def _datetime_en(value: datetime) -> str:
    return value.astimezone(JST).strftime("%d %b %Y, %H:%M JST")


def datetime_formatter() -> Callable[[datetime], str]:
    """format_datetime_jst of an aware datetime in the current language, the language
    looked up once (a list of many dates)."""
    return _datetime_en if current_language() == "en" else _datetime_ja


def format_datetime_jst(value: datetime | None) -> str:
    """`2026年11月22日 18:05` in Japan time (what every page and mail shows)."""
    if value is None:
        return ""
    return datetime_formatter()(value)


def format_date(value: date | None) -> str:
    """`2026年11月22日` (a calendar date: 設置日, 保証期限), `22 Nov 2026` in English."""
    if value is None:
        return ""
    if current_language() == "en":
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
    start, english = period.start, current_language() == "en"
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


class RequestDomain(Domain):
    """The default domain, its translations kept per request (see the module docstring)."""

    def get_translations(self):
        try:
            babel_ctx = g._flask_babel
            locale = babel_ctx.babel_locale
        except (AttributeError, RuntimeError):
            # Outside a request, or the locale not chosen yet: the ordinary way (which
            # chooses it).
            return super().get_translations()
        kept = getattr(babel_ctx, "request_translations", None)
        if kept is not None and kept[0] is locale:
            return kept[1]
        translations = super().get_translations()
        babel_ctx.request_translations = (locale, translations)
        return translations


class _WtformsCatalogs:
    """What Flask-WTF takes from `request.wtforms_translations` (its per-request cache):
    WTForms' catalog of the request's current locale, loaded once per process."""

    def __init__(self) -> None:
        self._catalogs: dict[str, support.NullTranslations] = {}

    def catalog(self):
        locale = get_locale()
        name = str(locale or "")
        found = self._catalogs.get(name)
        if found is None:
            found = self._catalogs[name] = support.Translations.load(
                messages_path(), [locale], domain="wtforms")
        return found

    def ugettext(self, string: str) -> str:
        return self.catalog().ugettext(string)

    def ungettext(self, singular: str, plural: str, n: int) -> str:
        return self.catalog().ungettext(singular, plural, n)


WTFORMS_CATALOGS = _WtformsCatalogs()


def _wtforms_catalogs_of_process() -> None:
    request.wtforms_translations = WTFORMS_CATALOGS


def install_request_translations(app: Flask) -> None:
    """Make `RequestDomain` the default domain of Flask-Babel (whose extension object,
    shared by every app of the process, keeps one domain and its catalogs per process),
    and give the templates' `_()` a direct way to it."""
    babel = app.extensions["babel"].instance
    domain = babel.__dict__.get("domain_instance")
    if not isinstance(domain, RequestDomain):
        domain = RequestDomain(domain=app.extensions["babel"].default_domain)
        babel.domain_instance = domain  # overrides the cached_property
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: domain.get_translations().ugettext(s),
        ngettext=lambda s, p, n: domain.get_translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: domain.get_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: domain.get_translations().unpgettext(c, s, p, n),
    )

    @pass_eval_context
    def template_gettext(eval_context, string: str, **variables):
        """Jinja's new-style gettext (escaped when autoescaping, always a format string)
        in one call instead of Jinja's three (`_` → `gettext` → the callable)."""
        translated = domain.get_translations().ugettext(string)
        if eval_context.autoescape:
            translated = Markup(translated)
        if not variables and "%" not in translated:
            return translated  # what `% {}` would answer
        return translated % variables

    app.jinja_env.globals["gettext"] = app.jinja_env.globals["_"] = template_gettext
    app.before_request(_wtforms_catalogs_of_process)


class TemplateUrls:
    """The templates' `url_for`, which keeps the URLs that are the same on every request:
    an endpoint without arguments (the header's links, the launcher's tiles, the menus)
    and a static file (its fingerprinted name). Flask builds each anew, 5-20 µs apiece
    and a dozen a page. Kept per script root (the only part of a path URL that a request
    can change) and not in development, where a static file's fingerprint follows its
    edits; anything else (arguments, a relative endpoint, `_external` …) is built as
    always. At most MAX_KEPT URLs are kept (a template may build a static name)."""

    MAX_KEPT = 512

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.build = app.url_for
        self.kept: dict[tuple[str, str, str | None], str] = {}

    def keep_static(self) -> bool:
        assets = self.app.extensions.get("enelink_assets")
        return assets is not None and not assets.reload

    def __call__(self, endpoint: str, **values) -> str:
        if values:
            if (endpoint != "static" or len(values) != 1 or "filename" not in values
                    or not self.keep_static()):
                return self.build(endpoint, **values)
        elif endpoint.startswith("."):
            return self.build(endpoint)
        if not has_request_context():
            return self.build(endpoint, **values)
        key = (request.script_root, endpoint, values.get("filename"))
        url = self.kept.get(key)
        if url is None:
            url = self.build(endpoint, **values)
            if len(self.kept) < self.MAX_KEPT:
                self.kept[key] = url
        return url


def page_url(endpoint: str) -> str:
    """The URL of an endpoint without arguments, as the templates' `url_for` keeps it."""
    return current_app.extensions["enelink_urls"](endpoint)


def init_app(app: Flask) -> None:
    from blueprints.core import registry

    install_request_translations(app)
    from forms.fields import field_markup
    from forms.validators import format_phone, password_checklist

    app.extensions["enelink_urls"] = app.jinja_env.globals["url_for"] = TemplateUrls(app)
    # The `field` macro of macros/forms.html (a global: imported macros see no context).
    app.jinja_env.globals["field_markup"] = field_markup
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
            "current_locale": current_language,
            "password_items": lambda value: password_checklist(value or ""),
            # Called by base.html only: partials never show a banner.
            "page_banners": registry.page_banners,
            "page_sections": registry.page_sections,
            "acting_for_owner": registry.acting_now,
        }
