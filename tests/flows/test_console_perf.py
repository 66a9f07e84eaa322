"""The dealer console at scale: a fixed, small number of SQL statements per page whatever
the number of links (the same at 1x and 10x data), plans that read the dealer's links
from their index (never a scan of all links, gateways or accounts), and the list's
behaviour: alerts first, then newest link first, paging forward and back reaching every
row once, search by each field, nothing of another dealer's.

The data is made with Core bulk inserts: many gateways of other dealers and owners
around one dealer's links, a few open alerts."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, func, insert, select, text, update

from blueprints.dealers import services
from models import db, utcnow
from models.account import Account
from models.gateway import Dealer, DealerLink, Gateway
from models.telemetry import GatewayAlert
from tests.conftest import empty_database
from tests.flows.test_dealer_links import _password_hash, make_dealer
from tests.helpers import HX, login, statements

ROW = re.compile(r'href="/dealers/gateways/([0-9A-Z]{12})"')
NEXT = re.compile(r'<a class="button secondary" rel="next" href="([^"]+)"')
PREV = re.compile(r'<a class="button secondary" rel="prev" href="([^"]+)"')
DEALER = "admin1@dealer1.example"


def _gateway_id(prefix: str, n: int) -> str:
    return f"{prefix}{n:010d}"


def build(scale: int, crowd: int = 2) -> dict:
    """Dealer 1 (販売店1) with 50 × scale links among (1 + crowd) × 50 × scale gateways,
    most linked to dealer 2; owners with their own addresses; open alerts: an error and
    a silence on dealer 1's gateways (listed first) and an unapplied setting (not an
    alert of the operation: listed in its place). Returns the names the tests look for."""
    mine, others = 50 * scale, 50 * crowd * scale
    dealer, other = make_dealer(1), make_dealer(2)
    now = utcnow()
    first_account = 1_000_000
    owners = [dict(id=first_account + n, email=f"owner{n:05d}@fleet.example.jp",
                   password_hash=_password_hash(), family_name="山田", given_name=f"{n}",
                   account_type="personal", role="user", language="ja", activated_at=now,
                   password_changed_at=now, created_at=now, newsletter=False,
                   customer_number=str(3_000_000_000 + n))
              for n in range(mine + others)]
    db.session.execute(insert(Account), owners)
    gateways = [dict(id=first_account + n, gateway_id=_gateway_id("7M" if n < mine else "8X", n),
                     slip_password_hash="x", model="GW-M001", status="active",
                     owner_id=first_account + n, site_name=f"山田様邸{n:05d}",
                     issued_at=now, last_reading_at=now)
                for n in range(mine + others)]
    db.session.execute(insert(Gateway), gateways)
    links = [dict(gateway_id=first_account + n, dealer_id=dealer.id,
                  # two links at the same time: the newer id comes first
                  linked_at=now - timedelta(minutes=n if n != 1 else 0))
             for n in range(mine)]
    links += [dict(gateway_id=first_account + n, dealer_id=other.id,
                   linked_at=now - timedelta(minutes=n)) for n in range(mine + others)]
    db.session.execute(insert(DealerLink), links)
    alerts = {"error": mine - 1, "silent": mine // 2, "unapplied": 3}
    db.session.execute(insert(GatewayAlert), [
        dict(gateway_id=first_account + n, kind=kind, started_at=now)
        for kind, n in alerts.items()])
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("ANALYZE account, gateway, dealer_link, gateway_alert"))
    order = ([_gateway_id("7M", n) for n in (alerts["silent"], alerts["error"])]
             + [_gateway_id("7M", n) for n in (1, 0)]
             + [_gateway_id("7M", n) for n in range(2, mine)
                if n not in (alerts["silent"], alerts["error"])])
    return {"dealer": dealer, "other": other, "mine": mine, "order": order}


def _rows(body: str) -> list[str]:
    return ROW.findall(body)


def _signed_in_dealer(client):
    login(client, DEALER)
    client.get("/dealers/")  # the session's last use is written once; not counted below


# -- behaviour ---------------------------------------------------------------------------
def test_alerts_first_then_newest_link_first(app, client):
    data = build(1)
    _signed_in_dealer(client)
    body = client.get("/dealers/").get_data(as_text=True)
    assert _rows(body) == data["order"][:20]
    # the error and the silence come first; the unapplied setting keeps its place
    assert _rows(body)[:2] == [_gateway_id("7M", 25), _gateway_id("7M", 49)]
    assert _rows(body).index(_gateway_id("7M", 3)) == 2 + 3


def test_paging_forward_and_back_reaches_every_row_once(app, client):
    data = build(1)
    _signed_in_dealer(client)
    seen, url, pages = [], "/dealers/", []
    while url:
        body = client.get(url.replace("&amp;", "&")).get_data(as_text=True)
        seen += _rows(body)
        pages.append(body)
        url = (NEXT.findall(body) or [None])[0]
    assert seen == data["order"] and len(seen) == len(set(seen)) == data["mine"]
    url = (PREV.findall(pages[-1]) or [None])[0]
    back_pages = [_rows(pages[-1])]
    while url:
        body = client.get(url.replace("&amp;", "&")).get_data(as_text=True)
        back_pages.insert(0, _rows(body))
        url = (PREV.findall(body) or [None])[0]
    assert [row for page in back_pages for row in page] == data["order"]
    assert 'rel="next"' not in pages[-1] and 'rel="prev"' not in pages[0]


def test_next_and_previous_continue_from_the_page_they_are_on(app, client):
    """次へ/前へ carry the page's edge (keyset): each page so reached shows what the
    page of that number shows; an edge that is malformed or no longer fits is ignored."""
    build(2)
    _signed_in_dealer(client)
    url, seen = "/dealers/", 0
    while url:
        body = client.get(url.replace("&amp;", "&")).get_data(as_text=True)
        number = int(re.search(r"(\d+) / \d+ ページ", body).group(1))
        assert _rows(body) == _rows(client.get(f"/dealers/?page={number}").get_data(
            as_text=True)), url
        for link in PREV.findall(body):
            back = client.get(link.replace("&amp;", "&")).get_data(as_text=True)
            assert _rows(back) == _rows(client.get(f"/dealers/?page={number - 1}").get_data(
                as_text=True)), link
        seen += 1
        url = (NEXT.findall(body) or [None])[0]
    assert seen == 5 and "edge=" in body
    for edge in ("junk", "1.1_2.2", "9" * 19 + ".1_1.1"):
        body = client.get("/dealers/", query_string={"page": 3, "from": 2, "edge": edge})
        assert _rows(body.get_data(as_text=True)) == _rows(
            client.get("/dealers/?page=3").get_data(as_text=True)), edge


@pytest.mark.parametrize("query, expected", [
    ("OWNER00007@FLEET", ["7M0000000007"]),                 # the owner's e-mail, any case
    ("ｏｗｎｅｒ００００７＠", ["7M0000000007"]),             # full-width input folded
    ("7m000000001", [f"7M00000000{n}" for n in range(10, 20)]),  # gateway ID, any case
    ("山田様邸00012", ["7M0000000012"]),                    # the site name
    ("00049", ["7M0000000049"]),                            # in alert, found as well
])
def test_search_by_each_field(app, client, query, expected):
    build(1)
    _signed_in_dealer(client)
    body = client.get("/dealers/", query_string={"q": query}, headers=HX).get_data(as_text=True)
    assert _rows(body) == expected


def test_search_takes_percent_and_underscore_literally(app, client):
    build(1)
    with app.app_context():
        db.session.execute(text("UPDATE gateway SET site_name = '100%_邸' WHERE gateway_id = :g"),
                           {"g": _gateway_id("7M", 5)})
        db.session.commit()
    _signed_in_dealer(client)
    for query, expected in (("%", [_gateway_id("7M", 5)]), ("_", [_gateway_id("7M", 5)]),
                            ("0%_邸", [_gateway_id("7M", 5)]), ("1_0", [])):
        body = client.get("/dealers/", query_string={"q": query}).get_data(as_text=True)
        assert _rows(body) == expected, query


def test_another_dealers_gateways_never_shown(app, client):
    data = build(1)
    _signed_in_dealer(client)
    for query in ("", "8X", "owner001", "山田様邸", "fleet.example.jp"):
        shown, url = [], "/dealers/" + (f"?q={query}" if query else "")
        while url:
            body = client.get(url.replace("&amp;", "&")).get_data(as_text=True)
            shown += _rows(body)
            url = (NEXT.findall(body) or [None])[0]
        assert all(gateway.startswith("7M") for gateway in shown), query
        assert len(shown) == len(set(shown))
    assert client.get(f"/dealers/gateways/{_gateway_id('8X', data['mine'])}").status_code == 404
    body = client.get("/dealers/", query_string={"q": "8X"}).get_data(as_text=True)
    assert "見つかりませんでした" in body


def test_search_finds_what_is_current(app, client):
    """The search reads copies on the links (migration 0014): they follow an owner's new
    e-mail, a gateway's new site name and new owner, whoever changes them."""
    build(1)
    gateway = db.session.scalar(select(Gateway).where(Gateway.gateway_id == _gateway_id("7M", 3)))
    db.session.get(Account, gateway.owner_id).email = "renamed@owner.example.jp"
    db.session.scalar(select(Gateway).where(Gateway.gateway_id == _gateway_id("7M", 4))
                      ).site_name = "鈴木様邸 新築"
    moved = db.session.scalar(select(Gateway).where(Gateway.gateway_id == _gateway_id("7M", 5)))
    moved.owner_id = db.session.scalar(select(Account.id).where(
        Account.email == "owner00120@fleet.example.jp"))
    db.session.commit()
    _signed_in_dealer(client)

    def found(query):
        return _rows(client.get("/dealers/", query_string={"q": query}).get_data(as_text=True))

    assert found("RENAMED@owner") == [_gateway_id("7M", 3)]
    assert found("owner00003@") == []
    assert found("鈴木様邸") == [_gateway_id("7M", 4)]
    assert found("山田様邸00004") == []
    assert found("owner00120@") == [_gateway_id("7M", 5)]  # a gateway of dealer 2 only
    assert found("owner00005@") == []


