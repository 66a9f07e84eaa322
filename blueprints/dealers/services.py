"""Domain operations of dealers and their maintenance links. Views call one of these;
each commits its own work and writes an audit row.

A dealer (販売店) is a company known to owners by its 販売店ID and registered phone number;
an owner links up to MAX_DEALERS_PER_GATEWAY dealers to each of their gateways by giving
both, and the dealer is told by mail of every link and unlink."""
from __future__ import annotations

import enum
import functools
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import jaconv
from flask import current_app, g, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import (Integer, String, and_, bindparam, cast, delete, func, literal_column,
                        or_, select, text, tuple_)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from blueprints.core import audit
from blueprints.core.paging import Page
from blueprints.core.registry import AccessLine
from forms.validators import is_japanese_phone, normalize_email, normalize_phone
from mail import messages
from models import db, utcnow
from models.account import Account, Company
from models.gateway import (MAX_DEALERS_PER_GATEWAY, Dealer, DealerContact, DealerLink,
                            Gateway, GatewayStatus)

FIRST_DEALER_CODE = 4001
# Concurrent registrations may pick the same next 販売店ID; the unique index refuses all
# but one, and the others try again with a fresh number. On PostgreSQL allocations also
# queue on an advisory lock, so that a burst of registrations does not exhaust the retries
# (SQLite transactions of this app are exclusive already).
CODE_ALLOCATION_ATTEMPTS = 8
_CODE_ALLOCATION_LOCK = 4001
LINKABLE_STATUSES = (GatewayStatus.ACTIVE, GatewayStatus.PROVISIONAL)


class InvalidDealerPhone(ValueError):
    """The phone number is not a Japanese number (from the area code)."""


# -- becoming a dealer -----------------------------------------------------------------
def normalize_dealer_code(value) -> str:
    """`　４００１ ` → `4001`: half-width, without spaces or dashes."""
    if not isinstance(value, str):
        return ""
    value = jaconv.z2h(value, kana=False, ascii=True, digit=True)
    return re.sub(r"[\s\-‐‑‒–—―−ｰー]", "", value)


def _contact_addresses(contact_emails) -> list[str]:
    """Normalised (domain lower-cased), without blanks and duplicates, in the given order."""
    seen, addresses = set(), []
    for raw in contact_emails or ():
        address = normalize_email(raw or "")
        if address and address.lower() not in seen:
            seen.add(address.lower())
            addresses.append(address)
    return addresses


def _next_dealer_code() -> str:
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                           {"key": _CODE_ALLOCATION_LOCK})
    highest = db.session.scalar(select(func.max(cast(Dealer.dealer_code, Integer))))
    return str(max(FIRST_DEALER_CODE, (highest or 0) + 1))


def _set_contacts(dealer: Dealer, addresses: list[str]) -> None:
    wanted = {a.lower(): a for a in addresses}
    for contact in list(dealer.contacts):
        if contact.email.lower() not in wanted:
            dealer.contacts.remove(contact)
        else:
            wanted.pop(contact.email.lower())
    for address in addresses:
        if address.lower() in wanted:
            dealer.contacts.append(DealerContact(email=address))


def become_dealer(company: Company, phone: str, contact_emails=()) -> Dealer:
    """Make a commercial account's company a dealer with a new 販売店ID (4001, 4002, …),
    and commit.

    Idempotent: a company that already is a dealer keeps its 販売店ID and gets the given
    phone and maintenance contact addresses. Raises InvalidDealerPhone."""
    dealer = add_dealer(company, phone, contact_emails)
    db.session.commit()
    return dealer


def add_dealer(company: Company, phone: str, contact_emails=()) -> Dealer:
    """`become_dealer` without the commit, for a caller that makes the company a dealer
    inside a larger transaction (e.g. the club's dealer sign-up, which creates the ID,
    its company and the dealer at once). The company must have been flushed. Each
    attempt at a new 販売店ID runs in a savepoint, so that losing the number to a
    concurrent registration undoes nothing else of the caller's work."""
    phone = normalize_phone(phone)
    if not isinstance(phone, str) or not is_japanese_phone(phone):
        raise InvalidDealerPhone(phone)
    addresses = _contact_addresses(contact_emails)
    company_id = company.id
    g.pop("dealer_of_company", None)  # dealer_for_account must look again
    for _attempt in range(CODE_ALLOCATION_ATTEMPTS):
        dealer = db.session.scalar(select(Dealer).where(Dealer.company_id == company_id))
        if dealer is not None:
            dealer.phone = phone
            _set_contacts(dealer, addresses)
            audit.record("dealer.update", company_id=company_id,
                         dealer_code=dealer.dealer_code)
            return dealer
        dealer = Dealer(company_id=company_id, dealer_code=_next_dealer_code(), phone=phone,
                        contacts=[DealerContact(email=a) for a in addresses])
        try:
            with db.session.begin_nested():
                db.session.add(dealer)
        except IntegrityError:
            # Another registration took this 販売店ID (or made this company a dealer):
            # start again; the second case then ends in the update above.
            continue
        company.findable = True  # dealers are found by 会社の検索 (会社情報 may turn it off)
        audit.record("dealer.create", company_id=company_id, dealer_code=dealer.dealer_code)
        return dealer
    raise RuntimeError("could not allocate a 販売店ID")


