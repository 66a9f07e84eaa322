"""The dealer console's order (in alert first, then newest link first) read from one index

- dealer_link.alerting: whether the link's gateway has an open 異常 (error) or 通信途絶
  (silent) alert, the console's "in alert" (a remote setting not yet applied is none).
  Triggers keep it: when an alert opens, ends, changes kind or goes away (whichever code
  does it, the foreign keys' cascades included) and when a link is made or moved to
  another gateway. Other changes fire nothing.
- ix_dealer_link_console_order (dealer_id, alerting, linked_at, id, gateway_id) replaces
  ix_dealer_link_dealer_order (dealer_id, linked_at, id, gateway_id): a page of the
  console, alerts first, is one walk of this index (backwards) from its offset or from
  the neighbouring page's edge, whatever the number of the dealer's links and of the
  fleet's alerts. Before, the links in alert were found by joining the open alerts with
  all the dealer's links on every page (5,000 index entries for a big dealer).

Revision ID: 0015_console_alert_order
Revises: 0014_console_search
Create Date: 2026-11-29 23:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015_console_alert_order'
down_revision = '0014_console_search'
branch_labels = None
depends_on = None

# Whether gateway {gateway} has an open error or silent alert (both dialects).
_IN_ALERT = ("EXISTS (SELECT 1 FROM gateway_alert WHERE gateway_alert.gateway_id = {gateway} "
             "AND gateway_alert.ended_at IS NULL AND gateway_alert.kind IN ('error', 'silent'))")
_REFRESH = ("UPDATE dealer_link SET alerting = {in_alert} WHERE gateway_id = {gateway} "
            "AND alerting <> {in_alert}")


def _refresh(gateway: str) -> str:
    in_alert = _IN_ALERT.format(gateway=gateway)
    return _REFRESH.format(gateway=gateway, in_alert=in_alert)


_ALERT_CHANGED = ("OLD.ended_at IS DISTINCT FROM NEW.ended_at OR OLD.kind IS DISTINCT FROM "
                  "NEW.kind OR OLD.gateway_id IS DISTINCT FROM NEW.gateway_id")

POSTGRES = (
    "CREATE FUNCTION dealer_link_alerting_fill() RETURNS trigger LANGUAGE plpgsql AS $$ "
    f"BEGIN NEW.alerting := {_IN_ALERT.format(gateway='NEW.gateway_id')}; RETURN NEW; END $$",
    "CREATE TRIGGER dealer_link_alerting_fill BEFORE INSERT OR UPDATE OF gateway_id "
    "ON dealer_link FOR EACH ROW EXECUTE FUNCTION dealer_link_alerting_fill()",
    "CREATE FUNCTION gateway_alert_to_links() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN "
    f"IF TG_OP <> 'INSERT' THEN {_refresh('OLD.gateway_id')}; END IF; "
    f"IF TG_OP <> 'DELETE' THEN {_refresh('NEW.gateway_id')}; END IF; "
    "RETURN NULL; END $$",
    "CREATE TRIGGER gateway_alert_opened AFTER INSERT ON gateway_alert FOR EACH ROW "
    "EXECUTE FUNCTION gateway_alert_to_links()",
    "CREATE TRIGGER gateway_alert_changed AFTER UPDATE OF ended_at, kind, gateway_id "
    f"ON gateway_alert FOR EACH ROW WHEN ({_ALERT_CHANGED}) "
    "EXECUTE FUNCTION gateway_alert_to_links()",
    "CREATE TRIGGER gateway_alert_removed AFTER DELETE ON gateway_alert FOR EACH ROW "
    "EXECUTE FUNCTION gateway_alert_to_links()",
)
POSTGRES_DROP = (
    "DROP TRIGGER IF EXISTS gateway_alert_removed ON gateway_alert",
    "DROP TRIGGER IF EXISTS gateway_alert_changed ON gateway_alert",
    "DROP TRIGGER IF EXISTS gateway_alert_opened ON gateway_alert",
    "DROP FUNCTION IF EXISTS gateway_alert_to_links()",
    "DROP TRIGGER IF EXISTS dealer_link_alerting_fill ON dealer_link",
    "DROP FUNCTION IF EXISTS dealer_link_alerting_fill()",
)
SQLITE = (
    "CREATE TRIGGER dealer_link_alerting_fill AFTER INSERT ON dealer_link "
    f"WHEN {_IN_ALERT.format(gateway='NEW.gateway_id')} BEGIN "
    "UPDATE dealer_link SET alerting = 1 WHERE id = NEW.id; END",
    "CREATE TRIGGER dealer_link_alerting_refill AFTER UPDATE OF gateway_id ON dealer_link "
    f"BEGIN UPDATE dealer_link SET alerting = {_IN_ALERT.format(gateway='NEW.gateway_id')} "
    "WHERE id = NEW.id; END",
    f"CREATE TRIGGER gateway_alert_opened AFTER INSERT ON gateway_alert BEGIN "
    f"{_refresh('NEW.gateway_id')}; END",
    "CREATE TRIGGER gateway_alert_changed AFTER UPDATE OF ended_at, kind, gateway_id "
    f"ON gateway_alert WHEN {_ALERT_CHANGED.replace('IS DISTINCT FROM', 'IS NOT')} BEGIN "
    f"{_refresh('OLD.gateway_id')}; {_refresh('NEW.gateway_id')}; END",
    f"CREATE TRIGGER gateway_alert_removed AFTER DELETE ON gateway_alert BEGIN "
    f"{_refresh('OLD.gateway_id')}; END",
)
SQLITE_TRIGGERS = ("dealer_link_alerting_fill", "dealer_link_alerting_refill",
                   "gateway_alert_opened", "gateway_alert_changed", "gateway_alert_removed")

# The links in alert now (the others keep the default: no rewrite of every link).
BACKFILL = ("UPDATE dealer_link SET alerting = true WHERE "
            + _IN_ALERT.format(gateway="dealer_link.gateway_id"))


def upgrade():
    op.add_column("dealer_link", sa.Column("alerting", sa.Boolean(), server_default=sa.false(),
                                           nullable=False))
    dialect = op.get_bind().dialect.name
    for statement in POSTGRES if dialect == "postgresql" else SQLITE:
        op.execute(statement)
    op.execute(BACKFILL)
    op.drop_index("ix_dealer_link_dealer_order", table_name="dealer_link")
    op.create_index("ix_dealer_link_console_order", "dealer_link",
                    ["dealer_id", "alerting", "linked_at", "id", "gateway_id"])


def downgrade():
    op.drop_index("ix_dealer_link_console_order", table_name="dealer_link")
    op.create_index("ix_dealer_link_dealer_order", "dealer_link",
                    ["dealer_id", "linked_at", "id", "gateway_id"])
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRES_DROP:
            op.execute(statement)
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    # SQLite drops the column in place (3.35+): a rebuilt table would lose 0014's triggers
    op.execute("ALTER TABLE dealer_link DROP COLUMN alerting")
