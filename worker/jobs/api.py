"""Jobs of the REST API."""
from app import api_keys
from worker import job_context


def forget_old_idempotent_answers() -> int:
    """Delete the answers kept for idempotency keys once they are a day old."""
    with job_context():
        return api_keys.forget_old_answers()
