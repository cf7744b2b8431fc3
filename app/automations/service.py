"""Automations as the marketer edits them: create, settings, changes to the path, and the words
the pages show for triggers, rules and steps. Settings and steps come in as plain data (the forms
that post them are read in app/web/automations/forms.py)."""
from __future__ import annotations

import copy
import re

from sqlalchemy import func, select

from app.automations import engine, schema, templates
from app.automations.schema import AutomationError
from app.extensions import db
from app.models import Automation, AutomationRun, Segment
from app.models.automations import EDITABLE, AutomationStatus
from app.models.types import utcnow
from app.segments.rules import PROPERTY_OPS, URL_OPS, RuleError, describe_rule, validate_rule
from app.segments.service import choices

MAX_FILTERS = 10
MAX_EXIT_RULES = 10
DEFAULT_TRIGGER = {"type": "page_view", "op": "contains", "value": "/pricing", "count": 1, "days": None}


# ---- reading ------------------------------------------------------------------------------------
def get_automation(account_id: int, automation_id: int) -> Automation | None:
    return db.session.scalar(select(Automation).where(Automation.id == automation_id,
                                                      Automation.account_id == account_id))


def list_automations(account_id: int) -> list[Automation]:
    return list(db.session.scalars(select(Automation).where(Automation.account_id == account_id)
                                   .order_by(Automation.created_at.desc(), Automation.id.desc())))


def entered_counts(account_id: int) -> dict[int, int]:
    """How many runs each automation of the account has had, by automation id."""
    return dict(db.session.execute(select(AutomationRun.automation_id, func.count())
                                   .where(AutomationRun.account_id == account_id)
                                   .group_by(AutomationRun.automation_id)).all())


def names(account_id: int) -> dict[str, dict[int, str]]:
    """Names of the account's lists, tags, campaigns and segments, by id."""
    found = choices(account_id)
    found["segment"] = dict(db.session.execute(select(Segment.id, Segment.name)
                                               .where(Segment.account_id == account_id)
                                               .order_by(Segment.name)).all())
    return found


def is_editable(automation: Automation) -> bool:
    return automation.status in EDITABLE


def check_editable(automation: Automation) -> None:
    if not is_editable(automation):
        raise AutomationError("Pause the automation to edit it.", "status")


# ---- creating and settings ----------------------------------------------------------------------
def create(user, template: str = "") -> Automation:
    """A new draft: empty (a path of one End step), or filled from one of the templates by key."""
    if template and template not in templates.TEMPLATES:
        raise AutomationError("Choose one of the templates, or start from scratch.", "template")
    automation = Automation(account_id=user.account_id, name="Untitled automation",
                            status=AutomationStatus.DRAFT,
                            trigger=dict(DEFAULT_TRIGGER), filters=[], reentry="once", reentry_days=30,
                            exit_rules=[], steps=[schema.new_step("end")])
    if template:
        templates.fill(automation, templates.TEMPLATES[template], user.email)
    db.session.add(automation)
    db.session.flush()
    return automation


def settings_of(automation: Automation) -> dict:
    """The saved settings, in the shape the settings form is drawn from."""
    return {"name": automation.name, "trigger": dict(automation.trigger or DEFAULT_TRIGGER),
            "filters": copy.deepcopy(automation.filters or []), "reentry": automation.reentry,
            "reentry_days": automation.reentry_days, "exit_rules": copy.deepcopy(automation.exit_rules or [])}


def save_settings(automation: Automation, settings: dict) -> Automation:
    """Validate and save the settings, in the shape settings_of gives: the name, trigger, filters,
    re-entry and auto-stop rules (missing: none, and once ever)."""
    check_editable(automation)
    rules, exit_rules = settings.get("filters") or [], settings.get("exit_rules") or []
    ids = engine.ids_for(automation.account_id)
    name = (settings.get("name") or "").strip()
    if not name:
        raise AutomationError("Give the automation a name.", "name")
    if len(name) > 200:
        raise AutomationError("Keep the name under 200 characters.", "name")
    trigger = schema.check_trigger(settings.get("trigger"), ids)
    if len(rules) > MAX_FILTERS:
        raise AutomationError(f"An automation has at most {MAX_FILTERS} filters.", "filters")
    filters = []
    for number, rule in enumerate(rules, 1):
        try:
            filters.append(validate_rule(rule, ids))
        except RuleError as error:
            raise AutomationError(f"Filter {number}: {error}", "filters") from None
    reentry, days = settings.get("reentry", "once"), automation.reentry_days
    if reentry not in schema.REENTRY:
        raise AutomationError("Choose whether a contact may go through the automation again.", "reentry")
    if reentry == "after_days":
        raw = str(settings.get("reentry_days", "")).strip()
        days = int(raw) if raw.isdigit() else 0
        if not 1 <= days <= 3650:
            raise AutomationError("Enter again after 1 to 3,650 days.", "reentry")
    if len(exit_rules) > MAX_EXIT_RULES:
        raise AutomationError(f"An automation has at most {MAX_EXIT_RULES} auto-stop rules.", "exit_rules")
    exits = []
    for number, rule in enumerate(exit_rules, 1):
        try:
            exits.append(schema.check_exit_rule(rule, ids))
        except AutomationError as error:
            raise AutomationError(f"Auto-stop rule {number}: {error}", "exit_rules") from None
    automation.name, automation.trigger, automation.filters = name, trigger, filters
    automation.reentry, automation.reentry_days, automation.exit_rules = reentry, days, exits
    automation.updated_at = utcnow()
    return automation


