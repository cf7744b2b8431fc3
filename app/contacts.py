"""Contacts of an account: find, list, add (the contacts issue extends this)."""
from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, or_, select

from app.extensions import db
from app.models import Contact

PAGE_SIZE = 50


class ContactError(ValueError):
    def __init__(self, message: str, field: str = "email"):
        super().__init__(message)
        self.field = field


def get_contact(account_id: int, contact_id: int) -> Contact | None:
    return db.session.scalar(select(Contact).where(Contact.id == contact_id, Contact.account_id == account_id))


def find_by_email(account_id: int, email: str) -> Contact | None:
    return db.session.scalar(select(Contact).where(Contact.account_id == account_id,
                                                   func.lower(Contact.email) == email.lower()))


def search(account_id: int, query: str = "", page: int = 1) -> tuple[list[Contact], int]:
    """One page of contacts matching the query (email or name), and the total count."""
    condition = Contact.account_id == account_id
    if query.strip():
        like = f"%{query.strip().lower()}%"
        condition &= or_(func.lower(Contact.email).like(like), func.lower(Contact.first_name).like(like),
                         func.lower(Contact.last_name).like(like), Contact.phone.like(like))
    total = db.session.scalar(select(func.count()).select_from(Contact).where(condition))
    rows = db.session.scalars(select(Contact).where(condition).order_by(Contact.email)
                              .limit(PAGE_SIZE).offset((max(page, 1) - 1) * PAGE_SIZE))
    return list(rows), total


def add_contact(account_id: int, email: str, first_name: str = "", last_name: str = "") -> Contact:
    try:
        email = validate_email((email or "").strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        raise ContactError("Enter a valid email address.") from None
    if find_by_email(account_id, email):
        raise ContactError("A contact with this email already exists.")
    contact = Contact(account_id=account_id, email=email, first_name=(first_name or "").strip()[:100],
                      last_name=(last_name or "").strip()[:100])
    db.session.add(contact)
    db.session.flush()
    return contact


def contact_for_user(account_id: int, email: str) -> Contact:
    """The account's contact for one of its own users (for test links), created if missing."""
    return find_by_email(account_id, email) or add_contact(account_id, email)
