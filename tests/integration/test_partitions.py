"""`flask partition-page-views`: page views partitioned by month on PostgreSQL keep every row,
stay idempotent to store, cascade with their contact, and get next months' partitions; SQLite is
refused with a clear message. Runs on the database the suite runs on."""
from __future__ import annotations

import json
import os
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone

from flask_migrate import upgrade
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from app import create_app
from app.extensions import db
from app.models import PageView
from app.tracking import partitions
from app.tracking.cid import make_cid
from app.tracking.events import store_records
from tests.conftest import base_config, make_contact, make_user


@contextmanager
def scratch_postgresql(database_url: str):
    """A new, empty PostgreSQL database on the suite's server, dropped afterwards."""
    url = make_url(database_url)
    name = f"footfall_partitions_{os.getpid()}"
    server = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        server.dispose()


def partition_names() -> list[str]:
    """The partitions of page_views, by name."""
    return list(db.session.scalars(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'page_views' ORDER BY c.relname")))


def record(site, event_id: str, received: datetime, cid: str = "") -> str:
    return json.dumps({"s": site.id, "a": site.account_id, "u": "https://www.shop.example/pricing", "t": "",
                       "r": "", "v": "visitor-0001", "c": cid, "e": event_id, "ts": None,
                       "rt": int(received.timestamp() * 1000), "ua": "Mozilla/5.0"})


def months_of_views(site, contact) -> list[str]:
    """Identified and anonymous page views in September, October and November 2026."""
    records = []
    for month in (9, 10, 11):
        for day in (1, 15, 28):
            received = datetime(2026, month, day, 12, tzinfo=timezone.utc)
            records.append(record(site, f"known-{month}-{day}", received,
                                  make_cid(site.account_id, contact.id)))
            records.append(record(site, f"anon-{month}-{day}", received))
    return records


def month(day: date, months_later: int) -> date:
    """The first day of the month `months_later` months after `day`'s."""
    index = day.year * 12 + day.month - 1 + months_later
    return date(index // 12, index % 12 + 1, 1)


def test_page_views_partitioned_by_month_keep_working(database_url, redis_url):
    if not database_url.startswith("postgresql"):
        app = create_app(base_config(database_url, redis_url))
        result = app.test_cli_runner().invoke(args=["partition-page-views"])
        assert result.exit_code == 1
        assert "Partitioning page views needs PostgreSQL; this database is sqlite." in result.output
        return

    with scratch_postgresql(database_url) as scratch_url:
        app = create_app(base_config(scratch_url, redis_url))
        with app.app_context():
            upgrade()
            from app.tracking import setup

            owner = make_user()
            site = setup.activate(owner, "https://www.shop.example", terms_accepted=True)
            db.session.commit()
            contact = make_contact(site.account_id, first_name="Ada")
            # The contact existed before the views: back-date it, since the views are back-dated.
            contact.created_at = datetime(2026, 8, 1, tzinfo=timezone.utc)
            db.session.commit()
            assert store_records(months_of_views(site, contact)) == 18
            site, contact_id = db.session.get(type(site), site.id), contact.id
            db.session.expunge(site)  # its ids outlive the session, which must end before the lock
            before = sorted(db.session.execute(select(PageView.id, PageView.event_id, PageView.contact_id))
                            .all())
            db.session.remove()

            result = app.test_cli_runner().invoke(args=["partition-page-views"])
            assert result.exit_code == 0, result.output
            assert partitions.is_partitioned()
            # From the oldest view's month (September 2026) to MONTHS_AHEAD months after this one.
            last = month(date.today(), partitions.MONTHS_AHEAD)
            expected, day = [], date(2026, 9, 1)
            while day <= last:
                expected.append(f"page_views_{day:%Y_%m}")
                day = month(day, 1)
            assert partition_names() == expected + ["page_views_default"]
            assert sorted(db.session.execute(select(PageView.id, PageView.event_id,
                                                    PageView.contact_id)).all()) == before
            in_october = db.session.scalar(text("SELECT count(*) FROM page_views_2026_10"))
            assert in_october == 6

            # New views are stored, a redelivered one is not stored twice, ids keep counting.
            now = datetime.now(timezone.utc)
            fresh = record(site, "fresh-1", now)
            assert store_records([fresh, fresh]) == 1
            assert store_records([fresh]) == 0
            assert db.session.scalar(select(func.max(PageView.id))) == max(row.id for row in before) + 1

            # Erasing the contact still takes their views with them.
            db.session.delete(db.session.get(type(contact), contact_id))
            db.session.commit()
            assert db.session.scalar(select(func.count()).select_from(PageView)
                                     .where(PageView.contact_id.is_not(None))) == 0

            # The periodic job adds the months to come, once: two months on, two more months.
            later = month(date.today(), 2) + timedelta(days=9)
            assert partitions.ensure_coming_months(later) == 2
            assert partitions.ensure_coming_months(later) == 0
            assert f"page_views_{month(later, partitions.MONTHS_AHEAD):%Y_%m}" in partition_names()

            again = app.test_cli_runner().invoke(args=["partition-page-views"])
            assert again.exit_code == 1 and "partitioned already" in again.output
            db.session.remove()
            db.engine.dispose()
