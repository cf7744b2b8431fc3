"""Jobs that deliver SMS."""
from app.messaging import sending, sms
from worker import job_context
from worker.jobs import final_attempt


def deliver_sms(sms_id: int) -> str | None:
    """Deliver one stored SMS; RQ retries a failure a bounded number of times."""
    with job_context():
        message = sms.deliver_sms(sms_id, final_attempt=final_attempt())
        return str(message.status) if message else None


def start_campaign(campaign_id: int, public_url: str) -> int:
    """Take a due SMS campaign and enqueue its batches (retried as text messages are)."""
    with job_context():
        return sending.start_campaign(campaign_id, public_url)
