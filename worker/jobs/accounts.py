"""Jobs of accounts."""
from app import accounts
from app.extensions import db
from worker import job_context


def send_password_reset(email: str) -> bool:
    """Email a reset link if an account uses this address (the request did not look it up)."""
    with job_context():
        sent = accounts.send_password_reset(email)
        db.session.commit()
        return sent
