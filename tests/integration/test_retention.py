"""Anonymous page views are deleted within the retention; contacts' page views are kept."""
from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.models import PageView
from app.models.types import utcnow
from app.queues import PERIODIC, get_queue
from app.tracking.retention import delete_expired_anonymous, last_run
from tests.integration.test_tracking_setup import add_page_view


def remaining_paths():
    db.session.rollback()
    return sorted(db.session.scalars(select(PageView.path)))


def test_anonymous_views_go_after_30_days_identified_stay(site, contact):
    add_page_view(site, path="/anon-new", age=timedelta(days=1))
    add_page_view(site, path="/anon-old", age=timedelta(days=10))
    add_page_view(site, path="/known-old", age=timedelta(days=10), contact_id=contact.id)
    assert delete_expired_anonymous() == {site.account_id: 0}
    # The clock moves 25 days on: /anon-old is 35 days old, /anon-new 26.
    later = utcnow() + timedelta(days=25)
    assert delete_expired_anonymous(now=later) == {site.account_id: 1}
    assert remaining_paths() == ["/anon-new", "/known-old"]
    run = last_run(site.account_id)
    assert run.deleted == 1 and run.ran_at == later


def test_the_account_retention_setting_is_used_and_batches_are_small(site):
    site.anonymous_retention_days = 3
    db.session.commit()
    for n in range(7):
        add_page_view(site, path=f"/p{n}", age=timedelta(days=4), event_id=f"evt-{n}")
    add_page_view(site, path="/fresh", age=timedelta(days=2))
    assert delete_expired_anonymous(batch_size=2) == {site.account_id: 7}
    assert remaining_paths() == ["/fresh"]


def test_the_flask_command(site, app):
    add_page_view(site, path="/ancient", age=timedelta(days=31))
    result = app.test_cli_runner().invoke(args=["delete-anonymous-events"])
    assert "Deleted 1 anonymous page views in 1 accounts." in result.output
    assert remaining_paths() == []


def test_the_worker_schedules_the_job_once_per_period(app):
    from app.queues import get_redis
    from worker.schedule import enqueue_due_jobs

    assert enqueue_due_jobs(get_redis()) == ["worker.jobs.tracking.delete_expired_anonymous_events",
                                            "worker.jobs.messages.start_due_campaigns",
                                            "worker.jobs.segments.evaluate_all_segments",
                                            "worker.jobs.automations.wake_due_runs",
                                            "worker.jobs.automations.start_date_runs",
                                            "worker.jobs.webhooks.retry_stalled_webhooks",
                                            "worker.jobs.tracking.ensure_page_view_partitions",
                                            "worker.jobs.contacts.fail_stalled_imports",
                                            "worker.jobs.api.forget_old_idempotent_answers",
                                            "worker.jobs.webhooks.forget_old_deliveries"]
    assert enqueue_due_jobs(get_redis()) == []
    assert get_queue(PERIODIC).count == 10


def test_the_periodic_job_runs_on_a_real_worker(site, run_jobs):
    add_page_view(site, path="/ancient", age=timedelta(days=31))
    get_queue(PERIODIC).enqueue("worker.jobs.tracking.delete_expired_anonymous_events")
    run_jobs()
    assert remaining_paths() == []


def test_tag_link_command(site, contact, app):
    result = app.test_cli_runner().invoke(args=["tag-link", "owner@shop.example", contact.email])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("https://www.shop.example/?cid=")
    from app.tracking.cid import read_cid
    assert read_cid(result.output.strip().split("cid=")[1]).contact_id == contact.id