def find_dealer(code: str, phone: str) -> Dealer | None:
    """The dealer with this 販売店ID and registered phone number, both matching."""
    code = normalize_dealer_code(code)
    phone = normalize_phone(phone) if isinstance(phone, str) else ""
    if not code or not phone:
        return None
    return db.session.scalar(
        select(Dealer).where(Dealer.dealer_code == code, Dealer.phone == phone))


def dealer_company(dealer: Dealer) -> Company:
    """The dealer's company (no query when dealer_for_account found the dealer)."""
    return db.session.get(Company, dealer.company_id)


def dealer_addresses(dealer: Dealer) -> list[str]:
    """Where link mails go: the maintenance contacts, or the company address without any."""
    addresses = [c.email for c in dealer.contacts]
    return addresses or [dealer_company(dealer).email]


# -- links -----------------------------------------------------------------------------
class LinkResult(enum.Enum):
    LINKED = "linked"
    NOT_FOUND = "not_found"            # not this owner's gateway, or not in service
    NO_SUCH_DEALER = "no_such_dealer"  # unknown 販売店ID, or the phone does not match
    ALREADY_LINKED = "already_linked"
    LIMIT_REACHED = "limit_reached"


def _locked_gateway(owner: Account, gateway: Gateway, statuses=None) -> Gateway | None:
    """The owner's gateway, its row locked until the commit (PostgreSQL: FOR UPDATE;
    SQLite: every transaction of this app holds the write lock)."""
    statement = (select(Gateway)
                 .where(Gateway.id == gateway.id, Gateway.owner_id == owner.id)
                 .with_for_update()
                 .execution_options(populate_existing=True))
    if statuses is not None:
        statement = statement.where(Gateway.status.in_([s.value for s in statuses]))
    return db.session.scalar(statement)


def _link_count(gateway_id: int) -> int:
    return db.session.scalar(
        select(func.count()).select_from(DealerLink).where(DealerLink.gateway_id == gateway_id))


def _find_link(gateway_id: int, dealer_id: int) -> DealerLink | None:
    return db.session.scalar(select(DealerLink).where(DealerLink.gateway_id == gateway_id,
                                                      DealerLink.dealer_id == dealer_id))


def link_dealer(owner: Account, gateway: Gateway, code: str, phone: str) -> LinkResult:
    """Entrust one of the owner's gateways to the dealer with this 販売店ID + phone
    (at most MAX_DEALERS_PER_GATEWAY); the dealer is told by mail."""
    locked = _locked_gateway(owner, gateway, LINKABLE_STATUSES)
    if locked is None:
        db.session.rollback()
        return LinkResult.NOT_FOUND
    dealer = find_dealer(code, phone)
    if dealer is None:
        db.session.rollback()
        return LinkResult.NO_SUCH_DEALER
    if _find_link(locked.id, dealer.id) is not None:
        db.session.rollback()
        return LinkResult.ALREADY_LINKED
    # Counted while the gateway row is locked: concurrent links of this gateway wait here.
    if _link_count(locked.id) >= MAX_DEALERS_PER_GATEWAY:
        db.session.rollback()
        return LinkResult.LIMIT_REACHED
    link = DealerLink(gateway_id=locked.id, dealer_id=dealer.id, linked_by_id=owner.id,
                      linked_at=utcnow())
    db.session.add(link)
    db.session.flush()
    messages.send_dealer_linked_mail(dealer_addresses(dealer), dealer, dealer_company(dealer),
                                     owner, locked, link.linked_at)
    audit.record("dealer.link", actor_id=owner.id, subject_id=owner.id,
                 gateway_id=locked.gateway_id, dealer_code=dealer.dealer_code)
    db.session.commit()
    return LinkResult.LINKED


def unlink_dealer(owner: Account, gateway: Gateway, dealer: Dealer) -> bool:
    """End a dealer's maintenance of the owner's gateway; the dealer is told by mail.
    False when the gateway is not the owner's or the dealer was not linked to it."""
    locked = _locked_gateway(owner, gateway)
    link = _find_link(locked.id, dealer.id) if locked is not None else None
    if link is None:
        db.session.rollback()
        return False
    db.session.delete(link)
    messages.send_dealer_unlinked_mail(dealer_addresses(dealer), dealer,
                                       dealer_company(dealer), owner, locked, utcnow())
    audit.record("dealer.unlink", actor_id=owner.id, subject_id=owner.id,
                 gateway_id=locked.gateway_id, dealer_code=dealer.dealer_code)
    db.session.commit()
    return True


