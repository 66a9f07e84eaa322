"""Readings kept for a period, partitioned by month on PostgreSQL

- gateway.last_reading_at loses its index: every reading updates the column, and an
  indexed column makes each of those updates a new index entry (never HOT). The gateway
  table keeps a tenth of each page free, room for those HOT updates. The silence watch
  finds its candidates without it (alerts.check_silence).
- PostgreSQL: gateway_reading becomes partitioned by month (RANGE on ts, one partition
  per UTC month, `gateway_reading_pYYYYMM`, and a DEFAULT partition so that a reading
  never fails for want of one); the existing rows move. The primary key (gateway_id, ts)
  stays, so ON CONFLICT keeps working. `gateways prune` then drops whole months
  (blueprints/monitoring/retention.py). SQLite keeps one table.

Revision ID: 0013_readings_retention
Revises: 0012_console_indexes
Create Date: 2026-11-29 17:40:00

"""
from datetime import date, datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013_readings_retention'
down_revision = '0012_console_indexes'
branch_labels = None
depends_on = None

MONTHS_AHEAD = 2  # as retention.MONTHS_AHEAD (a migration does not import the app)


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _bound(month: date) -> str:
    return f"'{month.isoformat()} 00:00:00+00'"


def upgrade():
    op.drop_index('ix_gateway_last_reading_at', table_name='gateway')
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return
    op.execute("ALTER TABLE gateway SET (fillfactor = 90)")
    op.execute("ALTER TABLE gateway_reading RENAME TO gateway_reading_unpartitioned")
    op.execute("ALTER INDEX pk_gateway_reading RENAME TO pk_gateway_reading_unpartitioned")
    op.execute("CREATE TABLE gateway_reading (LIKE gateway_reading_unpartitioned "
               "INCLUDING DEFAULTS) PARTITION BY RANGE (ts)")
    today = datetime.now(timezone.utc).date()
    oldest = bind.scalar(sa.text("SELECT min(ts) FROM gateway_reading_unpartitioned"))
    month = (oldest.astimezone(timezone.utc).date() if oldest else today).replace(day=1)
    last = today.replace(day=1)
    for _ in range(MONTHS_AHEAD):
        last = _next_month(last)
    while month <= last:
        following = _next_month(month)
        op.execute(f"CREATE TABLE gateway_reading_p{month:%Y%m} PARTITION OF gateway_reading "
                   f"FOR VALUES FROM ({_bound(month)}) TO ({_bound(following)})")
        month = following
    op.execute("CREATE TABLE gateway_reading_default PARTITION OF gateway_reading DEFAULT")
    op.execute("INSERT INTO gateway_reading SELECT * FROM gateway_reading_unpartitioned")
    op.execute("DROP TABLE gateway_reading_unpartitioned")
    op.execute("ALTER TABLE gateway_reading ADD CONSTRAINT pk_gateway_reading "
               "PRIMARY KEY (gateway_id, ts)")
    op.execute("ALTER TABLE gateway_reading ADD CONSTRAINT fk_gateway_reading_gateway_id_gateway "
               "FOREIGN KEY (gateway_id) REFERENCES gateway (id) ON DELETE CASCADE")


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        op.execute("ALTER TABLE gateway_reading RENAME TO gateway_reading_partitioned")
        op.execute("ALTER INDEX pk_gateway_reading RENAME TO pk_gateway_reading_partitioned")
        op.execute("CREATE TABLE gateway_reading (LIKE gateway_reading_partitioned "
                   "INCLUDING DEFAULTS)")
        op.execute("INSERT INTO gateway_reading SELECT * FROM gateway_reading_partitioned")
        op.execute("DROP TABLE gateway_reading_partitioned")  # and its partitions
        op.execute("ALTER TABLE gateway_reading ADD CONSTRAINT pk_gateway_reading "
                   "PRIMARY KEY (gateway_id, ts)")
        op.execute("ALTER TABLE gateway_reading ADD CONSTRAINT "
                   "fk_gateway_reading_gateway_id_gateway FOREIGN KEY (gateway_id) "
                   "REFERENCES gateway (id) ON DELETE CASCADE")
        op.execute("ALTER TABLE gateway RESET (fillfactor)")
    op.create_index('ix_gateway_last_reading_at', 'gateway', ['last_reading_at'], unique=False)
