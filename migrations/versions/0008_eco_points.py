"""The eco programme and the points service: eco_membership (one running per gateway),
eco_guidance (the guidance mail, once per gateway and owner), points_member (one per ID
ever, one running per gateway) and points_entry (the ledger; one accrual per member
and month)

Revision ID: 0008_eco_points
Revises: 0007_products
Create Date: 2026-11-29 05:42:46.084645

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_eco_points'
down_revision = '0007_products'
branch_labels = None
depends_on = None


def upgrade():
    
    op.create_table('eco_guidance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('gateway_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_eco_guidance_account_id_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['gateway_id'], ['gateway.id'], name=op.f('fk_eco_guidance_gateway_id_gateway'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eco_guidance')),
    sa.UniqueConstraint('gateway_id', 'account_id', name=op.f('uq_eco_guidance_gateway_id'))
    )
    with op.batch_alter_table('eco_guidance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_eco_guidance_account_id'), ['account_id'], unique=False)

    op.create_table('eco_membership',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('gateway_id', sa.Integer(), nullable=True),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('gateway_code', sa.String(length=12), nullable=False),
    sa.Column('pcs_serial', sa.String(length=8), nullable=False),
    sa.Column('no_private_generator', sa.Boolean(), nullable=False),
    sa.Column('no_other_scheme', sa.Boolean(), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.String(length=20), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_eco_membership_account_id_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['gateway_id'], ['gateway.id'], name=op.f('fk_eco_membership_gateway_id_gateway'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eco_membership'))
    )
    with op.batch_alter_table('eco_membership', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_eco_membership_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_eco_membership_gateway_id'), ['gateway_id'], unique=False)
        batch_op.create_index('uq_eco_membership_running', ['gateway_id'], unique=True, sqlite_where=sa.text('ended_at IS NULL'), postgresql_where=sa.text('ended_at IS NULL'))

    op.create_table('points_member',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('gateway_id', sa.Integer(), nullable=True),
    sa.Column('eco_membership_id', sa.Integer(), nullable=True),
    sa.Column('service', sa.String(length=20), nullable=False),
    sa.Column('install_postal_code', sa.String(length=7), nullable=True),
    sa.Column('install_prefecture', sa.String(length=10), nullable=True),
    sa.Column('install_city', sa.String(length=60), nullable=True),
    sa.Column('install_street', sa.String(length=100), nullable=True),
    sa.Column('install_building', sa.String(length=100), nullable=True),
    sa.Column('terms_accepted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('privacy_accepted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('left_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('pseudonymised_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_points_member_account_id_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['eco_membership_id'], ['eco_membership.id'], name=op.f('fk_points_member_eco_membership_id_eco_membership'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['gateway_id'], ['gateway.id'], name=op.f('fk_points_member_gateway_id_gateway'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_points_member')),
    sa.UniqueConstraint('account_id', name=op.f('uq_points_member_account_id'))
    )
    with op.batch_alter_table('points_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_points_member_eco_membership_id'), ['eco_membership_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_points_member_gateway_id'), ['gateway_id'], unique=False)
        batch_op.create_index('uq_points_member_running_gateway', ['gateway_id'], unique=True, sqlite_where=sa.text('left_at IS NULL'), postgresql_where=sa.text('left_at IS NULL'))

    op.create_table('points_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=True),
    sa.Column('kwh', sa.Numeric(precision=12, scale=3), nullable=True),
    sa.Column('factor', sa.Numeric(precision=8, scale=3), nullable=True),
    sa.Column('item', sa.String(length=20), nullable=True),
    sa.Column('request_key', sa.String(length=32), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['account.id'], name=op.f('fk_points_entry_created_by_id_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['member_id'], ['points_member.id'], name=op.f('fk_points_entry_member_id_points_member'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_points_entry')),
    sa.UniqueConstraint('member_id', 'kind', 'month', name=op.f('uq_points_entry_member_id')),
    sa.UniqueConstraint('request_key', 'member_id', name=op.f('uq_points_entry_request_key'))
    )
    with op.batch_alter_table('points_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_points_entry_member_id'), ['member_id'], unique=False)




def downgrade():
    
    with op.batch_alter_table('points_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_points_entry_member_id'))

    op.drop_table('points_entry')
    with op.batch_alter_table('points_member', schema=None) as batch_op:
        batch_op.drop_index('uq_points_member_running_gateway', sqlite_where=sa.text('left_at IS NULL'), postgresql_where=sa.text('left_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_points_member_gateway_id'))
        batch_op.drop_index(batch_op.f('ix_points_member_eco_membership_id'))

    op.drop_table('points_member')
    with op.batch_alter_table('eco_membership', schema=None) as batch_op:
        batch_op.drop_index('uq_eco_membership_running', sqlite_where=sa.text('ended_at IS NULL'), postgresql_where=sa.text('ended_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_eco_membership_gateway_id'))
        batch_op.drop_index(batch_op.f('ix_eco_membership_account_id'))

    op.drop_table('eco_membership')
    with op.batch_alter_table('eco_guidance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_eco_guidance_account_id'))

    op.drop_table('eco_guidance')