@dataclass
class LinkedDealer:
    dealer: Dealer
    company: Company
    linked_at: datetime


def linked_dealers(gateway: Gateway) -> list[LinkedDealer]:
    """The dealers entrusted with a gateway, oldest link first."""
    return linked_dealers_of([gateway])[gateway.id]


def linked_dealers_of(gateways: list[Gateway]) -> dict[int, list[LinkedDealer]]:
    """`linked_dealers` of several gateways in one query, by the gateways' primary keys
    (a page listing an owner's gateways reads the same at 1 and at 100 gateways)."""
    found: dict[int, list[LinkedDealer]] = {g.id: [] for g in gateways}
    if not found:
        return found
    rows = db.session.execute(
        select(DealerLink.gateway_id, Dealer, Company, DealerLink.linked_at)
        .join(DealerLink, DealerLink.dealer_id == Dealer.id)
        .join(Company, Company.id == Dealer.company_id)
        .where(DealerLink.gateway_id.in_(list(found)))
        .order_by(DealerLink.linked_at, DealerLink.id))
    for gateway_pk, dealer, company, linked_at in rows:
        found[gateway_pk].append(LinkedDealer(dealer, company, linked_at))
    return found


@dataclass(slots=True)
class LinkedGateway:
    gateway: Gateway
    owner: Account | None
    linked_at: datetime
    link_id: int | None = None  # the console's rows: the link's id (the list's edge)
    alerting: bool = False      # and whether it is in alert (listed first)


# -- the dealer console's list ----------------------------------------------------------------
# A link is "in alert" (listed first) while its gateway has an open 異常 or 通信途絶 alert
# (a remote setting not yet applied is no alert of the gateway's operation; its badge
# says 正常): dealer_link.alerting, kept by triggers (migration 0015).


# Plain classes with slots (not frozen: a frozen dataclass sets each field through
# object.__setattr__, and a console page makes 60 of these): built per row of a page.
@dataclass(slots=True)
class ConsoleOwner:
    """What a console row shows of the owner."""
    family_name: str
    given_name: str
    email: str

    @property
    def full_name(self) -> str:
        return f"{self.family_name} {self.given_name}"


@dataclass(slots=True)
class ConsoleGateway:
    """What a console row shows of the gateway, and what its status badge needs."""
    id: int
    gateway_id: str
    site_name: str | None
    status: str
    last_reading_at: datetime | None


def _console_order(link, backwards: bool = False):
    """The console's order (in alert first, then newest link first), or its reverse:
    ix_dealer_link_console_order read backwards (or forwards)."""
    columns = (link.alerting, link.linked_at, link.id)
    return [column.asc() if backwards else column.desc() for column in columns]


def _like_pattern(text_: str) -> str:
    """`%text%` with the LIKE wildcards of the text taken literally (escape character /)."""
    return "%" + re.sub(r"([/%_])", r"/\1", text_) + "%"


@dataclass
class ConsolePage(Page):
    """A page of the console's list; `edge` names its first and last rows (see
    `dealer_gateways`), None for a page of search results."""
    edge: str | None = None


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_EDGE = re.compile(r"([01])\.(\d{1,18})\.(\d{1,12})_([01])\.(\d{1,18})\.(\d{1,12})")


def _edge_of(rows: list[LinkedGateway]) -> str | None:
    if not rows:
        return None
    return "_".join(f"{int(row.alerting)}."
                    f"{(row.linked_at - _EPOCH) // timedelta(microseconds=1)}.{row.link_id}"
                    for row in (rows[0], rows[-1]))


def _parse_edge(edge: str | None):
    """The console keys (alerting, linked_at, id) of the first and of the last row, or
    None."""
    match = _EDGE.fullmatch(edge) if isinstance(edge, str) else None
    if match is None:
        return None
    values = [int(part) for part in match.groups()]
    return tuple((bool(values[n]), _EPOCH + timedelta(microseconds=values[n + 1]),
                  values[n + 2]) for n in (0, 3))


