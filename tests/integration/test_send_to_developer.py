"""Send to developer: a real worker delivers to a real SMTP server, or to the outbox."""
import os
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from app.config import PROJECT_ROOT
from app.extensions import db
from app.models import Email
from tests.conftest import HX
from tests.integration.test_tracking_setup import finished_site
from tests.support import free_port, smtp_server


def send(client, recipients="dev@agency.example", note=""):
    return client.post("/settings/tracking/send", data={"recipients": recipients, "note": note}, headers=HX)


def run_worker_process(database_url, redis_url, mail_url):
    """The real entry point, `python -m worker --burst`, as operators run it."""
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url, MAIL_URL=mail_url,
               MAIL_RETRY_DELAYS="0,0,0")
    finished = subprocess.run([sys.executable, "-m", "worker", "--burst", "--no-scheduler"], cwd=PROJECT_ROOT,
                              env=env, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr


def test_the_email_reaches_the_developer_with_code_and_instructions(auth, user, database_url, redis_url):
    site = finished_site(auth.client)
    response = send(auth.client, "dev@agency.example, second@agency.example", note="Before Friday, please <3")
    assert response.status_code == 200
    assert "Sent to dev@agency.example, second@agency.example." in response.get_data(as_text=True)
    with smtp_server() as (controller, handler):
        run_worker_process(database_url, redis_url, f"smtp://127.0.0.1:{controller.port}")
    assert sorted(rcpt for rcpts, _ in handler.messages for rcpt in rcpts) == \
        ["dev@agency.example", "second@agency.example"]
    code = f'<script async src="https://footfall.test/t/{site.site_key}.js"></script>'
    for _, message in handler.messages:
        assert message["Reply-To"] == user.email
        assert "https://www.shop.example" in message["Subject"]
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        assert code in text
        assert code.replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;") in html
        for part in (text, html):
            assert "</head>" in part.replace("&lt;/head&gt;", "</head>")
            assert "https://footfall.test/help/install" in part
            assert user.email in part
            assert "Receiving data" in part
        assert "Before Friday, please <3" in text and "Before Friday, please &lt;3" in html
    db.session.rollback()
    assert [e.status for e in db.session.scalars(select(Email))] == ["sent", "sent"]
    panel = auth.client.get("/settings/tracking/deliveries", headers=HX).get_data(as_text=True)
    assert panel.count("Delivered") == 2 and "every 3s" not in panel


def test_without_mail_url_the_email_lands_in_the_outbox(auth, run_jobs):
    finished_site(auth.client)
    send(auth.client)
    pending = auth.client.get("/settings/tracking/deliveries", headers=HX).get_data(as_text=True)
    assert "Queued" in pending and "every 3s" in pending
    run_jobs()
    email = db.session.scalar(select(Email))
    assert (email.status, email.transport) == ("outbox", "outbox")
    listing = auth.client.get("/outbox/").get_data(as_text=True)
    assert "Please add the Footfall tracking code" in listing and "In the outbox" in listing
    shown = auth.client.get(f"/outbox/{email.id}").get_data(as_text=True)
    assert "dev@agency.example" in shown and "right before the closing &lt;/head&gt; tag" in shown
    frame = auth.client.get(f"/outbox/{email.id}/html")
    assert frame.headers["Content-Security-Policy"].startswith("sandbox")


def test_a_failed_delivery_shows_in_the_app_after_bounded_retries(auth, app_config, run_jobs, app):
    finished_site(auth.client)
    app.config["MAIL_URL"] = f"smtp://127.0.0.1:{free_port()}?timeout=2"  # nothing listens there
    send(auth.client)
    run_jobs()
    email = db.session.scalar(select(Email))
    assert email.status == "failed"
    assert email.attempts == 1 + len(app.config["MAIL_RETRY_DELAYS"])
    assert "ConnectionRefusedError" in email.error
    panel = auth.client.get("/settings/tracking/deliveries", headers=HX).get_data(as_text=True)
    assert "Failed" in panel and "ConnectionRefusedError" in panel
    assert auth.client.get("/settings/tracking").status_code == 200


@pytest.mark.parametrize("recipients, message", [
    ("", "Enter your developer"),
    ("not-an-address", "is not a valid email address"),
    ("ok@agency.example, broken@", "is not a valid email address"),
    (",".join(f"d{i}@agency.example" for i in range(4)), "at most 3"),
])
def test_bad_recipients_rerender_with_a_message(auth, recipients, message):
    finished_site(auth.client)
    response = send(auth.client, recipients)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert message in body and 'id="send-to-developer"' in body
    assert db.session.scalar(select(Email)) is None


def test_an_account_sends_the_code_to_at_most_ten_addresses_an_hour(auth):
    """Anyone who can sign up could otherwise mail their own text from the instance's address,
    without limit."""
    finished_site(auth.client)
    for batch in range(3):
        addresses = ",".join(f"d{batch}{index}@agency.example" for index in range(3))
        assert send(auth.client, addresses).status_code == 200
    refused = send(auth.client, "e1@agency.example, e2@agency.example")
    assert refused.status_code == 422
    assert "You can send the code to 1 more address this hour." in refused.get_data(as_text=True)
    assert send(auth.client, "e1@agency.example").status_code == 200
    refused = send(auth.client, "e2@agency.example")
    assert refused.status_code == 422
    assert ("sent 10 times in the last hour, the most allowed. Try again in 60 minutes"
            in refused.get_data(as_text=True))
    assert db.session.scalar(select(func.count()).select_from(Email)) == 10


def test_an_over_long_note_is_refused(auth):
    finished_site(auth.client)
    response = send(auth.client, note="x" * 1001)
    assert response.status_code == 422 and "Keep the note under" in response.get_data(as_text=True)


def test_another_account_cannot_read_the_outbox(auth, intruder, run_jobs):
    finished_site(auth.client)
    send(auth.client)
    run_jobs()
    email_id = db.session.scalar(select(Email.id))
    other = intruder
    assert other.get(f"/outbox/{email_id}").status_code == 404
    assert other.get(f"/outbox/{email_id}/html").status_code == 404
    assert "dev@agency.example" not in other.get("/outbox/").get_data(as_text=True)


def test_a_quota_smaller_than_a_message_or_none_is_explained(app, auth):
    finished_site(auth.client)
    for quota, message in ((2, "Send to at most 2 addresses an hour."),
                           (0, "Sending the code by email is turned off on this instance")):
        app.config["DEVELOPER_EMAILS_PER_HOUR"] = quota
        refused = send(auth.client, "a@agency.example, b@agency.example, c@agency.example")
        assert refused.status_code == 422 and message in refused.get_data(as_text=True)
