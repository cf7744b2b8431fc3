"""The demo contacts on the demo account's two lists (Customers, Newsletter): each one added if
missing, with a creation date some weeks to months back, and unsubscribed from email where the
demo data says so.
"""
from __future__ import annotations

import random
from datetime import timedelta

from app.contacts.lists import account_lists, add_to_list, create_list
from app.contacts.people import add_contact, find_by_email, set_subscription
from app.demo.data import (CUSTOMERS, DEMO_COMPANIES, DEMO_CONTACTS, HISTORY_DAYS, NEWSLETTER,
                           UNSUBSCRIBED_FROM_EMAIL)
from app.extensions import db
from app.models.types import utcnow


def demo_list(account_id: int, name: str):
    """The account's list of that name, made if missing."""
    found = [item for item in account_lists(account_id) if item.name == name]
    return found[0] if found else create_list(account_id, name)


def ensure_contacts(account_id: int, rng: random.Random) -> dict[str, int]:
    """The demo contacts on their lists, added some weeks to months ago; {email: contact id}."""
    lists = {code: demo_list(account_id, name) for code, name in (("C", CUSTOMERS), ("N", NEWSLETTER))}
    now, people = utcnow(), {}
    for email, first, last, phone, on in DEMO_CONTACTS:
        contact = find_by_email(account_id, email)
        if contact is None:
            contact = add_contact(account_id, email, first, last, phone)
            # Some have a company and a birthday (without a year), for segments and merge fields.
            if rng.random() < 0.6:
                contact.company = rng.choice(DEMO_COMPANIES)
            if rng.random() < 0.5:
                contact.birthday = f"--{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            # Customers for a while: they were seen on the website before this month's history.
            contact.created_at = now - timedelta(days=rng.randint(HISTORY_DAYS + 5, 240),
                                                 hours=rng.randint(0, 23))
            if email in UNSUBSCRIBED_FROM_EMAIL:
                set_subscription(contact, "email", False)
        for code in on:
            add_to_list(contact, list_id=lists[code].id)
        people[email] = contact.id
    db.session.commit()
    return people
