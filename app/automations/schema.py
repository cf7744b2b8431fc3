"""What an automation is made of, how its path is edited, and what must hold to activate it.

Trigger (one):
    {"type": "page_view", "op": URL op, "value": "/pricing", "count": 1, "days": null | 30}
    {"type": "list_joined", "list_id": 3}    {"type": "tag_added", "tag_id": 4}
    {"type": "segment_joined", "segment_id": 5}
    {"type": "date", "field": "birthday", "offset_days": -3 (before) | 0 | 2 (after), "time": "09:00"}
        (a date field; the time of day in the account's time zone; once a year per contact)
    {"type": "event", "name": "signup", "property": "plan", "property_op": "is", "property_value": "pro"}
        (a custom event, app/tracking/custom_events.py; the property optional)
Filters: segment rules (app/segments/rules.py, including {"type": "segment", "segment_id"}), all must hold.
Exit rules (auto-stop), any of:
    {"type": "page_view", "op", "value"} | {"type": "segment_joined", "segment_id"}
    | {"type": "event", "name"}
Steps, a list; a split holds two lists. Every step has a short unique "id":
    {"kind": "email", "subject", "from_name", "body"}   {"kind": "sms", "body"}
    {"kind": "delay", "amount": 1, "unit": "minutes" | "hours" | "days" | "weeks" | "months",
     "at": "" | "09:00"}   (then until that time of day in the account's time zone; amount 0 allowed)
    {"kind": "split", "condition": segment rule | {"type": "clicked", "step_id": <an earlier email>},
     "yes": [...], "no": [...]}
    {"kind": "tag", "action": "add" | "remove", "tag": "hot"}        (a tag by name, made if missing)
    {"kind": "list", "action": "add" | "remove", "list_id": 3}
    {"kind": "field", "field": "company", "action": "set" | "clear" | "add", "value": "Acme"}
        (value: as the field stores it; "add" is for number fields)
    {"kind": "notify", "to": ["sales@shop.example"]}   an email to the team about the contact
    {"kind": "webhook", "url": "https://…", "secret": "whsec_…"}
    {"kind": "goal", "condition": segment rule}   met: the run jumps here from wherever it is
    {"kind": "end"}
"""
from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta, timezone

from app import timezones, webhooks
from app.contacts.fields import FieldError, parse_value
from app.messaging import personalise
from app.messaging.mail import breaks_lines, email_addresses, sender_name
from app.segments.rules import URL_OPS, RuleError, validate_rule

MAX_STEPS = 50
MAX_NOTIFY_ADDRESSES = 10
STEP_KINDS = {"email": "Send email", "sms": "Send SMS", "delay": "Wait", "split": "Yes/no split",
              "tag": "Add or remove a tag", "list": "Add to or remove from a list",
              "field": "Update a contact field", "notify": "Notify the team", "webhook": "Call a webhook",
              "goal": "Goal", "end": "End"}
# Steps that act on the contact or tell someone, executed once each like a message.
ACTION_KINDS = ("tag", "list", "field", "notify", "webhook")
FIELD_ACTIONS = {"set": "Set", "clear": "Clear", "add": "Add to"}
NEW_GOAL = {"type": "visit", "negate": False, "op": "contains", "value": "/thanks", "count_op": "at_least",
            "count": 1, "window": "ever"}
DELAY_UNITS = {"minutes": 60, "hours": 3600, "days": 86400, "weeks": 7 * 86400, "months": 30 * 86400}
TRIGGER_TYPES = {"page_view": "Contact views a page", "list_joined": "Contact joins a list",
                 "tag_added": "A tag is added to the contact", "segment_joined": "Contact joins a segment",
                 "date": "A date of the contact comes round", "event": "Contact does a custom event"}
MAX_DATE_OFFSET = 365
_TIME_OF_DAY = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])$")  # (ASCII digits: \d takes any script's)
REENTRY = {"once": "Once ever", "after_days": "Again after some days", "always": "Every time"}


class AutomationError(ValueError):
    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


def new_id() -> str:
    return "s" + secrets.token_hex(3)