def test_search_forgets_an_ended_link(app, client):
    data = build(1)
    link = db.session.scalar(select(DealerLink).join(Gateway).where(
        Gateway.gateway_id == _gateway_id("7M", 7), DealerLink.dealer_id == data["dealer"].id))
    db.session.delete(link)
    db.session.commit()
    if db.engine.dialect.name == "sqlite":  # the FTS5 table follows the links
        assert db.session.scalar(text("SELECT count(*) FROM dealer_link_fts")) == \
            db.session.scalar(select(func.count()).select_from(DealerLink))
    _signed_in_dealer(client)
    body = client.get("/dealers/", query_string={"q": "owner00007@"}).get_data(as_text=True)
    assert _rows(body) == []


def test_the_dealers_link_count_follows_its_links(app, client):
    """全N件 is read from dealer.link_count (migration 0014's triggers), not counted."""
    data = build(1)
    dealer_id = data["dealer"].id
    assert db.session.get(Dealer, dealer_id).link_count == data["mine"]
    assert db.session.get(Dealer, data["other"].id).link_count == 3 * data["mine"]
    db.session.execute(DealerLink.__table__.delete().where(
        DealerLink.dealer_id == dealer_id, DealerLink.gateway_id.in_(
            select(Gateway.id).where(Gateway.gateway_id.in_(
                [_gateway_id("7M", 7), _gateway_id("7M", 8)])))))
    db.session.add(DealerLink(dealer_id=dealer_id, linked_at=utcnow(), gateway_id=db.session.scalar(
        select(Gateway.id).where(Gateway.gateway_id == _gateway_id("8X", data["mine"])))))
    db.session.commit()
    assert db.session.get(Dealer, dealer_id).link_count == data["mine"] - 1
    _signed_in_dealer(client)
    assert f"（全{data['mine'] - 1}件）" in client.get("/dealers/").get_data(as_text=True)


