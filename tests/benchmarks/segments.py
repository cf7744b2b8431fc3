"""segments: 100,000 contacts and 1,000,000 page views over 90 days (times SEGMENTS_SCALE); the
segment "viewed /pricing at least 3 times in the last 30 days AND on list X" evaluated in the
database, against one indexed COUNT(*) of the page views in the same window (same database, same
run), and the cost of keeping membership current per stored event.

Prints segment_vs_count_ratio (target ≤ 5 on SQLite), segment_members, segment_seconds,
count_seconds and segment_incremental_us_per_event; with SEGMENTS_POSTGRES_URL set (a database it
may empty), the same again on PostgreSQL, as *_postgresql.

SEGMENTS_SCALE (default 1) multiplies the contacts and page views: SEGMENTS_SCALE=4 is 400,000
contacts and 4,000,000 page views. A list (SEGMENTS_SCALE=1,4) measures each size in turn, in a
fresh database, and suffixes every figure with its size (segment_vs_count_ratio_x1,
segment_vs_count_ratio_postgresql_x4…); a single size keeps the plain names."""
from __future__ import annotations

import os
import random
import statistics
import time
from datetime import timedelta

from flask_migrate import upgrade
from sqlalchemy import MetaData, func, insert, select, text

from app import create_app
from app.extensions import db
from app.models import ContactList, PageView, Segment, list_members
from app.models.types import utcnow
from app.segments import membership
from app.segments.compiler import members_query
from app.segments.service import checked_tree
from app.tracking.setup import get_site
from app.tracking.urls import match_forms
from tests.benchmarks.harness import BenchmarkFailed, create_list, create_owner, log

# At SEGMENTS_SCALE=1; a scale multiplies both.
CONTACTS = 100_000
PAGE_VIEWS = 1_000_000
DAYS = 90
RUNS = 5
PATHS = ["/", "/pricing", "/blog", "/blog/post-1", "/blog/post-2", "/features", "/about", "/contact",
         "/pricing?plan=pro", "/docs", "/docs/start", "/login", "/signup", "/careers", "/press"]
RULES = {"join": "and", "groups": [{"match": "all", "rules": [
    {"type": "visit", "op": "contains", "value": "/pricing", "count_op": "at_least", "count": 3,
     "window": "last_days", "days": 30},
    {"type": "list", "list_id": None}]}]}


def _median_seconds(action) -> float:
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def scales() -> list[int]:
    """The sizes SEGMENTS_SCALE asks for, in its order: "1" (the default), "4", "1,4"…"""
    setting = os.environ.get("SEGMENTS_SCALE", "1")
    try:
        sizes = [int(part) for part in setting.split(",")]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise BenchmarkFailed(f"SEGMENTS_SCALE={setting!r}: give whole numbers ≥ 1, such as 1, 4 or 1,4")
    return list(dict.fromkeys(sizes))


