"""Materialised segment membership, kept current by jobs: on save, for the contacts of each new
batch of identified page views, and periodically (time windows move). Joining and leaving are
recorded with their time; contacts who joined are announced (app.signals.contacts_joined_segment)."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import delete, func, select, update

from app.extensions import db
from app.models import Segment, SegmentMembershipChange, segment_members
from app.models.types import utcnow
from app.queues import enqueue, enqueue_after_commit
from app.segments.compiler import members_query
from app.signals import IdentifiedPageView, contacts_joined_segment, contacts_left_segment


def has_rule(tree: dict, kinds: tuple[str, ...]) -> bool:
    return any(rule["type"] in kinds for group in tree["groups"] for rule in group["rules"])


def has_visit_rule(tree: dict) -> bool:
    return has_rule(tree, ("visit",))


def evaluate(segment: Segment, contact_ids: list[int] | None = None,
             now: datetime | None = None) -> tuple[int, int]:
    """Bring the stored members in line with the rules (for some contacts, or all); (joined, left)."""
    now = now or utcnow()
    matching = members_query(segment.account_id, segment.rules, now, contact_ids).subquery()
    current = select(segment_members.c.contact_id).where(segment_members.c.segment_id == segment.id)
    if contact_ids is not None:
        current = current.where(segment_members.c.contact_id.in_(contact_ids))
    joined = list(db.session.scalars(select(matching.c.id).where(matching.c.id.not_in(current))))
    left = list(db.session.scalars(current.where(segment_members.c.contact_id.not_in(select(matching.c.id)))))
    if joined:
        db.session.execute(segment_members.insert(),
                           [{"segment_id": segment.id, "contact_id": cid, "joined_at": now}
                            for cid in joined])
    if left:
        db.session.execute(delete(segment_members).where(segment_members.c.segment_id == segment.id,
                                                         segment_members.c.contact_id.in_(left)))
    changes = [{"account_id": segment.account_id, "segment_id": segment.id, "contact_id": cid,
                "change": "joined", "changed_at": now} for cid in joined]
    changes += [{"account_id": segment.account_id, "segment_id": segment.id, "contact_id": cid,
                 "change": "left", "changed_at": now} for cid in left]
    if changes:
        db.session.execute(SegmentMembershipChange.__table__.insert(), changes)
    count = db.session.scalar(select(func.count()).select_from(segment_members)
                              .where(segment_members.c.segment_id == segment.id))
    db.session.execute(update(Segment).where(Segment.id == segment.id)
                       .values(member_count=count, evaluated_at=now))
    db.session.commit()
    if joined:
        contacts_joined_segment.send(segment.account_id, segment_id=segment.id, contact_ids=joined)
    if left:
        contacts_left_segment.send(segment.account_id, segment_id=segment.id, contact_ids=left)
    return len(joined), len(left)


def evaluate_by_id(segment_id: int, contact_ids: list[int] | None = None) -> tuple[int, int] | None:
    segment = db.session.get(Segment, segment_id)
    return evaluate(segment, contact_ids) if segment else None


def evaluate_all(now: datetime | None = None) -> int:
    """Every segment of every account (the periodic job); the number evaluated."""
    ids = list(db.session.scalars(select(Segment.id).order_by(Segment.id)))
    for segment_id in ids:
        segment = db.session.get(Segment, segment_id)
        if segment is not None:
            evaluate(segment, now=now)
    return len(ids)


# Rules a contact's own details decide: segments with them are updated when those change.
CONTACT_RULES = ("field", "subscription")


def update_for_contacts(account_id: int, contact_ids: list[int], kinds: tuple[str, ...] = ("visit",)) -> int:
    """Re-evaluate, for these contacts only, the account's segments with rules of these kinds
    (website visits, or CONTACT_RULES)."""
    segments = [segment for segment in
                db.session.scalars(select(Segment).where(Segment.account_id == account_id))
                if has_rule(segment.rules, tuple(kinds))]
    for segment in segments:
        evaluate(segment, contact_ids)
    return len(segments)


def queue_incremental_updates(sender, views: list[IdentifiedPageView]) -> None:
    """New identified page views (app.signals.page_views_stored): one job per account updates its
    segments for those contacts."""
    queue_updates_for_contacts(sender, [(view.account_id, view.contact_id) for view in views])


def queue_event_updates(sender, events) -> None:
    """New identified custom events (app.signals.custom_events_stored): per account, a job updates
    its segments with event rules for those contacts."""
    by_account: dict[int, set[int]] = defaultdict(set)
    for event in events:
        by_account[event.account_id].add(event.contact_id)
    with_rules = {segment.account_id for segment in db.session.scalars(
        select(Segment).where(Segment.account_id.in_(by_account))) if has_rule(segment.rules, ("event",))}
    for account_id in with_rules:
        enqueue("worker.jobs.segments.update_for_contacts", account_id, sorted(by_account[account_id]),
                ["event"])


def queue_updates_for_contacts(sender, contacts: list[tuple[int, int]]) -> None:
    """Contacts with page views new to them, (account id, contact id) (earlier views attached,
    app.signals.earlier_views_attached, or new ones): one job per account updates its segments."""
    by_account: dict[int, set[int]] = defaultdict(set)
    for account_id, contact_id in contacts:
        by_account[account_id].add(contact_id)
    with_segments = set(db.session.scalars(
        select(Segment.account_id).where(Segment.account_id.in_(by_account)).distinct()))
    for account_id, contact_ids in by_account.items():
        if account_id in with_segments:  # no segments, nothing to keep current
            enqueue("worker.jobs.segments.update_for_contacts", account_id, sorted(contact_ids))


def queue_field_updates(sender, contact_ids: list[int]) -> None:
    """Contacts whose details or fields changed (app.signals.contact_fields_changed): once that
    commits, a job updates, for them, the account's segments that compare those."""
    if db.session.scalar(select(Segment.id).where(Segment.account_id == sender).limit(1)) is not None:
        enqueue_after_commit(db.session, "worker.jobs.segments.update_for_contacts", sender,
                             sorted(contact_ids), list(CONTACT_RULES))
