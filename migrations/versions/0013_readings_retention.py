"""Readings kept for a period, partitioned by month on PostgreSQL (filled by the ingest work)

Revision ID: 0013_readings_retention
Revises: 0012_console_indexes
Create Date: 2026-11-29 17:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013_readings_retention'
down_revision = '0012_console_indexes'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
