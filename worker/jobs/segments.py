"""Jobs that keep segment membership current."""
from app.segments import membership
from worker import job_context


def evaluate_segment(segment_id: int) -> tuple[int, int] | None:
    """Evaluate one segment for all its account's contacts (after a save)."""
    with job_context():
        return membership.evaluate_by_id(segment_id)


def update_for_contacts(account_id: int, contact_ids: list[int], kinds: list[str] | None = None) -> int:
    """Re-evaluate the account's segments with rules of these kinds (website visits when not
    given) for some contacts: those of a batch of page views, or those whose fields changed."""
    with job_context():
        return membership.update_for_contacts(account_id, contact_ids, tuple(kinds or ("visit",)))


def evaluate_all_segments() -> int:
    """The periodic job: time windows move, so every segment is evaluated again."""
    with job_context():
        return membership.evaluate_all()
