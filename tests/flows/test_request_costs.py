"""What every request pays: the SQL of the simple signed-in pages and of the status partial
that open monitoring pages poll (a small fixed number, the same with ten times the data),
and that what is now found once per request or per process still changes when it must:
the language (a switch, `force_locale`), the sign-in (signed out, revoked elsewhere), the
second step (set up in another browser), WTForms' messages in the request's language."""
from __future__ import annotations

import re

import pytest
from flask import render_template_string, session
from flask_babel import force_locale, gettext, lazy_gettext, refresh
from sqlalchemy import select

from blueprints.core import templating
from blueprints.core.security import revoke_login_sessions
from models import db, utcnow
from models.account import LoginSession
from models.trust import AccountTotp
from tests.conftest import csrf_from
from tests.flows.test_dealer_links import make_gateway, make_owner
from tests.helpers import HX, PASSWORD, add_units, login, reading, slot_end, statements

GATEWAY = "01AB12345678"
NOW_PARTIAL = f"/monitoring/gateways/{GATEWAY}/monitor/now"
# Simple signed-in pages and the queries each makes: the sign-in (session row, account
# and whether a second step is set up, in one query) and what the page itself shows.
PAGES = {
    "/": 1,                          # ホーム (the launcher)
    "/account/settings": 1,          # マイアカウント (a menu)
    "/account/settings/personal": 2,  # a settings page: + the account's phones
}


def queries(client, url: str, headers: dict | None = None) -> list[str]:
    """The SQL statements of one request (transaction control left out: SQLite's BEGIN
    IMMEDIATE is a statement for the driver, PostgreSQL's BEGIN is not)."""
    with statements() as seen:
        response = client.get(url, headers=headers or {})
    assert response.status_code == 200, (url, response.status_code)
    return [s for s in seen if not s.lstrip().upper().startswith(("BEGIN", "COMMIT"))]


def more_of_everything(times: int) -> None:
    """Other owners, each signed in with a monitored gateway and its readings."""
    for n in range(times):
        owner = make_owner(email=f"other{n}@example.com")
        gateway = make_gateway(owner, f"01AB{90000000 + n:08d}", site=f"他邸{n}")
        db.session.add(LoginSession(key_hash=f"{n:064d}", account_id=owner.id,
                                    remember=False, expires_at=utcnow().replace(year=2099),
                                    user_agent="test"))
        db.session.commit()
        add_units(gateway, 2)
        from blueprints.monitoring import telemetry
        telemetry.ingest(gateway, [reading(slot_end(5 * i)) for i in range(3)])


@pytest.fixture
def owner(app):
    account = make_owner()
    gateway = make_gateway(account, GATEWAY, site="山田様邸")
    add_units(gateway, 2)
    return account


@pytest.fixture
def owner_client(app, owner):
    client = app.test_client()
    assert login(client, "owner@example.com").status_code == 303
    client.get("/")  # the session's first use is written once (SESSION_SEEN_INTERVAL)
    return client


def test_simple_pages_and_the_polled_partial_make_a_fixed_number_of_queries(owner_client):
    counts = {url: len(queries(owner_client, url)) for url in PAGES}
    assert counts == PAGES
    partial = queries(owner_client, NOW_PARTIAL, HX)
    # The sign-in costs the partial one query, and the page's own few stay few.
    assert sum("login_session" in s for s in partial) == 1
    assert len(partial) <= 4
    more_of_everything(10)
    assert {url: len(queries(owner_client, url)) for url in PAGES} == PAGES
    assert len(queries(owner_client, NOW_PARTIAL, HX)) == len(partial)


def test_the_sign_in_is_one_query_and_polling_writes_nothing(owner_client):
    for url in PAGES:
        sql = queries(owner_client, url)
        assert sum("login_session" in s for s in sql) == 1, url
        assert not any("account_totp" in s and "login_session" not in s for s in sql), url
    # A page polled every minute writes the session's last use at most every
    # SESSION_SEEN_INTERVAL: not on each poll.
    for _ in range(3):
        sql = queries(owner_client, NOW_PARTIAL, HX)
        assert not any(s.lstrip().upper().startswith("UPDATE") for s in sql)


@pytest.mark.real_second_step
def test_a_session_before_the_second_step_asks_nothing_more(app, owner):
    """Without a second step the session never passes one (second_step_at stays empty):
    whether the account has one comes with the sign-in query, not a second one."""
    client = app.test_client()
    assert login(client, "owner@example.com").status_code == 303
    client.get("/")
    assert db.session.scalar(select(LoginSession.second_step_at)) is None
    assert {url: len(queries(client, url)) for url in PAGES} == PAGES


