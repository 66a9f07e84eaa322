"""セルフヘルプ through the test client: the support center's home (tiles, menu, links),
the knowledge-base search in Japanese (n-grams for words inside sentences, the fallback
for 1-2 characters, AND of terms, ranking, escaped highlights, literal wildcards, the
index following updates and deletions), the article page and bad input. Runs on SQLite
and, with TEST_DATABASE_URL, on PostgreSQL (pg_trgm)."""
from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import delete, func, select

from blueprints.core.staff import SUPPORT
from blueprints.support import home_views, kb
from blueprints.support.kb_demo import ARTICLES, seed_demo_articles
from models import db, utcnow
from models.support import KbArticle, SupportCategory
from tests.flows.test_dealer_links import make_owner
from tests.helpers import HX, login, make_staff, statements

@pytest.fixture
def owner_client(app):
    make_owner()
    client = app.test_client()
    assert login(client, "owner@example.com").status_code == 303
    return client


@pytest.fixture
def staff_client(app):
    staff = make_owner("staff@example.com", "高橋", "美咲")
    make_staff(staff, SUPPORT)
    client = app.test_client()
    assert login(client, "staff@example.com").status_code == 303
    return client


def add_article(title: str, body: str, published: bool = True, category: str | None = None,
                age_days: int = 0) -> int:
    category_id = None
    if category:
        category_id = db.session.scalar(select(SupportCategory.id)
                                        .where(SupportCategory.name == category))
        if category_id is None:
            row = SupportCategory(name=category)
            db.session.add(row)
            db.session.flush()
            category_id = row.id
    when = utcnow() - timedelta(days=age_days)
    article = KbArticle(title=title, body=body, published=published, category_id=category_id,
                        created_at=when, updated_at=when)
    db.session.add(article)
    db.session.commit()
    return article.id


def search(client, query: str | None, headers=None):
    url = "/support/search" if query is None else "/support/search?" + _qs(query)
    return client.get(url, headers=headers or {})


def _qs(query: str) -> str:
    from urllib.parse import urlencode
    return urlencode({"q": query})


def found(response) -> list[int]:
    """The article ids of the hits, in the order shown."""
    html = response.get_data(as_text=True)
    block = html.split('<ol class="kb-hits">', 1)
    if len(block) == 1:
        return []
    return [int(n) for n in re.findall(r'href="/support/kb/(\d+)"', block[1].split("</ol>")[0])]