def test_a_row_shows_what_its_link_holds_escaped(app, client):
    """The rows (drawn in Python, blueprints/dealers/markup.py): the owner, the gateway
    and its links, the status and the state from the templates' macros, the link's date
    in Japan time; whatever the owner or the site name hold is shown as text."""
    build(1)
    gateway = db.session.scalar(select(Gateway).where(Gateway.gateway_id == _gateway_id("7M", 3)))
    gateway.site_name, gateway.status = '<b>"鈴木"&邸</b>', "provisional"
    owner = db.session.get(Account, gateway.owner_id)
    owner.family_name = "<script>"
    db.session.execute(update(DealerLink).where(DealerLink.gateway_id == gateway.id).values(
        linked_at=datetime(2026, 11, 29, 15, 5, tzinfo=timezone.utc)))
    db.session.commit()
    _signed_in_dealer(client)
    body = client.get("/dealers/", query_string={"q": "owner00003@"}).get_data(as_text=True)
    assert _rows(body) == [_gateway_id("7M", 3)]
    row = body[body.index("<tbody>"):body.index("</tbody>")]
    assert ('<td data-label="お客様">&lt;script&gt; 3<br><span class="break">'
            "owner00003@fleet.example.jp</span></td>") in row
    assert ('<td data-label="ゲートウェイ"><a href="/dealers/gateways/7M0000000003">7M0000000003'
            "</a><br>&lt;b&gt;&#34;鈴木&#34;&amp;邸&lt;/b&gt;</td>") in row
    assert '<td data-label="状態">仮登録</td>' in row
    assert ('<td data-label="運転状況"><span class="status-badge state-normal">正常</span><br>'
            '<a href="/monitoring/gateways/7M0000000003/monitor">モニタリング</a></td>') in row
    assert '<td data-label="登録日">2026年11月30日 00:05</td>' in row  # 15:05 UTC