@pytest.mark.real_second_step
def test_a_second_step_set_up_in_another_browser_takes_effect_at_once(app, owner):
    client = app.test_client()
    assert login(client, "owner@example.com").status_code == 303
    assert client.get("/").status_code == 200
    db.session.add(AccountTotp(account_id=owner.id, secret="JBSWY3DPEHPK3PXP",
                               confirmed_at=utcnow()))
    db.session.commit()
    # The session has not passed it: on to the second step, on the very next request.
    response = client.get("/account/settings")
    assert response.status_code == 303
    assert response.headers["Location"] == "/account/login/verify?next=/account/settings"


def test_a_session_revoked_elsewhere_or_signed_out_ends_at_once(app, owner):
    first, second = app.test_client(), app.test_client()
    for client in (first, second):
        assert login(client, "owner@example.com").status_code == 303
        assert client.get("/account/settings").status_code == 200
    revoke_login_sessions(owner.id)
    db.session.commit()
    for client in (first, second):
        assert client.get("/account/settings").status_code == 302
        assert "ようこそ" not in client.get("/").get_data(as_text=True)
    assert login(first, "owner@example.com").status_code == 303
    token = csrf_from(first.get("/account/settings").get_data(as_text=True))
    first.post("/account/logout", data={"csrf_token": token})
    assert first.get("/account/settings").status_code == 302


def test_a_language_switch_shows_the_next_page_in_that_language(owner_client):
    home = owner_client.get("/").get_data(as_text=True)
    assert "マイアカウント" in home and "ようこそ、山田" in home
    token = csrf_from(home)
    owner_client.post("/language", data={"csrf_token": token, "language": "en", "next": "/"})
    home = owner_client.get("/").get_data(as_text=True)
    assert "My account" in home and "マイアカウント" not in home
    token = csrf_from(home)
    owner_client.post("/language", data={"csrf_token": token, "language": "ja", "next": "/"})
    assert "マイアカウント" in owner_client.get("/").get_data(as_text=True)


def test_a_locale_changed_within_a_request_is_used_at_once(app):
    label = lazy_gettext("ホーム")
    template = "{{ _('ホーム') }}|{{ _('ようこそ、%(name)sさん', name=who) }}|{{ _('100%%') }}"
    with app.test_request_context("/"):
        session["lang"] = "ja"
        assert gettext("ホーム") == str(label) == "ホーム"
        assert render_template_string(template, who="<b>") == \
            "ホーム|ようこそ、&lt;b&gt;さん|100%"
        with force_locale("en"):
            assert gettext("ホーム") == str(label) == "Home"
            assert render_template_string(template, who="<b>").startswith("Home|")
        assert gettext("ホーム") == "ホーム"
        session["lang"] = "en"
        refresh()
        assert gettext("ホーム") == str(label) == "Home"


def test_the_translations_are_found_once_per_request(owner_client, monkeypatch):
    """Flask-Babel's own lookup runs once for a page of many texts, not once per text."""
    import flask_babel

    found = []
    original = flask_babel.Domain.get_translations

    def counted(self):
        found.append(1)
        return original(self)

    monkeypatch.setattr(flask_babel.Domain, "get_translations", counted)
    body = owner_client.get("/").get_data(as_text=True)
    assert "マイアカウント" in body and "ログアウト" in body
    assert len(found) == 1


def test_wtforms_messages_follow_the_language_and_load_once(app, monkeypatch):
    from babel import support
    from flask_wtf import FlaskForm
    from wtforms import SelectField

    class Page(FlaskForm):
        kind = SelectField(choices=[("a", "A")])

    loads = []
    original = support.Translations.load

    def counted(*args, **kwargs):
        loads.append(kwargs.get("domain"))
        return original(*args, **kwargs)

    monkeypatch.setattr(support.Translations, "load", counted)
    monkeypatch.setattr(templating.WTFORMS_CATALOGS, "_catalogs", {})
    answers = {}
    for lang in ("ja", "en", "ja", "en"):
        # A request of its own (the fixture's app context would share `g`).
        with app.app_context(), app.test_request_context("/"):
            session["lang"] = lang
            app.preprocess_request()
            form = Page(meta={"csrf": False}, formdata=None, data={"kind": "x"})
            form.validate()
            answers[lang] = form.kind.errors[0]
    assert answers == {"ja": "選択肢が正しくありません。", "en": "Not a valid choice."}
    # Once per language for the process, not once per request.
    assert loads.count("wtforms") == 2


