"""Flask extensions, created unbound and bound to the app in create_app(); per_app(), for the
objects each app makes once (its Redis client, caches, rate limiters); and after_commit(), for
what must happen only once a transaction is in the database (enqueueing jobs, telling web
processes of a change)."""
from collections.abc import Callable
from contextlib import suppress
from typing import TypeVar

from flask import current_app
from flask_htmx import HTMX
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Session

# Named constraints keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
htmx = HTMX()

T = TypeVar("T")


def per_app(name: str, make: Callable[[], T]) -> T:
    """The app's one `name` object, made by make() on first use and kept in app.extensions."""
    extensions = current_app.extensions
    if name not in extensions:
        extensions[name] = make()
    return extensions[name]


_AFTER_COMMIT = "footfall.after_commit"


def database_error() -> SQLAlchemyError | None:
    """Why the database does not answer right now (SELECT 1 fails), or None when it does; the
    session is left with no transaction either way."""
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
        return None
    except SQLAlchemyError as error:
        with suppress(SQLAlchemyError):
            db.session.rollback()
        return error


def after_commit(session, callback: Callable, *args, **kwargs) -> None:
    """Call `callback(*args, **kwargs)` once the session commits; forgotten if the transaction (or
    savepoint) it was asked in rolls back. A callback that fails does not stop the others; the
    first failure is raised once they have all run (a job that could not enqueue its follow-up
    fails, and is retried)."""
    session = session if isinstance(session, Session) else session()  # (db.session is a scoped_session)
    transaction = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_AFTER_COMMIT, []).append((transaction, callback, args, kwargs))


@event.listens_for(Session, "after_commit")
def _run_after_commit(session):
    if session.in_nested_transaction():
        return  # a savepoint released (SQLAlchemy announces it as a commit): nothing is in the database yet
    failure = None
    for _, callback, args, kwargs in session.info.pop(_AFTER_COMMIT, []):
        try:
            callback(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 (the other callbacks still run; the first error is raised)
            failure = failure or error
    if failure is not None:
        raise failure


@event.listens_for(Session, "after_soft_rollback")
def _forget_after_commit(session, previous_transaction):
    """Forget what was asked in the transaction rolled back, or in a savepoint within it."""
    def within(transaction) -> bool:
        while transaction is not None:
            if transaction is previous_transaction:
                return True
            transaction = transaction.parent
        return False

    pending = session.info.get(_AFTER_COMMIT)
    if pending:
        session.info[_AFTER_COMMIT] = [entry for entry in pending if not within(entry[0])]
