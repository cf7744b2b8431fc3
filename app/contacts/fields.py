"""Contact fields: the built-in ones (name, email, phone, company, birthday, anniversary) and those
an account adds (Settings → Contact fields), their values on contacts, checked by type.

Values are stored typed: built-in fields in their own columns, the account's in Contact.custom by
key (text and choices as text, numbers as numbers, yes/no as true/false, dates as ISO 8601 text:
YYYY-MM-DD, or --MM-DD for a date without a year, such as a birthday whose year is not known).
Anything typed or imported goes through parse_value, which names what is wrong."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select, text, update

from app.contacts.errors import ContactError
from app.extensions import db
from app.models import Contact
from app.models.contacts import ContactField, FieldType

TYPE_NAMES = {FieldType.TEXT: "Text", FieldType.NUMBER: "Number", FieldType.DATE: "Date",
              FieldType.BOOLEAN: "Yes/no", FieldType.CHOICE: "Choice from a list"}
MAX_FIELDS = 100
MAX_TEXT = 500
MAX_CHOICES = 100
MAX_CHOICE_LENGTH = 100
# Numbers beyond this are refused: no count, amount or score a marketer keeps is larger, and
# doubles hold every whole number up to it exactly.
MAX_NUMBER = Decimal(10) ** 12
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_MONTH_DAY = re.compile(r"^(?:--)?(\d{1,2})-(\d{1,2})$")
_TRUE = {"yes", "y", "true", "1", "on"}
_FALSE = {"no", "n", "false", "0", "off"}
DATE_HELP = "YYYY-MM-DD, or MM-DD without a year"


class FieldError(ContactError):
    """A value or a field definition that cannot be accepted; `field` names the form input."""

    def __init__(self, message: str, field: str = "value"):
        super().__init__(message, field)


@dataclass(frozen=True)
class Field:
    """A field as everything else sees it, built in or the account's."""

    key: str
    name: str
    type: str
    choices: tuple[str, ...] = ()
    default: str = ""
    built_in: bool = False
    id: int | None = None
    # The longest text value (the column's length for a built-in field).
    max_length: int = MAX_TEXT

    @property
    def type_name(self) -> str:
        return TYPE_NAMES[FieldType(self.type)]


BUILT_IN = (
    Field("email", "Email", FieldType.TEXT, built_in=True),
    Field("first_name", "First name", FieldType.TEXT, built_in=True),
    Field("last_name", "Last name", FieldType.TEXT, built_in=True),
    Field("phone", "Phone", FieldType.TEXT, built_in=True),
    Field("company", "Company", FieldType.TEXT, built_in=True, max_length=200),
    Field("birthday", "Birthday", FieldType.DATE, built_in=True),
    Field("anniversary", "Anniversary", FieldType.DATE, built_in=True),
)
BUILT_IN_KEYS = {field.key for field in BUILT_IN}
# Built-in fields edited through this module (the others have their own rules in people.py).
EXTRA_BUILT_IN = ("company", "birthday", "anniversary")
# Keys that would be confused with something else a message or an export shows.
# (true, false, nil, empty, blank are Liquid's literals: a field so named could not be used.)
RESERVED_KEYS = BUILT_IN_KEYS | {"id", "name", "full_name", "contact", "account", "created_at", "lists",
                                 "tags", "unsubscribe_url", "custom", "true", "false", "nil", "null",
                                 "empty", "blank", "email_status", "sms_status"}


def _field(row: ContactField) -> Field:
    return Field(row.key, row.name, row.type, tuple(row.choices or ()), row.default or "", id=row.id)


def custom_fields(account_id: int) -> list[ContactField]:
    return list(db.session.scalars(select(ContactField).where(ContactField.account_id == account_id)
                                   .order_by(ContactField.id)))


def account_fields(account_id: int) -> list[Field]:
    """Every field of the account's contacts: the built-in ones first, then the account's."""
    return list(BUILT_IN) + [_field(row) for row in custom_fields(account_id)]


def fields_by_key(account_id: int) -> dict[str, Field]:
    return {field.key: field for field in account_fields(account_id)}


def get_field(account_id: int, field_id: int) -> ContactField | None:
    return db.session.scalar(select(ContactField).where(ContactField.id == field_id,
                                                        ContactField.account_id == account_id))


# ---- values ------------------------------------------------------------------------------------

def parse_date(raw: str) -> str:
    """A date as stored: "1990-03-15", or "--03-15" without a year; FieldError if it is not one."""
    raw = raw.strip()
    try:
        return date.fromisoformat(raw).isoformat() if len(raw) == 10 else _month_day(raw)
    except ValueError:
        raise FieldError(f"“{raw[:40]}” is not a date: enter it as {DATE_HELP}.") from None


def _month_day(raw: str) -> str:
    match = _MONTH_DAY.match(raw)
    if not match:
        raise ValueError(raw)
    month, day = int(match.group(1)), int(match.group(2))
    date(2000, month, day)  # a leap year: 02-29 is a date without a year
    return f"--{month:02d}-{day:02d}"