# ---- the path -----------------------------------------------------------------------------------
def _save_steps(automation: Automation, steps: list[dict]) -> None:
    # A new list: SQLAlchemy does not see changes made inside a JSON document.
    automation.steps = copy.deepcopy(steps)
    automation.updated_at = utcnow()


def add_step(automation: Automation, kind: str, *, after: str | None = None, split: str | None = None,
             branch: str = "yes") -> dict:
    """Insert a new step after a step, at the start of the path (no `after`), or of a split's branch."""
    check_editable(automation)
    steps = copy.deepcopy(automation.steps or [])
    step = schema.insert_step(steps, kind, after=after or None, split=split or None, branch=branch)
    _save_steps(automation, steps)
    return step


def remove_step(automation: Automation, step_id: str) -> None:
    check_editable(automation)
    steps = copy.deepcopy(automation.steps or [])
    schema.delete_step(steps, step_id)
    _save_steps(automation, steps)


def edit_step(automation: Automation, step_id: str, fields: dict) -> dict:
    """Validate and save a step's new values, in the shape schema.update_step takes."""
    check_editable(automation)
    steps = copy.deepcopy(automation.steps or [])
    step = schema.steps_by_id(steps).get(step_id)
    if step is None:
        raise AutomationError("That step is not in this automation.", "kind")
    updated = schema.update_step(steps, step_id, fields, engine.ids_for(automation.account_id))
    _save_steps(automation, steps)
    return updated


def step_numbers(steps: list[dict]) -> dict[str, int]:
    """Each step's number, counted down the path as drawn."""
    return {step["id"]: number for number, step in enumerate(schema.walk(steps or []), 1)}


def emails_before(steps: list[dict], step_id: str, earlier: list[dict] | None = None) -> list[dict] | None:
    """The email steps a run passes before reaching `step_id` (None: the step is not in `steps`)."""
    earlier = list(earlier or [])
    for step in steps:
        if step["id"] == step_id:
            return earlier
        if step["kind"] == "split":
            for branch in ("yes", "no"):
                found = emails_before(step.get(branch, []), step_id, earlier)
                if found is not None:
                    return found
        if step["kind"] == "email":
            earlier.append(step)
    return None


def readable_problems(problems: list[str], steps: list[dict]) -> list[str]:
    """Activation problems with step ids replaced by the step numbers the page shows."""
    numbers = step_numbers(steps)
    pattern = (re.compile(r"\b(" + "|".join(re.escape(step_id) for step_id in numbers) + r")\b")
               if numbers else None)
    if pattern is None:
        return list(problems)
    return [pattern.sub(lambda match: f"step {numbers[match.group(1)]}", problem) for problem in problems]


# ---- words --------------------------------------------------------------------------------------
def _times(count) -> str:
    return "once" if str(count) == "1" else f"{count} times"


def describe_trigger(trigger: dict, known: dict[str, dict[int, str]]) -> str:
    kind = trigger.get("type")
    if kind == "page_view":
        text = f"Views a page whose URL {URL_OPS.get(trigger.get('op'), '?')} {trigger.get('value')}"
        if str(trigger.get("count") or 1) != "1":
            text += f" at least {trigger['count']} times"
        if trigger.get("days"):
            text += f" in the last {trigger['days']} days"
        return text
    if kind == "list_joined":
        return f"Joins the list {known['list'].get(trigger.get('list_id'), '(deleted)')}"
    if kind == "tag_added":
        return f"Is tagged {known['tag'].get(trigger.get('tag_id'), '(deleted)')}"
    if kind == "segment_joined":
        return f"Joins the segment {known['segment'].get(trigger.get('segment_id'), '(deleted)')}"
    if kind == "date":
        field = known.get("field", {}).get(trigger.get("field"), "(deleted field)")
        try:
            offset = int(trigger.get("offset_days") or 0)
        except (TypeError, ValueError):
            offset = 0
        days = f"{abs(offset)} day{'' if abs(offset) == 1 else 's'}"
        when = "On" if not offset else f"{days} {'before' if offset < 0 else 'after'}"
        return f"{when} {'the day of ' if not offset else ''}their {field}, at {trigger.get('time') or '?'}"
    if kind == "event":
        return f"Does {trigger.get('name') or '?'}{_property_words(trigger)}"
    return "No trigger yet"