def new_step(kind: str) -> dict:
    if kind not in STEP_KINDS:
        raise AutomationError("Choose a kind of step.", "kind")
    step = {"id": new_id(), "kind": kind}
    if kind == "email":
        step.update(subject="", body="")
    elif kind == "sms":
        step.update(body="")
    elif kind == "delay":
        step.update(amount=1, unit="days")
    elif kind == "split":
        step.update(condition={"type": "subscription", "channel": "email"},
                    yes=[{"id": new_id(), "kind": "end"}], no=[{"id": new_id(), "kind": "end"}])
    elif kind == "tag":
        step.update(action="add", tag="")
    elif kind == "list":
        step.update(action="add", list_id=None)
    elif kind == "field":
        step.update(field="", action="set", value="")
    elif kind == "notify":
        step.update(to=[])
    elif kind == "webhook":
        step.update(url="", secret=webhooks.new_secret())
    elif kind == "goal":
        step.update(condition=dict(NEW_GOAL))
    return step


def delay_seconds(step: dict) -> int:
    return int(step["amount"]) * DELAY_UNITS[step["unit"]]


def delay_delta(step: dict) -> timedelta:
    return timedelta(seconds=delay_seconds(step))


def wake_time(step: dict, now: datetime, zone: str) -> datetime:
    """When a Wait step started `now` is over: after its amount, then (if it has one) at the next
    time of day `at` in the account's time zone."""
    wake = now + delay_delta(step)
    if not step.get("at"):
        return wake
    hour, minute = (int(part) for part in step["at"].split(":"))
    there = timezones.local(wake, zone)
    target = there.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if target < there:
        target += timedelta(days=1)  # (aware arithmetic in one zone: the same wall-clock time)
    return target.astimezone(timezone.utc)


# ---- walking and editing the path --------------------------------------------------------------
def rules_of(automation) -> list[dict]:
    """Every rule an automation holds: its trigger, filters, auto-stop rules and split conditions
    (what stops a segment or a contact field it names from being deleted)."""
    rules = [automation.trigger or {}, *(automation.filters or []), *(automation.exit_rules or [])]
    return rules + [step.get("condition") or {} for step in walk(automation.steps or [])
                    if step["kind"] in ("split", "goal")] + [
        {"type": "field", "field": step.get("field")} for step in walk(automation.steps or [])
        if step["kind"] == "field"]


def goals(steps: list[dict]) -> list[dict]:
    return [step for step in walk(steps) if step["kind"] == "goal"]


def walk(steps: list[dict]):
    """Every step, depth first, in path order."""
    for step in steps:
        yield step
        if step["kind"] == "split":
            yield from walk(step.get("yes", []))
            yield from walk(step.get("no", []))


def steps_by_id(steps: list[dict]) -> dict[str, dict]:
    return {step["id"]: step for step in walk(steps)}


def _following(steps: list[dict], after: str | None = None) -> dict[str, str | None]:
    """For each step, the step after it on its branch, or where the branch continues once done."""
    following: dict[str, str | None] = {}
    for index, step in enumerate(steps):
        nxt = steps[index + 1]["id"] if index + 1 < len(steps) else after
        following[step["id"]] = nxt
        if step["kind"] == "split":
            following.update(_following(step.get("yes", []), nxt))
            following.update(_following(step.get("no", []), nxt))
    return following


def successors(steps: list[dict]) -> dict[str, str | None]:
    """For each step, the one that follows it (None: the run is complete). A split's successor is
    decided by its condition (branch_start), so splits map to None here, as End steps do."""
    kinds = {step["id"]: step["kind"] for step in walk(steps)}
    return {step_id: None if kinds[step_id] in ("split", "end") else nxt
            for step_id, nxt in _following(steps).items()}


def branch_start(steps: list[dict], split: dict, answer: bool) -> str | None:
    """Where a run goes after a split: the branch's first step, or what follows the split."""
    branch = split.get("yes" if answer else "no", [])
    return branch[0]["id"] if branch else _following(steps)[split["id"]]


def _container(steps: list[dict], step_id: str) -> tuple[list[dict], int] | None:
    for index, step in enumerate(steps):
        if step["id"] == step_id:
            return steps, index
        if step["kind"] == "split":
            for branch in ("yes", "no"):
                found = _container(step.setdefault(branch, []), step_id)
                if found:
                    return found
    return None


