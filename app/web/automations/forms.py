"""The automation page's forms: the fields they post (`trigger-op`, `filters-0-type`, `exits-1-value`,
`condition-segment_id`, …) read into the plain settings and steps the domain takes, the buttons that
only change the form (add or remove a filter or an auto-stop rule), and the choices the forms offer."""
from __future__ import annotations

import copy
import re

from app.automations.service import MAX_EXIT_RULES, MAX_FILTERS

FILTER_TYPES = {"segment": "is in a segment", "visit": "viewed a page"}
CONDITION_TYPES = {"segment": "is in a segment", "visit": "viewed a page", "field": "has a contact field",
                   "subscription": "is subscribed", "event": "did a custom event",
                   "clicked": "clicked a link in an email of this path"}
GOAL_TYPES = {kind: text for kind, text in CONDITION_TYPES.items() if kind != "clicked"}
EXIT_TYPES = {"page_view": "views a page", "segment_joined": "joins a segment",
              "event": "does a custom event"}
NEW_FILTER = {"type": "visit", "op": "contains", "value": "", "count": 1, "window": "ever"}
NEW_EXIT_RULE = {"type": "page_view", "op": "contains", "value": ""}
TRIGGER_KEYS = {"list_joined": "list_id", "tag_added": "tag_id", "segment_joined": "segment_id"}
STEP_FIELDS = ("subject", "from_name", "body", "amount", "unit", "at", "action", "tag", "list_id", "field",
               "value", "to", "url")
_INDEXED = re.compile(r"^(filters|exits)-(\d+)-(\w+)$")


def rule_from_fields(fields: dict) -> dict:
    """A segment rule (or a "clicked" condition) from a form's fields, unvalidated."""
    kind = fields.get("type", "")
    negate = fields.get("negate") in ("1", "on", "true")
    if kind == "segment":
        return {"type": "segment", "segment_id": fields.get("segment_id"), "negate": negate}
    if kind == "visit":
        days = (fields.get("days") or "").strip()
        rule = {"type": "visit", "negate": negate, "op": fields.get("op", "contains"),
                "value": fields.get("value", ""), "count_op": "at_least", "count": fields.get("count") or 1,
                "window": "last_days" if days else "ever"}
        if days:
            rule["days"] = days
        return rule
    if kind == "event":
        days = (fields.get("days") or "").strip()
        rule = {"type": "event", "negate": negate, "name": fields.get("name", ""), "count_op": "at_least",
                "count": fields.get("count") or 1, "window": "last_days" if days else "ever",
                **_event_property(fields)}
        if days:
            rule["days"] = days
        return rule
    if kind == "field":
        return {"type": "field", "negate": negate, "field": fields.get("field", "email"),
                "op": fields.get("op", "contains"), "value": fields.get("value", ""),
                **{key: fields[key] for key in ("value_to", "days", "values") if key in fields}}
    if kind == "subscription":
        return {"type": "subscription", "negate": negate, "channel": fields.get("channel", "email")}
    if kind == "clicked":
        return {"type": "clicked", "step_id": fields.get("step_id", "")}
    return {**fields, "negate": negate}


def _event_property(fields: dict) -> dict:
    """An event's property condition as posted (none when no property is named)."""
    if not (fields.get("property") or "").strip():
        return {}
    return {key: fields.get(key, "") for key in ("property", "property_op", "property_value")}


def _trigger_from_form(form) -> dict:
    kind = form.get("trigger-type", "page_view")
    if kind == "event":
        posted = {key.removeprefix("trigger-"): form.get(key) for key in form.keys()
                  if key.startswith("trigger-")}
        return {"type": kind, "name": form.get("trigger-name", ""), **_event_property(posted)}
    if kind == "page_view":
        return {"type": kind, "op": form.get("trigger-op", "contains"),
                "value": form.get("trigger-value", ""), "count": form.get("trigger-count") or 1,
                "days": (form.get("trigger-days") or "").strip() or None}
    if kind == "date":
        days, direction = (form.get("trigger-days") or "").strip(), form.get("trigger-direction", "on")
        offset = "0" if direction == "on" or not days else (f"-{days}" if direction == "before" else days)
        return {"type": kind, "field": form.get("trigger-field", ""), "offset_days": offset,
                "time": form.get("trigger-time", "")}
    key = TRIGGER_KEYS.get(kind, "")
    return {"type": kind, key: form.get(f"trigger-{key}")} if key else {"type": kind}


def _exit_rule_from_fields(fields: dict) -> dict:
    if fields.get("type") == "event":
        return {"type": "event", "name": fields.get("name", "")}
    if fields.get("type") == "segment_joined":
        return {"type": "segment_joined", "segment_id": fields.get("segment_id")}
    return {"type": fields.get("type", "page_view"), "op": fields.get("op", "contains"),
            "value": fields.get("value", "")}


def settings_from_form(form) -> dict:
    """The settings as posted by the form, in the shape service.save_settings takes, unvalidated."""
    rows: dict[str, dict[int, dict]] = {"filters": {}, "exits": {}}
    for key in form.keys():
        match = _INDEXED.match(key)
        if match:
            rows[match.group(1)].setdefault(int(match.group(2)), {})[match.group(3)] = form.get(key)
    return {"name": form.get("name", ""), "trigger": _trigger_from_form(form),
            "filters": [rule_from_fields(rows["filters"][n]) for n in sorted(rows["filters"])],
            "reentry": form.get("reentry", "once"), "reentry_days": form.get("reentry_days", ""),
            "exit_rules": [_exit_rule_from_fields(rows["exits"][n]) for n in sorted(rows["exits"])]}


def apply_settings_action(settings: dict, action: str) -> dict:
    """Buttons that only change the form: add_filter, remove_filter:N, add_exit, remove_exit:N."""
    verb, _, index = action.partition(":")
    if verb == "add_filter" and len(settings["filters"]) < MAX_FILTERS:
        settings["filters"].append(dict(NEW_FILTER))
    elif verb == "add_exit" and len(settings["exit_rules"]) < MAX_EXIT_RULES:
        settings["exit_rules"].append(dict(NEW_EXIT_RULE))
    elif verb in ("remove_filter", "remove_exit") and index.isdigit():
        rows = settings["filters" if verb == "remove_filter" else "exit_rules"]
        if int(index) < len(rows):
            del rows[int(index)]
    return settings


def step_fields(step: dict, form) -> dict:
    """What the step's edit form posted, in the shape service.edit_step (schema.update_step) takes."""
    if step["kind"] in ("split", "goal"):
        fields = {key.removeprefix("condition-"):
                  form.getlist(key) if key == "condition-values" else form.get(key)
                  for key in form.keys() if key.startswith("condition-")}
        return {"condition": rule_from_fields(fields)}
    return {key: form.get(key) for key in STEP_FIELDS if key in form}


def draft_step(step: dict, form) -> dict:
    """The step as its edit form shows it: the saved step with the posted values on top."""
    draft = copy.deepcopy(step)
    fields = step_fields(step, form)
    if step["kind"] in ("split", "goal"):
        draft["condition"] = fields["condition"]
    else:
        draft.update(fields)
    return draft
