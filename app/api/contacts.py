"""/api/v1/contacts: list, get, create, upsert by email, update, delete (the privacy erasure); their
fields, list and tag memberships and page views."""

from __future__ import annotations

from flask import abort, g
from sqlalchemy.exc import IntegrityError
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.api import TAGS, account_id, answer, bp, conflict, no_content, page_of, error_responses, replayed
from app.api.problems import ApiError
from app.api.schemas import (
    ContactCreate,
    ContactOut,
    ContactPage,
    ContactPath,
    ContactQuery,
    ContactUpdate,
    FieldList,
    FieldOut,
    ListMemberPath,
    PageQuery,
    PageViewOut,
    PageViewPage,
    TagAdd,
    TagMemberPath,
)
from app.contacts import fields, lists, people
from app.contacts.errors import ContactError
from app.contacts.fields import FieldErrors
from app.extensions import db
from app.models import Contact, PageView, contact_tags, list_members

CONTACTS = [TAGS["Contacts"]]


def _account_fields() -> list[fields.Field]:
    """The account's contact fields, read once a request."""
    if "api_fields" not in g:
        g.api_fields = fields.account_fields(account_id())
    return g.api_fields


def contact_out(contact: Contact) -> ContactOut:
    values = {
        field.key: fields.value_of(contact, field)
        for field in _account_fields()
        if field.key not in ("email", "first_name", "last_name", "phone")
    }
    return ContactOut(
        id=contact.id,
        email=contact.email,
        first_name=contact.first_name,
        last_name=contact.last_name,
        phone=contact.phone,
        email_status=contact.email_status,
        sms_status=contact.sms_status,
        fields={key: value for key, value in values.items() if value is not None},
        lists=[{"id": row.id, "name": row.name} for row in contact.lists],
        tags=[{"id": row.id, "name": row.name} for row in contact.tags],
        created_at=contact.created_at,
    )


def _contact(contact_id: int) -> Contact:
    contact = people.get_contact(account_id(), contact_id)
    if contact is None:
        raise ApiError(404, f"This account has no contact {contact_id}.")
    return contact


def _apply(contact_changes, create: str = "", target: Contact | None = None) -> tuple[Contact, bool]:
    """Create (create="new"), upsert (create="upsert") or change a contact from a request body,
    memberships included; ApiError 409/422 for what is wrong."""
    changes = contact_changes.model_dump(exclude_unset=True, exclude={"lists", "tags"})
    try:
        if create == "new":
            contact, created = people.new_contact(account_id(), changes), True
        elif create == "upsert":
            contact, created = people.upsert_contact(account_id(), changes)
        else:
            contact, created = target, False
            people.change_contact(contact, changes)
        for list_id in contact_changes.lists or ():
            lists.add_to_list(contact, list_id=list_id)
        for name in contact_changes.tags or ():
            lists.add_tag(contact, name)
    except FieldErrors as error:
        db.session.rollback()
        raise ApiError(
            422,
            str(error),
            f"fields.{error.field}",
            {f"fields.{key}": message for key, message in error.errors.items()},
        ) from None
    except ContactError as error:
        db.session.rollback()
        field = {"list_id": "lists"}.get(error.field, error.field)
        status = 409 if "already exists" in str(error) or "Another contact" in str(error) else 422
        raise ApiError(status, str(error), field) from None
    except IntegrityError:  # a request sent meanwhile took the email (or created the tag) first
        abort(conflict())
    return contact, created


@bp.get("/contacts", tags=CONTACTS, responses={200: ContactPage})
def list_contacts(query: ContactQuery):
    """List contacts, oldest first, a page at a time"""
    condition = Contact.account_id == account_id()
    if query.email:
        condition &= func.lower(Contact.email) == query.email.strip().lower()
    if query.list_id:
        condition &= Contact.id.in_(
            select(list_members.c.contact_id).where(list_members.c.list_id == query.list_id)
        )
    if query.tag_id:
        condition &= Contact.id.in_(
            select(contact_tags.c.contact_id).where(contact_tags.c.tag_id == query.tag_id)
        )
    if query.created_after:
        condition &= Contact.created_at > query.created_after
    statement = (
        select(Contact).where(condition).options(selectinload(Contact.lists), selectinload(Contact.tags))
    )
    rows, cursor = page_of(statement, Contact.id, query.cursor, query.limit)
    return answer(ContactPage(data=[contact_out(row[0]) for row in rows], next_cursor=cursor))


@bp.post("/contacts", tags=CONTACTS, responses={201: ContactOut, **error_responses(409)})
def create_contact(body: ContactCreate):
    """Add a contact (409 if the email is taken: upsert instead)

    Send `Idempotency-Key` to retry safely: the same key gets the same answer for a day."""
    if (kept := replayed()) is not None:
        return kept
    contact, _ = _apply(body, "new")
    return answer(
        contact_out(contact),
        201,
        contact_id=contact.id,
        headers={"Location": f"/api/v1/contacts/{contact.id}"},
    )


