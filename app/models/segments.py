"""Segments: saved rule trees, their materialised members, and who joined or left when."""
from datetime import datetime

from sqlalchemy import JSON, Column, ForeignKey, Index, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime, utcnow

segment_members = Table(
    "segment_members", db.metadata,
    Column("segment_id", ForeignKey("segments.id", ondelete="CASCADE"), primary_key=True),
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True, index=True),
    Column("joined_at", UTCDateTime, nullable=False, default=utcnow),
)

campaign_segments = Table(
    "campaign_segments", db.metadata,
    Column("campaign_id", ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("segment_id", ForeignKey("segments.id", ondelete="CASCADE"), primary_key=True),
)


class Segment(db.Model):
    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # {"join": "and"|"or", "groups": [{"match": "all"|"any", "rules": [...]}]}, see app/segments/rules.py
    rules: Mapped[dict] = mapped_column(JSON)
    member_count: Mapped[int] = mapped_column(default=0)
    evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SegmentMembershipChange(db.Model):
    """A contact joining or leaving a segment, with when: what "joins segment" triggers start on."""

    __tablename__ = "segment_membership_changes"
    __table_args__ = (Index("ix_segment_changes_segment_at", "segment_id", "changed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    change: Mapped[str] = mapped_column(String(10))  # joined | left
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