def _number(raw: str) -> int | float:
    cleaned = raw.replace(" ", "").replace("_", "")
    if re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?", cleaned):  # 1,250,000.50
        cleaned = cleaned.replace(",", "")
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        raise FieldError(f"“{raw[:40]}” is not a number.") from None
    if not number.is_finite() or abs(number) > MAX_NUMBER:
        raise FieldError(f"“{raw[:40]}” is out of range: enter a number between "
                         f"-{MAX_NUMBER:,} and {MAX_NUMBER:,}.")
    return int(number) if number == number.to_integral_value() else float(number)


def parse_value(field: Field, raw: Any) -> Any:
    """The stored form of a value typed or imported for the field (None: no value), or FieldError
    saying what is wrong with it."""
    if raw is None:
        return None
    if isinstance(raw, bool) and field.type == FieldType.BOOLEAN:
        return raw
    raw = str(raw).strip()
    if not raw:
        return None
    if field.type == FieldType.NUMBER:
        return _number(raw)
    if field.type == FieldType.DATE:
        return parse_date(raw)
    if field.type == FieldType.BOOLEAN:
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise FieldError(f"“{raw[:40]}” is not yes or no.")
    if field.type == FieldType.CHOICE:
        for choice in field.choices:
            if choice.lower() == raw.lower():
                return choice
        raise FieldError(f"“{raw[:40]}” is not one of the choices: {', '.join(field.choices)}.")
    if len(raw) > field.max_length:
        raise FieldError(f"Keep it under {field.max_length} characters.")
    return raw


def value_of(contact: Contact, field: Field) -> Any:
    """The stored value (None when there is none)."""
    if field.built_in:
        return getattr(contact, field.key) or None
    return (contact.custom or {}).get(field.key)


def display(field: Field, value: Any) -> str:
    """A value as people read it: "Yes", "1,250", "1990-03-15", "15 March" (no year)."""
    if value is None or value == "":
        return ""
    if field.type == FieldType.BOOLEAN:
        return "Yes" if value else "No"
    if field.type == FieldType.NUMBER:
        return f"{value:,}" if isinstance(value, int) else f"{value:,.10g}"
    if field.type == FieldType.DATE and str(value).startswith("--"):
        return date(2000, int(value[2:4]), int(value[5:7])).strftime("%-d %B")
    return str(value)


def form_value(field: Field, value: Any) -> str:
    """A value as an input shows it, so that saving the form again keeps it."""
    if value is None:
        return ""
    if field.type == FieldType.BOOLEAN:
        return "yes" if value else "no"
    if field.type == FieldType.DATE and str(value).startswith("--"):
        return value[2:]
    return str(value)


def shown(field: Field, contact: Contact, how: str = "display") -> str:
    """The contact's value of the field as a page shows it, or as an input holds it (how="form")."""
    value = value_of(contact, field)
    return form_value(field, value) if how == "form" else display(field, value)


def parse_values(fields: list[Field], raw: dict[str, Any],
                 stored: dict[str, Any] | None = None) -> dict[str, Any]:
    """The stored values of those fields given in `raw` (key: text as typed); raises
    FieldErrors naming every bad one. A choice the contact has (`stored`) is kept as it is,
    even when it has been taken off the field's list since."""
    values, errors = {}, {}
    for field in fields:
        if field.key in raw:
            kept = (stored or {}).get(field.key)
            typed = str(raw[field.key]).strip().lower()
            if field.type == FieldType.CHOICE and kept and typed == str(kept).lower():
                values[field.key] = kept
                continue
            try:
                values[field.key] = parse_value(field, raw[field.key])
            except FieldError as error:
                errors[field.key] = f"{field.name}: {error}"
    if errors:
        raise FieldErrors(errors)
    return values


class FieldErrors(ContactError):
    """Several bad values at once, by field key."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(" ".join(errors.values()), next(iter(errors)))
        self.errors = errors


def apply_values(contact: Contact, values: dict[str, Any]) -> bool:
    """Store parsed values on the contact (None clears one); whether anything changed."""
    custom = dict(contact.custom or {})
    changed = False
    for key, value in values.items():
        if key in BUILT_IN_KEYS:
            if getattr(contact, key) != (value or ""):
                setattr(contact, key, value or "")
                changed = True
        elif custom.get(key) != value:
            if value is None:
                custom.pop(key, None)
            else:
                custom[key] = value
            changed = True
    if custom != (contact.custom or {}):
        contact.custom = custom  # a new dict: the JSON column sees the change
    return changed


def export_values(contact: Contact, fields: list[Field]) -> dict[str, Any]:
    """The account's own fields of a contact for the data export, by key (dates as stored)."""
    custom = contact.custom or {}
    return {field.key: custom[field.key] for field in fields if not field.built_in and field.key in custom}


# ---- the account's fields -----------------------------------------------------------------------

def key_for(name: str) -> str:
    """The personalisation key a name suggests: "Favourite colour" -> favourite_colour."""
    key = re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")[:40].rstrip("_")
    if key and not key[0].isalpha():
        key = f"f_{key}"[:40]
    return key


