"""The knowledge base of セルフヘルプ: searching published articles in Japanese, and the
article page.

Japanese has no spaces between words, so the search matches character n-grams, not words:

- The query is normalised as articles are when staff save them
  (`normalize_alnum_width`: full-width letters and digits become ASCII, half-width kana
  full width) and split on whitespace (the ideographic space too) into terms; every term
  must match (AND).
- A term of 3 characters or more uses the n-gram index made by migration 0009: SQLite's
  FTS5 trigram table `kb_article_fts` (`MATCH` with the term quoted as a phrase),
  PostgreSQL's pg_trgm GIN indexes (`ILIKE '%term%'` on title and body).
- A term of 1-2 characters (停電, 充電) has no trigram; it falls back to `LIKE '%term%'`.
- Characters a pattern would treat specially (`%`, `_`, `\\`, `"`) are matched literally.

Ranking: a title hit counts 3, a body hit 1, counted in Python over at most
CANDIDATES candidates (the newest, should more match); ties go to the newest article.

A result shows the title and a snippet around the first hit with every match wrapped in
`<mark>`: the text is escaped first and only then marked (markupsafe), so an article or a
query containing HTML is shown as text."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup, escape
from sqlalchemy import Integer, column, or_, select, text

from blueprints.core.staff import SUPPORT, has_staff_role
from forms.validators import normalize_alnum_width
from models import db
from models.account import Account
from models.support import KbArticle, SupportCategory

MAX_QUERY = 100        # characters of a query (the form refuses longer ones)
MAX_TERMS = 10         # terms beyond these are ignored (each one is a condition)
CANDIDATES = 200       # articles ranked in Python at most
RESULTS = 20           # shown
NEWEST = 10            # shown for an empty query
SNIPPET = 120          # characters of a snippet
SNIPPET_BEFORE = 30    # of which before the first hit
TRIGRAM = 3


@dataclass
class Hit:
    """One article found: its title and snippet with the matches marked (safe HTML)."""

    id: int
    title: Markup
    snippet: Markup
    category: str | None
    updated_at: datetime
    score: int


@dataclass
class SearchResult:
    query: str
    terms: list[str]
    hits: list[Hit]
    total: int = 0  # articles that matched (counted up to CANDIDATES)

    @property
    def newest(self) -> bool:
        """No query: the hits are the newest articles, not matches."""
        return not self.terms


def terms_of(query: str | None) -> list[str]:
    """The query's terms: normalised as articles are (`normalize_alnum_width`), split on
    whitespace (the ideographic space too), each once. "停電　ＰＣＳ  停電" → ["停電", "PCS"]."""
    normalised = normalize_alnum_width(query or "")
    terms: list[str] = []
    for term in normalised.split():
        if term.casefold() not in (t.casefold() for t in terms):
            terms.append(term)
    return terms[:MAX_TERMS]


def _like_pattern(term: str) -> str:
    """'%term%' with the pattern characters of the term taken literally (ESCAPE '\\')."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _fts_phrase(term: str) -> str:
    """The term as an FTS5 phrase: in double quotes, a quote doubled."""
    return '"' + term.replace('"', '""') + '"'


def _term_condition(term: str, dialect: str, index: int):
    """The SQL condition for one term (see the module docstring)."""
    pattern = _like_pattern(term)
    if dialect == "postgresql":
        # ILIKE (not lower() LIKE): the form the pg_trgm GIN indexes serve.
        return or_(KbArticle.title.ilike(pattern, escape="\\"),
                   KbArticle.body.ilike(pattern, escape="\\"))
    if len(term) >= TRIGRAM:
        # text() binds by name: each term needs a name of its own.
        name = f"fts_term_{index}"
        matching = (text(f"SELECT rowid FROM kb_article_fts WHERE kb_article_fts MATCH :{name}")
                    .bindparams(**{name: _fts_phrase(term)})
                    .columns(column("rowid", Integer)))
        return KbArticle.id.in_(matching)
    return or_(KbArticle.title.like(pattern, escape="\\"),
               KbArticle.body.like(pattern, escape="\\"))


def _articles(conditions, limit: int):
    """Published articles meeting every condition, newest first, with their category."""
    statement = (select(KbArticle, SupportCategory.name)
                 .outerjoin(SupportCategory, SupportCategory.id == KbArticle.category_id)
                 .where(KbArticle.published.is_(True), *conditions)
                 .order_by(KbArticle.updated_at.desc(), KbArticle.id.desc())
                 .limit(limit))
    return db.session.execute(statement).all()