def _load_page_views(account_id: int, site_id: int, first_contact: int, now, contacts: int,
                     page_views: int) -> None:
    """A million rows a scale, through the driver's executemany (SQLite) or COPY (PostgreSQL): fast
    enough to build, realistic to query."""
    rng = random.Random(7)
    forms = {path: match_forms("https://www.shop.example" + path) for path in PATHS}
    weights = [10, 8, 6, 3, 3, 4, 2, 2, 2, 3, 2, 4, 2, 1, 1]
    columns = ("event_id", "account_id", "site_id", "contact_id", "visitor_id", "host", "url", "path",
               "match_url", "match_path", "title", "referrer", "utm_source", "utm_medium", "utm_campaign",
               "utm_term", "utm_content", "device", "received_at")
    def rows():
        for n in range(page_views):
            path = rng.choices(PATHS, weights)[0]
            contact = first_contact + rng.randrange(contacts) if rng.random() < 0.7 else None
            when = now - timedelta(seconds=rng.randrange(DAYS * 86400))
            yield (f"bench-{n}", account_id, site_id, contact, "visitor", "www.shop.example",
                   "https://www.shop.example" + path, path.split("?")[0], forms[path][0], forms[path][1],
                   "", "", "", "", "", "", "", "desktop", when.replace(tzinfo=None).isoformat(sep=" "))

    connection = db.engine.raw_connection()
    try:
        cursor = connection.cursor()
        if db.engine.dialect.name == "postgresql":
            with cursor.copy(f"COPY page_views ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows():
                    copy.write_row(row)
        else:
            sql = f"INSERT INTO page_views ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            cursor.executemany(sql, rows())
        connection.commit()
        cursor.execute("ANALYZE")
        connection.commit()
    finally:
        connection.close()


def run(env) -> dict[str, float]:
    sizes = scales()
    postgres = os.environ.get("SEGMENTS_POSTGRES_URL")
    metrics = {}
    for scale in sizes:
        suffix = f"_x{scale}" if len(sizes) > 1 else ""
        # A database of its own for each size: the first size has the environment's.
        sqlite = env.database_url if scale == sizes[0] else f"sqlite:///{env.directory}/segments-x{scale}.db"
        if scale != sizes[0]:
            _empty(env.app_config(DATABASE_URL=sqlite))
        log(f"segments: {scale}x on SQLite")
        metrics |= {f"{name}{suffix}": value
                    for name, value in measure(env.app_config(DATABASE_URL=sqlite), scale).items()}
        if postgres:
            log(f"segments: {scale}x on PostgreSQL")
            _empty(env.app_config(DATABASE_URL=postgres))
            metrics |= {f"{name}_postgresql{suffix}": value
                        for name, value in measure(env.app_config(DATABASE_URL=postgres), scale).items()}
    return metrics


def _empty(config: dict) -> None:
    """The database of `config`, its tables (if any) dropped and migrated afresh."""
    app = create_app(config)
    with app.app_context():
        existing = MetaData()
        existing.reflect(db.engine)
        existing.drop_all(db.engine)
        upgrade()
        db.engine.dispose()


def measure(config: dict, scale: int = 1) -> dict[str, float]:
    contacts, page_views = CONTACTS * scale, PAGE_VIEWS * scale
    app = create_app(config)
    with app.app_context():
        # One instant for everything compared: the query, and the membership materialised after it.
        now = utcnow()
        user = create_owner()
        account_id, site_id = user.account_id, get_site(user.account_id).id
        started = time.perf_counter()
        everyone = create_list(account_id, contacts)
        first_contact = db.session.scalar(select(func.min(list_members.c.contact_id))
                                          .where(list_members.c.list_id == everyone.id))
        list_x = ContactList(account_id=account_id, name="X")
        db.session.add(list_x)
        db.session.flush()
        db.session.execute(insert(list_members).from_select(
            ["list_id", "contact_id", "added_at"],
            select(text(str(list_x.id)), list_members.c.contact_id, list_members.c.added_at)
            .where(list_members.c.list_id == everyone.id, list_members.c.contact_id % 2 == 0)))
        db.session.commit()
        _load_page_views(account_id, site_id, first_contact, now, contacts, page_views)
        log(f"segments: loaded {contacts:,} contacts and {page_views:,} page views "
            f"in {time.perf_counter() - started:.0f}s")

        rules = RULES | {"groups": [{"match": "all", "rules": [RULES["groups"][0]["rules"][0],
                                                                {"type": "list", "list_id": list_x.id}]}]}
        tree = checked_tree(account_id, rules)
        since = now - timedelta(days=30)
        count_query = select(func.count()).select_from(PageView).where(PageView.account_id == account_id,
                                                                       PageView.received_at >= since)
        segment_query = select(func.count()).select_from(members_query(account_id, tree, now).subquery())
        in_window = db.session.scalar(count_query)
        members = db.session.scalar(segment_query)
        if not 0 < members < contacts or in_window < page_views // 4:
            raise BenchmarkFailed(f"implausible data: {members} members, {in_window} views in the window")
        count_seconds = _median_seconds(lambda: db.session.scalar(count_query))
        segment_seconds = _median_seconds(lambda: db.session.scalar(segment_query))
        log(f"segments: {members:,} members in {segment_seconds:.3f}s, {in_window:,} views in the window "
            f"counted in {count_seconds:.3f}s")

        segment = Segment(account_id=account_id, name="Pricing, list X", rules=tree)
        db.session.add(segment)
        db.session.commit()
        # At the query's `now`: evaluated later, after a long load, the 30-day window would have
        # moved past views near its start.
        membership.evaluate(segment, now=now)
        if segment.member_count != members:
            raise BenchmarkFailed(f"materialised {segment.member_count} members, the query counts {members}")
        rng = random.Random(11)
        batch = [first_contact + rng.randrange(contacts) for _ in range(500)]
        pricing = match_forms("https://www.shop.example/pricing")
        db.session.execute(insert(PageView), [
            {"event_id": f"new-{n}", "account_id": account_id, "site_id": site_id, "contact_id": contact,
             "visitor_id": "v", "host": "www.shop.example", "url": "https://www.shop.example/pricing",
             "path": "/pricing", "match_url": pricing[0], "match_path": pricing[1], "received_at": utcnow()}
            for n, contact in enumerate(batch)])
        db.session.commit()
        started = time.perf_counter()
        membership.update_for_contacts(account_id, sorted(set(batch)))
        incremental = time.perf_counter() - started
        db.session.close()
        db.engine.dispose()  # the next size has a database of its own
    return {
        "segment_members": members,
        "segment_seconds": segment_seconds,
        "count_seconds": count_seconds,
        "segment_vs_count_ratio": segment_seconds / count_seconds,
        "segment_incremental_us_per_event": incremental / len(batch) * 1e6,
    }