# -- the search looks up its rarest trigrams ----------------------------------------------
def _fts_queries(call) -> list[str]:
    """The FTS5 queries of the search statements that `call` runs (not the counts')."""
    return [value for sql, params in _selects_of(call) if sql.lstrip().startswith("WITH")
            for value in (params.values() if isinstance(params, dict) else params)
            if isinstance(value, str) and " : " in value]


def _index_patterns(call) -> list[dict[str, str]]:
    """PostgreSQL: the patterns the search statements that `call` runs give the GIN index
    (the whole query for each, when the statement has none of its own)."""
    return [{name: params.get(name, params[name[:4]]) for name in ("half_a", "half_b",
                                                                   "site_a", "site_b")}
            for sql, params in _selects_of(call) if sql.lstrip().startswith("WITH")]


@pytest.fixture
def few_common(monkeypatch):
    """A trigram held by 20 links is common here (1,000 in a fleet)."""
    monkeypatch.setattr(services, "COMMON", 20)


def _search(dealer_id, query):
    return [row.gateway.gateway_id for row in services.dealer_gateways(
        db.session.get(Dealer, dealer_id), query, 1, 100).items]


def test_a_search_looks_up_its_rarest_trigrams_only_on_postgresql(app, few_common):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's GIN index (SQLite's FTS5 table: the test below)")
    data = build(1)  # 150 owners ownerNNNNN@fleet.example.jp
    dealer_id = data["dealer"].id

    def patterns(half_a, half_b, site_a=None, site_b=None):
        return [{"half_a": half_a, "half_b": half_b, "site_a": site_a or half_a,
                 "site_b": site_b or half_b}]

    # "own", "er0" are in every address and "000" in every gateway ID: "123" is held by
    # one link (owner00123, 8X0000000123, 山田様邸00123) and "012" by 12 (gateway 12 and
    # 120-129), the rarest first
    assert _index_patterns(lambda: _search(dealer_id, "owner00123")) == patterns(
        "%123%", "%012%")
    assert _search(dealer_id, "owner00123") == []  # a gateway of dealer 2 only
    # one rare ("007": gateway 7 and 70-79), given twice
    assert _index_patterns(lambda: _search(dealer_id, "owner00007")) == patterns(
        "%007%", "%007%")
    assert _search(dealer_id, "owner00007") == [_gateway_id("7M", 7)]
    # only letters and digits: pg_trgm splits at "@" and ".", and "07@" or "et." would
    # give it no trigram; none rare: the whole query
    assert _index_patterns(lambda: _search(dealer_id, "owner00007@")) == patterns(
        "%owner00007@%", "%owner00007@%")
    assert _index_patterns(lambda: _search(dealer_id, "fleet.exa")) == patterns(
        "%fleet.exa%", "%fleet.exa%")
    # full-width input: the e-mail and ID folded, the site name as typed (no site name
    # holds a full-width trigram: the first two of them, held by none)
    assert _index_patterns(lambda: _search(dealer_id, "ｏｗｎｅｒ００１２３")) == patterns(
        "%123%", "%012%", "%ｏｗｎ%", "%ｅｒ０%")


