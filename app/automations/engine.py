"""The automation engine. Run state lives in the database: the current step and, while waiting,
the wake-up time. A delay is scheduled with RQ's scheduler and a periodic sweep picks up any due
run, so a lost queue delays a run but never loses it. Each step of a run executes once: an
AutomationStepRun (unique per run and step) is written in the same transaction as the step's
effect (the email or SMS row), so a retried job finds it and moves on."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from app import timezones
from app.automations import actions, schema
from app.contacts import fields
from app.extensions import db
from app.messaging import mail, sms
from app.messaging.rendering import Message, Renderer
from app.public_url import public_url
from app.models import (Account, Automation, AutomationRun, AutomationStepRun, Campaign, Contact, ContactList,
                        LinkClick, Segment, Tag)
from app.models.automations import LIVE, AutomationStatus, RunStatus
from app.models.contacts import Subscription
from app.models.types import insert_new, utcnow
from app.queues import enqueue, enqueue_after_commit
from app.segments.compiler import members_query

MAX_STEPS_PER_ADVANCE = 100
# Times advance() starts again from the run's current state when another process changed it.
STALE_RETRIES = 3
GOAL_MET, GOAL_PASSED = "goal met", "passed: the goal was not met"


def ids_for(account_id: int) -> dict:
    """The account's list, tag, campaign and segment ids, and its contact fields by key: what
    rules may refer to."""
    def ids(model):
        return set(db.session.scalars(select(model.id).where(model.account_id == account_id)))
    return {"list": ids(ContactList), "tag": ids(Tag), "campaign": ids(Campaign), "segment": ids(Segment),
            "fields": fields.fields_by_key(account_id)}


# ---- status ------------------------------------------------------------------------------------
def activate(automation: Automation) -> list[str]:
    problems = schema.activation_problems(automation, ids_for(automation.account_id))
    if not problems:
        automation.status, automation.updated_at = AutomationStatus.ACTIVE, utcnow()
    return problems


def pause(automation: Automation) -> None:
    """Paused: no one enters, and runs already in the path wait where they are until it is active again."""
    if automation.status == AutomationStatus.ACTIVE:
        automation.status, automation.updated_at = AutomationStatus.PAUSED, utcnow()


# ---- entering ----------------------------------------------------------------------------------
def passes_filters(automation: Automation, contact_id: int) -> bool:
    if not automation.filters:
        return True
    tree = {"join": "and", "groups": [{"match": "all", "rules": automation.filters}]}
    return db.session.scalar(members_query(automation.account_id, tree, contact_ids=[contact_id])) is not None


def may_enter(automation: Automation, contact_id: int, now: datetime) -> bool:
    """Re-entry: once ever (the default), again after N days, or every time; never twice at once."""
    runs = select(AutomationRun).where(AutomationRun.automation_id == automation.id,
                                       AutomationRun.contact_id == contact_id)
    if db.session.scalar(select(exists(runs.where(AutomationRun.status.in_(LIVE)).subquery()))):
        return False
    # A date comes round once a year: the run's occurrence (unique) keeps it to one a year.
    if automation.reentry == "always" or (automation.trigger or {}).get("type") == "date":
        return True
    last = db.session.scalar(select(func.max(AutomationRun.entered_at)).where(
        AutomationRun.automation_id == automation.id, AutomationRun.contact_id == contact_id))
    if last is None:
        return True
    return automation.reentry == "after_days" and last <= now - timedelta(days=automation.reentry_days)


def enter(automation: Automation, contact_id: int, now: datetime | None = None, *,
          advance_later: bool = True, page_view_id: int | None = None,
          occurrence: str | None = None) -> AutomationRun | None:
    """Start a run for the contact if the automation is active and its filters and re-entry allow.
    The run moves on in a job once the caller commits, unless the caller hands it to begin() after
    its commit (advance_later=False). A page view (`page_view_id`) starts at most one run of an
    automation, however often it is handed over; so does a date trigger's `occurrence` (its year)."""
    now = now or utcnow()
    if automation.status != AutomationStatus.ACTIVE or not automation.steps:
        return None
    if not may_enter(automation, contact_id, now) or not passes_filters(automation, contact_id):
        return None
    run = AutomationRun(account_id=automation.account_id, automation_id=automation.id, contact_id=contact_id,
                        status=RunStatus.ACTIVE, step_id=automation.steps[0]["id"], entered_at=now,
                        page_view_id=page_view_id, occurrence=occurrence)
    try:
        with db.session.begin_nested():
            db.session.add(run)
            db.session.flush()
    except IntegrityError:  # another worker entered the same contact a moment ago, or this page view did
        return None
    if advance_later:
        enqueue_after_commit(db.session, "worker.jobs.automations.advance_run", run.id)
    return run


