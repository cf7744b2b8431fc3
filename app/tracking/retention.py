"""Anonymous page views and custom events are deleted once older than the account's retention (1 to
30 days)."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select

from app.extensions import db
from app.models import CustomEvent, PageView, RetentionRun, TrackingSite
from app.models.types import utcnow

MAX_RETENTION_DAYS = 30
DELETE_BATCH = 5_000


def delete_expired_anonymous(now: datetime | None = None, batch_size: int = DELETE_BATCH) -> dict[int, int]:
    """Delete, in batches, every anonymous page view older than its account's retention.
    Returns {account id: rows deleted} and records the run for each account."""
    now = now or utcnow()
    deleted: dict[int, int] = {}
    sites = db.session.execute(select(TrackingSite.account_id, TrackingSite.anonymous_retention_days)).all()
    for account_id, days in sites:
        cutoff = now - timedelta(days=min(max(days, 1), MAX_RETENTION_DAYS))
        total = 0
        while True:
            batch = select(PageView.id).where(PageView.account_id == account_id,
                                              PageView.contact_id.is_(None),
                                              PageView.received_at < cutoff).limit(batch_size)
            count = db.session.execute(delete(PageView)
                                       .where(PageView.id.in_(batch.scalar_subquery()))).rowcount
            # (anonymous custom events go with them, by when they were received)
            events = select(CustomEvent.id).where(CustomEvent.account_id == account_id,
                                                  CustomEvent.contact_id.is_(None),
                                                  CustomEvent.received_at < cutoff).limit(batch_size)
            count += db.session.execute(delete(CustomEvent)
                                        .where(CustomEvent.id.in_(events.scalar_subquery()))).rowcount
            db.session.commit()
            total += count
            if count < batch_size:
                break
        run = db.session.scalar(select(RetentionRun).where(RetentionRun.account_id == account_id))
        if run is None:
            run = RetentionRun(account_id=account_id)
            db.session.add(run)
        run.ran_at, run.deleted = now, total
        db.session.commit()
        deleted[account_id] = total
    return deleted


def last_run(account_id: int) -> RetentionRun | None:
    return db.session.scalar(select(RetentionRun).where(RetentionRun.account_id == account_id))