def test_a_search_looks_up_its_rarest_trigrams_only(app, few_common):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's FTS5 table (PostgreSQL's GIN index: the test above)")
    data = build(1)  # 150 owners ownerNNNNN@fleet.example.jp
    dealer_id = data["dealer"].id
    # "own", "er0" are in every address and "000" in every gateway ID: only "07@" is
    # rare (1 link), and the dealer (50 links) has more links than it
    queries = _fts_queries(lambda: _search(dealer_id, "owner00007@"))
    assert queries == ['{email gateway_id site_name} : ("07@")'], queries
    # two rare: "23@" (owner00023@, owner00123@: 3 links) and "012" (gateway 12 and
    # 120-129: 12 links), the rarest first
    queries = _fts_queries(lambda: _search(dealer_id, "owner00123@"))
    assert queries == ['{email gateway_id site_name} : ("23@" AND "012")'], queries
    assert _search(dealer_id, "owner00123@") == []  # a gateway of dealer 2 only
    # none rare: all of them, among the dealer's own links
    queries = _fts_queries(lambda: _search(dealer_id, "fleet.exa"))
    assert queries == ['dealer : "<%d>" AND {email gateway_id site_name} : ("fle" AND "et." '
                       'AND "exa")' % dealer_id], queries
    # full-width input: the e-mail and ID folded, the site name as typed, each its rarest
    queries = _fts_queries(lambda: _search(dealer_id, "ｏｗｎｅｒ００００７＠"))
    # (no site name holds a full-width trigram: the first two of them, held by none)
    assert queries == ['({email gateway_id} : ("07@") OR site_name : ("ｏｗｎ" AND "ｅｒ０"))'
                       ], queries


def test_a_stale_or_wrong_count_changes_what_is_looked_up_never_what_is_found(app, few_common):
    data = build(1)
    dealer_id = data["dealer"].id
    queries = ["owner00007@", "OWNER0001", "7m000000001", "山田様邸0001", "fleet.example.jp",
               "ｏｗｎｅｒ００００７＠", "00049"]
    found = {query: _search(dealer_id, query) for query in queries}
    assert found["owner00007@"] == [_gateway_id("7M", 7)] and len(found["OWNER0001"]) == 10
    assert len(found["fleet.example.jp"]) == data["mine"]
    for wrong in (0, 19, 10_000):  # every trigram rare, or common, whatever they are
        counts = services._trigram_counts()
        counts.counts = {tile: (wrong, counts.counts[tile][1]) for tile in counts.counts}
        assert {query: _search(dealer_id, query) for query in queries} == found, wrong