# -- home ---------------------------------------------------------------------------------
def test_home_has_the_box_the_three_tiles_the_menu_and_the_fallback(owner_client):
    add_article("停電時の動作", "停電すると自立運転に切り替わります。")
    response = owner_client.get("/support/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<h1>サポートセンター</h1>" in html
    box = html.split('id="support-search-box"', 1)[1].split("</form>")[0]
    assert 'name="q"' in box and "検索またはリクエスト" in html
    assert 'action="/support/search"' in html.split('id="support-search-box"')[0][-200:]
    cases = html.split('id="tile-cases"', 1)[1].split("</li>")[0]
    assert "ケースサポート" in cases and 'href="/support/cases"' in cases
    assert "新しいケースを作成" in cases and 'href="/support/cases/new"' in cases
    self_help = html.split('id="tile-self-help"', 1)[1].split('id="tile-products"')[0]
    assert 'href="/support/search"' in self_help and "停電時の動作" in self_help
    products = html.split('id="tile-products"', 1)[1].split("</li>")[0]
    assert "製品登録" in products and 'href="/club/mypage"' in products
    menu = html.split('class="support-menu"', 1)[1].split("</nav>")[0]
    for label in ("ホーム", "ケースサポート", "マイケース", "新しいケース", "セルフヘルプ", "製品登録"):
        assert label in menu
    assert "新しいケースを作成し、サポートに問い合わせる" in html
    phone = html.split('id="phone-rules"', 1)[1].split("</section>")[0]
    assert "お電話でのサポートは、ケース作成後のご依頼に限ります" in phone
    assert 'href="/support/cases"' in phone


def test_product_registration_falls_back_to_the_gateways(app, owner_client, monkeypatch):
    monkeypatch.setattr(home_views, "PRODUCT_ENDPOINTS", ("club.no_such_page", "gateways.menu"))
    from flask import url_for

    html = owner_client.get("/support/").get_data(as_text=True)
    products = html.split('id="tile-products"', 1)[1].split("</li>")[0]
    with app.test_request_context():
        assert f'href="{url_for("gateways.menu")}"' in products
    assert 'href="/club/mypage"' not in html


def test_the_launcher_offers_the_support_center_to_every_account(app, owner_client):
    html = owner_client.get("/").get_data(as_text=True)
    assert "サポートセンター" in html and 'href="/support/"' in html
    dealer = app.test_client()
    from tests.flows.test_dealer_links import make_company
    make_company(1)
    assert login(dealer, "admin1@dealer1.example").status_code == 303
    assert 'href="/support/"' in dealer.get("/").get_data(as_text=True)


@pytest.mark.parametrize("path", ["/support/", "/support/search?q=停電", "/support/kb/1"])
def test_pages_need_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302 and "/account/login" in response.headers["Location"]


# -- search: Japanese without spaces ------------------------------------------------------
def test_a_word_inside_a_sentence_is_found(owner_client):
    wanted = add_article("蓄電池のよくある質問",
                         "天気の悪い日が続くと、夜間に蓄電池が充電されない場合はモードを確認します。")
    add_article("太陽光パネルのお手入れ", "パネルは雨で汚れが流れます。")
    for query in ("充電されない", "蓄電池が充電されない", "夜間に蓄電池"):
        response = search(owner_client, query)
        assert response.status_code == 200
        assert found(response) == [wanted], query


@pytest.mark.parametrize("query", ["停電", "充電", "電", "ＰＣ"])
def test_one_and_two_character_words_are_found(owner_client, query):
    """Trigrams cannot find these; the LIKE fallback does (ＰＣ is read as PC)."""
    wanted = add_article("停電のとき", "停電中は蓄電池から充電済みの電力を使います。PCS は自立運転。")
    add_article("保証について", "保証期間は製品ごとに異なります。")
    assert found(search(owner_client, query)) == [wanted]


def test_every_term_must_match(owner_client):
    both = add_article("停電と蓄電池", "停電すると蓄電池から給電します。")
    add_article("停電時の照明", "停電中は照明が消えます。")
    add_article("蓄電池の寿命", "蓄電池は約15年使えます。")
    # A full-width space separates terms as well as a half-width one.
    assert found(search(owner_client, "停電 蓄電池")) == [both]
    assert found(search(owner_client, "停電　蓄電池")) == [both]
    assert found(search(owner_client, "停電 パネル")) == []


def test_title_hits_rank_above_body_hits_then_newest(owner_client):
    body_once = add_article("お手入れ", "通信途絶のときはルーターを確認。", age_days=0)
    title = add_article("通信途絶と表示される", "ルーターを再起動してください。", age_days=5)
    body_four = add_article("ネットワーク", "通信途絶。通信途絶。通信途絶。通信途絶。", age_days=9)
    older_twin = add_article("通信途絶について", "確認事項。", age_days=7)
    # title ×3 = 3 each (newest first between them), body ×4 = 4 first, body ×1 last.
    assert found(search(owner_client, "通信途絶")) == [body_four, title, older_twin, body_once]


def test_matches_are_marked_and_everything_is_escaped(owner_client):
    add_article("<script>alert(1)</script> 停電の注意", "停電中は<b>太字</b>にならない & 安全に。")
    html = search(owner_client, "停電").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "<b>太字</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; <mark>停電</mark>の注意" in html
    assert "<mark>停電</mark>中は&lt;b&gt;太字&lt;/b&gt;にならない &amp; 安全に。" in html
    # A query with HTML is shown as text too, and the highlight marks it escaped.
    add_article("タグ", "本文に <b>停電</b> と書いた記事")
    html = search(owner_client, "<b>停電</b>").get_data(as_text=True)
    assert "<b>停電</b>" not in html
    assert "<mark>&lt;b&gt;停電&lt;/b&gt;</mark>" in html


def test_the_snippet_is_cut_around_the_first_hit(owner_client):
    body = "あ" * 300 + "ゲートウェイのランプ" + "い" * 300
    add_article("長い記事", body)
    html = search(owner_client, "ランプ").get_data(as_text=True)
    snippet = html.split('class="kb-snippet">', 1)[1].split("</p>")[0]
    assert snippet.startswith("…") and snippet.endswith("…")
    assert "<mark>ランプ</mark>" in snippet
    assert len(snippet.replace("<mark>", "").replace("</mark>", "")) <= kb.SNIPPET + 2


@pytest.mark.parametrize("query", ["%", "_", "\\", "100%", "a_c", "%%%", '"', '"停電"', "停電 OR",
                                   "NEAR(停電", "*", "停電*", "^停電", "col:停電", "'; DROP TABLE x",
                                   '"""', '停電"""', "AND OR NOT", "停電 -蓄電池"])
def test_pattern_and_query_syntax_characters_are_literal(owner_client, query):
    percent = add_article("充電率100%の表示", "満充電で 100% と表示されます。")
    add_article("充電率の表示", "満充電で100と表示されます。ABC と abc")
    add_article("停電のとき", "停電すると自立運転になります。")
    response = search(owner_client, query)
    assert response.status_code == 200
    hits = found(response)
    if query in ("%", "100%"):
        assert hits == [percent]
    elif query in ("_", "\\", "a_c", "%%%", '"', "*", "'; DROP TABLE x"):
        assert hits == []


def test_unpublished_articles_are_hidden_from_customers(owner_client, staff_client):
    hidden = add_article("停電時の社内メモ", "停電の検証中。", published=False)
    shown = add_article("停電時の動作", "停電すると自立運転。")
    assert found(search(owner_client, "停電")) == [shown]
    assert found(search(staff_client, "停電")) == [shown]  # search is published only
    assert owner_client.get(f"/support/kb/{hidden}").status_code == 404
    response = staff_client.get(f"/support/kb/{hidden}")
    assert response.status_code == 200 and 'id="kb-unpublished"' in response.get_data(as_text=True)
    assert "非公開" in response.get_data(as_text=True)
    assert 'id="kb-unpublished"' not in staff_client.get(f"/support/kb/{shown}").get_data(
        as_text=True)


def test_the_index_follows_updates_and_deletions(owner_client):
    article_id = add_article("旧タイトル", "ブレーカーを確認してください。")
    assert found(search(owner_client, "ブレーカー")) == [article_id]
    article = db.session.get(KbArticle, article_id)
    article.title, article.body = "分電盤の確認", "漏電遮断器を確認してください。"
    db.session.commit()
    assert found(search(owner_client, "ブレーカー")) == []
    assert found(search(owner_client, "漏電遮断器")) == [article_id]
    assert found(search(owner_client, "分電盤")) == [article_id]
    article = db.session.get(KbArticle, article_id)
    article.published = False
    db.session.commit()
    assert found(search(owner_client, "漏電遮断器")) == []
    article = db.session.get(KbArticle, article_id)
    article.published = True
    db.session.commit()
    assert found(search(owner_client, "漏電遮断器")) == [article_id]
    db.session.execute(delete(KbArticle).where(KbArticle.id == article_id))
    db.session.commit()
    assert found(search(owner_client, "漏電遮断器")) == []
    assert owner_client.get(f"/support/kb/{article_id}").status_code == 404


def test_an_empty_query_lists_the_newest_articles(owner_client):
    old = add_article("古い記事", "本文", age_days=30)
    new = add_article("新しい記事", "本文", age_days=1)
    add_article("非公開の記事", "本文", published=False)
    for query in (None, "", "　 "):
        response = search(owner_client, query)
        assert response.status_code == 200
        assert found(response) == [new, old]
        assert "新着の記事" in response.get_data(as_text=True)


def test_no_result_offers_a_new_case_with_the_query(owner_client):
    add_article("停電時の動作", "停電すると自立運転。")
    html = search(owner_client, "雪 パネル").get_data(as_text=True)
    assert "該当する記事が見つかりませんでした" in html
    link = html.split('id="kb-new-case"', 1)[1]
    href = re.search(r'href="([^"]+)"', link).group(1).replace("&amp;", "&")
    assert urlsplit(href).path == "/support/cases/new"
    assert parse_qs(urlsplit(href).query) == {"q": ["雪 パネル"]}
    assert "解決しない場合はケースサポートから" in link
    # The link opens the case form with the query as its subject.
    form = owner_client.get(href)
    assert form.status_code == 200 and 'value="雪 パネル"' in form.get_data(as_text=True)
    # With results the same way out is offered below them.
    html = search(owner_client, "停電").get_data(as_text=True)
    assert "該当する記事が見つかりませんでした" not in html
    after = html.split("</ol>", 1)[1]
    assert "解決しない場合はケースサポートから" in after and "q=%E5%81%9C%E9%9B%BB" in after


def test_htmx_swaps_the_search_block(owner_client):
    wanted = add_article("停電時の動作", "停電すると自立運転。")
    response = search(owner_client, "停電", HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert html.lstrip().startswith('<div id="kb-search">')
    assert found(response) == [wanted]
    assert "HX-Request" in response.headers["Vary"]
    page = search(owner_client, "停電")
    assert "<html" in page.get_data(as_text=True) and "HX-Request" in page.headers["Vary"]


@pytest.mark.parametrize("htmx", [False, True])
@pytest.mark.parametrize("query, message", [
    ("停" * 101, "100文字以内で入力してください"),
    ("停" * 10000, "100文字以内で入力してください"),
    ("停電\x00", "使用できない文字"),
    ("停電\u202e", "使用できない文字"),
])
def test_bad_queries_get_a_message_next_to_the_box_and_keep_the_text(owner_client, htmx,
                                                                     query, message):
    response = search(owner_client, query, HX if htmx else None)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert ("<html" in html) != htmx
    field = html.split('id="q-field"', 1)[1].split("</div>")[0]
    assert message in field and 'aria-invalid="true"' in field
    if "\x00" not in query:
        assert f'value="{query}"' in field


def test_other_scripts_and_emoji_find_nothing_without_error(owner_client):
    add_article("停電時の動作", "停電すると自立運転。")
    for query in ("Отключение", "🔋⚡", "انقطاع", "𠮷野家"):
        response = search(owner_client, query)
        assert response.status_code == 200 and found(response) == []


def test_search_is_rate_limited_per_client(make_app):
    app = make_app(RATELIMIT_ENABLED=True, SUPPORT_SEARCH_LIMIT="3 per minute")
    with app.app_context():
        make_owner()
        client = app.test_client()
        assert login(client, "owner@example.com").status_code == 303
        assert [search(client, "停電").status_code for _ in range(4)] == [200, 200, 200, 429]


def test_searching_runs_the_same_statements_however_many_articles(owner_client):
    for n in range(3):
        add_article(f"停電の記事{n}", "停電時の動作について。", category="蓄電池の動作")
    with statements() as few:
        response = search(owner_client, "停電 動作")
        assert len(found(response)) == 3
    assert "検索結果（3件）" in response.get_data(as_text=True)
    assert 'id="kb-more"' not in response.get_data(as_text=True)
    for n in range(3, 40):
        add_article(f"停電の記事{n}", "停電時の動作について。", category="蓄電池の動作")
    with statements() as many:
        response = search(owner_client, "停電 動作")
        assert len(found(response)) == kb.RESULTS
    assert len(many) == len(few)
    html = response.get_data(as_text=True)
    assert "検索結果（40件）" in html and 'id="kb-more"' in html
    assert "関連の高い20件を表示しています" in html


def test_at_most_the_candidates_are_ranked(owner_client, monkeypatch):
    monkeypatch.setattr(kb, "CANDIDATES", 3)
    ids = [add_article(f"記事{n}", "停電のとき。", age_days=10 - n) for n in range(5)]
    title_hit_but_old = add_article("停電", "本文", age_days=20)
    # Only the 3 newest are ranked; the old title hit is not among the candidates.
    assert found(search(owner_client, "停電")) == ids[:1:-1]
    assert title_hit_but_old not in found(search(owner_client, "停電"))


# -- the article page ---------------------------------------------------------------------
def test_article_page_shows_paragraphs_lines_and_the_way_to_a_case(owner_client):
    article_id = add_article("停電時の動作 <i>重要</i>",
                             "一段落目の一行目\n一行目の次<script>x()</script>\n\n\n二段落目",
                             category="蓄電池の動作")
    response = owner_client.get(f"/support/kb/{article_id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<h1>停電時の動作 &lt;i&gt;重要&lt;/i&gt;</h1>" in html
    assert "<p>一段落目の一行目<br>一行目の次&lt;script&gt;x()&lt;/script&gt;</p>" in html
    assert "<p>二段落目</p>" in html
    assert "蓄電池の動作" in html and "更新日" in html
    link = html.split('id="kb-new-case"', 1)[0].rsplit("<a", 1)[1]
    assert 'href="/support/cases/new?q=' in link
    assert "解決しない場合はケースサポートから" in html


@pytest.mark.parametrize("path", ["/support/kb/999999", "/support/kb/0", "/support/kb/-1",
                                  "/support/kb/abc", "/support/kb/1%00"])
def test_unknown_or_tampered_article_ids_are_404(owner_client, path):
    assert owner_client.get(path).status_code == 404


# -- demo data ----------------------------------------------------------------------------
def test_demo_articles_are_published_searchable_and_added_once(owner_client):
    assert 8 <= len(ARTICLES) <= 10
    seed_demo_articles()
    seed_demo_articles()
    assert db.session.scalar(select(func.count()).select_from(KbArticle)) == len(ARTICLES)
    assert db.session.scalar(select(func.count()).select_from(KbArticle)
                             .where(KbArticle.published.is_(True),
                                    KbArticle.category_id.is_not(None))) == len(ARTICLES)
    titles = {title: db.session.scalar(select(KbArticle.id).where(KbArticle.title == title))
              for title, _category, _body in ARTICLES}
    assert found(search(owner_client, "充電されない"))[0] == titles["蓄電池が充電されないときの確認事項"]
    assert titles["停電時の蓄電池と太陽光発電の動作"] in found(search(owner_client, "停電"))
    assert found(search(owner_client, "通信途絶"))[0] == titles["モニタリング画面に「通信途絶」と表示される"]


@pytest.mark.parametrize("query", ["PCS E201", "ＰＣＳ Ｅ２０１", "pcs e201", "エラー", "ｴﾗｰ",
                                   "（改訂）"])
def test_an_article_written_in_full_width_is_found_whatever_the_width_of_the_query(
        owner_client, staff_client, query):
    """Staff may type ＰＣＳ or ｴﾗｰ: letters and digits are saved as ASCII and kana full
    width, and the query is read the same way, so either width finds the other; Japanese
    punctuation such as （） stays as typed on both sides."""
    from tests.conftest import csrf_from

    token = csrf_from(staff_client.get("/staff/support/articles/new").get_data(as_text=True))
    assert staff_client.post("/staff/support/articles/new", data={
        "csrf_token": token, "title": "ＰＣＳのＥ２０１（改訂）",
        "body": "ｴﾗｰが出たときは、ＰＣＳの運転ランプを確認します。", "category": "none",
        "published": "y"}).status_code == 303
    article = db.session.scalar(select(KbArticle))
    assert article.title == "PCSのE201（改訂）"
    assert article.body == "エラーが出たときは、PCSの運転ランプを確認します。"
    assert found(search(owner_client, query)) == [article.id]