def dealer_gateways(dealer: Dealer, query: str | None = None, page: int = 1,
                    per_page: int = 20, edge: str | None = None,
                    edge_page: int | None = None) -> ConsolePage:
    """The gateways entrusted to a dealer, those in alert (異常, 通信途絶) first, then
    newest link first; `query` searches the owner's e-mail, the gateway ID and the site
    name (案件), any part of them, ignoring case (full-width letters and digits folded).

    A dealer may have thousands of links: the page's links are picked from the index of
    the dealer's links in the console's order (never a join of all of them), with only
    what the list shows, in one statement whatever the size.

    Paging on from a list page (its `edge`, given with its number as `edge_page`) to the
    next or previous one continues the index from that page's last or first row (keyset)
    instead of walking it from the top up to the page's offset; without an edge (or with
    one that does not fit) the page is found by its number."""
    page, per_page = max(1, int(page)), max(1, int(per_page))
    query = (query or "").strip(" \u3000\t")
    start = (page - 1) * per_page
    if query:
        rows, total = _matching_links(dealer, query, start, per_page)
        return ConsolePage(rows, total, page, per_page)
    after = before = None
    known = _parse_edge(edge) if edge_page in (page - 1, page + 1) else None
    if known is not None:
        after, before = (known[1], None) if edge_page == page - 1 else (None, known[0])
    rows, total = _listed_links(dealer, start, per_page, after, before)
    return ConsolePage(rows, total, page, per_page, _edge_of(rows))


def _listed_links(dealer: Dealer, start: int, count: int, after=None,
                  before=None) -> tuple[list[LinkedGateway], int]:
    """The page's rows, and how many links the dealer has (kept on the dealer row,
    migration 0014): one walk of the dealer's links in the console's order, sorting
    nothing, from the neighbouring page's edge (`after`: the last row's key, `before`:
    the first row's) when given, else up to the offset."""
    total = dealer.link_count
    wanted = min(count, total - start)
    if wanted <= 0:
        return [], total
    by_offset, by_after, by_before = _list_statements()
    params = {"dealer": dealer.id, "count": count}
    rows: list[LinkedGateway] = []
    if after is not None and start > 0:
        # the next page: the links after the previous page's last row
        rows = _console_rows(by_after, params, *after)
    elif before is not None:
        # the previous page: the links before the next page's first row
        rows = _console_rows(by_before, params, *before)
    if len(rows) < wanted:  # no edge, or one that no longer fits (links went away)
        rows = _console_rows(by_offset, {**params, "start": start})
    return rows, total


@functools.cache
def _list_statements():
    """The statements of a list page (by its offset, after an edge, before an edge),
    built once: a page of the dealer's link ids joined to what its rows show."""
    link = DealerLink
    # what the rows need of the links, all in the index (no second read of the links)
    page = select(link.id, link.alerting, link.linked_at, link.gateway_id).where(
        link.dealer_id == bindparam("dealer"))
    key = tuple_(link.alerting, link.linked_at, link.id)
    edge = tuple_(bindparam("edge_alerting", type_=link.alerting.type),
                  bindparam("edge_linked_at", type_=link.linked_at.type),
                  bindparam("edge_id", type_=link.id.type))
    count = bindparam("count", type_=Integer)
    return tuple(_console_rows_of(statement) for statement in (
        page.order_by(*_console_order(link)).offset(bindparam("start", type_=Integer))
        .limit(count),
        page.where(key < edge).order_by(*_console_order(link)).limit(count),
        page.where(key > edge).order_by(*_console_order(link, backwards=True)).limit(count)))


def _matching_links(dealer: Dealer, query: str, start: int,
                    count: int) -> tuple[list[LinkedGateway], int]:
    """The page's rows among the links the search finds, and how many it finds: those in
    alert first, then newest link first (only the matches are sorted). One statement:
    the page of matches (with their count) joined to what its rows show, instead of the
    ids first and their rows in a second round trip."""
    half = jaconv.z2h(query, kana=False, ascii=True, digit=True)
    dialect = db.session.get_bind().dialect.name
    indexed = len(query) >= TRIGRAM
    narrowed = (_index_patterns(half, query) if indexed and dialect == "postgresql"
                else None)
    rows_statement, count_statement = _search_statements(dialect, indexed,
                                                         narrowed is not None)
    params = {"dealer": dealer.id, "half": _like_pattern(half), "site": _like_pattern(query),
              "start": start, "count": count, **(narrowed or {})}
    if indexed and dialect != "postgresql":
        params["fts"] = _fts_query(dealer, half, query)
    rows = db.session.connection().execute(rows_statement, params).all()
    if rows:
        return [_console_row(row) for row in rows], rows[0].total
    total = db.session.scalar(count_statement, params) if start else 0
    return [], total


# The trigram indexes find substrings of three characters or more; a shorter query walks
# the dealer's own links (by ix_dealer_link_console_order) and reads their copies.
TRIGRAM = 3


