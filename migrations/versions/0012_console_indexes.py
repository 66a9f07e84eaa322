"""Indexes of the dealer console: a dealer's links in their order (with the gateway), and
on PostgreSQL pg_trgm GIN indexes for its substring search (owner's e-mail, ゲートウェイID,
案件). SQLite has no index for '%…%': there the search walks the dealer's own links only.

Revision ID: 0012_console_indexes
Revises: 0011_remote_migration
Create Date: 2026-11-29 17:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_console_indexes'
down_revision = '0011_remote_migration'
branch_labels = None
depends_on = None

# (name, table, column): ILIKE '%x%' on these is served by the index (pg_trgm folds case).
TRIGRAM_INDEXES = (
    ("ix_account_email_trgm", "account", "email"),
    ("ix_gateway_gateway_id_trgm", "gateway", "gateway_id"),
    ("ix_gateway_site_name_trgm", "gateway", "site_name"),
)


def upgrade():
    op.create_index("ix_dealer_link_dealer_order", "dealer_link",
                    ["dealer_id", "linked_at", "id", "gateway_id"])
    # The new index starts with dealer_id: the one on dealer_id alone has no use left.
    op.drop_index("ix_dealer_link_dealer_id", table_name="dealer_link")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")  # made by 0009 already
        for name, table, column in TRIGRAM_INDEXES:
            op.create_index(name, table, [column], postgresql_using="gin",
                            postgresql_ops={column: "gin_trgm_ops"})


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for name, table, _column in TRIGRAM_INDEXES:
            op.drop_index(name, table_name=table)
    op.create_index("ix_dealer_link_dealer_id", "dealer_link", ["dealer_id"])
    op.drop_index("ix_dealer_link_dealer_order", table_name="dealer_link")
