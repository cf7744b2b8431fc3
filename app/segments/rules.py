"""The rule tree of a segment: its schema, validation of any input (forms or hand-made requests),
and the plain-language summary.

    {"join": "and" | "or",
     "groups": [{"match": "all" | "any", "rules": [rule, ...]}, ...]}

Rules (every one may carry "negate": true, e.g. "did not view"):
    {"type": "visit", "op": URL_OPS, "value": "/pricing", "count_op": "at_least" | "at_most" | "exactly",
     "count": 2, "window": "last_days" | "between" | "ever", "days": 14, "start": "2026-01-01",
     "end": "2026-02-01"}
    {"type": "field", "field": a field key (app/contacts/fields.py), "field_type": its type,
     "op": the type's OPS_BY_TYPE, and what the op compares with:
       text: "value": "..."; number: "value": 5 (and "value_to": 9 for "between");
       date: "value": "2026-01-01" (before, after) or "days": 30 (last_days, anniversary_days);
       choice: "values": ["Pro", "Team"] (any_of); yes/no and the empty tests: nothing}
    {"type": "created", "op": "last_days" | "before" | "after", "days": 7, "date": "2026-01-01"}
    {"type": "list", "list_id": 3}                       member of the list
    {"type": "tag", "tag_id": 4}                         has the tag
    {"type": "subscription", "channel": "email" | "sms"}  subscribed to the channel
    {"type": "segment", "segment_id": 6}                 a (materialised) member of another segment
    {"type": "activity", "channel": "email" | "sms", "action": "sent" | "clicked",
     "campaign_id": 5 | null (any), "days": 30 | null (ever)}
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from app.tracking.custom_events import NAME as EVENT_NAME, PROPERTY_KEY

from app.contacts.fields import BUILT_IN

MAX_RULES = 50
MAX_GROUPS = 20
MAX_VALUE_LENGTH = 500
URL_OPS = {"is": "is", "is_not": "is not", "contains": "contains", "not_contains": "does not contain",
           "starts_with": "starts with", "ends_with": "ends with", "matches": "matches"}
TEXT_OPS = {"is": "is", "is_not": "is not", "contains": "contains", "not_contains": "does not contain",
            "starts_with": "starts with", "ends_with": "ends with", "is_empty": "is empty",
            "is_not_empty": "is not empty"}
NUMBER_OPS = {"eq": "is", "lt": "is less than", "gt": "is more than", "between": "is between",
              "is_empty": "is empty", "is_not_empty": "is not empty"}
DATE_OPS = {"before": "is before", "after": "is after", "last_days": "is in the last",
            "anniversary_days": "has its anniversary within", "is_empty": "is empty",
            "is_not_empty": "is not empty"}
BOOLEAN_OPS = {"is_yes": "is yes", "is_no": "is no or empty"}
CHOICE_OPS = {"any_of": "is any of", "is_empty": "is empty", "is_not_empty": "is not empty"}
OPS_BY_TYPE = {"text": TEXT_OPS, "number": NUMBER_OPS, "date": DATE_OPS, "boolean": BOOLEAN_OPS,
               "choice": CHOICE_OPS}
EMPTY_OPS = ("is_empty", "is_not_empty")
COUNT_OPS = {"at_least": "at least", "at_most": "at most", "exactly": "exactly"}
# The built-in fields, for rules checked without the account's own (and their summaries).
BUILT_IN_FIELDS = {field.key: field for field in BUILT_IN}
FIELDS = {field.key: field.name.lower() for field in BUILT_IN}
RULE_TYPES = ("visit", "field", "created", "list", "tag", "subscription", "activity", "segment", "event")
# How an event rule compares a property: as text (is, is not, contains) or as a number.
PROPERTY_OPS = {"is": "is", "is_not": "is not", "contains": "contains", "gt": "is more than",
                "lt": "is less than"}


class RuleError(ValueError):
    """Why a rule tree cannot be accepted; `where` names the group and rule (0-based) if any."""

    def __init__(self, message: str, where: tuple[int, int] | None = None):
        super().__init__(message)
        self.where = where


def _int(value: Any, low: int, high: int, what: str) -> int:
    if isinstance(value, bool):
        raise RuleError(f"{what} must be a whole number.")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise RuleError(f"{what} must be a whole number.") from None
    if not low <= number <= high:
        raise RuleError(f"{what} must be between {low:,} and {high:,}.")
    return number


def _choice(value: Any, allowed, what: str) -> str:
    if value not in allowed:
        raise RuleError(f"Choose {what}.")
    return value


def _date(value: Any, what: str) -> str:
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise RuleError(f"{what} must be a date (YYYY-MM-DD).") from None


def _number(value: Any, what: str) -> int | float:
    if isinstance(value, bool):
        raise RuleError(f"{what} must be a number.")
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise RuleError(f"{what} must be a number.") from None
    if not number.is_finite() or abs(number) > Decimal(10) ** 12:
        raise RuleError(f"{what} must be a number between -1,000,000,000,000 and 1,000,000,000,000.")
    return int(number) if number == number.to_integral_value() else float(number)


def _field_rule(rule: dict, clean: dict, fields: dict) -> None:
    """The parts of a contact-field rule: the field, an operator its type has, the values."""
    field = fields.get(rule.get("field"))
    if field is None:
        raise RuleError("Choose a contact field.")
    kind = str(field.type)
    clean["field"], clean["field_type"] = field.key, kind
    op = clean["op"] = _choice(rule.get("op"), OPS_BY_TYPE[kind], "how to compare the field")
    if kind == "text":
        clean["value"] = _text(rule.get("value"), "a value", required=op not in EMPTY_OPS)
    elif op in EMPTY_OPS or kind == "boolean":
        return
    elif kind == "number":
        clean["value"] = _number(rule.get("value"), "The number")
        if op == "between":
            clean["value_to"] = _number(rule.get("value_to"), "The second number")
            if clean["value_to"] < clean["value"]:
                raise RuleError("The first number must not be larger than the second.")
    elif kind == "date":
        if op in ("before", "after"):
            clean["value"] = _date(rule.get("value"), "The date")
        else:
            clean["days"] = _int(rule.get("days"), 0 if op == "anniversary_days" else 1,
                                 365 if op == "anniversary_days" else 3650, "The number of days")
    else:
        chosen = rule.get("values")
        chosen = [chosen] if isinstance(chosen, str) else chosen
        if not isinstance(chosen, list) or not chosen:
            raise RuleError("Choose at least one of the choices.")
        by_lower = {choice.lower(): choice for choice in field.choices}
        values = []
        for value in chosen:
            if not isinstance(value, str) or value.lower() not in by_lower:
                raise RuleError(f"Choose among the field's choices: {', '.join(field.choices)}.")
            if by_lower[value.lower()] not in values:
                values.append(by_lower[value.lower()])
        clean["values"] = values


def _text(value: Any, what: str, required: bool = True) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise RuleError(f"{what} must be text.")
    value = value.strip()
    if required and not value:
        raise RuleError(f"Enter {what}.")
    if len(value) > MAX_VALUE_LENGTH:
        raise RuleError(f"{what[0].upper()}{what[1:]} is too long (at most {MAX_VALUE_LENGTH} characters).")
    return value


def validate_rule(rule: Any, ids: dict[str, Any]) -> dict:
    """A clean copy of one rule, or RuleError. `ids` holds the account's list, tag and campaign ids,
    and under "fields" its contact fields by key (the built-in ones when absent)."""
    if not isinstance(rule, dict):
        raise RuleError("A rule must be an object.")
    kind = _choice(rule.get("type"), RULE_TYPES, "a rule type")
    clean: dict[str, Any] = {"type": kind, "negate": bool(rule.get("negate", False))}
    if kind == "event":
        name = rule.get("name")
        if not isinstance(name, str) or not EVENT_NAME.match(name.strip()):
            raise RuleError("Enter the event's name, as signup or order.placed.")
        clean["name"] = name.strip()
        prop = rule.get("property") or ""
        if prop:
            if not isinstance(prop, str) or not PROPERTY_KEY.match(prop.strip()):
                raise RuleError("A property's name is 1 to 40 letters, digits and _ . -.")
            clean["property"] = prop.strip()
            clean["property_op"] = _choice(rule.get("property_op", "is"), PROPERTY_OPS,
                                           "how to compare the property")
            if clean["property_op"] in ("gt", "lt"):
                clean["property_value"] = _number(rule.get("property_value"), "The property's value")
            else:
                clean["property_value"] = _text(rule.get("property_value"), "the property's value")
    if kind in ("visit", "event"):
        if kind == "visit":
            clean["op"] = _choice(rule.get("op"), URL_OPS, "how to compare the page URL")
            clean["value"] = _text(rule.get("value"), "a page URL")
        clean["count_op"] = _choice(rule.get("count_op", "at_least"), COUNT_OPS,
                                    "at least, at most or exactly")
        clean["count"] = _int(rule.get("count", 1), 0, 100_000,
                              "The number of views" if kind == "visit" else "The number of times")
        clean["window"] = _choice(rule.get("window", "ever"), ("last_days", "between", "ever"),
                                  "a time window")
        if clean["window"] == "last_days":
            clean["days"] = _int(rule.get("days"), 1, 3650, "The number of days")
        elif clean["window"] == "between":
            clean["start"], clean["end"] = (_date(rule.get("start"), "The start"),
                                            _date(rule.get("end"), "The end"))
            if clean["start"] > clean["end"]:
                raise RuleError("The start date must be before the end date.")
    elif kind == "field":
        _field_rule(rule, clean, ids.get("fields") or BUILT_IN_FIELDS)
    elif kind == "created":
        clean["op"] = _choice(rule.get("op"), ("last_days", "before", "after"), "when the contact was added")
        if clean["op"] == "last_days":
            clean["days"] = _int(rule.get("days"), 1, 3650, "The number of days")
        else:
            clean["date"] = _date(rule.get("date"), "The date")
    elif kind in ("list", "tag", "segment"):
        key = f"{kind}_id"
        clean[key] = _int(rule.get(key), 1, 2**31, f"The {kind}")
        if clean[key] not in ids.get(kind, set()):
            raise RuleError(f"Choose one of your {kind}s.")
    elif kind == "subscription":
        clean["channel"] = _choice(rule.get("channel"), ("email", "sms"), "email or SMS")
    elif kind == "activity":
        clean["channel"] = _choice(rule.get("channel"), ("email", "sms"), "email or SMS")
        clean["action"] = _choice(rule.get("action"), ("sent", "clicked"), "was sent or clicked")
        campaign = rule.get("campaign_id")
        clean["campaign_id"] = (None if campaign in (None, "", "any")
                                else _int(campaign, 1, 2**31, "The campaign"))
        if clean["campaign_id"] is not None and clean["campaign_id"] not in ids.get("campaign", set()):
            raise RuleError("Choose one of your campaigns.")
        days = rule.get("days")
        clean["days"] = None if days in (None, "", "ever") else _int(days, 1, 3650, "The number of days")
    return clean


def validate(tree: Any, ids: dict[str, Any]) -> dict:
    """A clean copy of a whole rule tree, or RuleError naming the first problem and where it is."""
    if not isinstance(tree, dict) or not isinstance(tree.get("groups"), list):
        raise RuleError("The rules are not in the expected form.")
    join = _choice(tree.get("join", "and"), ("and", "or"), "AND or OR between groups")
    groups = tree["groups"]
    if not groups:
        raise RuleError("Add at least one rule.")
    if len(groups) > MAX_GROUPS:
        raise RuleError(f"A segment has at most {MAX_GROUPS} groups.")
    if sum(len(group.get("rules", [])) if isinstance(group, dict) else 0 for group in groups) > MAX_RULES:
        raise RuleError(f"A segment has at most {MAX_RULES} rules.")
    clean_groups = []
    for g, group in enumerate(groups):
        if not isinstance(group, dict) or not isinstance(group.get("rules"), list) or not group["rules"]:
            raise RuleError("Each group needs at least one rule.", (g, 0))
        match = group.get("match", "all")
        if match not in ("all", "any"):
            raise RuleError("Choose ALL or ANY.", (g, 0))
        rules = []
        for r, rule in enumerate(group["rules"]):
            try:
                rules.append(validate_rule(rule, ids))
            except RuleError as error:
                raise RuleError(str(error), (g, r)) from None
        clean_groups.append({"match": match, "rules": rules})
    return {"join": join, "groups": clean_groups}


def describe_rule(rule: dict, names: dict[str, dict[int, str]]) -> str:
    kind, negate = rule["type"], rule.get("negate", False)
    if kind == "event":
        window = {"ever": "", "last_days": f" in the last {rule.get('days')} days",
                  "between": f" between {rule.get('start')} and {rule.get('end')}"}[rule["window"]]
        times = "time" if rule["count"] == 1 else "times"
        where = (f" with {rule['property']} {PROPERTY_OPS[rule['property_op']]} {rule['property_value']}"
                 if rule.get("property") else "")
        text = f"did {rule['name']}{where} {COUNT_OPS[rule['count_op']]} {rule['count']} {times}{window}"
        return ("did not do " + text[4:]) if negate else text
    if kind == "visit":
        window = {"ever": "", "last_days": f" in the last {rule.get('days')} days",
                  "between": f" between {rule.get('start')} and {rule.get('end')}"}[rule["window"]]
        times = "time" if rule["count"] == 1 else "times"
        text = (f"viewed a page whose URL {URL_OPS[rule['op']]} {rule['value']} "
                f"{COUNT_OPS[rule['count_op']]} {rule['count']} {times}{window}")
        return ("did not " + text.replace("viewed", "view", 1)) if negate else text
    if kind == "field":
        text = describe_field_rule(rule, names)
    elif kind == "created":
        text = {"last_days": f"were added in the last {rule.get('days')} days",
                "before": f"were added before {rule.get('date')}",
                "after": f"were added after {rule.get('date')}"}[rule["op"]]
    elif kind == "list":
        text = f"are on {names.get('list', {}).get(rule['list_id'], 'a deleted list')}"
    elif kind == "tag":
        text = f"are tagged {names.get('tag', {}).get(rule['tag_id'], 'with a deleted tag')}"
    elif kind == "segment":
        text = f"are in the segment {names.get('segment', {}).get(rule['segment_id'], 'that was deleted')}"
    elif kind == "subscription":
        text = f"are subscribed to {'emails' if rule['channel'] == 'email' else 'text messages'}"
    else:
        what = "any campaign" if rule["campaign_id"] is None else \
            names.get("campaign", {}).get(rule["campaign_id"], "a deleted campaign")
        medium = "email" if rule["channel"] == "email" else "SMS"
        days = f" in the last {rule['days']} days" if rule["days"] else ""
        text = (f"were sent {medium} {what}{days}" if rule["action"] == "sent"
                else f"clicked a link in {medium} {what}{days}")
    return f"not ({text})" if negate else text


def describe_field_rule(rule: dict, names: dict) -> str:
    """"plan is any of Pro or Team", "birthday has its anniversary within 7 days"."""
    kind, op = rule.get("field_type", "text"), rule["op"]
    name = names.get("field", {}).get(rule["field"]) or FIELDS.get(rule["field"]) or rule["field"]
    words = OPS_BY_TYPE[kind][op]
    if op in EMPTY_OPS or kind == "boolean":
        value = ""
    elif kind == "number":
        value = f" {rule['value']:,}" + (f" and {rule['value_to']:,}" if op == "between" else "")
    elif kind == "date" and op in ("last_days", "anniversary_days"):
        value = f" {rule['days']} day{'' if rule['days'] == 1 else 's'}"
    elif kind == "choice":
        value = " " + " or ".join(rule["values"])
    else:
        value = f" {rule['value']}"
    return f"{name} {words}{value}"


def summary(tree: dict, names: dict[str, dict[int, str]]) -> str:
    """"Contacts who viewed a page whose URL contains /pricing at least 2 times in the last 14 days
    and are on Newsletter"."""
    parts = []
    for group in tree["groups"]:
        joined = (" and " if group["match"] == "all" else " or ").join(
            describe_rule(r, names) for r in group["rules"])
        parts.append(f"({joined})" if len(tree["groups"]) > 1 and len(group["rules"]) > 1 else joined)
    return "Contacts who " + f" {tree['join'].upper()} ".join(parts)
