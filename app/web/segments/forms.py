"""The segment builder's form: the fields it posts (`join`, `groups-0-match`, `groups-0-rules-1-op`, …)
read into the plain rule tree the domain takes (app/segments/rules.py), and the buttons that only
change the builder (add or remove a rule or a group)."""
from __future__ import annotations

import re

DEFAULT_RULE = {"type": "visit", "op": "contains", "value": "", "count_op": "at_least", "count": "1",
                "window": "last_days", "days": "30", "negate": False}
_FIELD = re.compile(r"^groups-(\d+)-(match|rules-(\d+)-(\w+))$")


def new_tree() -> dict:
    """What the builder of a new segment starts with: one group of one rule."""
    return {"join": "and", "groups": [{"match": "all", "rules": [dict(DEFAULT_RULE)]}]}


def tree_from_form(form) -> dict:
    """The rule tree as posted by the builder, unvalidated."""
    groups: dict[int, dict] = {}
    for key in form.keys():
        match = _FIELD.match(key)
        if not match:
            continue
        g = int(match.group(1))
        group = groups.setdefault(g, {"match": "all", "rules": {}})
        if match.group(2) == "match":
            group["match"] = form.get(key)
        else:
            rule = group["rules"].setdefault(int(match.group(3)), {})
            # A choice rule's "values" is a multiple select: every value chosen.
            rule[match.group(4)] = form.getlist(key) if match.group(4) == "values" else form.get(key)
    tree = {"join": form.get("join", "and"), "groups": []}
    for g in sorted(groups):
        rules = [groups[g]["rules"][r] for r in sorted(groups[g]["rules"])]
        for rule in rules:
            rule["negate"] = rule.get("negate") in ("1", "on", "true", True)
        tree["groups"].append({"match": groups[g]["match"], "rules": rules})
    return tree


def apply_action(tree: dict, action: str) -> dict:
    """Builder buttons: add_rule:G, remove_rule:G:R, add_group, remove_group:G."""
    parts = action.split(":")
    groups = tree["groups"]
    try:
        if parts[0] == "add_group":
            groups.append({"match": "all", "rules": [dict(DEFAULT_RULE)]})
        elif parts[0] == "add_rule":
            groups[int(parts[1])]["rules"].append(dict(DEFAULT_RULE))
        elif parts[0] == "remove_rule":
            group = groups[int(parts[1])]
            del group["rules"][int(parts[2])]
            if not group["rules"]:
                del groups[int(parts[1])]
        elif parts[0] == "remove_group":
            del groups[int(parts[1])]
    except (IndexError, ValueError):
        pass
    if not groups:
        groups.append({"match": "all", "rules": [dict(DEFAULT_RULE)]})
    return tree
