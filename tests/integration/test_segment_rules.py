"""Segment rules in SQL against a plain-Python reference evaluator over the same rows, on the
database under test (SQLite, or PostgreSQL with DATABASE_URL): property-based with hypothesis,
plus the cases marketers rely on."""
import re
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import delete

from app import accounts
from app.extensions import db
from app.models import Account, Contact, ContactList, PageView, Tag, TrackingSite
from app.models.types import utcnow
from app.segments.compiler import members_query
from app.segments.rules import RuleError, summary, validate
from app.tracking import setup
from app.tracking.urls import match_forms, match_value

NOW = utcnow()
URLS = ["https://www.shop.example/pricing", "http://shop.example/pricing/", "https://shop.example/Pricing?cid=abc",
        "https://blog.shop.example/post?a=1", "https://shop.example/", "https://shop.example/pricing?plan=pro",
        "https://shop.example/a_b%25c", "https://www.shop.example/blog/2026/x"]
VALUES = ["/pricing", "pricing", "shop.example/pricing", "https://www.shop.example/pricing/", "/", "blog",
          "/pricing?plan=pro", "*pricing*", "shop.example/*", "/p*g", "a_b", "%", "Pricing", "/blog/*/x"]
AGES = [0, 1, 5, 13, 15, 29, 31, 45, 89]


# ---- the reference evaluator: plain Python, the spec's words ----------------------------------
def ref_text(op, column_value, value):
    if op == "is":
        return column_value == value
    if op == "is_not":
        return column_value != value
    if op == "contains":
        return value in column_value
    if op == "not_contains":
        return value not in column_value
    if op == "starts_with":
        return column_value.startswith(value)
    if op == "ends_with":
        return column_value.endswith(value)
    if op == "matches":
        pattern = ".*".join(re.escape(part) for part in value.split("*"))
        return re.fullmatch(pattern, column_value, re.S) is not None
    if op == "is_empty":
        return column_value == ""
    if op == "is_not_empty":
        return column_value != ""
    raise AssertionError(op)


def ref_url(op, view, value):
    normalised, form = match_value(value)
    if form == "url" and op in ("is", "is_not") and "/" not in normalised:
        normalised = normalised.lower()
    return ref_text(op, view["match_path"] if form == "path" else view["match_url"], normalised)


def ref_rule(rule, contact, data):
    kind = rule["type"]
    if kind == "visit":
        views = [v for v in data["views"] if v["contact_id"] == contact["id"]
                 and ref_url(rule["op"], v, rule["value"])]
        if rule["window"] == "last_days":
            views = [v for v in views if v["received_at"] >= NOW - timedelta(days=rule["days"])]
        n = len(views)
        result = {"at_least": n >= rule["count"], "at_most": n <= rule["count"],
                  "exactly": n == rule["count"]}[rule["count_op"]]
    elif kind == "field":
        result = ref_text(rule["op"], contact[rule["field"]], rule["value"])
    elif kind == "list":
        result = rule["list_id"] in contact["lists"]
    elif kind == "tag":
        result = rule["tag_id"] in contact["tags"]
    elif kind == "subscription":
        result = contact["email_status"] == "subscribed" if rule["channel"] == "email" else \
            contact["sms_status"] == "subscribed" and contact["phone"] != ""
    else:
        raise AssertionError(kind)
    return not result if rule.get("negate") else result


def ref_members(tree, data):
    members = set()
    for contact in data["contacts"]:
        groups = [(all if g["match"] == "all" else any)(ref_rule(r, contact, data) for r in g["rules"])
                  for g in tree["groups"]]
        if (all if tree["join"] == "and" else any)(groups):
            members.add(contact["id"])
    return members


# ---- generated data and rules ------------------------------------------------------------------
visit_rules = st.fixed_dictionaries({
    "type": st.just("visit"),
    "op": st.sampled_from(["is", "is_not", "contains", "not_contains", "starts_with", "ends_with",
                           "matches"]),
    "value": st.sampled_from(VALUES), "count_op": st.sampled_from(["at_least", "at_most", "exactly"]),
    "count": st.integers(0, 3), "window": st.sampled_from(["ever", "last_days"]),
    "days": st.sampled_from([1, 14, 30]), "negate": st.booleans()})
