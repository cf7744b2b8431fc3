"""Job functions, enqueued by dotted name. Thin: they take ids and call domain code."""
from rq import get_current_job

from app.messaging import mail
from app.tracking import retention, setup
from worker import job_context


def _final_attempt() -> bool:
    job = get_current_job()
    return not (job and job.retries_left)


def deliver_email(email_id: int) -> str | None:
    """Deliver one stored email; RQ retries a failure a bounded number of times."""
    with job_context():
        email = mail.deliver(email_id, final_attempt=_final_attempt())
        return email.status if email else None


def delete_expired_anonymous_events() -> dict[int, int]:
    """Delete anonymous page views older than each account's retention."""
    with job_context():
        return retention.delete_expired_anonymous()


def check_installation(site_id: int) -> dict | None:
    """Fetch the site's website and record whether the embed code is installed."""
    with job_context() as app:
        return setup.run_install_check(site_id, allow_private=app.config["FOOTFALL_ENV"] != "production")