def test_trigram_counts_are_kept_for_a_while(app, few_common, monkeypatch):
    data = build(1)
    # PostgreSQL counts only trigrams of letters and digits (not "07@", "08@")
    postgres = db.engine.dialect.name == "postgresql"
    clock = [1000.0]
    monkeypatch.setattr(services.time, "monotonic", lambda: clock[0])

    def counted(query):
        """How many trigrams the search counted (one statement at most)."""
        selects = [sql for sql, _params in _selects_of(
            lambda: _search(data["dealer"].id, query)) if "count(*) FROM (SELECT 1" in sql]
        assert len(selects) <= 1, selects
        return sum(sql.count("count(*) FROM (SELECT 1") for sql in selects)

    assert counted("owner00007@") == 4 - postgres  # own, er0, 000, 07@: counted once…
    assert counted("owner00007@") == 0   # …and kept
    assert counted("owner00008") == 1    # a new trigram ("008") only
    clock[0] += services.TRIGRAM_COUNTS_FOR + 1
    assert counted("owner00008") == 4    # counted again after a while
    counts = services._trigram_counts().counts
    # up to COMMON; 008: gateway 8 (two links) and 80-89
    assert counts["own"][0] == 20 and counts["008"][0] == 12


# -- a fixed number of statements, whatever the number of links ----------------------------
PAGES = {
    "list": "/dealers/",
    "e-mail": "/dealers/?q=owner00007@",
    "gateway ID": "/dealers/?q=7M000000001",
    "site": "/dealers/?q=山田様邸0001",
    "deep page": "/dealers/?page={last}",
    "gateway page": "/dealers/gateways/7M0000000003",
}


