"""Things that happen to contacts, for automations to start on (blinker signals, sent in-process)."""
from blinker import Namespace

_signals = Namespace()

# sender: the account id; keyword arguments: list_id / tag_id and contact_ids
list_joined = _signals.signal("list-joined")
tag_added = _signals.signal("tag-added")
