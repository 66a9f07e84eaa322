"""Database handle, declarative base and shared column types.

Every model module is imported at the bottom so that `db.metadata` (used by Alembic)
always knows every table.
"""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, MetaData
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Japan's time: what dates and times are shown in and what "today" means for owners.
JST = ZoneInfo("Asia/Tokyo")


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always read back as an aware datetime.

    SQLite keeps no zone; PostgreSQL does. This type makes both behave the same.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)

from models import (account, audit, club, eco, gateway, link, mail, points,  # noqa: E402,F401
                    remote, support, telemetry, trust, wizard)


def schema_filter(dialect_name: str):
    """Alembic's autogenerate filter (`flask db check`, migrations/env.py and the schema
    test): leave out what the models create on another database only
    (`Index(...).ddl_if(dialect="postgresql")`, e.g. the console's trigram indexes) and
    the monthly partitions of gateway_reading on PostgreSQL (migration 0013), and the
    dealer console's FTS5 search table on SQLite (migration 0014: a virtual table and
    the tables FTS5 keeps for it, which no model describes)."""
    def include_object(obj, name, type_, reflected, compare_to):
        if reflected and type_ == "table" and str(name).startswith("dealer_link_fts"):
            return False
        condition = getattr(obj, "_ddl_if", None)
        made_here = (reflected or condition is None or not condition.dialect
                     or condition.dialect == dialect_name)
        return made_here and telemetry.not_a_reading_partition(
            obj, name, type_, reflected, compare_to)
    return include_object