def _statement_counts(make_app, scale: int) -> dict[str, int]:
    app = make_app()
    with app.app_context():
        empty_database()
    client = app.test_client()
    with app.app_context():
        data = build(scale)
        last = -(-data["mine"] // 20)
        _signed_in_dealer(client)
        counts = {}
        for name, url in PAGES.items():
            # a search twice: on SQLite the first also counts how many links hold its
            # trigrams (kept for the next searches)
            for again in ("", " again") if "?q=" in url else ("",):
                with statements() as seen:
                    response = client.get(url.format(last=last))
                assert response.status_code == 200 and (_rows(response.get_data(as_text=True))
                                                        or name == "gateway page"), name
                counts[name + again] = len(seen)
        db.session.remove()
        return counts


def test_statements_per_page_are_few_and_the_same_at_ten_times_the_data(make_app, db_url):
    small = _statement_counts(make_app, 1)
    large = _statement_counts(make_app, 10)
    assert small == large
    # 7 (was 9): the list and a deep page read 全N件 from dealer.link_count instead of
    # counting, and the dealer's company comes with the dealer (a search: one fewer too)
    assert max(small.values()) <= 7, small
    # 5 (was 6): a search reads its page of matches and their rows in one statement;
    # 5 (was 6 and 7): the list and a deep page read the page's links in one statement,
    # in alert first by the link's flag (migration 0015) instead of finding them first
    searches = ("e-mail", "gateway ID", "site")
    assert all(small[name] <= 5 for name in ("list", "deep page")), small
    assert all(small[f"{name} again"] <= 5 for name in searches), small
    # the first search of its trigrams counts them in one more statement
    assert all(small[name] == small[f"{name} again"] + 1 for name in searches), small


# -- plans: the dealer's links by their index ------------------------------------------------
def _selects_of(call) -> list[tuple[str, object]]:
    """The SELECT statements (with their parameters) that `call` runs."""
    caught = []

    def listener(_conn, _cursor, statement, parameters, _context, _many):
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            caught.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        call()
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    return caught


def _plans(call) -> list[tuple[str, str]]:
    """(statement, plan) of each SELECT that `call` runs."""
    selects = _selects_of(call)
    connection = db.session.connection()
    if db.engine.dialect.name == "postgresql":
        # At test sizes a sequential scan, or a sort of a few rows, is rightly cheaper;
        # with them priced out, a plan without one exists only when an index serves the
        # query (and, for the list, gives its order).
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        connection.exec_driver_sql("SET LOCAL enable_sort = off")
        explain = "EXPLAIN "
    else:
        explain = "EXPLAIN QUERY PLAN "
    return [(sql, "\n".join(str(row[-1]) for row in
                             connection.exec_driver_sql(explain + sql, params)))
            for sql, params in selects]


@pytest.mark.parametrize("query, page", [(None, 1), (None, 3), (None, "3 after 2"),
                                         (None, "2 before 3"), ("owner00007@", 1),
                                         ("7m000000001", 1), ("山田様邸0001", 1)])
def test_list_and_search_read_the_dealers_links_by_index(app, query, page):
    # the dealer's links a small part of all links, as in a fleet (here 1 in 41): a
    # plan that reads all links' index is then priced as what it is
    data = build(1, crowd=40)
    dealer = db.session.get(Dealer, data["dealer"].id)
    edge = None
    if isinstance(page, str):  # keyset: from the edge of the page it names
        page, _word, edge_page = page.split()
        page, edge_page = int(page), int(edge_page)
        edge = services.dealer_gateways(dealer, None, edge_page, 20).edge
    # (a search's trigrams counted first, as its first use does on SQLite)
    services.dealer_gateways(dealer, query, page, 20, edge, edge_page if edge else None)
    plans = _plans(lambda: services.dealer_gateways(dealer, query, page, 20, edge,
                                                    edge_page if edge else None))
    # one statement: the page of the dealer's links (alerts first: the flag on the link,
    # migration 0015) with what its rows show, or the search's page with its count
    assert len(plans) == 1, plans
    sql, plan = plans[0]
    if edge:
        # from the edge on (SQLite always writes an OFFSET: here 0)
        assert re.search(r"\) [<>] \(", sql), sql
    if db.engine.dialect.name == "postgresql":
        assert not re.search(r"Seq Scan on (dealer_link|gateway|account)\b", plan), plan
        if query is None:
            # the index's order: no sort of the dealer's links
            assert "Sort" not in plan and "ix_dealer_link_console_order" in plan, plan
        else:
            # the dealer's links by the search index (dealer + trigrams), or, where the
            # dealer has few links (here: 50), by the index of the dealer's links
            assert re.search(r"Scan (on|using) ix_dealer_link_(search_trgm|console_order)\b",
                             plan), plan
    else:
        # SEARCH (by an index key) only: a SCAN would read a whole table or index
        assert not re.search(r"\bSCAN (dealer_link|gateway|account)\b", plan), plan
        if query is None:
            assert "TEMP B-TREE" not in plan and "ix_dealer_link_console_order" in plan, plan
        else:
            assert "SCAN dealer_link_fts VIRTUAL TABLE" in plan, plan


# -- the links' alerting flag (migration 0015's triggers) -------------------------------------
def _flags(dealer_id: int) -> dict[str, bool]:
    db.session.expire_all()
    return dict(db.session.execute(
        select(Gateway.gateway_id, DealerLink.alerting)
        .join(DealerLink, DealerLink.gateway_id == Gateway.id)
        .where(DealerLink.dealer_id == dealer_id, DealerLink.alerting)).all())


def test_the_links_alerting_flag_follows_the_alerts_whoever_changes_them(app, client):
    """dealer_link.alerting, which puts a link at the top of the console, is kept by the
    database: an error or silent alert opening, ending, changing kind or going away, a
    link made to a gateway in alert or moved to another gateway; an unapplied setting
    is no alert."""
    data = build(1)
    mine, dealer_id = data["mine"], data["dealer"].id
    error, silent = _gateway_id("7M", mine - 1), _gateway_id("7M", mine // 2)
    assert _flags(dealer_id) == {error: True, silent: True}  # the unapplied one: none

    def pk(gateway_id):
        return db.session.scalar(select(Gateway.id).where(Gateway.gateway_id == gateway_id))

    alert = GatewayAlert.__table__
    # an alert opens (and a second one on the same gateway changes nothing)
    db.session.execute(insert(GatewayAlert), [
        dict(gateway_id=pk(_gateway_id("7M", 5)), kind="silent", started_at=utcnow()),
        dict(gateway_id=pk(error), kind="silent", started_at=utcnow())])
    db.session.commit()
    assert _flags(dealer_id) == {error: True, silent: True, _gateway_id("7M", 5): True}
    # one of the error gateway's two alerts ends: still in alert; the other: no more
    db.session.execute(alert.update().where(alert.c.gateway_id == pk(error),
                                            alert.c.kind == "error").values(ended_at=utcnow()))
    db.session.commit()
    assert error in _flags(dealer_id)
    db.session.execute(alert.update().where(alert.c.gateway_id == pk(error))
                       .values(ended_at=utcnow()))
    # a silence that becomes an unapplied setting; an alert that goes away
    db.session.execute(alert.update().where(alert.c.gateway_id == pk(silent))
                       .values(kind="unapplied"))
    db.session.execute(alert.delete().where(alert.c.gateway_id == pk(_gateway_id("7M", 5))))
    db.session.commit()
    assert _flags(dealer_id) == {}
    # a link made to a gateway in alert (another dealer's gateway), and one moved onto it
    in_alert = _gateway_id("8X", mine + 3)
    db.session.execute(insert(GatewayAlert), [
        dict(gateway_id=pk(in_alert), kind="error", started_at=utcnow())])
    db.session.add(DealerLink(dealer_id=dealer_id, gateway_id=pk(in_alert),
                              linked_at=utcnow()))
    db.session.commit()
    assert _flags(dealer_id) == {in_alert: True}
    db.session.execute(alert.update().where(alert.c.gateway_id == pk(in_alert))
                       .values(ended_at=utcnow()))
    db.session.execute(alert.update().where(alert.c.gateway_id == pk(silent))
                       .values(kind="silent"))
    link = DealerLink.__table__
    db.session.execute(link.update().where(link.c.dealer_id == dealer_id,
                                           link.c.gateway_id == pk(in_alert))
                       .values(gateway_id=pk(_gateway_id("8X", mine + 4))))
    db.session.commit()
    assert _flags(dealer_id) == {silent: True}
    # and the console shows what the flag says: the silent gateway first
    _signed_in_dealer(client)
    assert _rows(client.get("/dealers/").get_data(as_text=True))[0] == silent


@pytest.mark.parametrize("url", ["/dealers/", "/dealers/?q=owner00007@",
                                 "/dealers/?q=山田様邸0001", "/dealers/?q=7m"])
def test_the_list_and_its_searches_only_read(app, client, url):
    """A search's statement begins with WITH (its matches, found first): it is a read
    like the list's, so the view keeps SQLite's deferred transaction (no write lock, no
    restart) and on PostgreSQL runs without a transaction block and ends without a
    rollback (which would drop the prepared statements)."""
    from blueprints.core.transactions import reads
    from tests.helpers import statements

    build(1)
    _signed_in_dealer(client)
    with statements() as seen:
        assert _rows(client.get(url).get_data(as_text=True))
    assert any(sql.lstrip().startswith("WITH") for sql in seen) == ("?q=" in url)
    assert "BEGIN IMMEDIATE" not in seen
    assert all(reads(sql) for sql in seen if sql.strip() != "BEGIN"), seen
