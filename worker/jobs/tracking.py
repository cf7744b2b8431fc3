"""Jobs of website tracking."""
from app.tracking import partitions, retention, setup
from app.tracking.install_check import private_allowed
from worker import job_context


def delete_expired_anonymous_events() -> dict[int, int]:
    """Delete anonymous page views older than each account's retention."""
    with job_context():
        return retention.delete_expired_anonymous()


def check_installation(site_id: int) -> dict | None:
    """Fetch the site's website and record whether the embed code is installed."""
    with job_context() as app:
        return setup.run_install_check(site_id, allow_private=private_allowed(app.config))


def ensure_page_view_partitions() -> int:
    """Create the coming months' page_views partitions, if the table is partitioned."""
    with job_context():
        return partitions.ensure_coming_months()
