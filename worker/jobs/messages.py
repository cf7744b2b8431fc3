"""Jobs that deliver messages."""
from app.messaging import mail, sending
from app.public_url import public_url as instance_public_url
from worker import job_context
from worker.jobs import final_attempt


def deliver_email(email_id: int) -> str | None:
    """Deliver one stored email; RQ retries a failure a bounded number of times."""
    with job_context():
        email = mail.deliver(email_id, final_attempt=final_attempt())
        return str(email.status) if email else None  # (a plain string: any RQ tool can read it)


def start_campaign(campaign_id: int, public_url: str) -> int:
    """Take a due campaign and enqueue its batches; returns the number of recipients."""
    with job_context():
        return sending.start_campaign(campaign_id, public_url)


def send_email_batch(campaign_id: int, contact_ids: list[int], public_url: str) -> int:
    """Render and deliver one batch of a campaign's emails."""
    with job_context():
        return sending.send_email_batch(campaign_id, contact_ids, public_url, final_attempt=final_attempt())


def send_sms_batch(campaign_id: int, contact_ids: list[int], public_url: str) -> int:
    """Render and deliver one batch of a campaign's text messages."""
    with job_context():
        return sending.send_sms_batch(campaign_id, contact_ids, public_url, final_attempt=final_attempt())


def start_due_campaigns() -> list[int]:
    """The periodic sweep: start scheduled campaigns whose time has come, and resume sending ones
    whose jobs were lost."""
    with job_context():
        public_url = instance_public_url()
        started = sending.start_due_campaigns(public_url)
        sending.resume_stalled_campaigns(public_url)
        return started