@functools.cache
def _search_statements(dialect: str, indexed: bool, narrowed: bool = False):
    """The search's statements (its page of rows with the count; the count alone), built
    once per database and kind of query (parameters: dealer, half, site, start, count;
    on SQLite for an indexed query fts; on PostgreSQL for a query with rare trigrams,
    `narrowed`, the index's patterns of `_index_patterns`)."""
    # MATERIALIZED: the matches are found first (by the search index), then sorted; else
    # PostgreSQL would walk all the dealer's links in the console's order and filter them
    found = (select(DealerLink.id, DealerLink.alerting, DealerLink.linked_at,
                    DealerLink.gateway_id)
             .where(_search_matches(dialect, indexed, narrowed)).cte("found")
             .prefix_with("MATERIALIZED"))
    paged = (select(*found.c, func.count().over().label("total"))
             .order_by(*_console_order(found.c)).offset(bindparam("start", type_=Integer))
             .limit(bindparam("count", type_=Integer)).subquery())
    rows = _console_row_columns(paged, paged.c.total).order_by(*_console_order(paged.c))
    return rows, select(func.count()).select_from(found)


def _search_matches(dialect: str, indexed: bool, narrowed: bool = False):
    """The condition on links that the search finds among the dealer's: the owner's e-mail or the
    gateway ID containing the query with full-width letters and digits folded (`half`),
    or the site name containing the query as typed (`site`); any case (SQLite: of ASCII
    letters). Read from the link's copies (migration 0014), found by the dealer's
    search index."""
    link = DealerLink
    dealer = bindparam("dealer", type_=Integer)
    half, site = bindparam("half", type_=String), bindparam("site", type_=String)
    # The site name first: each candidate is checked (the trigram indexes are lossy) and
    # the check stops at the first column that holds the query. A search by a common
    # name finds hundreds of links by their site (0.3 ms less for 177 on PostgreSQL,
    # where ILIKE lowers both texts anew at each comparison); an e-mail or an ID finds few.
    if dialect == "postgresql":
        columns = ((link.search_site_name, site), (link.search_email, half),
                   (link.search_gateway_id, half))
        if not indexed:
            # A query shorter than a trigram has none to look up (the index would be read
            # whole): the columns are wrapped so that the index of the dealer's links is
            # walked instead.
            return and_(link.dealer_id == dealer, or_(*(
                func.coalesce(c, "").ilike(pattern, escape="/") for c, pattern in columns)))
        if not narrowed:
            # no rare trigram: the GIN index of (dealer, trigrams) is given the whole
            # query (a bitmap scan per column), and checks it on what it finds
            return and_(link.dealer_id == dealer, or_(*(
                c.ilike(pattern, escape="/") for c, pattern in columns)))
        # The GIN index of (dealer, trigrams) is given the rarest trigrams of the query
        # only (`_index_patterns`: two per column, `%abc%`), each column's an AND within
        # one bitmap scan; the whole query is checked on what they find, wrapped (`|| ''`)
        # so that it is a check of each candidate and not more trigrams to look up.
        def looked_up(c, first: str, second: str):
            return and_(c.ilike(bindparam(first, type_=String), escape="/"),
                        c.ilike(bindparam(second, type_=String), escape="/"))

        return and_(link.dealer_id == dealer,
                    or_(looked_up(link.search_site_name, "site_a", "site_b"),
                        looked_up(link.search_email, "half_a", "half_b"),
                        looked_up(link.search_gateway_id, "half_a", "half_b")),
                    or_(*(c.concat(literal_column("''")).ilike(pattern, escape="/")
                          for c, pattern in columns)))
    # SQLite's LIKE ignores the case of ASCII letters (its lower() knows no others). The
    # FTS5 trigram table (folding the case of any letter: it finds a few more) gives the
    # candidates among the dealer's links; LIKE keeps exactly what the search finds.
    matches = or_(link.search_site_name.like(site, escape="/"),
                  link.search_email.like(half, escape="/"),
                  link.search_gateway_id.like(half, escape="/"))
    if not indexed:
        return and_(link.dealer_id == dealer, matches)
    candidates = select(literal_column("rowid")).select_from(text("dealer_link_fts")).where(
        text("dealer_link_fts MATCH :fts"))
    # The links by their ids from the FTS table (already scoped to the dealer); `+ 0`
    # keeps SQLite from walking the dealer's links by their index instead.
    return and_(link.id.in_(candidates), (link.dealer_id + 0) == dealer, matches)


def _tiles(text_: str) -> list[str]:
    """The trigrams that tile the text (`02FL00013222` → 02F, L00, 013, 222): every row
    holding the text holds them. A phrase of all its trigrams would read each one's
    doclist, and a fleet's IDs and addresses share most of them (02FL000…, owner0…):
    several times the cost, for what LIKE checks anyway."""
    starts = sorted({*range(0, len(text_) - TRIGRAM + 1, TRIGRAM), len(text_) - TRIGRAM})
    return list(dict.fromkeys(text_[start:start + TRIGRAM] for start in starts))


