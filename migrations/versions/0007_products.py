"""Products of a gateway whose model is not in the catalogue: product.model_id nullable

A registered gateway appears among its owner's products without re-typing. When the
model code on its slip is not (yet) in the system-model catalogue, the product is still
shown (model unknown, no warranty figure) and may still be subscribed to services, so
it needs a row without a model.

Revision ID: 0007_products
Revises: 0006_club
Create Date: 2026-11-29 03:15:00

"""
import warnings

from alembic import op
import sqlalchemy as sa


revision = '0007_products'
down_revision = '0006_club'
branch_labels = None
depends_on = None


def _quietly():
    """SQLite rebuilds the table from a reflection, which warns that the expression
    index on account (lower(email)) cannot be reflected: it is not this table's."""
    context = warnings.catch_warnings()
    context.__enter__()
    warnings.simplefilter("ignore", sa.exc.SAWarning)
    return context


def upgrade():
    context = _quietly()
    try:
        with op.batch_alter_table('product', schema=None) as batch_op:
            batch_op.alter_column('model_id', existing_type=sa.Integer(), nullable=True)
    finally:
        context.__exit__(None, None, None)


def downgrade():
    # Rows without a model cannot stay: they are gateway products, made again from the
    # gateway on the owner's next visit once the model is known.
    op.execute("DELETE FROM product WHERE model_id IS NULL")
    context = _quietly()
    try:
        with op.batch_alter_table('product', schema=None) as batch_op:
            batch_op.alter_column('model_id', existing_type=sa.Integer(), nullable=False)
    finally:
        context.__exit__(None, None, None)