def _property_words(rule: dict) -> str:
    if not rule.get("property"):
        return ""
    words = PROPERTY_OPS.get(rule.get("property_op"), "?")
    return f" with {rule['property']} {words} {rule.get('property_value')}"


def describe_condition(condition: dict, known: dict[str, dict[int, str]], steps: list[dict] = ()) -> str:
    """A split's condition or a filter: "in segment Customers", "viewed a page whose URL …"."""
    kind, negate = condition.get("type"), condition.get("negate", False)
    if kind == "segment":
        name = known["segment"].get(condition.get("segment_id"), "(deleted)")
        return f"{'not ' if negate else ''}in segment {name}"
    if kind == "clicked":
        email = schema.steps_by_id(steps).get(condition.get("step_id"))
        numbers = step_numbers(steps)
        what = (f"step {numbers[email['id']]} “{email.get('subject') or 'no subject'}”" if email
                else "a deleted email")
        return f"clicked a link in the email of {what}"
    if kind == "subscription":
        channel = "emails" if condition.get("channel") == "email" else "text messages"
        return f"{'not ' if negate else ''}subscribed to {channel}"
    try:
        return describe_rule(condition, known)
    except (KeyError, TypeError):
        return "an unfinished condition"


def describe_exit(rule: dict, known: dict[str, dict[int, str]]) -> str:
    if rule.get("type") == "event":
        return f"Does {rule.get('name') or '?'}"
    if rule.get("type") == "segment_joined":
        return f"Joins the segment {known['segment'].get(rule.get('segment_id'), '(deleted)')}"
    return f"Views a page whose URL {URL_OPS.get(rule.get('op'), '?')} {rule.get('value')}"


def describe_step(step: dict, known: dict[str, dict[int, str]], steps: list[dict]) -> str:
    """"Send email: Questions?", "Wait 1 day", "If in segment Customers", "End"."""
    kind = step["kind"]
    if kind == "email":
        return f"Send email: {step.get('subject') or '(no subject yet)'}"
    if kind == "sms":
        body = (step.get("body") or "").strip()
        return f"Send SMS: {body[:60] + '…' if len(body) > 60 else body or '(no message yet)'}"
    if kind == "delay":
        amount, unit, at = step.get("amount", 1), step.get("unit", "days"), step.get("at")
        if at and str(amount) == "0":
            return f"Wait until {at}"
        text = f"Wait {amount} {unit[:-1] if str(amount) == '1' else unit}"
        return f"{text}, then until {at}" if at else text
    if kind == "split":
        return f"If {describe_condition(step.get('condition') or {}, known, steps)}"
    if kind == "goal":
        return f"Goal: {describe_condition(step.get('condition') or {}, known, steps)}"
    if kind == "tag":
        tag = f"“{step['tag']}”" if step.get("tag") else "(no tag yet)"
        return f"{'Remove' if step.get('action') == 'remove' else 'Add'} the tag {tag}"
    if kind == "list":
        name = known["list"].get(step.get("list_id"), "(deleted)") if step.get("list_id") else "(no list yet)"
        return f"{'Remove from' if step.get('action') == 'remove' else 'Add to'} the list {name}"
    if kind == "field":
        name = known.get("field", {}).get(step.get("field"), "(deleted field)") if step.get("field") else None
        if name is None:
            return "Update a contact field (not chosen yet)"
        if step.get("action") == "clear":
            return f"Clear {name}"
        if step.get("action") == "add":
            return f"Add {step.get('value')} to {name}"
        return f"Set {name} to {step.get('value')}"
    if kind == "notify":
        to = step.get("to") or []
        return f"Notify {', '.join(to)}" if to else "Notify the team (no address yet)"
    if kind == "webhook":
        return f"Call the webhook {step['url']}" if step.get("url") else "Call a webhook (no address yet)"
    return "End"