@bp.post(
    "/contacts/upsert", tags=CONTACTS, responses={200: ContactOut, 201: ContactOut, **error_responses(409)}
)
def upsert_contact(body: ContactCreate):
    """Add a contact, or change the one with this email

    201 when it was added, 200 when it existed; fields, lists and tags not named are kept."""
    if (kept := replayed()) is not None:
        return kept
    contact, created = _apply(body, "upsert")
    return answer(
        contact_out(contact),
        201 if created else 200,
        contact_id=contact.id,
    )


@bp.get("/contacts/<id:contact_id>", tags=CONTACTS, responses={200: ContactOut, **error_responses(404)})
def get_contact(path: ContactPath):
    """Get a contact"""
    return answer(contact_out(_contact(path.contact_id)))


@bp.patch(
    "/contacts/<id:contact_id>", tags=CONTACTS, responses={200: ContactOut, **error_responses(404, 409)}
)
def update_contact(path: ContactPath, body: ContactUpdate):
    """Change a contact: only what the body names"""
    contact, _ = _apply(body, target=_contact(path.contact_id))
    return answer(contact_out(contact))


@bp.delete("/contacts/<id:contact_id>", tags=CONTACTS, responses={204: None, **error_responses(404)})
def delete_contact(path: ContactPath):
    """Delete a contact, and erase everything stored about them

    Page views, messages, clicks, memberships and automation runs: the privacy erasure."""
    people.delete_contact(_contact(path.contact_id))
    return no_content()


@bp.put(
    "/contacts/<id:contact_id>/lists/<id:list_id>",
    tags=CONTACTS,
    responses={200: ContactOut, **error_responses(404)},
)
def add_to_list(path: ListMemberPath):
    """Add a contact to a list"""
    contact = _contact(path.contact_id)
    if lists.get_list(account_id(), path.list_id) is None:
        raise ApiError(404, f"This account has no list {path.list_id}.")
    lists.add_to_list(contact, list_id=path.list_id)
    return answer(contact_out(contact))


@bp.delete(
    "/contacts/<id:contact_id>/lists/<id:list_id>",
    tags=CONTACTS,
    responses={200: ContactOut, **error_responses(404)},
)
def remove_from_list(path: ListMemberPath):
    """Take a contact off a list"""
    contact = _contact(path.contact_id)
    lists.remove_from_list(contact, path.list_id)
    return answer(contact_out(contact))


@bp.post("/contacts/<id:contact_id>/tags", tags=CONTACTS, responses={200: ContactOut, **error_responses(404)})
def add_tag(path: ContactPath, body: TagAdd):
    """Tag a contact (the tag is created if missing)"""
    contact = _contact(path.contact_id)
    try:
        lists.add_tag(contact, body.name)
    except ContactError as error:
        db.session.rollback()
        raise ApiError(422, str(error), "name") from None
    except IntegrityError:
        abort(conflict())
    return answer(contact_out(contact), contact_id=contact.id)


@bp.delete(
    "/contacts/<id:contact_id>/tags/<id:tag_id>",
    tags=CONTACTS,
    responses={200: ContactOut, **error_responses(404)},
)
def remove_tag(path: TagMemberPath):
    """Take a tag off a contact"""
    contact = _contact(path.contact_id)
    lists.remove_tag(contact, path.tag_id)
    return answer(contact_out(contact))


@bp.get(
    "/contacts/<id:contact_id>/page-views",
    tags=CONTACTS,
    responses={200: PageViewPage, **error_responses(404)},
)
def contact_page_views(path: ContactPath, query: PageQuery):
    """A contact's page views, oldest first"""
    contact = _contact(path.contact_id)
    statement = select(PageView).where(PageView.account_id == account_id(), PageView.contact_id == contact.id)
    rows, cursor = page_of(statement, PageView.id, query.cursor, query.limit)
    return answer(PageViewPage(data=[page_view_out(row[0]) for row in rows], next_cursor=cursor))


def page_view_out(view: PageView) -> PageViewOut:
    return PageViewOut(
        id=view.id,
        contact_id=view.contact_id,
        url=view.url,
        title=view.title,
        referrer=view.referrer,
        device=view.device,
        utm_source=view.utm_source,
        utm_medium=view.utm_medium,
        utm_campaign=view.utm_campaign,
        received_at=view.received_at,
    )


@bp.get("/fields", tags=CONTACTS, responses={200: FieldList})
def list_fields():
    """The contact fields of the account: what `fields` holds, by key"""
    return answer(
        FieldList(
            data=[
                FieldOut(
                    key=field.key,
                    name=field.name,
                    type=field.type,
                    choices=list(field.choices),
                    built_in=field.built_in,
                )
                for field in _account_fields()
            ]
        )
    )
