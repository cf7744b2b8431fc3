"""Segments as the marketer handles them: create, save, duplicate, rename, delete, preview. Rule
trees come in as plain data (the builder's form is read in app/web/segments/forms.py)."""
from __future__ import annotations

import copy

from sqlalchemy import func, select

from app.contacts import fields
from app.extensions import db
from app.models import Automation, Campaign, Contact, ContactList, Segment, Tag, campaign_segments
from app.models.messaging import CampaignStatus
from app.models.types import utcnow
from app.queues import enqueue_after_commit
from app.segments.compiler import members_query
from app.segments.rules import RuleError, summary, validate

PREVIEW_SIZE = 50


class SegmentError(ValueError):
    def __init__(self, message: str, field: str = "name", where: tuple[int, int] | None = None):
        super().__init__(message)
        self.field = field
        self.where = where


def get_segment(account_id: int, segment_id: int) -> Segment | None:
    return db.session.scalar(select(Segment).where(Segment.id == segment_id,
                                                   Segment.account_id == account_id))


def list_segments(account_id: int) -> list[Segment]:
    return list(db.session.scalars(select(Segment).where(Segment.account_id == account_id)
                                   .order_by(Segment.name)))


def choices(account_id: int) -> dict[str, dict]:
    """Names of the account's lists, tags and campaigns, by id, and of its contact fields, by
    key: for rule inputs and summaries."""
    def names(model, order):
        return dict(db.session.execute(select(model.id, model.name).where(model.account_id == account_id)
                                       .order_by(order)).all())
    return {"list": names(ContactList, ContactList.name), "tag": names(Tag, Tag.name),
            "campaign": names(Campaign, Campaign.id.desc()),
            # Summaries read "first name contains Ada", "Plan is any of Pro".
            "field": {field.key: field.name.lower() if field.built_in else field.name
                      for field in fields.account_fields(account_id)}}


def checked_tree(account_id: int, tree) -> dict:
    names = choices(account_id)
    ids = {kind: set(ids) for kind, ids in names.items()}
    ids["fields"] = fields.fields_by_key(account_id)
    return validate(tree, ids)


def _check_name(account_id: int, name: str, exclude_id: int | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise SegmentError("Give the segment a name.")
    if len(name) > 200:
        raise SegmentError("Keep the name under 200 characters.")
    clash = select(Segment.id).where(Segment.account_id == account_id,
                                     func.lower(Segment.name) == name.lower())
    if exclude_id:
        clash = clash.where(Segment.id != exclude_id)
    if db.session.scalar(clash):
        raise SegmentError("Another segment has this name.")
    return name


def save(account_id: int, segment: Segment | None, name: str, tree) -> Segment:
    """Validate and save; membership is evaluated by a job once committed."""
    name = _check_name(account_id, name, segment.id if segment else None)
    try:
        clean = checked_tree(account_id, tree)
    except RuleError as error:
        raise SegmentError(str(error), "rules", error.where) from None
    if segment is None:
        segment = Segment(account_id=account_id, name=name, rules=clean)
        db.session.add(segment)
    else:
        segment.name, segment.rules, segment.updated_at = name, clean, utcnow()
    db.session.flush()
    enqueue_after_commit(db.session, "worker.jobs.segments.evaluate_segment", segment.id)
    return segment


def duplicate(segment: Segment) -> Segment:
    base = f"{segment.name} (copy)"
    name, n = base, 2
    while db.session.scalar(select(Segment.id).where(Segment.account_id == segment.account_id,
                                                     Segment.name == name)):
        name, n = f"{base} {n}", n + 1
    return save(segment.account_id, None, name, copy.deepcopy(segment.rules))


def rename(segment: Segment, name: str) -> None:
    segment.name = _check_name(segment.account_id, name, segment.id)


def where_used(segment: Segment) -> list[str]:
    """What stops deleting the segment: scheduled or sending campaigns, and automations, that use it."""
    rows = db.session.scalars(select(Campaign.name)
                              .join(campaign_segments, campaign_segments.c.campaign_id == Campaign.id)
                              .where(campaign_segments.c.segment_id == segment.id,
                                     Campaign.status.in_((CampaignStatus.SCHEDULED, CampaignStatus.SENDING))))
    used = [f"campaign “{name}”" for name in rows]
    automations = db.session.scalars(select(Automation).where(Automation.account_id == segment.account_id))
    for automation in automations:
        if _mentions_segment(automation, segment.id):
            used.append(f"automation “{automation.name}”")
    return used


def _mentions_segment(automation: Automation, segment_id: int) -> bool:
    from app.automations.schema import rules_of

    return any(rule.get("segment_id") == segment_id for rule in rules_of(automation))


def delete(segment: Segment) -> None:
    used = where_used(segment)
    if used:
        raise SegmentError("This segment is in use by " + ", ".join(used) + ": it cannot be deleted.")
    db.session.delete(segment)


def preview(account_id: int, tree) -> dict:
    """Count, the first contacts and the summary of a rule tree as it is being edited."""
    clean = checked_tree(account_id, tree)
    query = members_query(account_id, clean)
    count = db.session.scalar(select(func.count()).select_from(query.subquery()))
    first = list(db.session.scalars(select(Contact).where(Contact.id.in_(query)).order_by(Contact.email)
                                    .limit(PREVIEW_SIZE)))
    return {"count": count, "contacts": first, "summary": summary(clean, choices(account_id))}
