"""The dealer console's search as an index lookup among the dealer's own links

- dealer_link gets copies of what the search looks at: the owner's e-mail, the gateway's
  ID and site name (search_email, search_gateway_id, search_site_name). Triggers keep
  them: filled when a link is made, rewritten when an account's e-mail or a gateway's
  ID, site name or owner changes (whichever code changes them, bulk updates and the
  foreign keys' SET NULL included). Updates of other columns (a gateway's
  last_reading_at on every reading) fire nothing.
- PostgreSQL: one GIN index of (dealer_id, the three copies) with btree_gin for the
  dealer and pg_trgm for the copies: ILIKE '%…%' of a dealer's links reads the index
  entries of that dealer and of the pattern's trigrams only.
- SQLite: an FTS5 trigram table, dealer_link_fts (rowid = the link's id; its `dealer`
  column holds `<dealer id>` so that a MATCH can be scoped to one dealer), kept from
  the copies by triggers on dealer_link. The models cannot describe it:
  models.schema_filter leaves it out of autogenerate.
- dealer.link_count: how many links a dealer has, kept by triggers on dealer_link (the
  console's 全N件 read from one row instead of counting a big dealer's 5,000 entries
  on every page).

Revision ID: 0014_console_search
Revises: 0013_readings_retention
Create Date: 2026-11-29 20:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014_console_search'
down_revision = '0013_readings_retention'
branch_labels = None
depends_on = None

COPIES = (("search_email", 254), ("search_gateway_id", 12), ("search_site_name", 60))

# What a link's copies are, from its gateway and the gateway's owner (both dialects).
_COPIED = ("SELECT g.gateway_id, g.site_name, a.email FROM gateway g "
           "LEFT JOIN account a ON a.id = g.owner_id WHERE g.id = {link}.gateway_id")
_GATEWAY_CHANGED = ("OLD.gateway_id IS DISTINCT FROM NEW.gateway_id "
                    "OR OLD.site_name IS DISTINCT FROM NEW.site_name "
                    "OR OLD.owner_id IS DISTINCT FROM NEW.owner_id")

POSTGRES = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE EXTENSION IF NOT EXISTS btree_gin",
    "CREATE FUNCTION dealer_link_search_fill() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN "
    + _COPIED.replace("SELECT g.gateway_id, g.site_name, a.email",
                      "SELECT g.gateway_id, g.site_name, a.email INTO NEW.search_gateway_id, "
                      "NEW.search_site_name, NEW.search_email").format(link="NEW") + "; "
    "RETURN NEW; END $$",
    "CREATE TRIGGER dealer_link_search_fill BEFORE INSERT OR UPDATE OF gateway_id "
    "ON dealer_link FOR EACH ROW EXECUTE FUNCTION dealer_link_search_fill()",
    "CREATE FUNCTION gateway_search_copy() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN UPDATE dealer_link SET search_gateway_id = NEW.gateway_id, "
    "search_site_name = NEW.site_name, "
    "search_email = (SELECT email FROM account WHERE id = NEW.owner_id) "
    "WHERE gateway_id = NEW.id; RETURN NULL; END $$",
    "CREATE TRIGGER gateway_search_copy AFTER UPDATE OF gateway_id, site_name, owner_id "
    f"ON gateway FOR EACH ROW WHEN ({_GATEWAY_CHANGED}) EXECUTE FUNCTION gateway_search_copy()",
    "CREATE FUNCTION account_search_copy() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN UPDATE dealer_link l SET search_email = NEW.email FROM gateway g "
    "WHERE g.owner_id = NEW.id AND l.gateway_id = g.id; RETURN NULL; END $$",
    "CREATE TRIGGER account_search_copy AFTER UPDATE OF email ON account FOR EACH ROW "
    "WHEN (OLD.email IS DISTINCT FROM NEW.email) EXECUTE FUNCTION account_search_copy()",
)
# dealer.link_count: statement-level triggers on PostgreSQL (a bulk insert of a big
# dealer's links updates the dealer row once, not once per link), row-level on SQLite.
POSTGRES_COUNT = (
    "CREATE FUNCTION dealer_link_count_added() RETURNS trigger LANGUAGE plpgsql AS $$ "
    # the dealers' rows locked in id order first: two statements touching the same
    # dealers (gateways linked to several) wait for each other instead of deadlocking
    "BEGIN PERFORM 1 FROM dealer WHERE id IN (SELECT dealer_id FROM added) "
    "ORDER BY id FOR UPDATE; "
    "UPDATE dealer d SET link_count = d.link_count + n.links FROM "
    "(SELECT dealer_id, count(*) AS links FROM added GROUP BY dealer_id) n "
    "WHERE d.id = n.dealer_id; RETURN NULL; END $$",
    "CREATE TRIGGER dealer_link_count_added AFTER INSERT ON dealer_link "
    "REFERENCING NEW TABLE AS added FOR EACH STATEMENT "
    "EXECUTE FUNCTION dealer_link_count_added()",
    "CREATE FUNCTION dealer_link_count_removed() RETURNS trigger LANGUAGE plpgsql AS $$ "
    # the dealers' rows locked in id order first: two statements touching the same
    # dealers (gateways linked to several) wait for each other instead of deadlocking
    "BEGIN PERFORM 1 FROM dealer WHERE id IN (SELECT dealer_id FROM removed) "
    "ORDER BY id FOR UPDATE; "
    "UPDATE dealer d SET link_count = d.link_count - n.links FROM "
    "(SELECT dealer_id, count(*) AS links FROM removed GROUP BY dealer_id) n "
    "WHERE d.id = n.dealer_id; RETURN NULL; END $$",
    "CREATE TRIGGER dealer_link_count_removed AFTER DELETE ON dealer_link "
    "REFERENCING OLD TABLE AS removed FOR EACH STATEMENT "
    "EXECUTE FUNCTION dealer_link_count_removed()",
    "CREATE FUNCTION dealer_link_count_moved() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN UPDATE dealer SET link_count = link_count - 1 WHERE id = OLD.dealer_id; "
    "UPDATE dealer SET link_count = link_count + 1 WHERE id = NEW.dealer_id; "
    "RETURN NULL; END $$",
    "CREATE TRIGGER dealer_link_count_moved AFTER UPDATE OF dealer_id ON dealer_link "
    "FOR EACH ROW WHEN (OLD.dealer_id IS DISTINCT FROM NEW.dealer_id) "
    "EXECUTE FUNCTION dealer_link_count_moved()",
)
SQLITE_COUNT = (
    "CREATE TRIGGER dealer_link_count_added AFTER INSERT ON dealer_link BEGIN "
    "UPDATE dealer SET link_count = link_count + 1 WHERE id = NEW.dealer_id; END",
    "CREATE TRIGGER dealer_link_count_removed AFTER DELETE ON dealer_link BEGIN "
    "UPDATE dealer SET link_count = link_count - 1 WHERE id = OLD.dealer_id; END",
    "CREATE TRIGGER dealer_link_count_moved AFTER UPDATE OF dealer_id ON dealer_link "
    "WHEN OLD.dealer_id IS NOT NEW.dealer_id BEGIN "
    "UPDATE dealer SET link_count = link_count - 1 WHERE id = OLD.dealer_id; "
    "UPDATE dealer SET link_count = link_count + 1 WHERE id = NEW.dealer_id; END",
)
COUNT_BACKFILL = ("UPDATE dealer SET link_count = "
                  "(SELECT count(*) FROM dealer_link WHERE dealer_link.dealer_id = dealer.id)")
POSTGRES_DROP = (
    "DROP TRIGGER IF EXISTS dealer_link_count_moved ON dealer_link",
    "DROP FUNCTION IF EXISTS dealer_link_count_moved()",
    "DROP TRIGGER IF EXISTS dealer_link_count_removed ON dealer_link",
    "DROP FUNCTION IF EXISTS dealer_link_count_removed()",
    "DROP TRIGGER IF EXISTS dealer_link_count_added ON dealer_link",
    "DROP FUNCTION IF EXISTS dealer_link_count_added()",
    "DROP TRIGGER IF EXISTS account_search_copy ON account",
    "DROP FUNCTION IF EXISTS account_search_copy()",
    "DROP TRIGGER IF EXISTS gateway_search_copy ON gateway",
    "DROP FUNCTION IF EXISTS gateway_search_copy()",
    "DROP TRIGGER IF EXISTS dealer_link_search_fill ON dealer_link",
    "DROP FUNCTION IF EXISTS dealer_link_search_fill()",
)

_SQLITE_REFILL = ("UPDATE dealer_link SET (search_gateway_id, search_site_name, search_email) "
                  "= (" + _COPIED.format(link="NEW") + ") WHERE id = NEW.id; ")
_SQLITE_INDEX_NEW = (
    "INSERT INTO dealer_link_fts (rowid, dealer, email, gateway_id, site_name) VALUES "
    "(NEW.id, '<' || NEW.dealer_id || '>', NEW.search_email, NEW.search_gateway_id, "
    "NEW.search_site_name); ")
SQLITE = (
    "CREATE VIRTUAL TABLE dealer_link_fts USING fts5(dealer, email, gateway_id, site_name, "
    "tokenize='trigram')",
    # a new link: its copies (the update below indexes them)
    f"CREATE TRIGGER dealer_link_search_fill AFTER INSERT ON dealer_link BEGIN "
    f"{_SQLITE_REFILL}END",
    f"CREATE TRIGGER dealer_link_search_refill AFTER UPDATE OF gateway_id ON dealer_link "
    f"BEGIN {_SQLITE_REFILL}END",
    "CREATE TRIGGER dealer_link_search_index AFTER UPDATE OF dealer_id, search_email, "
    "search_gateway_id, search_site_name ON dealer_link BEGIN "
    "DELETE FROM dealer_link_fts WHERE rowid = OLD.id; " + _SQLITE_INDEX_NEW + "END",
    "CREATE TRIGGER dealer_link_search_unindex AFTER DELETE ON dealer_link BEGIN "
    "DELETE FROM dealer_link_fts WHERE rowid = OLD.id; END",
    "CREATE TRIGGER gateway_search_copy AFTER UPDATE OF gateway_id, site_name, owner_id "
    f"ON gateway WHEN {_GATEWAY_CHANGED.replace('IS DISTINCT FROM', 'IS NOT')} BEGIN "
    "UPDATE dealer_link SET search_gateway_id = NEW.gateway_id, "
    "search_site_name = NEW.site_name, "
    "search_email = (SELECT email FROM account WHERE id = NEW.owner_id) "
    "WHERE gateway_id = NEW.id; END",
    "CREATE TRIGGER account_search_copy AFTER UPDATE OF email ON account "
    "WHEN OLD.email IS NOT NEW.email BEGIN "
    "UPDATE dealer_link SET search_email = NEW.email "
    "WHERE gateway_id IN (SELECT id FROM gateway WHERE owner_id = NEW.id); END",
)
SQLITE_TRIGGERS = ("dealer_link_search_fill", "dealer_link_search_refill",
                   "dealer_link_search_index", "dealer_link_search_unindex",
                   "gateway_search_copy", "account_search_copy", "dealer_link_count_added",
                   "dealer_link_count_removed", "dealer_link_count_moved")

# The existing links' copies (on SQLite the update also fills dealer_link_fts).
BACKFILL = ("UPDATE dealer_link SET (search_gateway_id, search_site_name, search_email) = ("
            + _COPIED.format(link="dealer_link") + ")")


def upgrade():
    for name, length in COPIES:
        op.add_column("dealer_link", sa.Column(name, sa.String(length=length), nullable=True))
    op.add_column("dealer", sa.Column("link_count", sa.Integer(), server_default="0",
                                      nullable=False))
    dialect = op.get_bind().dialect.name
    for statement in (POSTGRES + POSTGRES_COUNT if dialect == "postgresql"
                      else SQLITE + SQLITE_COUNT):
        op.execute(statement)
    op.execute(BACKFILL)
    op.execute(COUNT_BACKFILL)
    if dialect == "postgresql":
        op.create_index("ix_dealer_link_search_trgm", "dealer_link",
                        ["dealer_id", "search_email", "search_gateway_id", "search_site_name"],
                        postgresql_using="gin",
                        postgresql_ops={name: "gin_trgm_ops" for name, _length in COPIES})


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_dealer_link_search_trgm", table_name="dealer_link")
        for statement in POSTGRES_DROP:
            op.execute(statement)
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS dealer_link_fts")
    with op.batch_alter_table("dealer_link") as batch_op:
        for name, _length in reversed(COPIES):
            batch_op.drop_column(name)
    with op.batch_alter_table("dealer") as batch_op:
        batch_op.drop_column("link_count")
