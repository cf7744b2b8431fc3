"""A rule tree compiled to one SQL query (SQLAlchemy Core) that selects the ids of matching
contacts, run in the database: never a loop per contact in Python. The same SQL on SQLite and
PostgreSQL (SQLite's LIKE is made case-sensitive, as PostgreSQL's is, in app/__init__.py).

A visit rule binds page, window and count to the same page views: one subquery groups the
contact's views that match the URL *and* fall in the window, and compares their count.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from sqlalchemy import String, and_, case, cast, exists, false, func, not_, or_, select, true

from app.contacts.fields import BUILT_IN_KEYS
from app.extensions import db

from app.models import (Contact, CustomEvent, Email, LinkClick, PageView, SmsMessage, contact_tags,
                        list_members,
                        segment_members)
from app.models.contacts import Subscription
from app.models.messaging import DELIVERED
from app.models.types import utcnow
from app.tracking.urls import match_value

_ESCAPE = "\\"


def _like_literal(text: str) -> str:
    return text.replace(_ESCAPE, _ESCAPE * 2).replace("%", _ESCAPE + "%").replace("_", _ESCAPE + "_")


def _text_condition(column, op: str, value: str):
    literal = _like_literal(value)
    if op == "is":
        return column == value
    if op == "is_not":
        return column != value
    if op == "contains":
        return column.like(f"%{literal}%", escape=_ESCAPE)
    if op == "not_contains":
        return not_(column.like(f"%{literal}%", escape=_ESCAPE))
    if op == "starts_with":
        return column.like(f"{literal}%", escape=_ESCAPE)
    if op == "ends_with":
        return column.like(f"%{literal}", escape=_ESCAPE)
    if op == "matches":  # a wildcard pattern: `*` is any text, everything else literal
        return column.like("%".join(_like_literal(part) for part in value.split("*")), escape=_ESCAPE)
    if op == "is_empty":
        return column == ""
    if op == "is_not_empty":
        return column != ""
    raise ValueError(op)


def url_condition(op: str, value: str):
    """A page-view condition for a URL rule, on the normalised forms of both sides."""
    normalised, form = match_value(value)
    column = PageView.match_path if form == "path" else PageView.match_url
    if form == "url" and op in ("is", "is_not") and "/" not in normalised:
        normalised = normalised.lower()  # a bare host
    return _text_condition(column, op, normalised)


def _month_days(today: date, days: int) -> list[str]:
    """The "MM-DD" of today and the next `days` days; 02-29 with 02-28 in a year without it, so a
    leap-day birthday is celebrated every year."""
    month_days = {(today + timedelta(days=n)).strftime("%m-%d") for n in range(days + 1)}
    if "02-28" in month_days and (today.year % 4 or (today.year % 100 == 0 and today.year % 400)):
        month_days.add("02-29")
    return sorted(month_days)


def _typed(key: str, cast, postgresql_types: tuple[str, ...], sqlite_types: tuple[str, ...]):
    """The cast value of a custom field, NULL unless the stored JSON value has a type it casts
    from: PostgreSQL may cast before it filters by account, and another account's field of the
    same key may hold text."""
    if db.engine.dialect.name == "postgresql":
        stored_type = func.jsonb_typeof(Contact.custom[key])
        return case((stored_type.in_(postgresql_types), cast), else_=None)
    return case((func.json_type(Contact.custom, f'$."{key}"').in_(sqlite_types), cast), else_=None)


def field_condition(rule: dict, now: datetime):
    """A contact-field rule on the column of a built-in field or the value in Contact.custom. An
    empty built-in field holds "", an empty custom one is absent (NULL)."""
    key, kind, op = rule["field"], rule.get("field_type", "text"), rule["op"]
    built_in = key in BUILT_IN_KEYS
    element = None if built_in else Contact.custom[key]
    if kind == "number":
        column = _typed(key, element.as_float(), ("number",), ("integer", "real"))
        if op in ("is_empty", "is_not_empty"):
            return column.is_(None) if op == "is_empty" else column.is_not(None)
        if op == "between":
            compared = column.between(rule["value"], rule["value_to"])
        else:
            compared = {"eq": column == rule["value"], "lt": column < rule["value"],
                        "gt": column > rule["value"]}[op]
        return and_(column.is_not(None), compared)  # negated, "not (score > 5)" includes no score
    if kind == "boolean":
        column = func.coalesce(_typed(key, element.as_boolean(), ("boolean",), ("true", "false")), false())
        return column == (true() if op == "is_yes" else false())
    column = getattr(Contact, key) if built_in else func.coalesce(element.as_string(), "")
    if op in ("is_empty", "is_not_empty"):
        return column == "" if op == "is_empty" else column != ""
    if kind == "choice":
        return column.in_(rule["values"])
    if kind == "date":
        # Dates with a year ("1990-03-15") sort after "" and "--03-15" (no year): ">= '0'" keeps them.
        today = now.date()
        # Only dates with a year ("1990-03-15", not "--03-15" nor ""): compared as text, which
        # for ISO dates of one length is their order under any collation.
        dated = and_(column != "", not_(column.like("--%")))
        if op == "before":
            return and_(dated, column < rule["value"])
        if op == "after":
            return and_(dated, column > rule["value"])
        if op == "last_days":
            return and_(dated, column.between((today - timedelta(days=rule["days"])).isoformat(),
                                              today.isoformat()))
        return func.substr(column, func.length(column) - 4).in_(_month_days(today, rule["days"]))
    return _text_condition(column, op, rule["value"])


def _day_start(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=timezone.utc)


def visit_condition(account_id: int, rule: dict, now: datetime, contact_ids=None):
    conditions = [PageView.account_id == account_id, PageView.contact_id.is_not(None),
                  url_condition(rule["op"], rule["value"])]
    if contact_ids is not None:  # incremental updates: only these contacts' views
        conditions.append(PageView.contact_id.in_(contact_ids))
    if rule["window"] == "last_days":
        conditions.append(PageView.received_at >= now - timedelta(days=rule["days"]))
    elif rule["window"] == "between":
        conditions += [PageView.received_at >= _day_start(rule["start"]),
                       PageView.received_at < _day_start(rule["end"]) + timedelta(days=1)]
    # Grouped by an expression, not the bare column, so the planner scans the window through the
    # covering (account, time, contact, URL) index instead of walking every view of every contact.
    contact = func.coalesce(PageView.contact_id, 0)
    views = select(contact).where(*conditions).group_by(contact)
    return _counted(views, func.count(PageView.id), rule)


def _property_condition(rule: dict):
    """An event property compared as text (its JSON text: 42, pro) or as a number."""
    element = CustomEvent.properties[rule["property"]]
    op, value = rule["property_op"], rule["property_value"]
    if op in ("gt", "lt"):
        if db.engine.dialect.name == "postgresql":
            number = case((func.jsonb_typeof(element) == "number", element.as_float()), else_=None)
        else:
            stored_type = func.json_type(CustomEvent.properties, f'$."{rule["property"]}"')
            number = case((stored_type.in_(("integer", "real")), element.as_float()), else_=None)
        return and_(number.is_not(None), number > value if op == "gt" else number < value)
    if db.engine.dialect.name == "postgresql":
        text = CustomEvent.properties.op("->>", return_type=String)(rule["property"])
    else:  # (yes/no as PostgreSQL writes them: true, false)
        path = f'$."{rule["property"]}"'
        kind = func.json_type(CustomEvent.properties, path)
        text = case((kind == "true", "true"), (kind == "false", "false"),
                    else_=cast(func.json_extract(CustomEvent.properties, path), String))
    text = func.coalesce(text, "")
    return {"is": text == value, "is_not": text != value,
            "contains": text.like(f"%{_like_literal(value)}%", escape=_ESCAPE)}[op]


def event_condition(account_id: int, rule: dict, now: datetime, contact_ids=None):
    """An event rule binds name, property, window and count to the same events, as a visit rule
    does to page views."""
    conditions = [CustomEvent.account_id == account_id, CustomEvent.contact_id.is_not(None),
                  CustomEvent.name == rule["name"]]
    if rule.get("property"):
        conditions.append(_property_condition(rule))
    if contact_ids is not None:
        conditions.append(CustomEvent.contact_id.in_(contact_ids))
    if rule["window"] == "last_days":
        conditions.append(CustomEvent.occurred_at >= now - timedelta(days=rule["days"]))
    elif rule["window"] == "between":
        conditions += [CustomEvent.occurred_at >= _day_start(rule["start"]),
                       CustomEvent.occurred_at < _day_start(rule["end"]) + timedelta(days=1)]
    events = select(CustomEvent.contact_id).where(*conditions).group_by(CustomEvent.contact_id)
    return _counted(events, func.count(CustomEvent.id), rule)


def _counted(grouped, count, rule: dict):
    """Contacts whose grouped rows (a subquery of contact ids) number as the rule says. Contacts
    with none are not in it: "at most" and "exactly 0" are the complement of a "more than" set."""
    n = rule["count"]
    if rule["count_op"] == "at_least":
        return true() if n == 0 else Contact.id.in_(grouped.having(count >= n))
    if rule["count_op"] == "at_most":
        return Contact.id.not_in(grouped.having(count > n))
    if n == 0:
        return Contact.id.not_in(grouped)
    return Contact.id.in_(grouped.having(count == n))


def _activity_condition(account_id: int, rule: dict, now: datetime):
    since = now - timedelta(days=rule["days"]) if rule["days"] else None
    if rule["action"] == "clicked":
        model, when = LinkClick, LinkClick.clicked_at
        conditions = [LinkClick.account_id == account_id, LinkClick.channel == rule["channel"],
                      LinkClick.contact_id == Contact.id]
    else:
        model = Email if rule["channel"] == "email" else SmsMessage
        when = model.created_at
        conditions = [model.account_id == account_id, model.contact_id == Contact.id,
                      model.campaign_id.is_not(None), model.status.in_(DELIVERED)]
    if rule["campaign_id"] is not None:
        conditions.append(model.campaign_id == rule["campaign_id"])
    else:
        conditions.append(model.campaign_id.is_not(None))
    if since is not None:
        conditions.append(when >= since)
    return exists().where(*conditions)


def rule_condition(account_id: int, rule: dict, now: datetime, contact_ids=None):
    kind = rule["type"]
    if kind == "visit":
        condition = visit_condition(account_id, rule, now, contact_ids)
    elif kind == "event":
        condition = event_condition(account_id, rule, now, contact_ids)
    elif kind == "field":
        condition = field_condition(rule, now)
    elif kind == "created":
        if rule["op"] == "last_days":
            condition = Contact.created_at >= now - timedelta(days=rule["days"])
        elif rule["op"] == "before":
            condition = Contact.created_at < _day_start(rule["date"])
        else:
            condition = Contact.created_at >= _day_start(rule["date"]) + timedelta(days=1)
    elif kind == "list":
        condition = exists().where(list_members.c.contact_id == Contact.id,
                                   list_members.c.list_id == rule["list_id"])
    elif kind == "tag":
        condition = exists().where(contact_tags.c.contact_id == Contact.id,
                                   contact_tags.c.tag_id == rule["tag_id"])
    elif kind == "segment":
        condition = exists().where(segment_members.c.contact_id == Contact.id,
                                   segment_members.c.segment_id == rule["segment_id"])
    elif kind == "subscription":
        column = Contact.email_status if rule["channel"] == "email" else Contact.sms_status
        condition = column == Subscription.SUBSCRIBED
        if rule["channel"] == "sms":
            condition = and_(condition, Contact.phone != "")
    else:
        condition = _activity_condition(account_id, rule, now)
    return not_(condition) if rule.get("negate") else condition


def tree_condition(account_id: int, tree: dict, now: datetime | None = None, contact_ids=None):
    now = now or utcnow()
    groups = []
    for group in tree["groups"]:
        conditions = [rule_condition(account_id, rule, now, contact_ids) for rule in group["rules"]]
        groups.append(and_(*conditions) if group["match"] == "all" else or_(*conditions))
    if not groups:
        return false()
    return and_(*groups) if tree["join"] == "and" else or_(*groups)


def members_query(account_id: int, tree: dict, now: datetime | None = None, contact_ids=None):
    """SELECT contacts.id of the account's contacts matching the tree (optionally among some ids)."""
    ids = None if contact_ids is None else list(contact_ids)
    query = select(Contact.id).where(Contact.account_id == account_id,
                                     tree_condition(account_id, tree, now, ids))
    if ids is not None:
        query = query.where(Contact.id.in_(ids))
    return query
