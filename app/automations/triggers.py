"""What starts and stops automations: page views (rules compiled once per account and kept a few
seconds, not read from the database per event), joining a list or segment, a tag added, a date of
the contact coming round (start_date_runs, a periodic job); and the
auto-stop (exit) rules, checked on each new event of a contact in a path. The receivers of the
signals in app/signals.py, connected by app/wiring.py."""
from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time as time_of_day, timedelta

from sqlalchemy import func, select

from app.automations import engine, schema
from app.extensions import db
from app import timezones
from app.contacts import fields
from app.models import Account, Automation, AutomationRun, Contact, PageView
from app.models.automations import LIVE, AutomationStatus
from app.models.types import utcnow
from app.segments.compiler import field_condition, url_condition
from app.signals import IdentifiedPageView, StoredEvent
from app.tracking import custom_events
from app.tracking.urls import compile_url_rule, match_forms, url_rule_literal

CACHE_SECONDS = 5.0


@dataclass
class AccountRules:
    # (automation id, trigger, compiled URL predicate), (automation id, compiled URL predicate)
    page_triggers: list[tuple[int, dict, Callable]] = field(default_factory=list)
    page_exits: list[tuple[int, Callable]] = field(default_factory=list)
    # Active automations with a goal step: a page view may meet it.
    goal_automations: set[int] = field(default_factory=set)
    # Per URL form, texts one of which a page must contain to match any rule: most page views
    # contain none and are dismissed by a few substring tests. None: a rule cannot be prefiltered.
    prefilter: dict[str, tuple[str, ...]] | None = None
    loaded_at: float = 0.0

    def may_match(self, match_url: str, match_path: str) -> bool:
        if self.prefilter is None:
            return True
        return any(text in match_url for text in self.prefilter["url"]) \
            or any(text in match_path for text in self.prefilter["path"])


_cache: dict[int, AccountRules] = {}


def account_rules(account_id: int) -> AccountRules:
    cached = _cache.get(account_id)
    if cached and cached.loaded_at > time.monotonic() - CACHE_SECONDS:
        return cached
    rules = AccountRules(loaded_at=time.monotonic())
    literals: dict[str, list[str]] | None = {"url": [], "path": []}
    active = select(Automation).where(Automation.account_id == account_id,
                                      Automation.status == AutomationStatus.ACTIVE)
    for automation in db.session.scalars(active):
        url_rules = [automation.trigger] if automation.trigger.get("type") == "page_view" else []
        url_rules += [rule for rule in automation.exit_rules or [] if rule["type"] == "page_view"]
        for rule in url_rules:
            implied = url_rule_literal(rule["op"], rule["value"])
            if implied is None or literals is None:
                literals = None
            else:
                literals[implied[0]].append(implied[1])
        if schema.goals(automation.steps or []):
            rules.goal_automations.add(automation.id)
        trigger = automation.trigger
        if trigger.get("type") == "page_view":
            rules.page_triggers.append((automation.id, trigger,
                                        compile_url_rule(trigger["op"], trigger["value"])))
        rules.page_exits += [(automation.id, compile_url_rule(rule["op"], rule["value"]))
                             for rule in automation.exit_rules or [] if rule["type"] == "page_view"]
    if literals is not None:
        rules.prefilter = {form: tuple(dict.fromkeys(texts)) for form, texts in literals.items()}
    _cache[account_id] = rules
    return rules


def forget(account_id: int) -> None:
    """The account's automations changed (in this process): compile again on the next event."""
    _cache.pop(account_id, None)


def _enough_views(account_id: int, contact_id: int, trigger: dict) -> bool:
    if trigger.get("count", 1) <= 1 and not trigger.get("days"):
        return True
    conditions = [PageView.account_id == account_id, PageView.contact_id == contact_id,
                  url_condition(trigger["op"], trigger["value"])]
    if trigger.get("days"):
        conditions.append(PageView.received_at >= utcnow() - timedelta(days=trigger["days"]))
    return (db.session.scalar(select(func.count()).select_from(PageView).where(*conditions))
            >= trigger.get("count", 1))


