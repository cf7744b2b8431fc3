"""CSV imports at the size limit: a 100,000-row file imported by the real worker process with its
progress on the status page; an import past its time limit (IMPORT_JOB_TIMEOUT) failed, saying
why, without its file; and imports whose job was killed or lost, failed by the periodic sweep."""
import io
import os
import re
import signal
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.config import PROJECT_ROOT
from app.contacts import imports, people
from app.extensions import db
from app.models import Contact, ContactImport
from app.models.types import utcnow
from app.queues import get_redis, pending_jobs
from tests.conftest import HX, make_contact
from tests.support import wait_until
from worker.schedule import enqueue_due_jobs

ROWS = 100_000


def big_csv(rows: int = ROWS) -> bytes:
    """The file of the issue: `rows` contacts with a first name, 2.9 MB for 100,000."""
    lines = ["email,first_name"] + [f"person{n:06}@example.org,Ada" for n in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def upload(client, data: bytes) -> int:
    response = client.post("/contacts/import", data={"file": (io.BytesIO(data), "everyone.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    response = client.post(response.headers["Location"])  # the columns as matched by their titles
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(re.search(r"/contacts/import/(\d+)$", response.headers["Location"]).group(1))


def status_page(client, import_id: int) -> str:
    return client.get(f"/contacts/import/{import_id}", headers=HX).get_data(as_text=True)


def stored(import_id: int) -> ContactImport:
    db.session.rollback()  # a fresh transaction: what the worker committed
    return db.session.get(ContactImport, import_id)


def contact_count() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Contact))


def start_worker(database_url: str, redis_url: str, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url)
    command = [sys.executable, "-m", "worker", "--no-scheduler", "--no-events", "--queues", "default", *extra]
    return subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


@pytest.fixture
def one_second_limit(app_config):
    app_config["IMPORT_JOB_TIMEOUT"] = 1


@pytest.fixture
def three_second_limit(app_config):
    app_config["IMPORT_JOB_TIMEOUT"] = 3


def test_a_hundred_thousand_rows_import_with_progress_on_the_status_page(auth, site, database_url, redis_url):
    # Already there: one stored with capitals, one in lower case; the file has them in other cases.
    make_contact(site.account_id, "Person000042@Example.org", first_name="Kept")
    make_contact(site.account_id, "person000043@example.org", first_name="Kept")
    data = big_csv().replace(b"person000043@", b"PERSON000043@")
    import_id = upload(auth.client, data)
    waiting = status_page(auth.client, import_id)
    assert "Waiting" in waiting and 'hx-trigger="every 2s"' in waiting

    seen = []

    def progress_shown():
        page = status_page(auth.client, import_id)
        figures = re.search(r"([\d,]+) of about 100,000 rows read", page)
        bar = re.search(r'<progress id="([\w-]+)" max="100000"\s+value="(\d+)"', page)
        if figures and bar and 0 < int(bar.group(2)) < ROWS:
            seen.append((page, int(figures.group(1).replace(",", "")), bar))
        return "every 2s" not in page

    worker = start_worker(database_url, redis_url, "--burst")
    try:
        wait_until(progress_shown, timeout=240, interval=0.05)
        assert worker.wait(60) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
    assert seen, "no progress was shown while the import ran"
    page, read, bar = seen[0]
    assert "Importing" in page and read == int(bar.group(2))
    assert f'<label for="{bar.group(1)}">Rows read</label>' in page
    assert re.search(r"So far: [\d,]+ imported, 2 updated, 0 skipped\.", page)

    done = status_page(auth.client, import_id)
    assert "Done" in done and "99,998 imported, 2 updated, 0 skipped." in done and "<progress" not in done
    assert contact_count() == ROWS
    assert people.find_by_email(site.account_id, "person000042@example.org").first_name == "Ada"
    assert stored(import_id).csv_text == ""


def test_an_import_past_its_time_limit_fails_says_why_and_drops_its_file(one_second_limit, auth, site,
                                                                        run_jobs):
    import_id = upload(auth.client, big_csv())

    run_jobs()  # stopped after IMPORT_JOB_TIMEOUT, 1 second (by RQ, or by itself at its next batch)

    contact_import = stored(import_id)
    imported = contact_count()
    assert 0 < imported < ROWS, "the import was not stopped midway; the test proves nothing"
    assert (contact_import.status, contact_import.imported) == ("failed", imported)
    assert contact_import.csv_text == ""
    page = status_page(auth.client, import_id)
    assert "Failed" in page and "every 2s" not in page
    assert (f"The import took longer than 1 second and was stopped. Rows 2 to {imported + 1} were imported; "
            "the rest was not.") in page
    assert f"{imported:,} imported, 0 updated, 0 skipped." in page


def test_an_import_whose_worker_died_is_failed_by_the_sweep(three_second_limit, auth, site, database_url,
                                                            redis_url, run_jobs):
    import_id = upload(auth.client, big_csv())
    worker = start_worker(database_url, redis_url)
    try:
        wait_until(lambda: stored(import_id).rows_read > 0, timeout=60, interval=0.02)
        assert imports.fail_stalled_imports() == []  # its job is running: left alone
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert stored(import_id).status == "running"
    assert "Importing" in status_page(auth.client, import_id)

    # The job counts as gone once it has run for longer than its timeout: then the worker's
    # periodic jobs, on any worker, fail the import.
    job_id = imports.import_job_id(import_id)
    wait_until(lambda: not pending_jobs([job_id]), timeout=30, interval=0.5)
    enqueue_due_jobs(get_redis())
    run_jobs()

    contact_import = stored(import_id)
    imported = contact_count()
    assert (contact_import.status, contact_import.csv_text) == ("failed", "")
    assert 0 < imported < ROWS and contact_import.rows_read == imported
    page = status_page(auth.client, import_id)
    assert "Failed" in page and "every 2s" not in page
    assert ("The import stopped before it finished: it took longer than 3 seconds, or the worker running it "
            f"stopped. Rows 2 to {imported + 1} were imported; the rest was not.") in page


def test_a_queued_import_whose_job_was_lost_is_failed_by_the_sweep(auth, site):
    lost = upload(auth.client, b"email\nada@customer.example\n")
    get_redis().flushdb()  # Redis lost the job (restarted without its data)
    waiting = upload(auth.client, b"email\ngrace@navy.example\n")

    assert imports.fail_stalled_imports() == []  # just uploaded: its job may still be on its way
    assert imports.fail_stalled_imports(now=utcnow() + timedelta(minutes=2)) == [lost]

    assert (stored(lost).status, stored(lost).csv_text) == ("failed", "")
    page = status_page(auth.client, lost)
    assert "Failed" in page and "every 2s" not in page
    assert ("The import did not start: its job was lost. No contacts were imported; "
            "upload the file again.") in page
    assert stored(waiting).status == "queued" and stored(waiting).csv_text


def test_an_import_interrupted_mid_statement_is_still_marked_failed(auth, site, run_jobs, monkeypatch):
    """RQ's timeout can interrupt psycopg in the middle of a query, after which the connection's
    rollback fails too: the import must still end failed, with its reason, on a new connection."""
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm import Session

    from app.contacts import imports

    def interrupted(*args, **kwargs):
        raise OperationalError("SELECT …", {}, Exception("the job's time limit, mid-statement"))

    rollback, broken = Session.rollback, []

    def rollback_once_broken(self):
        if interrupted_import and not broken:
            broken.append(True)
            raise OperationalError("ROLLBACK", {}, Exception("another command is already in progress"))
        return rollback(self)

    import_id = upload(auth.client, big_csv(10))
    interrupted_import = True
    monkeypatch.setattr(imports, "_store_batch", interrupted)
    monkeypatch.setattr(Session, "rollback", rollback_once_broken)
    run_jobs()
    interrupted_import = False
    assert broken, "the broken rollback was not reached"
    contact_import = stored(import_id)
    assert contact_import.status == "failed" and contact_import.csv_text == ""
    assert "The import stopped unexpectedly (OperationalError)." in status_page(auth.client, import_id)
