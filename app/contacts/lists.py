"""An account's lists and tags of contacts, and a contact's memberships of them."""
from __future__ import annotations

from sqlalchemy import func, or_, select

from app.contacts.errors import ContactError
from app.extensions import db
from app.models import Contact, ContactList, Tag, list_members
from app.signals import list_joined, tag_added


def _clean_name(name: str | None, limit: int, what: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ContactError(f"Enter a name for the {what}.", "name")
    if len(name) > limit:
        raise ContactError(f"A {what} name has at most {limit} characters.", "name")
    return name


def account_lists(account_id: int) -> list[ContactList]:
    return list(db.session.scalars(select(ContactList).where(ContactList.account_id == account_id)
                                   .order_by(ContactList.name)))


def account_tags(account_id: int) -> list[Tag]:
    return list(db.session.scalars(select(Tag).where(Tag.account_id == account_id).order_by(Tag.name)))


def lists_with_counts(account_id: int) -> list[tuple[ContactList, int]]:
    """The account's lists, by name, each with its number of members."""
    members = func.count(list_members.c.contact_id)
    rows = db.session.execute(
        select(ContactList, members).outerjoin(list_members, list_members.c.list_id == ContactList.id)
        .where(ContactList.account_id == account_id).group_by(ContactList.id).order_by(ContactList.name))
    return [(contact_list, count) for contact_list, count in rows]


def member_count(contact_list: ContactList) -> int:
    return db.session.scalar(select(func.count()).select_from(list_members)
                             .where(list_members.c.list_id == contact_list.id))


def get_list(account_id: int, list_id: int) -> ContactList | None:
    return db.session.scalar(select(ContactList).where(ContactList.id == list_id,
                                                       ContactList.account_id == account_id))


def _named(model, account_id: int, name: str):
    """The account's list or tag of that name, whatever its case. (The exact name too: SQLite's
    lower() changes ASCII letters only, and the unique constraint compares names exactly.)"""
    same = or_(model.name == name, func.lower(model.name) == name.lower())
    return db.session.scalar(select(model).where(model.account_id == account_id, same)
                             .order_by((model.name == name).desc()).limit(1))


def _list_named(account_id: int, name: str) -> ContactList | None:
    return _named(ContactList, account_id, name)


def tag_named(account_id: int, name: str) -> Tag | None:
    """The account's tag of that name, whatever its case."""
    return _named(Tag, account_id, name)


def create_list(account_id: int, name: str) -> ContactList:
    name = _clean_name(name, 100, "list")
    if _list_named(account_id, name):
        raise ContactError("A list with this name already exists.", "name")
    contact_list = ContactList(account_id=account_id, name=name)
    db.session.add(contact_list)
    db.session.flush()
    return contact_list


def rename_list(contact_list: ContactList, name: str) -> ContactList:
    name = _clean_name(name, 100, "list")
    other = _list_named(contact_list.account_id, name)
    if other is not None and other.id != contact_list.id:
        raise ContactError("A list with this name already exists.", "name")
    contact_list.name = name
    db.session.flush()
    return contact_list


def delete_list(contact_list: ContactList) -> None:
    """Delete a list; its contacts stay, without this membership."""
    db.session.delete(contact_list)
    db.session.flush()


def add_to_list(contact: Contact, *, list_id: int | None = None, new_name: str = "") -> ContactList:
    """Add a contact to one of the account's lists, or to a list named `new_name` (created if missing)."""
    if (new_name or "").strip():
        name = _clean_name(new_name, 100, "list")
        contact_list = _list_named(contact.account_id, name) or create_list(contact.account_id, name)
    elif list_id:
        contact_list = get_list(contact.account_id, list_id)
        if contact_list is None:
            raise ContactError("Choose one of your lists.", "list_id")
    else:
        raise ContactError("Choose a list or enter the name of a new one.", "list_id")
    if contact_list not in contact.lists:
        contact.lists.append(contact_list)
        db.session.flush()
        list_joined.send(contact.account_id, list_id=contact_list.id, contact_ids=[contact.id])
    db.session.flush()
    return contact_list


def remove_from_list(contact: Contact, list_id: int) -> None:
    contact.lists = [member_of for member_of in contact.lists if member_of.id != list_id]
    db.session.flush()


def add_tag(contact: Contact, name: str) -> Tag:
    """Tag a contact, creating the account's tag of that name if missing."""
    name = _clean_name(name, 60, "tag")
    tag = tag_named(contact.account_id, name)
    if tag is None:
        tag = Tag(account_id=contact.account_id, name=name)
        db.session.add(tag)
    if tag not in contact.tags:
        contact.tags.append(tag)
        db.session.flush()
        tag_added.send(contact.account_id, tag_id=tag.id, contact_ids=[contact.id])
    db.session.flush()
    return tag


def remove_tag(contact: Contact, tag_id: int) -> None:
    contact.tags = [tag for tag in contact.tags if tag.id != tag_id]
    db.session.flush()