def on_page_views(sender, views: list[IdentifiedPageView]) -> None:
    """Stored page views (page_views_stored): start page-view automations, and stop runs whose exit
    rule the page matches."""
    by_account: dict[int, list[IdentifiedPageView]] = defaultdict(list)
    for view in views:
        by_account[view.account_id].append(view)
    for account_id, account_views in by_account.items():
        rules = account_rules(account_id)
        if rules.goal_automations:
            engine.check_goals(rules.goal_automations, sorted({view.contact_id for view in account_views}))
        if not rules.page_triggers and not rules.page_exits:
            continue
        started = []
        for view in account_views:
            forms = (view.match_url, view.match_path) if view.match_path else match_forms(view.url)
            if not rules.may_match(*forms):
                continue
            stops = {automation_id for automation_id, matches in rules.page_exits if matches(*forms)}
            if stops:  # (a view from before a run began, handed over again, stops nothing)
                exit_runs(stops, [view.contact_id], f"viewed {forms[1]}", entered_before=view.received_at)
            for automation_id, trigger, matches in rules.page_triggers:
                if matches(*forms) and _enough_views(account_id, view.contact_id, trigger):
                    automation = db.session.get(Automation, automation_id)
                    # Entered at the view's time: a later view (its auto-stop) stops it, an earlier one not.
                    run = engine.enter(automation, view.contact_id, view.received_at, advance_later=False,
                                       page_view_id=view.page_view_id) if automation else None
                    if run is not None:
                        started.append(run.id)
        db.session.commit()
        engine.begin(started)  # (the engine decides how the first steps run)


# An event that happened longer ago than this (sent later through the API: an import of history)
# starts no automation and stops none.
EVENT_TRIGGER_AGE = timedelta(days=1)


def on_custom_events(sender, events: list[StoredEvent]) -> None:
    """Stored custom events of known contacts (custom_events_stored): start automations whose
    trigger is the event (once per event: the run's occurrence is its id), stop runs whose auto-stop
    rule it is, and check goals."""
    by_account: dict[int, list[StoredEvent]] = defaultdict(list)
    recent = utcnow() - EVENT_TRIGGER_AGE
    for event in events:
        if event.occurred_at >= recent:
            by_account[event.account_id].append(event)
    for account_id, account_events in by_account.items():
        automations = _active(account_id)
        with_goals = {automation.id for automation in automations if schema.goals(automation.steps or [])}
        if with_goals:
            engine.check_goals(with_goals, sorted({event.contact_id for event in account_events}))
        started = []
        for event in sorted(account_events, key=lambda item: item.occurred_at):
            stops = [automation.id for automation in automations
                     if any(rule["type"] == "event" and rule["name"] == event.name
                            for rule in automation.exit_rules or [])]
            if stops:
                exit_runs(stops, [event.contact_id], f"did {event.name}", entered_before=event.occurred_at)
            for automation in automations:
                trigger = automation.trigger or {}
                if trigger.get("type") == "event" and trigger.get("name") == event.name \
                        and custom_events.property_matches(trigger, event.properties):
                    run = engine.enter(automation, event.contact_id, event.occurred_at, advance_later=False,
                                       occurrence=str(event.event_id))
                    if run is not None:
                        started.append(run.id)
        db.session.commit()
        engine.begin(started)


def exit_runs(automation_ids, contact_ids: list[int], reason: str, *, entered_before=None) -> int:
    """Stop the live runs of these contacts in these automations (those entered by then, if given)."""
    conditions = [AutomationRun.automation_id.in_(list(automation_ids)),
                  AutomationRun.contact_id.in_(contact_ids), AutomationRun.status.in_(LIVE)]
    if entered_before is not None:
        conditions.append(AutomationRun.entered_at <= entered_before)
    runs = list(db.session.scalars(select(AutomationRun).where(*conditions)))
    for run in runs:
        engine.exit_run(run, reason)
    return len(runs)


