"""Registration data kept: フリガナ, service consents, a company without 会社種類, and slip
attempts counted per client and account instead of a lock per gateway

Revision ID: 0005_registration_data
Revises: 0004_auth
Create Date: 2026-11-29

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005_registration_data'
down_revision = '0004_auth'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('account_consent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('document', sa.String(length=40), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_account_consent_account_id_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_consent')),
    sa.UniqueConstraint('account_id', 'document', name=op.f('uq_account_consent_account_id'))
    )
    op.create_table('slip_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('client', sa.String(length=45), nullable=True),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_slip_attempt_account_id_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_slip_attempt'))
    )
    with op.batch_alter_table('slip_attempt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_slip_attempt_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_slip_attempt_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_slip_attempt_client'), ['client'], unique=False)

    # Plain ADD COLUMN (every database has it): a batch would reflect the table, whose
    # lower(email) index SQLite cannot reflect.
    op.add_column('account', sa.Column('family_kana', sa.String(length=30), nullable=True))
    op.add_column('account', sa.Column('given_kana', sa.String(length=30), nullable=True))

    # SQLite rebuilds the table for this (copy, drop, rename): migrations/env.py turns
    # foreign-key enforcement off meanwhile, so the rows that reference it stay.
    with op.batch_alter_table('company', schema=None) as batch_op:
        batch_op.alter_column('kind',
               existing_type=sa.VARCHAR(length=40),
               nullable=True)

    # In place, on SQLite too (3.35+): the gateway table is not rebuilt.
    op.drop_column('gateway', 'slip_locked_until')
    op.drop_column('gateway', 'failed_slip_attempts')


def downgrade():
    op.add_column('gateway', sa.Column('failed_slip_attempts', sa.Integer(), nullable=False,
                                       server_default='0'))
    op.add_column('gateway', sa.Column('slip_locked_until', sa.DateTime(timezone=True),
                                       nullable=True))

    op.execute("UPDATE company SET kind = 'other' WHERE kind IS NULL")
    with op.batch_alter_table('company', schema=None) as batch_op:
        batch_op.alter_column('kind',
               existing_type=sa.VARCHAR(length=40),
               nullable=False)

    # SQLite 3.35+ drops a column in place (no rebuild, no reflection).
    op.drop_column('account', 'given_kana')
    op.drop_column('account', 'family_kana')

    with op.batch_alter_table('slip_attempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_slip_attempt_client'))
        batch_op.drop_index(batch_op.f('ix_slip_attempt_at'))
        batch_op.drop_index(batch_op.f('ix_slip_attempt_account_id'))

    op.drop_table('slip_attempt')
    op.drop_table('account_consent')
