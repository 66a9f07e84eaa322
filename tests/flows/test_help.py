"""Help where people get stuck: the FAQ pages read from the operator's files (missing or
broken files, HELP_DIR, the per-process cache), the help link on every wizard step, the
monitoring site's menu with the model's 商品マニュアル, the sample slip, 本登録完了's
sign-in ID, the printed slip's dealer section and back page, and the campaign text."""
from __future__ import annotations

import logging
import os
import re
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import g
from sqlalchemy import select

from blueprints.core import registry
from blueprints.core.staff import SLIPS
from blueprints.core.wizard import WIZARDS
from blueprints.gateways.catalogue import ensure_catalogue
from config import BASE_DIR
from models import db
from models.gateway import SystemModel
from tests.conftest import page_token
from tests.flows.test_dealer_links import make_gateway, make_owner
from tests.flows.test_slips import make_account
from tests.helpers import login, make_staff, statements

SERVICES = ("account", "gateways", "monitoring", "dealers", "club", "eco", "points", "support")


def _text(response) -> str:
    return response.get_data(as_text=True)


# -- FAQ pages ----------------------------------------------------------------------------
def test_every_service_has_an_faq_page_from_its_file(client):
    assert [source.service for source in registry.faqs()] == list(SERVICES)
    index = _text(client.get("/help/"))
    for service in SERVICES:
        assert f'href="/help/{service}"' in index
        data = tomllib.loads((BASE_DIR / "help" / "faq" / f"{service}.toml").read_text("utf-8"))
        assert 5 <= len(data["faq"]) <= 10, service
        response = client.get(f"/help/{service}")
        assert response.status_code == 200
        page = _text(response)
        assert '<meta name="description"' in page
        for number, item in enumerate(data["faq"], start=1):
            anchor = item.get("id", f"q{number}")
            assert f'href="#{anchor}"' in page and f'id="{anchor}"' in page
            assert " ".join(item["question"].split()) in page
            first_paragraph = item["answer"].strip().split("\n\n")[0].strip()
            assert first_paragraph in page
    assert "Enelink IDに関するよくある質問とその回答" in index
    assert client.get("/help/unknown").status_code == 404
    assert client.get("/help/%00").status_code == 404


