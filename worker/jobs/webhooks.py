"""Jobs that call webhooks."""
from app import webhooks
from worker import job_context
from worker.jobs import final_attempt


def deliver_webhook(delivery_id: int) -> str | None:
    """One try of a webhook delivery; RQ retries a failure (WEBHOOK_RETRY_DELAYS)."""
    with job_context():
        delivery = webhooks.deliver(delivery_id, final_attempt=final_attempt())
        return str(delivery.status) if delivery else None


def retry_stalled_webhooks() -> list[int]:
    """The periodic sweep: deliveries whose job was lost are tried again."""
    with job_context():
        return webhooks.retry_stalled()


def forget_old_deliveries() -> int:
    """The periodic job: subscriptions' deliveries finished a month ago leave their logs."""
    from app import subscriptions

    with job_context():
        return subscriptions.forget_old_deliveries()