field_rules = st.fixed_dictionaries({
    "type": st.just("field"), "field": st.sampled_from(["email", "first_name", "phone"]),
    "op": st.sampled_from(["is", "contains", "starts_with", "ends_with", "is_empty", "is_not_empty",
                           "not_contains"]),
    "value": st.sampled_from(["ada", "Ada", "@x.example", "+1", "grace@x.example"]), "negate": st.booleans()})
membership_rules = st.one_of(
    st.fixed_dictionaries({"type": st.just("list"), "list_id": st.integers(0, 1), "negate": st.booleans()}),
    st.fixed_dictionaries({"type": st.just("tag"), "tag_id": st.integers(0, 1), "negate": st.booleans()}),
    st.fixed_dictionaries({"type": st.just("subscription"), "channel": st.sampled_from(["email", "sms"]),
                           "negate": st.booleans()}))
trees = st.fixed_dictionaries({
    "join": st.sampled_from(["and", "or"]),
    "groups": st.lists(st.fixed_dictionaries({
        "match": st.sampled_from(["all", "any"]),
        "rules": st.lists(st.one_of(visit_rules, visit_rules, field_rules, membership_rules),
                          min_size=1, max_size=3)}),
        min_size=1, max_size=3)})
people = st.lists(st.fixed_dictionaries({
    "first_name": st.sampled_from(["Ada", "ada", "", "Grace"]),
    "phone": st.sampled_from(["", "+14155550100"]),
    "email_status": st.sampled_from(["subscribed", "unsubscribed"]),
    "sms_status": st.sampled_from(["subscribed", "unsubscribed"]),
    "lists": st.sets(st.integers(0, 1)), "tags": st.sets(st.integers(0, 1)),
    "views": st.lists(st.tuples(st.sampled_from(URLS), st.sampled_from(AGES)), max_size=5)}),
    min_size=1, max_size=5)


def build(people_data):
    """Insert an account with these contacts and page views; the rows as the reference sees them."""
    user = accounts.register(f"owner{NOW.timestamp()}-{id(people_data)}@seg.example", "x" * 12)
    site = setup.activate(user, "https://www.shop.example", terms_accepted=True)
    lists = [ContactList(account_id=user.account_id, name=f"L{n}") for n in range(2)]
    tags = [Tag(account_id=user.account_id, name=f"T{n}") for n in range(2)]
    db.session.add_all(lists + tags)
    db.session.flush()
    data = {"contacts": [], "views": [], "account_id": user.account_id,
            "lists": [item.id for item in lists], "tags": [tag.id for tag in tags]}
    for n, person in enumerate(people_data):
        contact = Contact(account_id=user.account_id, email=f"c{n}@x.example",
                          first_name=person["first_name"], phone=person["phone"],
                          email_status=person["email_status"],
                          sms_status=person["sms_status"],
                          lists=[lists[i] for i in person["lists"]], tags=[tags[i] for i in person["tags"]])
        db.session.add(contact)
        db.session.flush()
        data["contacts"].append({"id": contact.id, "email": contact.email, "first_name": contact.first_name,
                                 "last_name": "", "phone": contact.phone,
                                 "email_status": contact.email_status, "sms_status": contact.sms_status,
                                 "lists": {lists[i].id for i in person["lists"]},
                                 "tags": {tags[i].id for i in person["tags"]}})
        for v, (url, age) in enumerate(person["views"]):
            match_url, match_path = match_forms(url)
            received = NOW - timedelta(days=age, minutes=1)
            db.session.add(PageView(event_id=f"{contact.id}-{v}", account_id=user.account_id, site_id=site.id,
                                    contact_id=contact.id, visitor_id="v", host="h", url=url, path="/",
                                    match_url=match_url, match_path=match_path, received_at=received))
            data["views"].append({"contact_id": contact.id, "match_url": match_url, "match_path": match_path,
                                  "received_at": received})
    db.session.commit()
    return data