def _help_dir(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "operator-help"
    (folder / "faq").mkdir(parents=True)
    for name, text in files.items():
        (folder / "faq" / name).write_text(text, encoding="utf-8")
    return folder


OPERATOR_FAQ = '''
intro = "運営者の説明"
[[faq]]
question = "運営者の質問 <b>太字</b>"
answer = """
一段落目 <script>alert(1)</script>

二段落目
"""
'''


def test_an_operator_help_dir_is_read_and_escaped(make_app, tmp_path):
    folder = _help_dir(tmp_path, {"account.toml": OPERATOR_FAQ})
    app = make_app(HELP_DIR=str(folder))
    with app.app_context():
        page = _text(app.test_client().get("/help/account"))
    assert "運営者の質問 &lt;b&gt;太字&lt;/b&gt;" in page
    assert "一段落目 &lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    assert '<p class="faq-answer">二段落目</p>' in page and 'id="q1"' in page
    assert "パスワードを忘れた場合" in page  # the project's own file is not read


def test_a_changed_file_is_read_again(make_app, tmp_path):
    folder = _help_dir(tmp_path, {"account.toml": OPERATOR_FAQ})
    app = make_app(HELP_DIR=str(folder))
    with app.app_context():
        client = app.test_client()
        assert "運営者の質問" in _text(client.get("/help/account"))
        path = folder / "faq" / "account.toml"
        path.write_text(OPERATOR_FAQ.replace("運営者の質問", "新しい質問"), encoding="utf-8")
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
        page = _text(client.get("/help/account"))
    assert "新しい質問" in page and "運営者の質問" not in page


@pytest.mark.parametrize("content", [
    None,  # missing
    "[[faq]\nquestion = ",  # not TOML
    'title = "no entries"',  # no [[faq]]
    '[[faq]]\nquestion = "答えがない"',  # an entry without an answer
    "\udcff",  # not UTF-8 (written as bytes below)
])
def test_a_missing_or_broken_file_says_help_is_unavailable(make_app, tmp_path, caplog,
                                                           monkeypatch, content):
    # Alembic's logging set-up (the test database's migration) disables existing loggers.
    monkeypatch.setattr(logging.getLogger("blueprints.core.help"), "disabled", False)
    folder = _help_dir(tmp_path, {})
    path = folder / "faq" / "gateways.toml"
    if content == "\udcff":
        path.write_bytes(b'[[faq]]\nquestion = "\xff"\nanswer = "x"\n')
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    app = make_app(HELP_DIR=str(folder))
    with app.app_context(), caplog.at_level(logging.WARNING, logger="blueprints.core.help"):
        response = app.test_client().get("/help/gateways")
    assert response.status_code == 200
    assert "このヘルプは現在ご覧いただけません" in _text(response)
    assert any("help file" in record.getMessage() for record in caplog.records)


# -- 「ヘルプが必要な場合は、こちら」 on every wizard step -------------------------------------
def test_every_step_of_every_wizard_links_its_faq(app):
    # What some wizards' views put in `g` before a step is shown (the dealer sign-up's
    # mailed link, the old portal's account in its one-time step).
    owner = make_owner()
    context = {"dealer_signup_link": SimpleNamespace(email="dealer@example.com"),
               "legacy_account": owner, "legacy_login": SimpleNamespace(username="olduser")}
    assert {"signup", "monitoring_registration", "points_signup",
            "club_dealer_signup"} <= set(WIZARDS)
    for wizard in WIZARDS.values():
        for index, step in enumerate(wizard.steps):
            with app.test_request_context():
                url = wizard.url(step.name)
            with app.test_request_context(url):
                for name, value in context.items():
                    setattr(g, name, value)
                form = step.form_class({})(meta={"csrf": False})
                html, _status = wizard.render(step, form, {})
            link = f'<a href="/help/{wizard.help_service}">ヘルプが必要な場合は、こちら</a>'
            assert link in html, (wizard.name, step.name)
            assert registry.faq_of(wizard.help_service) is not None, wizard.name


def test_the_help_link_is_on_the_pages_people_open(client):
    terms = _text(client.get("/monitoring/register/terms"))
    assert 'href="/help/gateways"' in terms and "ヘルプが必要な場合は、" in terms
    sign_up = _text(client.get("/account/signup/name"))
    assert 'href="/help/account"' in sign_up
    assert "Enelink IDに関するよくある質問とその回答" in sign_up
    step1 = _text(client.get("/monitoring/register"))
    assert 'href="/help/gateways"' in step1 and 'href="/help/sample-slip"' in step1


# -- the monitoring site's menu ---------------------------------------------------------------
def test_the_monitoring_menu_links_the_models_manual_only_when_it_has_one(app, client):
    ensure_catalogue()
    owner = make_owner()
    make_gateway(owner, "01AB12345678")  # GW-M001, with a manual
    other = make_gateway(owner, "01AB12345679")
    other.model = "GW-M003"
    db.session.scalar(select(SystemModel).where(SystemModel.code == "GW-M003")).manual_url = None
    db.session.commit()
    login(client, "owner@example.com")
    with statements() as seen:
        page = _text(client.get("/monitoring/gateways/01AB12345678/monitor"))
    assert 'href="https://enelink.example/manuals/GW-M001.pdf"' in page
    assert page.count("商品マニュアル") >= 2  # the PC menu and the smartphone menu
    assert 'class="monitor-menu-sp"' in page and "<summary>メニュー</summary>" in page
    assert 'href="/monitoring/"' in page and "管理・登録サイト" in page
    assert 'action="/account/logout"' in page and "山田 太郎 様" in page
    assert sum("system_model" in statement for statement in seen) == 1
    without = _text(client.get("/monitoring/gateways/01AB12345679/monitor"))
    assert "商品マニュアル" not in without and "管理・登録サイト" in without
    # The owner's gateway page links the manual too.
    detail = _text(client.get("/monitoring/gateways/01AB12345678"))
    assert 'href="https://enelink.example/manuals/GW-M001.pdf"' in detail
    assert "商品マニュアル" not in _text(client.get("/monitoring/gateways/01AB12345679"))


def test_a_linked_dealer_sees_the_menu_with_the_console_as_management_site(app, client):
    from blueprints.dealers.services import link_dealer
    from models.gateway import Gateway
    from tests.flows.test_dealer_links import make_dealer

    ensure_catalogue()
    owner = make_owner()
    gateway = make_gateway(owner, "01AB12345678")
    dealer = make_dealer(1, phone="0312345678")
    link_dealer(owner, db.session.get(Gateway, gateway.id), dealer.dealer_code, "0312345678")
    db.session.commit()
    login(client, "admin1@dealer1.example")
    page = _text(client.get("/monitoring/gateways/01AB12345678/monitor"))
    assert 'href="https://enelink.example/manuals/GW-M001.pdf"' in page
    assert '<li><a href="/dealers/">管理・登録サイト</a></li>' in page
    assert '<span class="monitor-menu-user">佐藤 花子 様</span>' in page


# -- the sample slip -------------------------------------------------------------------------
def test_the_sample_slip_page_and_picture(client):
    page = _text(client.get("/help/sample-slip"))
    # The picture's URL carries its fingerprint (blueprints/core/assets.py).
    assert re.search(r'<img src="/static/img/sample-slip\.[0-9a-f]{8}\.svg"', page)
    assert 'alt="' in page
    svg = client.get("/static/img/sample-slip.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    picture = svg.get_data(as_text=True)
    assert "<title" in picture and "<desc" in picture and "ゲートウェイID" in picture
    assert "パスワード" in picture and "販売店ID" in picture


def test_the_slip_fields_offer_the_sample_picture(client):
    make_owner()
    login(client, "owner@example.com")
    page = _text(client.get("/monitoring/gateways/add"))
    assert "<summary>サンプル画像はこちら</summary>" in page
    assert re.search(r'src="/static/img/sample-slip\.[0-9a-f]{8}\.svg"', page)
    assert 'href="/help/sample-slip"' in page


# -- 本登録完了 -------------------------------------------------------------------------------
def test_registration_complete_says_which_address_is_the_id(client):
    owner = make_owner("Owner.Name@example.com")
    make_gateway(owner)
    login(client, "Owner.Name@example.com")
    page = _text(client.get("/monitoring/register/complete"))
    assert "【アカウント仮登録のお知らせ】をお送りしたメールアドレス" in page
    assert "Owner.Name@example.com" in page
    assert "大文字と小文字を区別します" in page


# -- the printed slip and the campaign -------------------------------------------------------
def _print_slips(app) -> str:
    client = app.test_client()
    make_staff(make_account("staff@example.com"), SLIPS)
    login(client, "staff@example.com")
    token = page_token(client, "/staff/gateways/slips")
    response = client.post("/staff/gateways/slips", data={"csrf_token": token, "count": "2",
                                                           "model": "GW-M001", "pcs": "1"})
    assert response.status_code == 200
    return _text(response)


def test_the_printed_slip_has_the_dealer_boxes_the_request_and_the_terms(app):
    page = _print_slips(app)
    assert page.count('<dt>販売店ID</dt><dd></dd>') == 2
    assert page.count('<dt>電話番号</dt><dd></dd>') == 2
    assert page.count("販売店様へのお願い") == 2
    assert "必ずお客様に渡してください" in page
    assert page.count('class="slip-back"') == 2 and "遠隔モニタリングサービス 利用規約" in page
    assert page.count('class="slip-front"') == 2
    assert "登録方法に関するお問い合わせ先" in page and "0120-000-000" in page
    assert 'class="slip-campaign"' not in page
    css = _text(app.test_client().get("/static/css/slips.css"))
    assert ".slip-front { break-after: page" in css


def test_the_campaign_text_appears_only_when_configured(make_app):
    plain = make_app()
    with plain.app_context():
        step1 = _text(plain.test_client().get("/monitoring/register"))
    assert 'class="campaign"' not in step1 and "キャンペーン" not in step1
    text = "登録いただいた方へプレゼントがあたるキャンペーン実施中!! <くわしくはWEB>"
    configured = make_app(CAMPAIGN_TEXT=text, REGISTRATION_CONTACT="販売窓口 0120-111-222")
    with configured.app_context():
        step1 = _text(configured.test_client().get("/monitoring/register"))
        slips = _print_slips(configured)
    escaped = text.replace("<", "&lt;").replace(">", "&gt;")
    assert f'<p class="campaign" role="note">{escaped}</p>' in step1
    assert slips.count(f'<p class="slip-campaign">{escaped}</p>') == 2
    assert "販売窓口 0120-111-222" in slips