def _fts_terms(tiles: list[str]) -> str:
    return "(" + " AND ".join('"' + tile.replace('"', '""') + '"' for tile in tiles) + ")"


# -- SQLite: which trigrams to look up ----------------------------------------------------
# Any of the text's trigrams finds every link holding the text (LIKE keeps exactly the
# matches), and FTS5 reads the whole doclist of each trigram it is given. A trigram that
# every fleet address holds ("own", "@fl") costs about ten times what the rare ones cost
# ("132", "222" of owner013222): the search looks up only the rarest two when some are
# rare, and all of them with the dealer's own when none is. How many links hold a
# trigram (counted up to COMMON) is learned once and kept for a while per process: it
# changes slowly, and a stale count only makes a search slower, never different.
COMMON = 1000
TRIGRAM_COUNTS_FOR = 600.0  # seconds
TRIGRAM_COUNTS_KEPT = 4096


class TrigramCounts:
    """How many links of all dealers hold each trigram, up to COMMON (the app's own:
    `current_app.extensions["dealer_trigram_counts"]`)."""

    def __init__(self) -> None:
        self.counts: dict[str, tuple[int, float]] = {}

    def of(self, tiles: list[str]) -> dict[str, int]:
        now = time.monotonic()
        known = {tile: self.counts.get(tile) for tile in tiles}
        missing = [tile for tile, kept in known.items()
                   if kept is None or now - kept[1] > TRIGRAM_COUNTS_FOR]
        if missing:
            counted = _count_links_holding(missing)
            if len(self.counts) + len(missing) > TRIGRAM_COUNTS_KEPT:
                self.counts.clear()
            for tile, count in zip(missing, counted):
                known[tile] = self.counts[tile] = (count, now)
        return {tile: kept[0] for tile, kept in known.items()}


def _count_links_holding(tiles: list[str]) -> list[int]:
    """How many links (of all dealers) hold each trigram, up to COMMON, in one statement:
    SQLite's by the FTS5 table, PostgreSQL's by the GIN index (any of the three copies,
    any case)."""
    if db.session.get_bind().dialect.name == "postgresql":
        held = " OR ".join(f"{column} ILIKE :t{{n}} ESCAPE '/'" for column in (
            "search_site_name", "search_email", "search_gateway_id"))
        probe = (f"(SELECT count(*) FROM (SELECT 1 FROM dealer_link WHERE {held} "
                 f"LIMIT {COMMON}) AS held)")
        terms = [_like_pattern(tile) for tile in tiles]
    else:
        probe = (f"(SELECT count(*) FROM (SELECT 1 FROM dealer_link_fts WHERE "
                 f"dealer_link_fts MATCH :t{{n}} LIMIT {COMMON}))")
        terms = [_fts_terms([tile]) for tile in tiles]
    probes = ", ".join(probe.format(n=n) for n in range(len(tiles)))
    return list(db.session.execute(text(f"SELECT {probes}"), {
        f"t{n}": term for n, term in enumerate(terms)}).one())


def _rarest(tiles: list[str], counts: dict[str, int]) -> list[str]:
    """The two rarest of the tiles held by fewer than COMMON links (none: all common)."""
    return sorted((tile for tile in tiles if counts[tile] < COMMON), key=counts.get)[:2]


def _index_patterns(half: str, query: str) -> dict[str, str] | None:
    """PostgreSQL: what the GIN index is given of a query, two `%abc%` patterns for the
    e-mail and gateway ID (`half_a`, `half_b`) and two for the site name (`site_a`,
    `site_b`): its rarest trigrams (one given twice when only one is rare), or, for a
    text with none rare, the whole query twice; None when neither has a rare trigram
    (the index is then given the whole query, as the statement without these patterns
    does). Only trigrams of letters and digits: pg_trgm splits a text at any other
    character, and a pattern with no trigram left would read the whole index."""
    words = [tile for tile in dict.fromkeys([*_tiles(half), *_tiles(query)])
             if tile.isalnum()]
    counts = _trigram_counts().of(words) if words else {}
    patterns, narrowed = {}, False
    for name, text_ in (("half", half), ("site", query)):
        rare = _rarest([tile for tile in _tiles(text_) if tile in counts], counts)
        narrowed = narrowed or bool(rare)
        first, second = (rare * 2)[:2] if rare else (text_, text_)
        patterns[f"{name}_a"], patterns[f"{name}_b"] = _like_pattern(first), _like_pattern(second)
    return patterns if narrowed else None


def _trigram_counts() -> TrigramCounts:
    return current_app.extensions.setdefault("dealer_trigram_counts", TrigramCounts())