def insert_step(steps: list[dict], kind: str, *, after: str | None = None, split: str | None = None,
                branch: str = "yes") -> dict:
    """Add a step after `after` (None: at the start), or at the start of a split's branch."""
    if sum(1 for _ in walk(steps)) >= MAX_STEPS:
        raise AutomationError(f"An automation has at most {MAX_STEPS} steps.", "kind")
    step = new_step(kind)
    if split is not None:
        found = _container(steps, split)
        if not found or found[0][found[1]]["kind"] != "split" or branch not in ("yes", "no"):
            raise AutomationError("That split is not in this automation.", "kind")
        found[0][found[1]].setdefault(branch, []).insert(0, step)
    elif after is None:
        steps.insert(0, step)
    else:
        found = _container(steps, after)
        if not found:
            raise AutomationError("That step is not in this automation.", "kind")
        found[0].insert(found[1] + 1, step)
    return step


def delete_step(steps: list[dict], step_id: str) -> None:
    """Remove a step; a split goes with its branches (its "yes" branch takes its place)."""
    found = _container(steps, step_id)
    if not found:
        raise AutomationError("That step is not in this automation.", "kind")
    container, index = found
    removed = container.pop(index)
    if removed["kind"] == "split":
        container[index:index] = [s for s in removed.get("yes", []) if s["kind"] != "end"] or []


def update_step(steps: list[dict], step_id: str, fields: dict, ids: dict) -> dict:
    """Change one step from its form's fields; ids as engine.ids_for gives them (with the
    account's contact fields, which merge fields in messages may use)."""
    found = _container(steps, step_id)
    if not found:
        raise AutomationError("That step is not in this automation.", "kind")
    step = found[0][found[1]]
    kind = step["kind"]
    if kind == "email":
        for field, label in (("subject", "The subject"), ("from_name", "The From name")):
            if breaks_lines(fields.get(field)):
                raise AutomationError(f"{label} must be on one line: remove the line break.", field)
        fields_ = list((ids.get("fields") or {}).values())
        for field, label, html in (("subject", "The subject", False), ("from_name", "The From name", False),
                                   ("body", "The message", True)):
            _check_merge_fields(fields.get(field) or "", fields_, html, label, field)
        step["subject"] = (fields.get("subject") or "").strip()[:300]
        # Empty: the account's name, at send time.
        step["from_name"] = sender_name(fields.get("from_name"))
        step["body"] = fields.get("body") or ""
    elif kind == "sms":
        _check_merge_fields(fields.get("body") or "", list((ids.get("fields") or {}).values()), False,
                            "The text", "body")
        step["body"] = (fields.get("body") or "")[:1600]
    elif kind == "delay":
        at = str(fields.get("at") or "").strip()
        matched = _TIME_OF_DAY.match(at)
        if at and not matched:
            raise AutomationError("Enter the time of day as HH:MM, such as 09:00, or leave it empty.", "at")
        try:
            amount = int(fields.get("amount", 0))
        except (TypeError, ValueError):
            amount = -1
        if not (0 if at else 1) <= amount <= 1000 or fields.get("unit") not in DELAY_UNITS:
            raise AutomationError("Wait between 1 and 1,000 minutes, hours, days, weeks or months "
                                  "(or 0, then until a time of day).", "amount")
        step["amount"], step["unit"] = amount, fields["unit"]
        step["at"] = f"{int(matched.group(1)):02d}:{matched.group(2)}" if matched else ""
    elif kind == "split":
        step["condition"] = check_condition(fields.get("condition"), ids, steps)
    elif kind == "goal":
        condition = fields.get("condition")
        if isinstance(condition, dict) and condition.get("type") == "clicked":
            raise AutomationError("A goal is met by a page view, a segment or the contact's details.",
                                  "condition")
        step["condition"] = check_condition(condition, ids, steps)
    elif kind in ACTION_KINDS:
        step.update(check_action(kind, fields, ids))
    return step