def begin(run_ids: list[int]) -> None:
    """The first steps of runs a trigger has just entered (advance_later=False) and committed:
    executed here and now, in the process that heard the trigger (for page views, the event
    consumer, as it stores them), not in a job: the first step is most often "send email", which
    only queues the message (its delivery is a job of its own), and the contact hears from us
    within seconds of the page view rather than behind a queue of campaign deliveries. Each step
    executes once (advance()), so runs handed over again begin nothing twice; a failure propagates
    to the trigger (its batch is tried again)."""
    for run_id in run_ids:
        advance(run_id)


# ---- moving on ---------------------------------------------------------------------------------
def _finish(run: AutomationRun, status: RunStatus, reason: str = "") -> None:
    run.status, run.finished_at, run.exit_reason, run.wake_at = status, utcnow(), reason[:200], None


def exit_run(run: AutomationRun, reason: str) -> None:
    if run.status in LIVE:
        _finish(run, RunStatus.EXITED, reason)


def _record(run: AutomationRun, step: dict, outcome: str) -> int | None:
    """The step's record, written once; its id, or None if the step was executed already."""
    inserted = insert_new(AutomationStepRun, [{"run_id": run.id, "step_id": step["id"], "outcome": outcome,
                                               "executed_at": utcnow()}], ("run_id", "step_id"),
                          returning=(AutomationStepRun.id,))
    return inserted[0][0] if inserted else None


def condition_holds(automation: Automation, run: AutomationRun, condition: dict) -> bool:
    if condition.get("type") == "clicked":
        email_id = db.session.scalar(select(AutomationStepRun.email_id).where(
            AutomationStepRun.run_id == run.id, AutomationStepRun.step_id == condition["step_id"]))
        return email_id is not None and db.session.scalar(
            select(exists().where(LinkClick.email_id == email_id,
                                  LinkClick.contact_id == run.contact_id))) is True
    tree = {"join": "and", "groups": [{"match": "all", "rules": [condition]}]}
    query = members_query(automation.account_id, tree, contact_ids=[run.contact_id])
    return db.session.scalar(query) is not None


def _send_email(automation: Automation, run: AutomationRun, contact: Contact, step: dict,
                record_id: int) -> str:
    if contact.email_status != Subscription.SUBSCRIBED:
        exit_run(run, "unsubscribed from email")
        return "not sent: unsubscribed"
    account_name = db.session.get(Account, automation.account_id).name
    message = Message(account_id=automation.account_id, body=step["body"], subject=step["subject"],
                      from_name=step.get("from_name") or "", cid_message_id=automation.id,
                      from_automation=True)
    email = mail.queue_email(account_id=automation.account_id, kind="automation", to_address=contact.email,
                             subject=step["subject"], text_body="", html_body="")
    rendered = Renderer(message, public_url()).email(contact, email_id=email.id)
    email.contact_id, email.text_body, email.html_body, email.headers = (
        contact.id, rendered["text_body"], rendered["html_body"], rendered["headers"])
    # The account's name is not a template: it is only what an empty From name comes out as.
    email.subject = rendered["subject"]
    email.from_name = rendered["from_name"] or mail.sender_name(account_name)
    db.session.get(AutomationStepRun, record_id).email_id = email.id
    return f"email {email.id} queued"


def _send_sms(automation: Automation, run: AutomationRun, contact: Contact, step: dict,
              record_id: int) -> str:
    if contact.sms_status != Subscription.SUBSCRIBED or not contact.phone:
        return "not sent: no phone number or unsubscribed from SMS"
    message = Message(account_id=automation.account_id, body=step["body"], cid_message_id=automation.id,
                      from_automation=True)
    text = Renderer(message, public_url()).sms(contact)
    queued = sms.queue_sms(account_id=automation.account_id, to_number=contact.phone, body=text,
                           contact_id=contact.id)
    db.session.get(AutomationStepRun, record_id).sms_id = queued.id
    return f"SMS {queued.id} queued"


def advance(run_id: int, now: datetime | None = None) -> str | None:
    """Execute the run's steps until it waits, ends or leaves; each step once. Returns its status.
    A run changed by another process meanwhile (a goal met as the event consumer stored a page
    view, an auto-stop) fails the step's commit (the run's version, StaleDataError): that step's
    transaction is rolled back, effect and all, and the run goes on from where it is now."""
    for _ in range(STALE_RETRIES):
        try:
            return _advance(run_id, now)
        except StaleDataError:
            db.session.rollback()
    return _advance(run_id, now)


