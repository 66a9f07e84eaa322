"""Indexes of the dealer console (filled by the console work)

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


def upgrade():
    pass


def downgrade():
    pass