def test_every_page_translates_through_the_request_domain(owner_client):
    """The English home page: every text the page shows is translated (nothing Japanese
    left but the names)."""
    token = csrf_from(owner_client.get("/").get_data(as_text=True))
    owner_client.post("/language", data={"csrf_token": token, "language": "en", "next": "/"})
    body = owner_client.get("/").get_data(as_text=True)
    visible = re.sub(r"<[^>]+>|山田|太郎|日本語", "", body)
    assert not re.search(r"[\u3040-\u30ff]", visible), re.findall(r".{0,80}[\u3040-\u30ff]+.{0,40}", visible)


def test_a_phone_number_is_formatted_once_per_process(owner_client, owner, monkeypatch):
    """Pages show phone numbers as 090-1234-5678: `phonenumbers` parses each number once
    for the process, not on every page that shows it."""
    import phonenumbers

    from forms import validators

    from models.account import AccountPhone

    db.session.add(AccountPhone(account_id=owner.id, position=0, kind="mobile",
                                number="09012345678"))
    db.session.commit()
    parsed = []
    original = phonenumbers.parse
    monkeypatch.setattr(phonenumbers, "parse",
                        lambda *args, **kw: parsed.append(args[0]) or original(*args, **kw))
    validators._formatted_phone.cache_clear()
    validators.is_japanese_phone.cache_clear()
    for _ in range(3):
        assert "090-1234-5678" in owner_client.get("/account/settings/personal").get_data(
            as_text=True)
    assert 0 < len(parsed) <= 2


def test_a_dealers_home_looks_up_its_dealer_once(app, client):
    """The launcher's dealer tiles (console, club's dealer menu, becoming a dealer) and
    the menus all ask whose dealer the account is: one query per request, not one each;
    and a company that becomes a dealer during a request is seen as one at once."""
    from blueprints.dealers.services import add_dealer, dealer_for_account
    from tests.flows.test_dealer_links import make_dealer
    from tests.flows.test_dealer_pages import _member, dealer_company_of

    dealer = make_dealer(1)
    _member(dealer_company_of(dealer))
    login(client, "member@dealer1.example")
    seen = queries(client, "/")
    assert len([s for s in seen if re.search(r"FROM dealer\b", s)]) == 1, seen

    from tests.flows.test_dealer_links import make_company
    company = make_company(2)
    member = _member(company, "member@dealer2.example")
    with app.test_request_context():
        assert dealer_for_account(member) is None
        add_dealer(company, "09012340002")
        db.session.flush()
        assert dealer_for_account(member) is not None


def test_the_launcher_tiles_are_drawn_once_per_set_of_services_and_language(app, owner_client):
    """The home page's tiles are drawn once per process for which services an account
    may use and the language (core/views.py `_launcher_tiles`): every account with the
    same services sees the same tiles, another set or language draws its own."""
    from flask import template_rendered

    from tests.flows.test_dealer_links import make_dealer
    from tests.flows.test_dealer_pages import _member, dealer_company_of

    drawn = []

    def record(_app, template, context, **_extra):
        if template.name == "core/_launcher_tiles.html":
            drawn.append([entry.endpoint for entry in context["entries"]])

    _member(dealer_company_of(make_dealer(1)))
    dealer_client = app.test_client()
    login(dealer_client, "member@dealer1.example")
    template_rendered.connect(record, app)
    try:
        # (the owner's tiles were drawn by the fixture's first visit)
        first = owner_client.get("/").get_data(as_text=True)
        again = owner_client.get("/").get_data(as_text=True)
        assert drawn == [] and first == again
        assert "遠隔モニタリング" in first and 'href="/dealers/"' not in first
        dealer_home = dealer_client.get("/").get_data(as_text=True)
        assert len(drawn) == 1 and "dealers.console" in drawn[0]
        assert 'href="/dealers/"' in dealer_home
        dealer_client.get("/")
        assert len(drawn) == 1
        owner_client.post("/language", data={"csrf_token": csrf_from(first),
                                             "language": "en"})
        english = owner_client.get("/").get_data(as_text=True)
        assert len(drawn) == 2 and "dealers.console" not in drawn[1]
        assert 'lang="en"' in english and "Remote monitoring" in english
        assert "遠隔モニタリング" not in english
        owner_client.get("/")
        assert len(drawn) == 2
    finally:
        template_rendered.disconnect(record, app)