def _advance(run_id: int, now: datetime | None) -> str | None:
    run = db.session.get(AutomationRun, run_id)
    if run is None or run.status not in LIVE:
        return run.status if run else None
    automation = db.session.get(Automation, run.automation_id)
    if automation.status != AutomationStatus.ACTIVE:
        return run.status  # paused: the run resumes when the automation is active again (the sweep)
    contact = db.session.get(Contact, run.contact_id)
    steps = schema.steps_by_id(automation.steps)
    following = schema.successors(automation.steps)
    _reach_goal(automation, run)
    for _ in range(MAX_STEPS_PER_ADVANCE):
        now = now or utcnow()
        step = steps.get(run.step_id or "")
        if step is None or step["kind"] == "end":
            if step is not None:
                _record(run, step, "end")
            _finish(run, RunStatus.COMPLETED)
            break
        if step["kind"] == "delay":
            record = _record(run, step, "")
            if record is not None:
                zone = db.session.get(Account, automation.account_id).time_zone
                run.status, run.wake_at = RunStatus.WAITING, schema.wake_time(step, now, zone)
                waiting = f"wait until {timezones.shown(run.wake_at, zone)}"
                db.session.get(AutomationStepRun, record).outcome = waiting
                db.session.commit()
                enqueue("worker.jobs.automations.advance_run", run.id, at=run.wake_at)
                return run.status
            if run.wake_at and run.wake_at > now:
                return run.status  # woken early (a duplicate job): the sweep or the scheduled job will come
            run.status, run.wake_at = RunStatus.ACTIVE, None
            run.step_id = following[step["id"]]
        elif step["kind"] == "split":
            existing = db.session.scalar(select(AutomationStepRun.outcome).where(
                AutomationStepRun.run_id == run.id, AutomationStepRun.step_id == step["id"]))
            answer = existing == "yes" if existing else condition_holds(automation, run, step["condition"])
            if existing is None:
                _record(run, step, "yes" if answer else "no")
            run.step_id = schema.branch_start(automation.steps, step, answer)
        elif step["kind"] == "goal":  # reached in order: met, or passed unmet; the run goes on either way
            met = condition_holds(automation, run, step["condition"])
            _record(run, step, GOAL_MET if met else GOAL_PASSED)
            run.step_id = following[step["id"]]
        else:
            record = _record(run, step, "")
            if record is not None:
                execute = {"email": _send_email, "sms": _send_sms}.get(step["kind"], actions.execute)
                outcome = execute(automation, run, contact, step, record)
                db.session.get(AutomationStepRun, record).outcome = outcome
            if run.status not in LIVE:
                break
            run.step_id = following[step["id"]]
        db.session.commit()
    db.session.commit()
    return run.status


# ---- goals -------------------------------------------------------------------------------------
def _reach_goal(automation: Automation, run: AutomationRun) -> bool:
    """If the condition of a goal the run has not reached yet holds, the run jumps to it (skipping
    whatever it was waiting for) and goes on from there. The goal's record is written with the
    jump, so each goal is met at most once a run."""
    goals = schema.goals(automation.steps or [])
    if not goals or run.status not in LIVE:
        return False
    reached = set(db.session.scalars(select(AutomationStepRun.step_id).where(
        AutomationStepRun.run_id == run.id, AutomationStepRun.step_id.in_([goal["id"] for goal in goals]))))
    for goal in goals:
        if goal["id"] in reached or run.step_id == goal["id"]:
            continue
        if condition_holds(automation, run, goal["condition"]) and _record(run, goal, GOAL_MET) is not None:
            run.step_id = schema.successors(automation.steps)[goal["id"]]
            run.status, run.wake_at = RunStatus.ACTIVE, None
            if run.step_id is None:
                _finish(run, RunStatus.COMPLETED)
            return True
    return False


def check_goals(automation_ids: set[int], contact_ids: list[int]) -> list[int]:
    """Something happened to these contacts (page views, a segment joined): live runs of these
    automations whose goal is now met jump to it (each committed on its own) and move on in a job."""
    runs = list(db.session.scalars(select(AutomationRun).where(
        AutomationRun.automation_id.in_(automation_ids), AutomationRun.contact_id.in_(contact_ids),
        AutomationRun.status.in_(LIVE))))
    moved = []
    for run in runs:
        automation = db.session.get(Automation, run.automation_id)
        try:
            if automation.status != AutomationStatus.ACTIVE or not _reach_goal(automation, run):
                continue
            db.session.commit()  # (the run's version: not over a worker that moved it meanwhile)
        except StaleDataError:
            db.session.rollback()  # the worker moving it checks the goals as it goes on
            continue
        moved.append(run.id)
        if run.status in LIVE:
            enqueue("worker.jobs.automations.advance_run", run.id)
    return moved


