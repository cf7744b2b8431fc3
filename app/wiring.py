"""Who hears what: every receiver of the signals in app/signals.py, connected here and nowhere else
(create_app calls connect()). Importing a module registers nothing.

The order below is the order each signal calls its receivers in. Connecting again (each create_app)
changes nothing: blinker connects a receiver once."""
from __future__ import annotations

from app import signals
from app.automations import triggers
from app import subscriptions
from app.segments import membership


def connect() -> None:
    # Stored identified page views: segments first (a job per account, enqueued), then automations
    # (started, stopped, and their first steps begun).
    signals.page_views_stored.connect(membership.queue_incremental_updates)
    signals.page_views_stored.connect(triggers.on_page_views)
    signals.earlier_views_attached.connect(membership.queue_updates_for_contacts)
    # Stored custom events: segments with event rules (a job per account), then automations.
    signals.custom_events_stored.connect(membership.queue_event_updates)
    signals.custom_events_stored.connect(triggers.on_custom_events)
    signals.contact_fields_changed.connect(membership.queue_field_updates)
    signals.contacts_joined_segment.connect(triggers.on_segment_joined)
    signals.list_joined.connect(triggers.on_list_joined)
    signals.tag_added.connect(triggers.on_tag_added)
    # Webhook subscriptions (app/subscriptions.py) hear of everything they may be subscribed to,
    # after the segments and automations.
    signals.page_views_stored.connect(subscriptions.on_page_views)
    signals.browsers_identified.connect(subscriptions.on_browsers_identified)
    signals.contacts_joined_segment.connect(subscriptions.on_segment_joined)
    signals.contacts_left_segment.connect(subscriptions.on_segment_left)
    signals.links_clicked.connect(subscriptions.on_links_clicked)
    signals.contact_unsubscribed.connect(subscriptions.on_unsubscribed)
    signals.messages_failed.connect(subscriptions.on_messages_failed)
    signals.custom_events_stored.connect(subscriptions.on_custom_events)
