"""Automations: a trigger, optional filters, a path of steps; and each contact's run through it."""
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime, utcnow


class AutomationStatus(StrEnum):
    """An automation: DRAFT -> ACTIVE (contacts enter it) <-> PAUSED (nobody enters or moves on)."""

    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"


# An automation whose path may be edited: not while contacts move through it.
EDITABLE = (AutomationStatus.DRAFT, AutomationStatus.PAUSED)


class RunStatus(StrEnum):
    """A contact's run: ACTIVE (moving on) <-> WAITING (a delay) -> COMPLETED | EXITED (an exit rule,
    unsubscribed, removed)."""

    ACTIVE = "active"
    WAITING = "waiting"
    COMPLETED = "completed"
    EXITED = "exited"


# A run still in the automation (the partial index uq_automation_runs_live names the same two).
LIVE = (RunStatus.ACTIVE, RunStatus.WAITING)


class Automation(db.Model):
    """The path and its settings, as JSON documents checked by app/automations/schema.py."""

    __tablename__ = "automations"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default=AutomationStatus.DRAFT)
    trigger: Mapped[dict] = mapped_column(JSON)
    filters: Mapped[list] = mapped_column(JSON, default=list)
    reentry: Mapped[str] = mapped_column(String(12), default="once")  # once | after_days | always
    reentry_days: Mapped[int] = mapped_column(default=30)
    exit_rules: Mapped[list] = mapped_column(JSON, default=list)
    steps: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AutomationRun(db.Model):
    """One contact's way through an automation: where it is, and when it wakes up."""

    __tablename__ = "automation_runs"
    __table_args__ = (
        # Never twice at once in the same automation.
        Index("uq_automation_runs_live", "automation_id", "contact_id", unique=True,
              sqlite_where=text("status IN ('active', 'waiting')"),
              postgresql_where=text("status IN ('active', 'waiting')")),
        Index("ix_automation_runs_due", "status", "wake_at"),
        Index("ix_automation_runs_automation_contact", "automation_id", "contact_id"),
        # A page view starts an automation once, even when its batch is handed over again.
        Index("uq_automation_runs_automation_page_view", "automation_id", "page_view_id", unique=True,
              sqlite_where=text("page_view_id IS NOT NULL"),
              postgresql_where=text("page_view_id IS NOT NULL")),
        # A date trigger starts a contact once a year (occurrence: the year of the date).
        Index("uq_automation_runs_occurrence", "automation_id", "contact_id", "occurrence", unique=True,
              sqlite_where=text("occurrence IS NOT NULL"), postgresql_where=text("occurrence IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    automation_id: Mapped[int] = mapped_column(ForeignKey("automations.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(10), default=RunStatus.ACTIVE)
    step_id: Mapped[str | None] = mapped_column(String(20))
    wake_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    exit_reason: Mapped[str] = mapped_column(String(200), default="")
    # The page view that started the run, for page-view triggers (no foreign key: page_views may
    # be partitioned, and the contact's erasure removes both).
    page_view_id: Mapped[int | None] = mapped_column()
    # For date triggers: which year's date started the run ("2027").
    occurrence: Mapped[str | None] = mapped_column(String(10))
    # Bumped by every change the ORM writes, and checked by it (StaleDataError): a worker moving the
    # run on and a goal met meanwhile by the event consumer cannot both win (engine.advance).
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}


class AutomationStepRun(db.Model):
    """A step executed for a run: unique, so a retried job never executes a step twice."""

    __tablename__ = "automation_step_runs"
    __table_args__ = (UniqueConstraint("run_id", "step_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("automation_runs.id", ondelete="CASCADE"))
    step_id: Mapped[str] = mapped_column(String(20))
    executed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    outcome: Mapped[str] = mapped_column(Text, default="")
    email_id: Mapped[int | None] = mapped_column(ForeignKey("emails.id", ondelete="SET NULL"))
    sms_id: Mapped[int | None] = mapped_column(ForeignKey("sms_messages.id", ondelete="SET NULL"))