def check_action(kind: str, fields: dict, ids: dict) -> dict:
    """An action step's settings from its form's fields, or AutomationError saying what is wrong."""
    if kind == "tag":
        action, tag = fields.get("action"), " ".join(str(fields.get("tag") or "").split())
        if action not in ("add", "remove"):
            raise AutomationError("Choose whether to add or remove the tag.", "action")
        if not tag or len(tag) > 60:
            raise AutomationError("Enter the tag, under 60 characters.", "tag")
        return {"action": action, "tag": tag}
    if kind == "list":
        action = fields.get("action")
        if action not in ("add", "remove"):
            raise AutomationError("Choose whether to add to the list or remove from it.", "action")
        return {"action": action, "list_id": _own_id(fields.get("list_id"), ids, "list", "list_id")}
    if kind == "field":
        field = updatable_fields(ids.get("fields") or {}).get(fields.get("field") or "")
        if field is None:
            raise AutomationError("Choose the field to update.", "field")
        action = fields.get("action")
        if action not in FIELD_ACTIONS or (action == "add" and field.type != "number"):
            raise AutomationError("Choose to set or clear the field (or add to a number field).", "action")
        if action == "clear":
            return {"field": field.key, "action": action, "value": ""}
        try:
            value = parse_value(field, fields.get("value"))
        except FieldError as error:
            raise AutomationError(f"{field.name}: {error}", "value") from None
        if value is None:
            raise AutomationError(f"Enter the value to {'add' if action == 'add' else 'set'}.", "value")
        return {"field": field.key, "action": action, "value": value}
    if kind == "notify":
        try:
            to = email_addresses(str(fields.get("to") or ""), MAX_NOTIFY_ADDRESSES,
                                 "Enter the addresses to notify.")
        except ValueError as error:
            raise AutomationError(str(error), "to") from None
        return {"to": to}
    try:
        return {"url": webhooks.check_url(fields.get("url"))}
    except webhooks.WebhookError as error:
        raise AutomationError(str(error), "url") from None


def updatable_fields(fields_by_key: dict) -> dict:
    """Of the account's contact fields (by key), those an "Update a contact field" step may change:
    all but email, name and phone."""
    return {key: field for key, field in fields_by_key.items()
            if key not in ("email", "first_name", "last_name", "phone")}


def _check_merge_fields(text: str, fields: list, html: bool, label: str, field: str) -> None:
    try:
        personalise.check(text, fields, html=html, what=label)
    except personalise.MergeError as error:
        raise AutomationError(str(error), field) from None


def check_condition(condition, ids: dict[str, set[int]], steps: list[dict]) -> dict:
    if isinstance(condition, dict) and condition.get("type") == "clicked":
        earlier = [s["id"] for s in walk(steps) if s["kind"] == "email"]
        if condition.get("step_id") not in earlier:
            raise AutomationError("Choose an email of this path.", "condition")
        return {"type": "clicked", "step_id": condition["step_id"]}
    try:
        return validate_rule(condition, ids)
    except RuleError as error:
        raise AutomationError(str(error), "condition") from None


def check_trigger(trigger, ids: dict[str, set[int]]) -> dict:
    if not isinstance(trigger, dict) or trigger.get("type") not in TRIGGER_TYPES:
        raise AutomationError("Choose what starts the automation.", "trigger")
    kind = trigger["type"]
    if kind == "date":
        return _check_date_trigger(trigger, ids)
    if kind == "event":
        return _check_event(trigger, "trigger")
    if kind == "page_view":
        if trigger.get("op") not in URL_OPS or not str(trigger.get("value") or "").strip():
            raise AutomationError("Enter the page that starts the automation.", "trigger")
        try:
            count = int(trigger.get("count") or 1)
            days = int(trigger["days"]) if trigger.get("days") not in (None, "") else None
        except (TypeError, ValueError):
            raise AutomationError("The number of views and days must be whole numbers.", "trigger") from None
        if not 1 <= count <= 1000 or (days is not None and not 1 <= days <= 3650):
            raise AutomationError("Views between 1 and 1,000, days between 1 and 3,650.", "trigger")
        return {"type": kind, "op": trigger["op"], "value": str(trigger["value"]).strip()[:500],
                "count": count, "days": days}
    key, names = {"list_joined": ("list_id", "list"), "tag_added": ("tag_id", "tag"),
                  "segment_joined": ("segment_id", "segment")}[kind]
    return {"type": kind, key: _own_id(trigger.get(key), ids, names, "trigger")}


def _check_event(trigger: dict, field: str) -> dict:
    """An event trigger or auto-stop rule: its name, and (a trigger) a property condition, checked
    as a segment's event rule checks them."""
    try:
        rule = validate_rule({**trigger, "type": "event", "count": 1, "window": "ever"}, {})
    except RuleError as error:
        raise AutomationError(str(error), field) from None
    keys = ("name", "property", "property_op", "property_value") if field == "trigger" else ("name",)
    return {"type": "event", **{key: rule[key] for key in keys if key in rule}}


