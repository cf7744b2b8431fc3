"""Contacts of an account: find, search (a page at a time), add, edit, delete (erasure,
app/privacy.py); subscriptions."""
from __future__ import annotations

import re
from datetime import datetime, timezone

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from app import privacy
from app.contacts import fields
from app.contacts.errors import ContactError
from app.contacts.phones import normalise_phone
from app.extensions import db
from app.models import Contact, contact_tags, list_members
from app.models.contacts import Subscription
from app.models.messaging import CHANNELS
from app.signals import contact_fields_changed, contact_unsubscribed
from app.tracking.cid import issued_to_contact

PAGE_SIZE = 50


def get_contact(account_id: int, contact_id: int) -> Contact | None:
    return db.session.scalar(select(Contact).where(Contact.id == contact_id,
                                                   Contact.account_id == account_id))


def find_by_email(account_id: int, email: str) -> Contact | None:
    return db.session.scalar(select(Contact).where(Contact.account_id == account_id,
                                                   func.lower(Contact.email) == email.lower()))


def search(account_id: int, query: str = "", page: int = 1, *, list_id: int | None = None,
           tag_id: int | None = None) -> tuple[list[Contact], int]:
    """One page of contacts matching the query (email, name or phone), on a list and with a tag
    when given, and the total count."""
    condition = Contact.account_id == account_id
    if query.strip():
        like = f"%{query.strip().lower()}%"
        matches = [func.lower(Contact.email).like(like), func.lower(Contact.first_name).like(like),
                   func.lower(Contact.last_name).like(like), Contact.phone.like(like)]
        # Phones are stored as +14155550123: "(415) 555" finds them by its digits.
        digits = re.sub(r"\D", "", query)
        if len(digits) >= 3:
            matches.append(Contact.phone.like(f"%{digits}%"))
        condition &= or_(*matches)
    if list_id:
        condition &= Contact.id.in_(select(list_members.c.contact_id)
                                    .where(list_members.c.list_id == list_id))
    if tag_id:
        condition &= Contact.id.in_(select(contact_tags.c.contact_id).where(contact_tags.c.tag_id == tag_id))
    total = db.session.scalar(select(func.count()).select_from(Contact).where(condition))
    rows = db.session.scalars(select(Contact).where(condition).order_by(Contact.email)
                              .options(selectinload(Contact.lists), selectinload(Contact.tags))
                              .limit(PAGE_SIZE).offset((max(page, 1) - 1) * PAGE_SIZE))
    return list(rows), total


