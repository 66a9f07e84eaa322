"""Sign-in no longer locks accounts: failed attempts are limited per client instead

Revision ID: 0004_auth
Revises: 0003
Create Date: 2026-11-24

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004_auth'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE … DROP COLUMN (SQLite 3.35+ and PostgreSQL): a batch copy of the
    # account table would lose its lower(email) index, which SQLite cannot reflect.
    op.drop_column('account', 'locked_until')
    op.drop_column('account', 'failed_login_count')


def downgrade():
    op.add_column('account', sa.Column('failed_login_count', sa.Integer(), nullable=False,
                                       server_default='0'))
    op.add_column('account', sa.Column('locked_until', sa.DateTime(timezone=True),
                                       nullable=True))
