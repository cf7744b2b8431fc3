"""Monthly partitions of `page_views` on PostgreSQL, for when the table grows large.

`flask partition-page-views` converts the table once (docs/scaling.md); afterwards the worker's
periodic job keeps the coming months' partitions created. Nothing changes for the code that reads
or writes page views: the parent table keeps its name, columns, indexes and foreign keys. Only its
unique key becomes (event_id, received_at), since a partitioned table's unique keys must contain
the partition key; storage stays idempotent because `received_at` is fixed when the beacon is
accepted and travels with the event, so a redelivered event repeats both.
"""
from __future__ import annotations

import logging
from datetime import date, datetime, timezone

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import AddConstraint, CreateIndex

from app.extensions import db
from app.models import PageView

MONTHS_AHEAD = 2
log = logging.getLogger(__name__)


class PartitionError(Exception):
    pass


def _postgresql() -> bool:
    return db.engine.dialect.name == "postgresql"


def is_partitioned() -> bool:
    if not _postgresql():
        return False
    return bool(db.session.scalar(text(
        "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
        "WHERE c.relname = 'page_views' AND pg_table_is_visible(c.oid))")))


def _month_start(day: date, months_later: int = 0) -> date:
    index = day.year * 12 + day.month - 1 + months_later
    return date(index // 12, index % 12 + 1, 1)


def _create_month(table: str, month: date) -> bool:
    """Create the partition of `table` for the month starting on `month`; False if it exists."""
    name = f"page_views_{month:%Y_%m}"
    exists = db.session.scalar(text("SELECT to_regclass(:name) IS NOT NULL"), {"name": name})
    if exists:
        return False
    db.session.execute(text(
        f"CREATE TABLE {name} PARTITION OF {table} FOR VALUES FROM ('{month.isoformat()}') "
        f"TO ('{_month_start(month, 1).isoformat()}')"))
    return True


def convert(today: date | None = None) -> int:
    """Turn page_views into a table partitioned by month of received_at, with its rows, in one
    transaction (it holds an exclusive lock on the table meanwhile). Returns the partitions made."""
    if not _postgresql():
        raise PartitionError("Partitioning page views needs PostgreSQL; this database is "
                             f"{db.engine.dialect.name}.")
    if is_partitioned():
        raise PartitionError("page_views is partitioned already.")
    today = today or datetime.now(timezone.utc).date()
    session = db.session
    session.execute(text("LOCK TABLE page_views IN ACCESS EXCLUSIVE MODE"))
    oldest = session.scalar(text("SELECT min(received_at) FROM page_views"))
    session.execute(text(
        "CREATE TABLE page_views_partitioned (LIKE page_views INCLUDING DEFAULTS) "
        "PARTITION BY RANGE (received_at)"))
    month = _month_start(oldest.date() if oldest else today)
    made = 0
    while month <= _month_start(today, MONTHS_AHEAD):
        made += _create_month("page_views_partitioned", month)
        month = _month_start(month, 1)
    # Rows outside every month (a clock far off) still have a place.
    session.execute(text("CREATE TABLE page_views_default PARTITION OF page_views_partitioned DEFAULT"))
    session.execute(text("INSERT INTO page_views_partitioned SELECT * FROM page_views"))
    session.execute(text("ALTER SEQUENCE page_views_id_seq OWNED BY NONE"))
    session.execute(text("DROP TABLE page_views"))
    session.execute(text("ALTER TABLE page_views_partitioned RENAME TO page_views"))
    session.execute(text("ALTER SEQUENCE page_views_id_seq OWNED BY page_views.id"))
    session.execute(text("ALTER TABLE page_views ADD CONSTRAINT pk_page_views PRIMARY KEY (id, received_at)"))
    session.execute(text("ALTER TABLE page_views ADD CONSTRAINT uq_page_views_event_id "
                         "UNIQUE (event_id, received_at)"))
    table = PageView.__table__
    for constraint in table.foreign_key_constraints:
        session.execute(AddConstraint(constraint))
    for index in table.indexes:
        session.execute(CreateIndex(index))
    session.commit()
    return made


def ensure_coming_months(today: date | None = None) -> int:
    """Create this month's and the next MONTHS_AHEAD months' partitions if page_views is
    partitioned (the periodic job); the number created."""
    if not is_partitioned():
        return 0
    today = today or datetime.now(timezone.utc).date()
    made = 0
    for ahead in range(MONTHS_AHEAD + 1):
        try:
            made += _create_month("page_views", _month_start(today, ahead))
            db.session.commit()
        except DBAPIError:  # rows of that month already sit in the default partition
            db.session.rollback()
            log.exception("could not create the page_views partition for %s", _month_start(today, ahead))
    return made
