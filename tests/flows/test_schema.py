"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""
from __future__ import annotations

import warnings

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, SAWarning

from models import db, schema_filter

ACCOUNT_ROW = (
    "INSERT INTO account (email, password_hash, family_name, given_name, account_type, "
    "role, language, newsletter, password_changed_at, created_at) "
    "VALUES (:email, 'x', '山田', '太郎', 'personal', 'user', 'ja', false, "
    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
)


def test_migrations_match_the_models(app):
    with warnings.catch_warnings():
        # SQLite cannot reflect the lower(email) index; the next test checks it.
        warnings.simplefilter("ignore", SAWarning)
        warnings.filterwarnings("ignore", message=".*expression-based index")
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={
                "compare_type": True, "include_object": schema_filter(connection.dialect.name)})
            differences = compare_metadata(context, db.metadata)
    assert [d for d in differences if not _search_index(d)] == []


# The knowledge-base search index of migration 0009, which the models cannot describe:
# SQLite's FTS5 table (and the tables FTS5 keeps for it), PostgreSQL's trigram indexes.
SEARCH_INDEX_NAMES = ("kb_article_fts", "ix_kb_article_title_trgm", "ix_kb_article_body_trgm")


def _search_index(difference) -> bool:
    if difference[0] not in ("remove_table", "remove_index"):
        return False
    return str(difference[1].name).startswith(SEARCH_INDEX_NAMES)


def test_the_knowledge_base_search_index_exists(app):
    """The search reads an index that only the migration makes."""
    if db.engine.dialect.name == "sqlite":
        rows = db.session.execute(text(
            "SELECT name FROM sqlite_master WHERE name LIKE 'kb_article_fts%'")).scalars()
        assert {"kb_article_fts", "kb_article_fts_insert", "kb_article_fts_update",
                "kb_article_fts_delete"} <= set(rows)
    else:
        rows = db.session.execute(text(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'kb_article'")).scalars()
        assert {"ix_kb_article_title_trgm", "ix_kb_article_body_trgm"} <= set(rows)


def test_email_is_unique_whatever_its_case(app):
    db.session.execute(text(ACCOUNT_ROW), {"email": "taro@example.com"})
    with pytest.raises(IntegrityError):
        db.session.execute(text(ACCOUNT_ROW), {"email": "Taro@Example.com"})
    db.session.rollback()


def test_foreign_keys_are_enforced(app):
    with pytest.raises(IntegrityError):
        db.session.execute(text(
            "INSERT INTO account_phone (account_id, position, kind, number) "
            "VALUES (999999, 0, 'mobile', '09012345678')"))
    db.session.rollback()


def test_sqlite_migrations_keep_the_rows_that_reference_a_rebuilt_table(tmp_path):
    """SQLite alters a column by rebuilding its table (0005 rebuilds `company`); with
    foreign keys enforced, dropping the old table would delete the dealers and unlink
    the accounts that reference it. The upgrade keeps them."""
    from flask_migrate import upgrade

    from app import create_app
    from tests.conftest import _config

    app = create_app(_config("sqlite:///" + str(tmp_path / "old.sqlite3")))
    with app.app_context():
        upgrade(revision="0004_auth")
        for statement in (
            "INSERT INTO company (id, name, kind, postal_code, prefecture, city, street, "
            "email, phone, created_at) VALUES (1, '販売店株式会社', 'dealer', '1030026', "
            "'東京都', '中央区', '日本橋1-1', 'info@dealer.example', '0312345678', "
            "CURRENT_TIMESTAMP)",
            ACCOUNT_ROW.replace("created_at)", "created_at, company_id)")
                       .replace("CURRENT_TIMESTAMP)", "CURRENT_TIMESTAMP, 1)"),
            "INSERT INTO dealer (id, company_id, dealer_code, phone, created_at) "
            "VALUES (1, 1, 'D000000001', '0312345678', CURRENT_TIMESTAMP)",
        ):
            db.session.execute(text(statement), {"email": "dealer@example.com"})
        db.session.commit()
        upgrade(revision="0005_registration_data")
        assert db.session.execute(text("SELECT count(*) FROM dealer")).scalar() == 1
        assert db.session.execute(text("SELECT company_id FROM account")).scalar() == 1
        assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        db.session.remove()
        db.engine.dispose()
