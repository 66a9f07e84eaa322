"""Raw readings are kept for READINGS_RETENTION_DAYS (400 by default); the daily and
monthly energy (the rollups) are kept for good, so the pages still answer for older
periods. `flask --app app gateways prune` removes what is older.

- The API refuses a reading older than the retention (telemetry.max_age): one accepted
  and then pruned could come again and be counted twice in the rollups, since its
  duplicate would no longer be stored.
- PostgreSQL: gateway_reading is partitioned by month (RANGE on ts, a partition per UTC
  month, `gateway_reading_pYYYYMM`, migration 0013). Partitions for the coming
  MONTHS_AHEAD months are created ahead by a periodic job (and by prune); a DEFAULT
  partition catches a reading whose month has none yet, so that a reading never fails
  for want of a partition, and its rows move to their month when that one is created.
  Prune drops the partitions wholly before the cutoff (a short lock of the parent
  each) and deletes the rest (the month of the cutoff, the DEFAULT partition) in batches.
- SQLite: batched deletes only.

Every batch is its own short transaction, and the loop is bounded
(READINGS_PRUNE_MAX_BATCHES of READINGS_PRUNE_BATCH rows): what is left is pruned by the
next run, which the summary says."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import delete, exists, select, text, tuple_

from models import db, utcnow
from models.telemetry import Reading

MONTHS_AHEAD = 2
PREFIX = "gateway_reading_p"
DEFAULT_PARTITION = "gateway_reading_default"


def retention() -> timedelta:
    return timedelta(days=current_app.config["READINGS_RETENTION_DAYS"])


def cutoff(now: datetime | None = None) -> datetime:
    """Readings before this instant are pruned (and refused by the API)."""
    return (now or utcnow()) - retention()


# -- partitions (PostgreSQL) --------------------------------------------------------------
def _month(value: datetime | date) -> date:
    if isinstance(value, datetime):
        value = value.astimezone(timezone.utc).date()
    return value.replace(day=1)


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _start(month: date) -> datetime:
    return datetime(month.year, month.month, 1, tzinfo=timezone.utc)


def partition_name(month: date) -> str:
    return f"{PREFIX}{month:%Y%m}"


def is_partitioned() -> bool:
    if db.session.get_bind().dialect.name != "postgresql":
        return False
    return bool(db.session.scalar(text(
        "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table p JOIN pg_class c "
        "ON c.oid = p.partrelid WHERE c.relname = :name "
        "AND c.relnamespace = current_schema()::regnamespace)"),
        {"name": Reading.__tablename__}))


def partitions() -> dict[date, str]:
    """The monthly partitions that exist: month → table name (not the DEFAULT one)."""
    names = db.session.scalars(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = :name "
        "AND p.relnamespace = current_schema()::regnamespace"),
        {"name": Reading.__tablename__})
    found = {}
    for name in names:
        suffix = name[len(PREFIX):]
        if name.startswith(PREFIX) and len(suffix) == 6 and suffix.isdigit():
            found[date(int(suffix[:4]), int(suffix[4:]), 1)] = name
    return found


def ensure_partitions(now: datetime | None = None) -> list[str]:
    """Create the partitions of this month and the MONTHS_AHEAD next ones that are
    missing (rows the DEFAULT partition holds for such a month move into it); commits.
    The names created. A periodic job: a catalogue read when there is nothing to do."""
    if not is_partitioned():
        return []
    month = _month(now or utcnow())
    wanted = [month]
    for _ in range(MONTHS_AHEAD):
        wanted.append(_next_month(wanted[-1]))
    existing = partitions()
    created = []
    for month in wanted:
        if month not in existing:
            _create_partition(month)
            db.session.commit()
            created.append(partition_name(month))
    db.session.commit()
    return created


def _create_partition(month: date) -> None:
    """A partition for `month`. Attaching a range the DEFAULT partition has rows of would
    fail, so those rows move first, in the same transaction."""
    name, parent = partition_name(month), Reading.__tablename__
    bounds = {"start": _start(month), "end": _start(_next_month(month))}
    db.session.execute(text(f"LOCK TABLE {parent} IN SHARE ROW EXCLUSIVE MODE"))
    db.session.execute(text(f"CREATE TABLE {name} (LIKE {parent} INCLUDING DEFAULTS)"))
    db.session.execute(text(
        f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} WHERE ts >= :start AND ts < :end "
        f"RETURNING *) INSERT INTO {name} SELECT * FROM moved"), bounds)
    start, end = (bounds["start"].isoformat(), bounds["end"].isoformat())
    db.session.execute(text(f"ALTER TABLE {parent} ATTACH PARTITION {name} "
                            f"FOR VALUES FROM ('{start}') TO ('{end}')"))


# -- pruning ------------------------------------------------------------------------------
@dataclass
class PruneResult:
    cutoff: datetime
    dropped: list[str] = field(default_factory=list)  # whole monthly partitions
    deleted: int = 0                                   # rows deleted in batches
    batches: int = 0
    finished: bool = True  # False: the batch limit was reached, more is left
    created: list[str] = field(default_factory=list)


def prune(now: datetime | None = None, batch_size: int | None = None,
          max_batches: int | None = None) -> PruneResult:
    """Remove the raw readings older than the retention; the rollups stay. Idempotent:
    a second run finds nothing to do."""
    config = current_app.config
    batch_size = batch_size or config["READINGS_PRUNE_BATCH"]
    max_batches = max_batches or config["READINGS_PRUNE_MAX_BATCHES"]
    now = now or utcnow()
    result = PruneResult(cutoff=cutoff(now))
    if is_partitioned():
        result.created = ensure_partitions(now)
        for month, name in sorted(partitions().items()):
            if _start(_next_month(month)) <= result.cutoff:
                db.session.execute(text(f"DROP TABLE {name}"))
                db.session.commit()
                result.dropped.append(name)
    _delete_in_batches(result, batch_size, max_batches)
    return result


def _delete_in_batches(result: PruneResult, batch_size: int, max_batches: int) -> None:
    """Delete what is left before the cutoff, `batch_size` rows per transaction, at most
    `max_batches` of them."""
    table = Reading.__table__
    old = table.c.ts < result.cutoff
    batch = select(table.c.gateway_id, table.c.ts).where(old).limit(batch_size)
    statement = delete(table).where(tuple_(table.c.gateway_id, table.c.ts).in_(batch))
    while result.batches < max_batches:
        deleted = db.session.execute(statement).rowcount
        db.session.commit()
        if deleted:
            result.batches += 1
            result.deleted += deleted
        if deleted < batch_size:
            return
    result.finished = not db.session.scalar(select(exists().where(old)))
    db.session.commit()


def periodic_partitions() -> None:
    """The periodic job: partitions for the coming months (nothing on SQLite)."""
    ensure_partitions()
