"""The one hook through which stored, identified page views reach segments and automations."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class IdentifiedPageView:
    page_view_id: int
    account_id: int
    contact_id: int
    url: str
    path: str
    received_at: datetime
    match_url: str = ""
    match_path: str = ""


Handler = Callable[[list[IdentifiedPageView]], None]
_handlers: list[Handler] = []


def on_identified_page_views(handler: Handler) -> Handler:
    """Register a handler (used as a decorator by the segments and automations modules)."""
    if handler not in _handlers:
        _handlers.append(handler)
    return handler


def identified_page_views_stored(views: list[IdentifiedPageView]) -> None:
    """Called by the event pipeline once per stored batch, after commit."""
    if views:
        for handler in _handlers:
            handler(views)