def _active(account_id: int) -> list[Automation]:
    return list(db.session.scalars(select(Automation).where(Automation.account_id == account_id,
                                                            Automation.status == AutomationStatus.ACTIVE)))


def _start(automations: list[Automation], kind: str, key: str, value: int, contact_ids) -> None:
    for automation in automations:
        if automation.trigger.get("type") == kind and automation.trigger.get(key) == value:
            for contact_id in contact_ids:
                engine.enter(automation, contact_id)


def on_segment_joined(account_id: int, segment_id: int, contact_ids: list[int]) -> None:
    """contacts_joined_segment: start segment automations, stop runs that joining it ends."""
    automations = _active(account_id)
    with_goals = {automation.id for automation in automations if schema.goals(automation.steps or [])}
    if with_goals:
        engine.check_goals(with_goals, contact_ids)
    _start(automations, "segment_joined", "segment_id", segment_id, contact_ids)
    stopping = [a.id for a in automations
                if any(r["type"] == "segment_joined" and r["segment_id"] == segment_id
                       for r in a.exit_rules or [])]
    if stopping:
        exit_runs(stopping, contact_ids, "joined a segment")
    db.session.commit()


def on_list_joined(account_id: int, list_id: int, contact_ids: list[int]) -> None:
    """list_joined: start the list's automations."""
    _start(_active(account_id), "list_joined", "list_id", list_id, contact_ids)


def on_tag_added(account_id: int, tag_id: int, contact_ids: list[int]) -> None:
    """tag_added: start the tag's automations."""
    _start(_active(account_id), "tag_added", "tag_id", tag_id, contact_ids)


def start_date_runs(now: datetime | None = None) -> list[int]:
    """The periodic job of date triggers: for each active automation starting on a date field,
    once the trigger's time of day has come in the account's time zone, enter the contacts whose
    date (N days from today, for "N days before") is today, once a year each (the run's
    occurrence, unique). A date without a year counts; 29 February comes round on the 28th in
    other years. Yesterday's are entered too when the job did not run between yesterday's time
    and midnight (a time late in the evening, an outage), if the automation was active by then."""
    now = now or utcnow()
    started = []
    active = select(Automation).where(Automation.status == AutomationStatus.ACTIVE)
    dated = [item for item in db.session.scalars(active) if (item.trigger or {}).get("type") == "date"]
    for automation in dated:
        trigger = automation.trigger
        zone = db.session.get(Account, automation.account_id).time_zone
        field = fields.fields_by_key(automation.account_id).get(trigger["field"])
        if field is None or field.type != "date":
            continue
        at = time_of_day(*(int(part) for part in trigger["time"].split(":")))
        today = timezones.local(now, zone).date()
        for local_day in (today - timedelta(days=1), today):
            due_at = timezones.to_utc(datetime.combine(local_day, at), zone)
            if due_at > now or (local_day < today and automation.updated_at > due_at):
                continue
            day = local_day - timedelta(days=trigger.get("offset_days", 0))  # the date that comes round
            started += _enter_on_date(automation, field.key, day, now)
        db.session.commit()
    return started


def _enter_on_date(automation: Automation, key: str, day, now: datetime) -> list[int]:
    comes_round = field_condition({"field": key, "field_type": "date", "op": "anniversary_days", "days": 0},
                                  datetime.combine(day, time_of_day()))
    already = select(AutomationRun.id).where(AutomationRun.automation_id == automation.id,
                                             AutomationRun.contact_id == Contact.id,
                                             AutomationRun.occurrence == str(day.year))
    due = list(db.session.scalars(select(Contact.id).where(
        Contact.account_id == automation.account_id, comes_round, ~already.exists()).order_by(Contact.id)))
    runs = [engine.enter(automation, contact_id, now, occurrence=str(day.year)) for contact_id in due]
    return [run.id for run in runs if run is not None]
