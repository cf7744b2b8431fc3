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

import functools
import logging
import re
from typing import Any

from liquid import Environment, Undefined
from liquid.exceptions import LiquidError, OutputStreamLimitError

from app.contacts.fields import Field, FieldError, FieldType, account_fields, display, parse_value
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


# Filters whose text can grow past the output bound before anything is output ("a" | replace: "a",
# "aaaaaaaaaa" nine times over is 10 GB): their results are bounded too.
_GROWING = ("replace", "replace_first", "replace_last", "append", "prepend", "join", "newline_to_br")
MAX_TEXT = 100_000
MAX_TEMPLATE = 100_000


def _bounded(filter_function):
    @functools.wraps(filter_function)
    def bounded(*args, **kwargs):
        result = filter_function(*args, **kwargs)
        if isinstance(result, str) and len(result) > MAX_TEXT:
            raise OutputStreamLimitError(f"a filter's result is longer than {MAX_TEXT:,} characters",
                                         token=None)
        return result
    return bounded


def _environment(html: bool) -> _Messages:
    environment = _Messages(autoescape=html, undefined=Undefined)
    for name in _GROWING:
        if name in environment.filters:
            environment.filters[name] = _bounded(environment.filters[name])
    return environment


_HTML = _environment(True)
_TEXT = _environment(False)


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


def check(source: str, fields: list[Field], *, html: bool = False, what: str = "The message") -> None:
    """MergeError unless `source` is a template that renders for every contact: valid Liquid, only
    the account's `fields`, known filters, no tags that read other templates, within the bounds
    for a contact without values and for one with every field's default."""
    if not has_fields(source):
        return
    if len(source) > MAX_TEMPLATE:
        raise MergeError(f"{what} is too long for merge fields: at most {MAX_TEMPLATE:,} characters.")
    keys = {field.key for field in fields}
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
    try:  # a loop or an output beyond the bounds, or a comparison that fails, for these contacts
        template.render(**dict.fromkeys(keys))
        template.render(**{field.key: default_value(field) for field in fields})
    except LiquidError as error:
        raise MergeError(f"{what}: {_describe(error)}") from None


def _readable(field: Field, value: Any) -> Any:
    """A value as a template gets it: numbers and yes/no as such (tags compare them), the rest as
    people read it ("10 December")."""
    if field.type in (FieldType.NUMBER, FieldType.BOOLEAN):
        return value
    return display(field, value)


def default_value(field: Field) -> Any:
    """The field's default as a template gets it (a number's "5" is 5, a yes/no's "no" false), or None."""
    try:
        value = parse_value(field, field.default)
    except FieldError:  # a default stored before its checks, or for choices changed since
        return field.default or None
    return None if value is None else _readable(field, value)


class Personaliser:
    """Renders an account's templates for contacts, each template parsed once."""

    def __init__(self, account_id: int):
        self.fields = account_fields(account_id)
        self.defaults = {field.key: default_value(field) for field in self.fields}
        self._templates: dict[tuple[str, bool], Any] = {}

    def values(self, contact: Contact | None) -> dict[str, Any]:
        """Every field by key: the contact's value as a template gets it, or the field's
        default, or None."""
        values = dict(self.defaults)
        if contact is None:
            return values
        custom = contact.custom or {}
        for field in self.fields:
            value = (getattr(contact, field.key) or None) if field.built_in else custom.get(field.key)
            if value is not None and value != "":
                values[field.key] = _readable(field, value)
        return values

    def render(self, source: str, contact: Contact | None, *, html: bool = False) -> str:
        """The source with the contact's values (None: no contact, as the web version shows it).

        Never fails, so one contact never holds up the others' messages: a template that
        reaches a bound or fails a comparison with these values gives the copy without values;
        one that cannot be read at all (saved before merge fields were checked, or a literal
        "{{" in an old message) goes out as written. Both are logged."""
        if not has_fields(source):
            return source
        key = (source, html)
        if key not in self._templates:
            try:
                self._templates[key] = _parse(source, html)
            except MergeError as error:
                log.warning("a message's merge fields cannot be read (%s): sent as written", error)
                self._templates[key] = None
        template = self._templates[key]
        if template is None:
            return source
        try:
            return template.render(**self.values(contact))
        except LiquidError as error:
            log.warning("personalising a message%s failed (%s): sent without values",
                        f" for contact {contact.id}" if contact is not None else "", _describe(error))
        try:
            return template.render(**dict.fromkeys(self.defaults))
        except LiquidError:
            return source


def menu(account_id: int) -> list[tuple[str, str]]:
    """What the editors' "Insert a field" menu offers: ({{ key }}, name)."""
    return [("{{ " + field.key + " }}", field.name) for field in account_fields(account_id)]
