"""The uploaded CSV file of an import: its text, its columns (from the header row) and its rows,
each valid or the reason it is skipped."""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from dataclasses import field as dataclass_field

from email_validator import EmailNotValidError, validate_email

from app.contacts.errors import ContactError
from app.contacts.fields import Field, FieldError, parse_value
from app.contacts.phones import normalise_phone

IMPORT_COLUMNS = {
    "email": "email", "email_address": "email", "e_mail": "email",
    "phone": "phone", "phone_number": "phone", "mobile": "phone",
    "first_name": "first_name", "firstname": "first_name",
    "last_name": "last_name", "lastname": "last_name",
    "tags": "tags", "tag": "tags",
    "lists": "lists", "list": "lists",
    "company": "company", "company_name": "company", "organisation": "company", "organization": "company",
    "birthday": "birthday", "date_of_birth": "birthday", "birth_date": "birthday", "dob": "birthday",
    "anniversary": "anniversary",
}
# What a column can go to besides the contact fields.
MEMBERSHIP_COLUMNS = {"tags": "Tags", "lists": "Lists"}
_NAME_SEPARATORS = re.compile(r"[;|]")


def decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" not in text:  # a binary file (or UTF-16), which no database column takes
            return text
    raise ContactError("The file could not be read as text. Save it as “CSV UTF-8” and upload it again.",
                       "file")


def csv_rows(text: str):
    header_line = text.split("\n", 1)[0]
    # Spreadsheets in many locales save CSV with semicolons (or tabs) between columns.
    delimiter = next((candidate for candidate in ("\t", ";")
                      if candidate in header_line and "," not in header_line), ",")
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)


def column_key(title: str, fields: dict[str, Field] | None = None) -> str | None:
    """The field a column's title names: "First Name" is first_name, "E-mail" email, and a title
    that is one of the account's fields' keys or names is that field."""
    normal = re.sub(r"[\s\-]+", "_", title.strip().lower())
    if normal in IMPORT_COLUMNS:
        return IMPORT_COLUMNS[normal]
    for field in (fields or {}).values():
        if not field.built_in and (normal == field.key or title.strip().lower() == field.name.lower()):
            return field.key
    return None


def header_columns(header: list[str] | None, fields: dict[str, Field] | None = None) -> dict[str, int]:
    """Which position holds which field, from the header row ("First Name" is first_name)."""
    columns: dict[str, int] = {}
    for position, title in enumerate(header or []):
        key = column_key(title, fields)
        if key and key not in columns:
            columns[key] = position
    if "email" not in columns:
        raise ContactError("The first row must name the columns, and one of them must be email "
                           "(also possible: phone, first_name, last_name, tags, lists).", "file")
    return columns


def line_count(text: str) -> int:
    """The rows after the header, counted as lines (\n, \r\n or \r): about the rows, since a quoted
    cell may span lines."""
    lines = max(text.count("\n"), text.count("\r")) + (0 if text.endswith(("\n", "\r")) else 1)
    return max(lines - 1, 0)


@dataclass
class Row:
    email: str
    first_name: str
    last_name: str
    phone: str
    lists: list[str]
    tags: list[str]
    # The other fields' values in the row (key: stored value); an empty cell is not here.
    fields: dict = dataclass_field(default_factory=dict)


def _names(value: str, limit: int) -> list[str]:
    unique: dict[str, str] = {}
    for part in _NAME_SEPARATORS.split(value):
        name = " ".join(part.split())[:limit]
        if name:
            unique.setdefault(name.lower(), name)
    return list(unique.values())


def parse_row(values: list[str], columns: dict[str, int],
              fields: dict[str, Field] | None = None) -> Row | str:
    """A valid row, or the reason it is skipped. `fields` are the account's fields by key, for
    the columns mapped to them (a bad value skips the row, naming the field)."""
    def value(key: str) -> str:
        position = columns.get(key)
        return values[position].strip() if position is not None and position < len(values) else ""

    raw_email = value("email")
    if not raw_email:
        return "no email address"
    try:
        email = validate_email(raw_email, check_deliverability=False).normalized
    except EmailNotValidError:
        return f"invalid email address “{raw_email[:80]}”"
    try:
        phone = normalise_phone(value("phone"))
    except ContactError:
        return f"invalid phone number “{value('phone')[:40]}”"
    row = Row(email, value("first_name")[:100], value("last_name")[:100], phone,
              _names(value("lists"), 100), _names(value("tags"), 60))
    for key in columns:
        target = (fields or {}).get(key)
        if target is None or key in _OWN_RULES:
            continue
        try:
            parsed = parse_value(target, value(key))
        except FieldError as error:
            return f"{target.name}: {error}"
        if parsed is not None:
            row.fields[key] = parsed[:200] if key == "company" else parsed
    return row


# Columns read by parse_row itself, with their own rules.
_OWN_RULES = {"email", "first_name", "last_name", "phone", "tags", "lists"}