def _fts_query(dealer: Dealer, half: str, query: str) -> str:
    """The FTS5 query of the links that may hold the query: its rarest trigrams in the
    e-mail and gateway ID (`half`: full-width letters and digits folded) or the site
    name (`query` as typed); scoped to the dealer's links where no trigram is rare, or
    where the dealer has fewer links than the rarest trigram."""
    groups = ([("{email gateway_id site_name}", _tiles(half))] if half == query else
              [("{email gateway_id}", _tiles(half)), ("site_name", _tiles(query))])
    counts = _trigram_counts().of([tile for _columns, tiles in groups for tile in tiles])
    scoped, texts = False, []
    for columns, tiles in groups:
        rare = _rarest(tiles, counts)
        if not rare or dealer.link_count < counts[rare[0]]:
            scoped = True
        texts.append(f"{columns} : {_fts_terms(rare or tiles)}")
    found = texts[0] if len(texts) == 1 else "(" + " OR ".join(texts) + ")"
    return f'dealer : "<{int(dealer.id)}>" AND {found}' if scoped else found


def _console_row_columns(links, *extra):
    """SELECT of what a console row shows, from a subquery of links (their id, alerting,
    linked_at and gateway_id) joined to their gateways and owners."""
    link = links.c
    return (select(link.id, link.linked_at, Gateway.id, Gateway.gateway_id, Gateway.site_name,
                   Gateway.status, Gateway.last_reading_at, Account.id, Account.family_name,
                   Account.given_name, Account.email, link.alerting, *extra)
            .select_from(links).join(Gateway, Gateway.id == link.gateway_id)
            .outerjoin(Account, Account.id == Gateway.owner_id))


def _console_row(row) -> LinkedGateway:
    (linked_at, pk, gateway_id, site_name, status, last_reading_at, owner_pk,
     family_name, given_name, email, alerting) = row[1:12]
    owner = ConsoleOwner(family_name, given_name, email) if owner_pk is not None else None
    return LinkedGateway(ConsoleGateway(pk, gateway_id, site_name, status, last_reading_at),
                         owner, linked_at, row[0], bool(alerting))


def _console_rows_of(links):
    """The statement of the rows of a page of links (a SELECT of their id, alerting,
    linked_at and gateway_id): only the columns the list shows."""
    return _console_row_columns(links.subquery())


def _console_rows(statement, params: dict, *edge) -> list[LinkedGateway]:
    """A page's rows (a statement of `_list_statements`), in the console's order."""
    if edge:
        params = {**params, "edge_alerting": edge[0], "edge_linked_at": edge[1],
                  "edge_id": edge[2]}
    # sorted here, not by the database: the page is 20 rows, its plan stays a walk of
    # the index of the dealer's links without a sort
    # all rows fetched at once (iterating the result fetches them one by one)
    rows = [_console_row(row) for row in db.session.connection().execute(statement,
                                                                           params).all()]
    return sorted(rows, key=lambda row: (row.alerting, row.linked_at, row.link_id),
                  reverse=True)


# -- read-only look-ups for the pages ----------------------------------------------------
_GATEWAY_ID = re.compile(r"[0-9A-Z]{12}")
_DEALER_CODE = re.compile(r"\d{1,10}")


def dealer_for_account(account: Account) -> Dealer | None:
    """The dealer of the account's company (every employee of a dealer company sees it).

    Asked several times per page (launcher tiles, the club's and the dealers' menus): the
    answer is kept for the request (flask.g) by company, while it belongs to the request's
    database session. `add_dealer` forgets a kept "none"."""
    if account is None or account.company_id is None or not account.is_commercial:
        return None
    known = g.setdefault("dealer_of_company", {})
    if account.company_id in known:
        dealer = known[account.company_id]
        if dealer is None or dealer in db.session:
            return dealer
    dealer = db.session.scalar(select(Dealer).where(Dealer.company_id == account.company_id)
                               .options(joinedload(Dealer.company)))
    known[account.company_id] = dealer
    return dealer


def owner_gateways(owner: Account, query: str | None = None) -> list[Gateway]:
    """The owner's gateways in service (ACTIVE or PROVISIONAL), by gateway ID; `query`
    searches the gateway ID and the site name (案件), ignoring case."""
    statement = select(Gateway).where(
        Gateway.owner_id == owner.id,
        Gateway.status.in_([s.value for s in LINKABLE_STATUSES]))
    query = (query or "").strip(" \u3000\t")
    if query:
        half = jaconv.z2h(query, kana=False, ascii=True, digit=True)
        statement = statement.where(or_(Gateway.gateway_id.icontains(half, autoescape=True),
                                        Gateway.site_name.icontains(query, autoescape=True)))
    return list(db.session.scalars(statement.order_by(Gateway.gateway_id)))


