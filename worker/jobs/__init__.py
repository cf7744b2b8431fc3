"""Job functions, one module per domain, enqueued by dotted name ("worker.jobs.messages.deliver_email").
Thin: they take ids, reload rows and call domain code (docs/architecture.md, convention 7)."""
from rq import get_current_job


def final_attempt() -> bool:
    """Whether RQ will not retry the running job if it fails now."""
    job = get_current_job()
    return not (job and job.retries_left)