def wake_due_runs(now: datetime | None = None) -> list[int]:
    """The sweep: every waiting run whose time has come (and active runs of re-activated automations)."""
    now = now or utcnow()
    due = list(db.session.scalars(
        select(AutomationRun.id).join(Automation, Automation.id == AutomationRun.automation_id)
        .where(Automation.status == AutomationStatus.ACTIVE,
               ((AutomationRun.status == RunStatus.WAITING) & (AutomationRun.wake_at <= now))
               | ((AutomationRun.status == RunStatus.ACTIVE)
                  & (AutomationRun.entered_at <= now - timedelta(minutes=5))))))
    for run_id in due:
        enqueue("worker.jobs.automations.advance_run", run_id)
    return due


# ---- what the marketer sees ----------------------------------------------------------------------
def report(automation: Automation) -> dict:
    counts = dict(db.session.execute(select(AutomationRun.status, func.count())
                                     .where(AutomationRun.automation_id == automation.id)
                                     .group_by(AutomationRun.status)).all())
    at_step = dict(db.session.execute(select(AutomationRun.step_id, func.count())
                                      .where(AutomationRun.automation_id == automation.id,
                                             AutomationRun.status.in_(LIVE))
                                      .group_by(AutomationRun.step_id)).all())
    # (a goal passed in order, unmet, is not counted as met)
    counted = func.sum(case((AutomationStepRun.outcome == GOAL_PASSED, 0), else_=1))
    done = dict(db.session.execute(select(AutomationStepRun.step_id, counted)
                                   .join(AutomationRun, AutomationRun.id == AutomationStepRun.run_id)
                                   .where(AutomationRun.automation_id == automation.id)
                                   .group_by(AutomationStepRun.step_id)).all())
    return {"entered": sum(counts.values()), **{status: counts.get(status, 0) for status in RunStatus},
            "at_step": at_step, "done": done}


def latest_run(automation: Automation, contact_id: int) -> AutomationRun | None:
    return db.session.scalar(select(AutomationRun).where(AutomationRun.automation_id == automation.id,
                                                         AutomationRun.contact_id == contact_id)
                             .order_by(AutomationRun.id.desc()).limit(1))


def journey(automation: Automation, contact_id: int) -> list[dict]:
    run = latest_run(automation, contact_id)
    if run is None:
        return []
    kinds = {step_id: step["kind"] for step_id, step in schema.steps_by_id(automation.steps).items()}
    return [{"step_id": record.step_id, "kind": kinds.get(record.step_id, "deleted step"),
             "executed_at": record.executed_at, "outcome": record.outcome}
            for record in db.session.scalars(select(AutomationStepRun)
                                             .where(AutomationStepRun.run_id == run.id)
                                             .order_by(AutomationStepRun.id))]


def simulate(automation: Automation, contact: Contact) -> list[dict]:
    """The path the contact would take now (splits evaluated now, delays not waited), sending nothing."""
    probe = AutomationRun(id=-1, automation_id=automation.id, contact_id=contact.id,
                          account_id=automation.account_id)
    steps, following = schema.steps_by_id(automation.steps), schema.successors(automation.steps)
    path, step_id = [], automation.steps[0]["id"] if automation.steps else None
    while step_id and len(path) <= schema.MAX_STEPS:
        step = steps[step_id]
        kind, label, note = step["kind"], schema.STEP_KINDS[step["kind"]], ""
        if kind == "split":
            answer = condition_holds(automation, probe, step["condition"])
            note, step_id = ("yes" if answer else "no"), schema.branch_start(automation.steps, step, answer)
        elif kind == "goal":
            met = condition_holds(automation, probe, step["condition"])
            note, step_id = ("met" if met else "not met yet: passed"), following[step["id"]]
        else:
            if kind == "email":
                subscribed = contact.email_status == Subscription.SUBSCRIBED
                note = step.get("subject", "") if subscribed else "skipped: unsubscribed"
            elif kind == "sms":
                reachable = contact.phone and contact.sms_status == Subscription.SUBSCRIBED
                note = "to " + contact.phone if reachable else "skipped"
            elif kind == "delay":
                note = f"{step['amount']} {step['unit']}"
                if step.get("at"):
                    note += f", then until {step['at']}"
            step_id = None if kind == "end" else following[step["id"]]
        path.append({"step_id": step["id"], "kind": kind, "label": label, "note": note})
    return path
