"""Merge fields in messages: the subject, body, From name and SMS text of campaigns and automation
steps are Liquid templates (python-liquid), such as "Hi {{ first_name | default: "there" }}".

Liquid is made for templates written by people who are not the site's programmers: it cannot call
code or reach anything but the values it is given, and its loops and output are bounded here.
Each field of the account is a variable named by its key; a contact without a value gets the
field's default (Settings → Contact fields), else nothing, which `| default: "…"` replaces. In an
HTML body every value is escaped; in plain text (subject, From name, SMS) it is not.

check() is what editors call before saving: an unknown field, an unknown filter, an unclosed tag
or any other template error is named with its line, so nothing is sent that would fail. Sending
renders with every field known, so a template saved valid renders for every contact."""
from __future__ import annotations

import logging
import re
from typing import Any

from liquid import Environment, Undefined
from liquid.exceptions import LiquidError

from app.contacts.fields import FieldType, account_fields, display
from app.models import Contact

log = logging.getLogger(__name__)
MARKERS = ("{{", "{%")
# Tags that would read other templates (there are none to read).
_REFUSED_TAG = re.compile(r"{%-?\s*(include|render|extends|block|macro|call|liquid)\b")


class MergeError(ValueError):
    """A template that cannot be used, with the reason and where."""


class _Messages(Environment):
    """Liquid with bounds: no message needs more, and a template cannot hold up a send."""

    loop_iteration_limit = 1_000
    output_stream_limit = 200_000
    context_depth_limit = 10
    local_namespace_limit = 10_000


_HTML = _Messages(autoescape=True, undefined=Undefined)
_TEXT = _Messages(autoescape=False, undefined=Undefined)


def has_fields(source: str) -> bool:
    return any(marker in (source or "") for marker in MARKERS)


def _parse(source: str, html: bool, what: str = "The message"):
    try:
        return (_HTML if html else _TEXT).from_string(source)
    except LiquidError as error:
        raise MergeError(f"{what}: {_describe(error)}") from None


def _describe(error: LiquidError) -> str:
    message = str(error).splitlines()[0].strip()
    token = getattr(error, "token", None)
    start, source = getattr(token, "start_index", -1), getattr(token, "source", "")
    if isinstance(start, int) and start >= 0 and source:
        return f"Line {source[:start].count(chr(10)) + 1}: {message}."
    return f"{message[:1].upper()}{message[1:]}."


def check(source: str, keys: set[str], *, html: bool = False, what: str = "The message") -> None:
    """MergeError unless `source` is a template that renders for every contact: valid Liquid, only
    the account's fields (`keys`), known filters, no tags that read other templates."""
    if not has_fields(source):
        return
    refused = _REFUSED_TAG.search(source)
    if refused:
        raise MergeError(f"{what} uses the tag “{refused.group(1)}”, which messages cannot use.")
    template = _parse(source, html, what)
    try:
        used = set(template.global_variables())
        filters = set(template.filter_names())
    except LiquidError as error:
        raise MergeError(f"{what}: {_describe(error)}") from None
    unknown = sorted(used - keys)
    if unknown:
        names = ", ".join("{{ " + name + " }}" for name in unknown)
        raise MergeError(f"{what} uses {names}, which is not one of your contact fields "
                         "(Settings → Contact fields lists their keys).")
    known_filters = set((_HTML if html else _TEXT).filters)
    if filters - known_filters:
        raise MergeError(f"{what} uses the unknown filter “{sorted(filters - known_filters)[0]}”.")
    try:  # a loop or an output beyond the bounds, for a contact without values
        template.render(**dict.fromkeys(keys))
    except LiquidError as error:
        raise MergeError(f"{what}: {_describe(error)}") from None


def checked(source: str, keys: set[str], *, html: bool = False, what: str = "The message") -> str:
    check(source, keys, html=html, what=what)
    return source


class Personaliser:
    """Renders an account's templates for contacts, each template parsed once."""

    def __init__(self, account_id: int):
        self.fields = account_fields(account_id)
        self.keys = {field.key for field in self.fields}
        self._templates: dict[tuple[str, bool], Any] = {}

    def values(self, contact: Contact | None) -> dict[str, Any]:
        """Every field by key: the contact's value as a person reads it (numbers and yes/no as
        such, for comparisons in tags), or the field's default, or None."""
        values = {}
        custom = (contact.custom or {}) if contact is not None else {}
        for field in self.fields:
            if contact is None:
                value = None
            elif field.built_in:
                value = getattr(contact, field.key) or None
            else:
                value = custom.get(field.key)
            if value is None or value == "":
                values[field.key] = field.default or None
            elif field.type in (FieldType.NUMBER, FieldType.BOOLEAN):
                values[field.key] = value
            else:
                values[field.key] = display(field, value)
        return values

    def render(self, source: str, contact: Contact | None, *, html: bool = False) -> str:
        """The source with the contact's values (None: no contact, as the web version shows it).
        A template that reaches a bound with this contact's values (a loop over their number)
        gives them the copy without values, rather than hold up the others' messages."""
        if not has_fields(source):
            return source
        key = (source, html)
        if key not in self._templates:
            self._templates[key] = _parse(source, html)
        try:
            return self._templates[key].render(**self.values(contact))
        except LiquidError as error:
            if contact is None:
                raise MergeError(_describe(error)) from None
            log.warning("personalising for contact %d failed (%s): sent without their values", contact.id,
                        _describe(error))
            return self.render(source, None, html=html)


def menu(account_id: int) -> list[tuple[str, str]]:
    """What the editors' "Insert a field" menu offers: ({{ key }}, name)."""
    return [("{{ " + field.key + " }}", field.name) for field in account_fields(account_id)]
