"""What happens to contacts, for segments and automations to act on: blinker signals, sent in-process.

The receivers are connected in one place, app/wiring.py (called by create_app), never by importing
a module. Each signal calls its receivers in the order they were connected, one after the other,
in the sender's process; a receiver's exception propagates to the sender (and the receivers after
it are not called): the event pipeline relies on that to try a batch again, and on its receivers
being idempotent.
"""
from __future__ import annotations

from collections.abc import Iterable, MutableSet
from dataclasses import dataclass
from datetime import datetime

from blinker import NamedSignal


class _OrderedSet(MutableSet):
    """The set blinker keeps receivers in, in the order they were added (blinker's `set_class`)."""

    def __init__(self, items: Iterable = ()):
        self._items = dict.fromkeys(items)

    def __contains__(self, item) -> bool:
        return item in self._items

    def __iter__(self):
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item) -> None:
        self._items[item] = None

    def discard(self, item) -> None:
        self._items.pop(item, None)

    def copy(self) -> _OrderedSet:
        return _OrderedSet(self._items)


class OrderedSignal(NamedSignal):
    """A signal calling its receivers in the order they were connected."""

    set_class = _OrderedSet


@dataclass(frozen=True)
class IdentifiedPageView:
    """A stored page view of a known contact, as page_views_stored hands it over."""

    page_view_id: int
    account_id: int
    contact_id: int
    url: str
    path: str
    received_at: datetime
    match_url: str = ""
    match_path: str = ""


@dataclass(frozen=True)
class StoredEvent:
    """A stored custom event of a known contact (app/tracking/custom_events.py)."""

    event_id: int
    account_id: int
    contact_id: int
    name: str
    occurred_at: datetime
    properties: dict


@dataclass(frozen=True)
class FailedMessage:
    """An email or text message to a contact given up on for good, as messages_failed hands it over."""

    channel: str  # email | sms
    message_id: int
    account_id: int
    contact_id: int
    campaign_id: int | None
    to: str
    error: str


# No sender (a batch spans accounts); keyword argument: views, a non-empty list of
# IdentifiedPageView. Sent by the event pipeline once per stored batch, after its commit, also for
# the views of a batch handed over again (an earlier try may have failed in a receiver).
page_views_stored = OrderedSignal("page-views-stored")

# No sender; keyword argument: contacts, (account id, contact id) pairs whose earlier anonymous page
# views were just attached to them (app/tracking/identity.py): segments count them, automations
# never hear of them. Sent after the commit.
earlier_views_attached = OrderedSignal("earlier-views-attached")

# No sender; keyword argument: events, a non-empty list of StoredEvent: the identified custom events
# of a stored batch (also those an earlier try stored), after its commit.
custom_events_stored = OrderedSignal("custom-events-stored")

# sender: the account id; keyword arguments: segment_id and contact_ids (those who just joined).
# Sent once the new membership is committed.
contacts_joined_segment = OrderedSignal("contacts-joined-segment")

# sender: the account id; keyword argument: contact_ids, whose details, fields or subscriptions
# were changed in the session (not yet committed: receivers act after its commit).
contact_fields_changed = OrderedSignal("contact-fields-changed")

# sender: the account id; keyword arguments: segment_id and contact_ids (those who just left).
# Sent once the change is committed.
contacts_left_segment = OrderedSignal("contacts-left-segment")

# No sender; keyword argument: browsers, a list of app.tracking.identity.Identified: browsers just
# identified as a contact (new to them) by a stored batch of page views. Sent after the commit.
browsers_identified = OrderedSignal("browsers-identified")

# No sender; keyword argument: clicks, a list of dicts (id, account_id, contact_id, campaign_id,
# channel, url, clicked_at) of newly stored link clicks of known contacts. Sent after the commit.
links_clicked = OrderedSignal("links-clicked")

# sender: the account id; keyword arguments: contact_id, channel ("email" or "sms"): a contact was
# just unsubscribed, in the session (not yet committed: receivers add to the same transaction).
contact_unsubscribed = OrderedSignal("contact-unsubscribed")

# No sender; keyword argument: messages, a list of FailedMessage, in the session (not yet committed).
messages_failed = OrderedSignal("messages-failed")

# sender: the account id; keyword arguments: list_id / tag_id and contact_ids
list_joined = OrderedSignal("list-joined")
tag_added = OrderedSignal("tag-added")