def owned_gateway(owner: Account, gateway_id: str) -> Gateway | None:
    """One of the owner's gateways in service, by its ゲートウェイID (None for anything
    else, malformed IDs included)."""
    if not isinstance(gateway_id, str) or not _GATEWAY_ID.fullmatch(gateway_id):
        return None
    return db.session.scalar(select(Gateway).where(
        Gateway.gateway_id == gateway_id, Gateway.owner_id == owner.id,
        Gateway.status.in_([s.value for s in LINKABLE_STATUSES])))


def linked_dealer(gateway: Gateway, dealer_code: str) -> LinkedDealer | None:
    """The dealer with this 販売店ID when it is linked to the gateway."""
    if not isinstance(dealer_code, str) or not _DEALER_CODE.fullmatch(dealer_code):
        return None
    for linked in linked_dealers(gateway):
        if linked.dealer.dealer_code == dealer_code:
            return linked
    return None


def preview_link(owner: Account, gateway: Gateway, code: str,
                 phone: str) -> tuple[LinkResult, Dealer | None]:
    """What link_dealer would answer now, without linking (the confirmation step);
    link_dealer checks everything again under the lock."""
    if owned_gateway(owner, gateway.gateway_id) is None:
        return LinkResult.NOT_FOUND, None
    dealer = find_dealer(code, phone)
    if dealer is None:
        return LinkResult.NO_SUCH_DEALER, None
    if _find_link(gateway.id, dealer.id) is not None:
        return LinkResult.ALREADY_LINKED, dealer
    if _link_count(gateway.id) >= MAX_DEALERS_PER_GATEWAY:
        return LinkResult.LIMIT_REACHED, dealer
    return LinkResult.LINKED, dealer


def dealer_gateway(dealer: Dealer, gateway_id: str) -> LinkedGateway | None:
    """A gateway entrusted to the dealer, with its owner, by its ゲートウェイID."""
    if not isinstance(gateway_id, str) or not _GATEWAY_ID.fullmatch(gateway_id):
        return None
    row = db.session.execute(
        select(Gateway, Account, DealerLink.linked_at)
        .join(DealerLink, DealerLink.gateway_id == Gateway.id)
        .outerjoin(Account, Account.id == Gateway.owner_id)
        .where(DealerLink.dealer_id == dealer.id, Gateway.gateway_id == gateway_id)).first()
    return LinkedGateway(*row) if row else None


# -- people who leave a dealer company ------------------------------------------------------
def forget_member_contact(account: Account, company: Company) -> None:
    """Someone who leaves a dealer company stops getting its maintenance mail (alerts carry
    owners' data): their own address leaves the dealer's maintenance contacts."""
    dealer = db.session.scalar(select(Dealer).where(Dealer.company_id == company.id))
    if dealer is None:
        return
    removed = db.session.execute(
        delete(DealerContact).where(DealerContact.dealer_id == dealer.id,
                                    func.lower(DealerContact.email) == account.email.lower()),
        execution_options={"synchronize_session": "fetch"}).rowcount
    if removed:
        audit.record("dealer.contact_removed", subject_id=account.id,
                     dealer_code=dealer.dealer_code, reason="left_company")


def forget_deleted_member_contact(account: Account) -> None:
    """Account deletion of a dealer company's member: the same as leaving it."""
    company = account.company
    if company is not None and company not in db.session.deleted:  # else it goes whole
        forget_member_contact(account, company)


# -- the owner's access page ---------------------------------------------------------------
def access_lines(owner: Account) -> list:
    """"Who can see my home": each dealer entrusted with one of the owner's gateways sees
    its status, registration data and the owner's contact details, until unlinked."""
    rows = db.session.execute(
        select(Company.name, Dealer.dealer_code, Gateway.gateway_id, Gateway.site_name,
               DealerLink.linked_at)
        .join(DealerLink, DealerLink.dealer_id == Dealer.id)
        .join(Company, Company.id == Dealer.company_id)
        .join(Gateway, Gateway.id == DealerLink.gateway_id)
        .where(Gateway.owner_id == owner.id,
               Gateway.status.in_([s.value for s in LINKABLE_STATUSES]))
        .order_by(Gateway.gateway_id, DealerLink.linked_at, DealerLink.id))
    return [AccessLine(who=f"{name}（販売店ID {code}）",
                       what=_l("保守：運転状況・登録情報・お客様の連絡先を確認、異常の通知を受信"),
                       scope=f"{gateway_id} {site or ''}".strip(), since=linked_at,
                       manage_url=url_for("dealers.my_unlink_pick", gateway_id=gateway_id))
            for name, code, gateway_id, site, linked_at in rows]