def _clean_name(name: str | None) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise FieldError("Give the field a name.", "name")
    if len(name) > 100:
        raise FieldError("Keep the name under 100 characters.", "name")
    return name


def _clean_choices(choices: str | list[str] | None) -> list[str]:
    items = choices.splitlines() if isinstance(choices, str) else list(choices or [])
    unique: dict[str, str] = {}
    for item in items:
        item = " ".join(str(item).split())
        if len(item) > MAX_CHOICE_LENGTH:
            raise FieldError(f"Keep each choice under {MAX_CHOICE_LENGTH} characters.", "choices")
        if item:
            unique.setdefault(item.lower(), item)
    if not unique:
        raise FieldError("List the choices, one a line.", "choices")
    if len(unique) > MAX_CHOICES:
        raise FieldError(f"A field has at most {MAX_CHOICES} choices.", "choices")
    return list(unique.values())


def _clean_default(field: Field, default: str | None) -> str:
    default = (default or "").strip()
    if default:
        try:
            value = parse_value(field, default)
        except FieldError as error:
            raise FieldError(f"The default does not fit the field: {error}", "default") from None
        default = form_value(field, value) if field.type != FieldType.CHOICE else value
    if len(default) > 200:
        raise FieldError("Keep the default under 200 characters.", "default")
    return default


def create_field(account_id: int, name: str, type: str, *, choices: str | list[str] | None = None,
                 default: str | None = None, key: str | None = None) -> ContactField:
    name = _clean_name(name)
    existing = custom_fields(account_id)
    if any(row.name.lower() == name.lower() for row in existing) or \
            any(field.name.lower() == name.lower() for field in BUILT_IN):
        raise FieldError("Another field has this name.", "name")
    if type not in TYPE_NAMES:
        raise FieldError("Choose the kind of value the field holds.", "type")
    key = (key or "").strip().lower() or key_for(name)
    if not _KEY.match(key):
        raise FieldError("The key is what messages use, as in {{ favourite_colour }}: lower-case letters, "
                         "digits and _, starting with a letter, at most 40.", "key")
    if key in RESERVED_KEYS:
        raise FieldError(f"“{key}” is taken by a built-in field: choose another key.", "key")
    existing = custom_fields(account_id)
    if any(row.key == key for row in existing):
        raise FieldError(f"Another field has the key “{key}”.", "key")
    if len(existing) >= MAX_FIELDS:
        raise FieldError(f"An account has at most {MAX_FIELDS} fields of its own.", "name")
    clean_choices = _clean_choices(choices) if type == FieldType.CHOICE else []
    default = _clean_default(Field(key, name, type, tuple(clean_choices)), default)
    row = ContactField(account_id=account_id, key=key, name=name, type=type, choices=clean_choices,
                       default=default)
    db.session.add(row)
    db.session.flush()
    return row


def update_field(row: ContactField, *, name: str, choices: str | list[str] | None = None,
                 default: str | None = None) -> ContactField:
    """Rename the field, change its choices or its default; its key and type stay. A choice taken
    off the list stays on the contacts that have it."""
    name = _clean_name(name)
    if any(other.id != row.id and other.name.lower() == name.lower()
           for other in custom_fields(row.account_id)) or \
            any(field.name.lower() == name.lower() for field in BUILT_IN):
        raise FieldError("Another field has this name.", "name")
    clean_choices = _clean_choices(choices) if row.type == FieldType.CHOICE else []
    default = _clean_default(Field(row.key, name, row.type, tuple(clean_choices)), default)
    row.name, row.choices, row.default = name, clean_choices, default
    db.session.flush()
    return row


def where_used(row: ContactField) -> list[str]:
    """The segments and automations whose rules compare the field: it cannot be deleted while
    they do."""
    from app.automations.schema import rules_of
    from app.models import Automation, Segment

    used = []
    for segment in db.session.scalars(select(Segment).where(Segment.account_id == row.account_id)):
        if any(rule.get("type") == "field" and rule.get("field") == row.key
               for group in segment.rules.get("groups", []) for rule in group.get("rules", [])):
            used.append(f"segment “{segment.name}”")
    for automation in db.session.scalars(select(Automation).where(Automation.account_id == row.account_id)):
        # (field rules, field updates and date triggers all name the field by "field")
        if any(rule.get("type") in ("field", "date") and rule.get("field") == row.key
               for rule in rules_of(automation)):
            used.append(f"automation “{automation.name}”")
    return used


def delete_field(row: ContactField) -> None:
    """Delete the field and its values on every contact of the account (one statement)."""
    used = where_used(row)
    if used:
        raise FieldError("This field is used by " + ", ".join(used) + ": change those first.", "name")
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("UPDATE contacts SET custom = custom - :key "
                                "WHERE account_id = :account AND custom ? :key"),
                           {"key": row.key, "account": row.account_id})
    else:
        path = f'$."{row.key}"'
        db.session.execute(update(Contact).where(Contact.account_id == row.account_id,
                                                 func.json_type(Contact.custom, path).is_not(None))
                           .values(custom=func.json_remove(Contact.custom, path))
                           .execution_options(synchronize_session=False))
    db.session.delete(row)
    db.session.flush()
