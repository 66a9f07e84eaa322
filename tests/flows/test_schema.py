"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""
from __future__ import annotations

import warnings

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, SAWarning

from models import db

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
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, db.metadata)
    assert differences == []


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