def _valid_email(email: str | None) -> str:
    try:
        return validate_email((email or "").strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        raise ContactError("Enter a valid email address.") from None


def add_contact(account_id: int, email: str, first_name: str = "", last_name: str = "",
                phone: str = "") -> Contact:
    email = _valid_email(email)
    if find_by_email(account_id, email):
        raise ContactError("A contact with this email already exists.")
    contact = Contact(account_id=account_id, email=email, first_name=(first_name or "").strip()[:100],
                      last_name=(last_name or "").strip()[:100], phone=normalise_phone(phone or ""))
    db.session.add(contact)
    db.session.flush()
    return contact


def contact_for_user(account_id: int, email: str) -> Contact:
    """The account's contact for one of its own users (for test links), created if missing."""
    return find_by_email(account_id, email) or add_contact(account_id, email)


def editable_fields(account_id: int) -> list[fields.Field]:
    """The fields of the contact form beyond email, name and phone: company, birthday,
    anniversary and the account's own."""
    return [field for field in fields.account_fields(account_id)
            if not field.built_in or field.key in fields.EXTRA_BUILT_IN]


def update_contact(contact: Contact, *, email: str, first_name: str, last_name: str, phone: str,
                   email_subscribed: bool, sms_subscribed: bool,
                   field_values: dict[str, str] | None = None) -> Contact:
    """Change a contact's details, subscriptions and the fields given in `field_values` (key: the
    value as typed; empty clears it); raises FieldErrors naming every bad field value, or
    ContactError naming the bad detail. Nothing changes unless everything is valid."""
    editable = editable_fields(contact.account_id)
    values = fields.parse_values(editable, field_values or {},
                                 {field.key: fields.value_of(contact, field) for field in editable})
    email = _valid_email(email)
    other = find_by_email(contact.account_id, email)
    if other is not None and other.id != contact.id:
        raise ContactError("Another contact has this email address.")
    phone = normalise_phone(phone or "")
    before = (contact.email, contact.first_name, contact.last_name, contact.phone)
    contact.email = email
    contact.first_name = (first_name or "").strip()[:100]
    contact.last_name = (last_name or "").strip()[:100]
    contact.phone = phone
    changed = fields.apply_values(contact, values)
    changed |= before != (contact.email, contact.first_name, contact.last_name, contact.phone)
    changed |= set_subscription(contact, "email", email_subscribed)
    changed |= set_subscription(contact, "sms", sms_subscribed)
    db.session.flush()
    if changed:
        contact_fields_changed.send(contact.account_id, contact_ids=[contact.id])
    return contact


def delete_contact(contact: Contact, deleted_by_user_id: int | None = None) -> None:
    """Delete a contact: the erasure of everything stored about them (app/privacy.py), so no page
    view, message or click of theirs stays behind."""
    privacy.erase_contact(contact.account_id, contact.id, erased_by_user_id=deleted_by_user_id)


def set_subscription(contact: Contact, channel: str, subscribed: bool) -> bool:
    """Subscribe or unsubscribe a contact from email or SMS; whether anything changed.
    Campaigns send only to contacts whose status for the channel is "subscribed"."""
    if channel not in CHANNELS:
        raise ValueError(f"Unknown channel {channel!r}; expected one of {CHANNELS}.")
    attribute = f"{channel}_status"
    status = Subscription.SUBSCRIBED if subscribed else Subscription.UNSUBSCRIBED
    changed = getattr(contact, attribute) != status
    setattr(contact, attribute, status)
    if changed and not subscribed and contact.id is not None:
        contact_unsubscribed.send(contact.account_id, contact_id=contact.id, channel=channel)
    return changed


def unsubscribe_by_link(account_id: int, contact_id: int, channel: str,
                        issued_at: int | None = None) -> Contact | None:
    """Unsubscribe the contact an unsubscribe link was made for; None if they are gone. A link
    issued before the contact existed was made for an erased contact who had the same id."""
    contact = get_contact(account_id, contact_id)
    if contact is None or (issued_at is not None and not issued_to_contact(
            datetime.fromtimestamp(issued_at, timezone.utc), contact.created_at)):
        return None
    set_subscription(contact, channel, False)
    return contact


def change_contact(contact: Contact, changes: dict) -> bool:
    """Change only what `changes` names (the REST API's create, upsert and update): email,
    first_name, last_name, phone, email_status and sms_status ("subscribed" or "unsubscribed"), and
    fields (key: value; None clears it) among the editable ones. Raises FieldErrors naming every bad
    or unknown field, or ContactError naming the bad detail; nothing changes unless all is valid.
    Whether anything changed (segments hear of it after the commit)."""
    editable = editable_fields(contact.account_id)
    raw_fields = changes.get("fields") or {}
    known = {field.key for field in editable}
    unknown = {key: f"{key}: there is no such field (Settings → Contact fields)."
               for key in raw_fields if key not in known}
    if unknown:
        raise fields.FieldErrors(unknown)
    values = fields.parse_values(editable, raw_fields,
                                 {field.key: fields.value_of(contact, field) for field in editable})
    email = _valid_email(changes["email"]) if "email" in changes else contact.email
    if email.lower() != (contact.email or "").lower() or contact.id is None:
        other = find_by_email(contact.account_id, email)
        if other is not None and other.id != contact.id:
            raise ContactError("Another contact has this email address.")
    phone = normalise_phone(changes["phone"] or "") if "phone" in changes else contact.phone
    for channel in CHANNELS:
        status = f"{channel}_status"
        if status in changes and changes[status] not in (Subscription.SUBSCRIBED, Subscription.UNSUBSCRIBED):
            raise ContactError("Either subscribed or unsubscribed.", status)
    before = (contact.email, contact.first_name, contact.last_name, contact.phone,
              contact.email_status, contact.sms_status)
    contact.email, contact.phone = email, phone
    for name in ("first_name", "last_name"):
        if name in changes:
            setattr(contact, name, (changes[name] or "").strip()[:100])
    for channel in CHANNELS:
        if f"{channel}_status" in changes:
            set_subscription(contact, channel, changes[f"{channel}_status"] == Subscription.SUBSCRIBED)
    changed = fields.apply_values(contact, values)
    changed |= before != (contact.email, contact.first_name, contact.last_name, contact.phone,
                          contact.email_status, contact.sms_status)
    db.session.add(contact)
    db.session.flush()
    if changed:
        contact_fields_changed.send(contact.account_id, contact_ids=[contact.id])
    return changed


def upsert_contact(account_id: int, changes: dict) -> tuple[Contact, bool]:
    """The contact with changes["email"] changed, or a new one made of `changes`; (contact, created)."""
    email = _valid_email(changes.get("email"))
    contact = find_by_email(account_id, email)
    if contact is not None:
        change_contact(contact, {**changes, "email": contact.email})
        return contact, False
    return new_contact(account_id, changes), True


def new_contact(account_id: int, changes: dict) -> Contact:
    """A new contact made of `changes` (as change_contact reads them); ContactError if its email is taken."""
    email = _valid_email(changes.get("email"))
    if find_by_email(account_id, email):
        raise ContactError("A contact with this email already exists.")
    contact = Contact(account_id=account_id, email=email, first_name="", last_name="", phone="", custom={},
                      email_status=Subscription.SUBSCRIBED, sms_status=Subscription.SUBSCRIBED)
    if not change_contact(contact, {**changes, "email": email}):
        contact_fields_changed.send(account_id, contact_ids=[contact.id])  # (segments count them in)
    return contact
