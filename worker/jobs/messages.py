"""Jobs that deliver messages."""
from app.messaging import mail
from worker import job_context
from worker.jobs import final_attempt


def deliver_email(email_id: int) -> str | None:
    """Deliver one stored email; RQ retries a failure a bounded number of times."""
    with job_context():
        email = mail.deliver(email_id, final_attempt=final_attempt())
        return email.status if email else None