def _own_id(raw, ids: dict[str, set[int]], kind: str, field: str) -> int:
    """The id of one of the account's lists, tags or segments, as a form posted it, or
    AutomationError ("Choose one of your lists.") for anything else, another account's included."""
    try:
        ref = int(raw)
    except (TypeError, ValueError):
        ref = None
    if ref not in ids.get(kind, set()):
        raise AutomationError(f"Choose one of your {kind}s.", field)
    return ref


def _check_date_trigger(trigger: dict, ids: dict) -> dict:
    field = (ids.get("fields") or {}).get(str(trigger.get("field") or ""))
    if field is None or field.type != "date":
        raise AutomationError("Choose one of the contacts' date fields, such as the birthday.", "trigger")
    try:
        offset = int(trigger.get("offset_days") or 0)
    except (TypeError, ValueError):
        raise AutomationError("The number of days must be a whole number.", "trigger") from None
    if not -MAX_DATE_OFFSET <= offset <= MAX_DATE_OFFSET:
        raise AutomationError(f"Start at most {MAX_DATE_OFFSET} days before or after the date.", "trigger")
    matched = _TIME_OF_DAY.match(str(trigger.get("time") or "").strip())
    if not matched:
        raise AutomationError("Enter the time of day as HH:MM, such as 09:00.", "trigger")
    return {"type": "date", "field": field.key, "offset_days": offset,
            "time": f"{int(matched.group(1)):02d}:{matched.group(2)}"}


def check_exit_rule(rule, ids: dict[str, set[int]]) -> dict:
    if isinstance(rule, dict) and rule.get("type") == "page_view":
        if rule.get("op") not in URL_OPS or not str(rule.get("value") or "").strip():
            raise AutomationError("Enter the page that stops the automation.", "exit_rules")
        return {"type": "page_view", "op": rule["op"], "value": str(rule["value"]).strip()[:500]}
    if isinstance(rule, dict) and rule.get("type") == "segment_joined":
        return {"type": "segment_joined", "segment_id": _own_id(rule.get("segment_id"), ids, "segment",
                                                                "exit_rules")}
    if isinstance(rule, dict) and rule.get("type") == "event":
        return _check_event(rule, "exit_rules")
    raise AutomationError("Choose what stops the automation.", "exit_rules")


def activation_problems(automation, ids: dict[str, set[int]]) -> list[str]:
    """Everything that stops the automation from being activated, in words."""
    problems = []
    try:
        check_trigger(automation.trigger, ids)
    except AutomationError as error:
        problems.append(f"Trigger: {error}")
    for rule in automation.filters or []:
        try:
            validate_rule(rule, ids)
        except RuleError as error:
            problems.append(f"Filter: {error}")
    for rule in automation.exit_rules or []:
        try:
            check_exit_rule(rule, ids)
        except AutomationError as error:
            problems.append(f"Auto-stop: {error}")
    steps = automation.steps or []
    if not steps:
        problems.append("Add at least one step.")
    if sum(1 for _ in walk(steps)) > MAX_STEPS:
        problems.append(f"An automation has at most {MAX_STEPS} steps.")

    def check_branch(branch: list[dict], where: str) -> None:
        if not branch or branch[-1]["kind"] not in ("end", "split"):
            problems.append(f"{where} does not end: finish it with an End step.")
        for step in branch:
            label = STEP_KINDS[step["kind"]]
            if step["kind"] == "email" and (not step.get("subject", "").strip()
                                            or not step.get("body", "").strip()):
                problems.append(f"{label} ({step['id']}) has an empty subject or message.")
            if step["kind"] == "sms" and not step.get("body", "").strip():
                problems.append(f"{label} ({step['id']}) has an empty message.")
            if step["kind"] == "end" and step is not branch[-1]:
                problems.append(f"Steps after an End step ({step['id']}) are never reached.")
            if step["kind"] in ACTION_KINDS:
                try:
                    check_action(step["kind"], {**step, "to": ", ".join(step.get("to") or [])}, ids)
                except AutomationError as error:
                    problems.append(f"{label} ({step['id']}): {error}")
            if step["kind"] in ("split", "goal"):
                try:
                    check_condition(step.get("condition"), ids, steps)
                except AutomationError as error:
                    problems.append(f"{label} ({step['id']}): {error}")
            if step["kind"] == "split":
                check_branch(step.get("yes", []), f"The yes branch of {step['id']}")
                check_branch(step.get("no", []), f"The no branch of {step['id']}")

    if steps:
        check_branch(steps, "The path")
    return problems
