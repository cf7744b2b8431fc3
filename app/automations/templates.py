"""Ready paths "New automation" offers: each fills a draft (trigger, steps, auto-stop) that the
marketer edits before activating it. Plain data; new step ids each time one is used."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

from app.automations import schema

GREETING = '<p>Hi {{ first_name | default: "there" }},</p>\n'


@dataclass(frozen=True)
class Template:
    key: str
    name: str
    description: str
    trigger: dict
    steps: list[dict]
    exit_rules: list[dict] = field(default_factory=list)
    reentry: str = "once"
    reentry_days: int = 30


def _email(subject: str, body: str) -> dict:
    return {"kind": "email", "subject": subject, "from_name": "", "body": GREETING + body}


def _wait(amount: int, unit: str = "days") -> dict:
    return {"kind": "delay", "amount": amount, "unit": unit}


def _visited(value: str, days: int | None = None) -> dict:
    rule = {"type": "visit", "negate": False, "op": "contains", "value": value, "count_op": "at_least",
            "count": 1, "window": "last_days" if days else "ever"}
    return {**rule, "days": days} if days else rule


END = {"kind": "end"}

TEMPLATES = {template.key: template for template in (
    Template(
        "pricing_follow_up", "Pricing page follow-up",
        "Viewed the pricing page twice in 7 days: an email; no visit to /thanks within 3 days: a reminder.",
        {"type": "page_view", "op": "contains", "value": "/pricing", "count": 2, "days": 7},
        [_email("Questions about our prices?",
                "<p>You had a look at our prices. If anything is unclear, just reply to this email.</p>"),
         _wait(3),
         {"kind": "split", "condition": _visited("/thanks", 3), "yes": [END],
          "no": [_email("Still deciding?", "<p>Here is what our customers say about us.</p>"), END]}]),
    Template(
        "browse_again", "Browse again",
        "Viewed a product page and did not come back within 2 days: an email.",
        {"type": "page_view", "op": "contains", "value": "/products/", "count": 1, "days": None},
        [_wait(2), _email("Still thinking about it?",
                          "<p>The products you looked at are still here for you.</p>"), END],
        exit_rules=[{"type": "page_view", "op": "contains", "value": "/products/"}], reentry="after_days"),
    Template(
        "welcome_series", "Welcome series",
        "Joined a list: three emails over a week. Choose the list before activating.",
        {"type": "list_joined", "list_id": None},
        [_email("Welcome!", "<p>Thanks for joining us. Here is what to expect.</p>"), _wait(2),
         _email("Getting started", "<p>Three things our customers do first.</p>"), _wait(5),
         _email("How is it going?", "<p>Anything we can help with? Just reply.</p>"), END]),
    Template(
        "birthday", "Birthday",
        "On the contact's birthday, at 9:00: a greeting.",
        {"type": "date", "field": "birthday", "offset_days": 0, "time": "09:00"},
        [_email("Happy birthday!", "<p>All the best from all of us.</p>"), END], reentry="always"),
    Template(
        "hot_lead", "Hot-lead alert",
        "Viewed the pricing page 3 times in 7 days: tag the contact “hot” and tell the team.",
        {"type": "page_view", "op": "contains", "value": "/pricing", "count": 3, "days": 7},
        [{"kind": "tag", "action": "add", "tag": "hot"}, {"kind": "notify", "to": []}, END],
        reentry="after_days"),
)}


def _with_ids(steps: list[dict]) -> list[dict]:
    made = []
    for step in copy.deepcopy(steps):
        step["id"] = schema.new_id()
        if step["kind"] == "split":
            step["yes"], step["no"] = _with_ids(step["yes"]), _with_ids(step["no"])
        if step["kind"] == "webhook":
            step["secret"] = step.get("secret") or schema.new_step("webhook")["secret"]
        made.append(step)
    return made


def fill(automation, template: Template, notify: str) -> None:
    """Give a new draft the template's settings and path; `notify`: the address a "Notify the team"
    step starts with (the user creating it)."""
    automation.name, automation.trigger = template.name, dict(template.trigger)
    automation.exit_rules = copy.deepcopy(template.exit_rules)
    automation.reentry, automation.reentry_days = template.reentry, template.reentry_days
    steps = _with_ids(template.steps)
    for step in schema.walk(steps):
        if step["kind"] == "notify" and not step["to"]:
            step["to"] = [notify]
    automation.steps = steps
