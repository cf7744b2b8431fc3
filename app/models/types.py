"""Column types and facts shared by the models."""
from datetime import datetime, timezone

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator

# The largest id our tables hold: their id columns are INTEGER, 32 bits on PostgreSQL.
MAX_ID = 2**31 - 1


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """A UTC timestamp: stored naive (same on SQLite and PostgreSQL), always read back aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


def insert_new(model, rows: list[dict], unique_columns: str | tuple[str, ...] | None, returning=()):
    """INSERT rows, skipping those whose unique column already exists (idempotent batch writes),
    on SQLite and PostgreSQL alike; returns the `returning` columns of the rows inserted.
    unique_columns None skips rows that conflict on any unique key."""
    from sqlalchemy.dialects import postgresql, sqlite

    from app.extensions import db

    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    columns = [unique_columns] if isinstance(unique_columns, str) else list(unique_columns or ())
    # Rows as parameters (not .values(rows)): the statement compiles once and is cached, and
    # SQLAlchemy still sends them as multi-row INSERTs.
    statement = dialect.insert(model).on_conflict_do_nothing(index_elements=columns or None)
    if returning:
        return db.session.execute(statement.returning(*returning, sort_by_parameter_order=True), rows).all()
    db.session.execute(statement, rows)
    return []