def bind_ids(tree, data):
    """Generated list/tag indexes → the ids of the rows built."""
    for group in tree["groups"]:
        for rule in group["rules"]:
            if rule["type"] in ("list", "tag"):
                key = f"{rule['type']}_id"
                rule[key] = data[f"{rule['type']}s"][rule[key] % 2]
    return tree


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(people_data=people, tree=trees)
def test_sql_matches_the_reference_evaluator(app, people_data, tree):
    data = build(people_data)
    try:
        tree = validate(bind_ids(tree, data), {"list": set(data["lists"]), "tag": set(data["tags"])})
        sql = set(db.session.scalars(members_query(data["account_id"], tree, NOW)))
        assert sql == ref_members(tree, data), summary(tree, {})
    finally:
        db.session.rollback()
        db.session.execute(delete(TrackingSite).where(TrackingSite.account_id == data["account_id"]))
        db.session.execute(delete(Account).where(Account.id == data["account_id"]))
        db.session.commit()


def visit(value, count=1, days=None, op="contains", count_op="at_least", negate=False):
    rule = {"type": "visit", "op": op, "value": value, "count_op": count_op, "count": count, "negate": negate,
            "window": "last_days" if days else "ever"}
    if days:
        rule["days"] = days
    return rule


def members(data, *rules, join="and", match="all"):
    tree = validate({"join": join, "groups": [{"match": match, "rules": list(rules)}]},
                    {"list": set(data["lists"]), "tag": set(data["tags"])})
    return set(db.session.scalars(members_query(data["account_id"], tree, NOW)))


def test_page_count_and_window_bind_to_the_same_visits(app):
    data = build([{"first_name": "A", "phone": "", "email_status": "subscribed", "sms_status": "subscribed",
                   "lists": set(), "tags": set(),
                   "views": [("https://shop.example/pricing", 40)] + [("https://shop.example/blog", 1)] * 5}])
    assert members(data, visit("/pricing", count=2, days=14)) == set()
    assert members(data, visit("/pricing", count=1)) == {data["contacts"][0]["id"]}


def test_matching_ignores_scheme_www_trailing_slash_cid_and_host_case(app):
    data = build([{"first_name": "A", "phone": "", "email_status": "subscribed", "sms_status": "subscribed",
                   "lists": set(), "tags": set(),
                   "views": [("HTTP://WWW.Shop.Example/pricing/?cid=xyz", 0)]}])
    who = {data["contacts"][0]["id"]}
    assert members(data, visit("https://shop.example/pricing", op="is")) == who
    assert members(data, visit("/pricing", op="is")) == who
    assert members(data, visit("/Pricing", op="is")) == set()  # paths stay case-sensitive


def test_wildcards_are_literal_except_star(app):
    data = build([{"first_name": "A", "phone": "", "email_status": "subscribed", "sms_status": "subscribed",
                   "lists": set(), "tags": set(), "views": [("https://shop.example/a_b/x", 0)]}])
    who = {data["contacts"][0]["id"]}
    assert members(data, visit("/a_b/*", op="matches")) == who
    assert members(data, visit("/a%b/*", op="matches")) == set()
    assert members(data, visit("/a?b/*", op="matches")) == set()


@pytest.mark.parametrize("tree, message", [
    ("nope", "expected form"),
    ({"groups": []}, "at least one rule"),
    ({"groups": [{"match": "all", "rules": []}]}, "at least one rule"),
    ({"groups": [{"match": "all", "rules": [{"type": "bogus"}]}]}, "rule type"),
    ({"groups": [{"match": "all", "rules": [visit("")]}]}, "page URL"),
    ({"groups": [{"match": "all", "rules": [visit("/x", count=-1)]}]}, "between"),
    ({"groups": [{"match": "all", "rules": [{"type": "list", "list_id": 999999}]}]}, "your lists"),
    ({"groups": [{"match": "all", "rules": [visit("/x")] * 51}]}, "at most 50 rules"),
    ({"groups": [{"match": "sometimes", "rules": [visit("/x")]}]}, "ALL or ANY"),
])
def test_invalid_trees_are_refused(tree, message):
    with pytest.raises(RuleError, match=message):
        validate(tree, {"list": {1}, "tag": set()})


def test_the_summary_reads_like_the_product():
    tree = validate({"join": "and", "groups": [
        {"match": "all", "rules": [visit("/pricing", count=2, days=14), {"type": "list", "list_id": 1}]}]},
        {"list": {1}})
    assert summary(tree, {"list": {1: "Newsletter"}}) == (
        "Contacts who viewed a page whose URL contains /pricing at least 2 times in the last 14 days "
        "and are on Newsletter")
