"""/api/v1/lists and /api/v1/tags: the account's lists and tags, and their members."""

from __future__ import annotations

from sqlalchemy import select

from app.api import TAGS, account_id, answer, bp, page_of, error_responses, replayed
from app.api.problems import ApiError
from app.api.schemas import (
    ListCreate,
    ListList,
    ListOut,
    ListPath,
    MemberOut,
    MemberPage,
    PageQuery,
    TagList,
    TagOut,
    TagPath,
)
from app.contacts import lists
from app.contacts.errors import ContactError
from app.extensions import db
from app.models import Contact, Tag, contact_tags, list_members

LISTS = [TAGS["Lists and tags"]]


def _members(table, column, owner_id: int, query: PageQuery) -> MemberPage:
    statement = (
        select(Contact.id, Contact.email)
        .join(table, table.c.contact_id == Contact.id)
        .where(column == owner_id, Contact.account_id == account_id())
    )
    rows, cursor = page_of(statement, Contact.id, query.cursor, query.limit)
    return MemberPage(
        data=[MemberOut(contact_id=row.id, email=row.email) for row in rows], next_cursor=cursor
    )


@bp.get("/lists", tags=LISTS, responses={200: ListList})
def list_lists():
    """The account's lists, by name, with their member counts"""
    return answer(
        ListList(
            data=[
                ListOut(id=row.id, name=row.name, member_count=count, created_at=row.created_at)
                for row, count in lists.lists_with_counts(account_id())
            ]
        )
    )


@bp.post("/lists", tags=LISTS, responses={201: ListOut, **error_responses(409)})
def create_list(body: ListCreate):
    """Create a list (409 if the account has one of that name)"""
    if (kept := replayed()) is not None:
        return kept
    try:
        created = lists.create_list(account_id(), body.name)
    except ContactError as error:
        db.session.rollback()
        raise ApiError(409 if "already" in str(error) else 422, str(error), "name") from None
    return answer(
        ListOut(id=created.id, name=created.name, member_count=0, created_at=created.created_at), 201
    )


@bp.get("/lists/<id:list_id>/members", tags=LISTS, responses={200: MemberPage, **error_responses(404)})
def list_members_page(path: ListPath, query: PageQuery):
    """The contacts on a list, by id"""
    if lists.get_list(account_id(), path.list_id) is None:
        raise ApiError(404, f"This account has no list {path.list_id}.")
    return answer(_members(list_members, list_members.c.list_id, path.list_id, query))


@bp.get("/tags", tags=LISTS, responses={200: TagList})
def list_tags():
    """The account's tags, by name"""
    return answer(
        TagList(
            data=[
                TagOut(id=tag.id, name=tag.name, created_at=tag.created_at)
                for tag in lists.account_tags(account_id())
            ]
        )
    )


@bp.get("/tags/<id:tag_id>/members", tags=LISTS, responses={200: MemberPage, **error_responses(404)})
def tag_members_page(path: TagPath, query: PageQuery):
    """The contacts with a tag, by id"""
    tag = db.session.scalar(select(Tag).where(Tag.id == path.tag_id, Tag.account_id == account_id()))
    if tag is None:
        raise ApiError(404, f"This account has no tag {path.tag_id}.")
    return answer(_members(contact_tags, contact_tags.c.tag_id, path.tag_id, query))