def _occurrences(haystack: str, terms: list[str]) -> int:
    folded = haystack.casefold()
    return sum(folded.count(term.casefold()) for term in terms)


def search(query: str | None) -> SearchResult:
    """Published articles matching every term of `query`, best first (at most RESULTS);
    no terms → the newest published articles."""
    terms = terms_of(query)
    if not terms:
        rows = _articles([], NEWEST)
        return SearchResult(query or "", [], [_hit(article, category, [], 0)
                                               for article, category in rows])
    dialect = db.session.get_bind().dialect.name
    rows = _articles([_term_condition(term, dialect, index)
                      for index, term in enumerate(terms)], CANDIDATES)
    scored = []
    for article, category in rows:
        score = 3 * _occurrences(article.title, terms) + _occurrences(article.body, terms)
        scored.append((score, article, category))
    # Stable sort: the rows come newest first, so equal scores stay newest first.
    scored.sort(key=lambda item: -item[0])
    return SearchResult(query or "", terms, [_hit(article, category, terms, score)
                                             for score, article, category in scored[:RESULTS]],
                        len(scored))


def _hit(article: KbArticle, category: str | None, terms: list[str], score: int) -> Hit:
    return Hit(article.id, highlight(article.title, terms), snippet(article.body, terms),
               category, article.updated_at, score)


def _matcher(terms: list[str]) -> re.Pattern | None:
    if not terms:
        return None
    # Longest first, so that a term containing another is marked whole.
    alternatives = sorted({re.escape(term) for term in terms}, key=len, reverse=True)
    return re.compile("|".join(alternatives), re.IGNORECASE)


def highlight(value: str, terms: list[str]) -> Markup:
    """`value` escaped, with every match of a term wrapped in <mark>."""
    matcher = _matcher(terms)
    if matcher is None:
        return escape(value)
    parts: list[Markup] = []
    position = 0
    for match in matcher.finditer(value):
        parts.append(escape(value[position:match.start()]))
        parts.append(Markup("<mark>%s</mark>") % match.group(0))
        position = match.end()
    parts.append(escape(value[position:]))
    return Markup("").join(parts)


def snippet(body: str, terms: list[str]) -> Markup:
    """About SNIPPET characters of the body on one line, around the first hit (the
    beginning when the body has none), matches marked."""
    flat = " ".join(body.split())
    matcher = _matcher(terms)
    first = matcher.search(flat) if matcher else None
    start = max(0, first.start() - SNIPPET_BEFORE) if first else 0
    end = min(len(flat), start + SNIPPET)
    start = max(0, min(start, end - SNIPPET))
    piece = highlight(flat[start:end], terms)
    return (Markup("…") if start > 0 else Markup("")) + piece + (
        Markup("…") if end < len(flat) else Markup(""))


# -- the article page --------------------------------------------------------------------
@dataclass
class ArticlePage:
    article: KbArticle
    category: str | None
    paragraphs: list[list[str]]


def article_page(viewer: Account, article_id: int) -> ArticlePage | None:
    """A published article, or for staff any article (the page then says 非公開); None
    (a 404) otherwise, the same as for an id that does not exist."""
    row = db.session.execute(
        select(KbArticle, SupportCategory.name)
        .outerjoin(SupportCategory, SupportCategory.id == KbArticle.category_id)
        .where(KbArticle.id == article_id)).first()
    if row is None:
        return None
    article, category = row
    if not article.published and not has_staff_role(viewer, SUPPORT):
        return None
    return ArticlePage(article, category, paragraphs(article.body))


def paragraphs(body: str) -> list[list[str]]:
    """The body as paragraphs (split at blank lines), each a list of its lines (the
    template escapes them and puts <br> between)."""
    lines = body.replace("\r\n", "\n").replace("\r", "\n")
    blocks = re.split(r"\n[ \t\u3000]*\n", lines)
    return [[line.strip() for line in block.strip("\n").split("\n")]
            for block in blocks if block.strip()]


def newest_articles(limit: int = 5) -> list[Hit]:
    """The newest published articles (the home page's セルフヘルプ tile)."""
    return [_hit(article, category, [], 0) for article, category in _articles([], limit)]