def test_a_constant_select_marks_each_requests_choice_in_its_language(app, monkeypatch):
    """The 都道府県 options are rendered once per process and language; each request still
    gets its own selected option, the labels in its language, and a form that sets other
    choices gets those."""
    from wtforms.widgets import Select

    from forms.fields import AddressForm, PREFECTURE_CHOICES

    def select_of(html: str) -> str:
        return re.search(r"<select[^>]*>.*?</select>", html, re.S).group(0)

    with app.test_request_context("/"):
        session["lang"] = "ja"
        kyoto = select_of(str(AddressForm(data={"prefecture": "京都府"}).prefecture()))
        tokyo = select_of(str(AddressForm(data={"prefecture": "東京都"}).prefecture()))
        with force_locale("en"):
            english = str(AddressForm().prefecture())
        calls = []
        monkeypatch.setattr(Select, "render_option", classmethod(
            lambda cls, value, label, selected, **kw: calls.append(value) or ""))
        again = str(AddressForm(data={"prefecture": "京都府"}).prefecture())
        other = AddressForm()
        other.prefecture.choices = [("沖縄県", "沖縄県")]
        str(other.prefecture())
    assert '<option selected value="京都府">京都府</option>' in kyoto
    assert '<option value="東京都">東京都</option>' in kyoto
    assert '<option selected value="東京都">東京都</option>' in tokyo
    assert kyoto.count("<option") == len(PREFECTURE_CHOICES) and kyoto.count("selected") == 1
    assert '<option value="">Please select</option>' in english
    # Rendered before, in Japanese: nothing rendered again but the other form's choice.
    assert select_of(again) == kyoto and calls == ["沖縄県"]


def test_the_field_macro_writes_label_help_input_and_error(app):
    """`field` of macros/forms.html (written in Python): the label with 必須, the help text,
    the input with its aria- attributes and the caller's, the first error, all escaped."""
    from wtforms import StringField

    from forms.fields import PageForm

    class Page(PageForm):
        name = StringField("名前 <x>", description="全角で & 半角で")

    template = ('{% from "macros/forms.html" import field %}'
                '{{ field(form.name, required=True, extra_class="wide", placeholder="a<b") }}')
    with app.test_request_context("/"):
        session["lang"] = "ja"
        form = Page(meta={"csrf": False}, data={"name": '"山田"'})
        plain = render_template_string(template, form=form)
        form.name.errors = ["入力してください <b>"]
        with force_locale("en"):
            failed = render_template_string(template, form=form)
    assert plain.startswith('<div class="field wide" id="name-field">')
    assert '<label for="name">名前 &lt;x&gt; <span class="required">必須</span></label>' in plain
    assert '<p class="help" id="name-help">全角で &amp; 半角で</p>' in plain
    assert ('<input aria-describedby="name-help" id="name" name="name" placeholder="a&lt;b" '
            'required type="text" value="&#34;山田&#34;">') in plain
    assert "field-error" not in plain and "aria-invalid" not in plain
    assert failed.startswith('<div class="field has-error wide" id="name-field">')
    assert '<span class="required">Required</span>' in failed
    assert 'aria-describedby="name-help name-error" aria-invalid="true"' in failed
    assert '<p class="field-error" id="name-error">入力してください &lt;b&gt;</p>' in failed


def test_the_templates_constant_urls_are_built_once_per_script_root(app, monkeypatch):
    """An endpoint without arguments and a static file: built once, then kept (per script
    root); a URL with arguments is built every time."""
    urls = app.extensions["enelink_urls"]
    built, build = [], urls.build
    monkeypatch.setattr(urls, "build", lambda endpoint, **values: built.append(endpoint)
                        or build(endpoint, **values))
    monkeypatch.setattr(urls, "kept", {})
    template = ("{{ url_for('account.settings') }}|{{ url_for('static', filename='css/app.css') }}"
                "|{{ url_for('account.settings', tab='x') }}")
    pages = []
    for base in ("http://localhost/", "http://localhost/", "http://localhost/portal/"):
        with app.test_request_context("/", base_url=base):
            pages.append(render_template_string(template))
    assert pages[0] == pages[1]
    assert re.fullmatch(r"/account/settings\|/static/css/app\.[0-9a-f]{8}\.css\|"
                        r"/account/settings\?tab=x", pages[0]), pages[0]
    assert pages[2] == "/portal" + pages[0].replace("|/", "|/portal/")
    assert built == ["account.settings", "static", "account.settings", "account.settings",
                     "account.settings", "static", "account.settings"]
