"""SMS: a real worker delivers to a Twilio-compatible HTTP server, or to the outbox; short links."""
import base64
import json
import re
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from sqlalchemy.exc import DBAPIError

from app.extensions import db
from app.messaging import sms
from app.models import SmsMessage
from tests.support import database_refusing_update, free_port

MESSAGES_PATH = "/2010-04-01/Accounts/AC123/Messages.json"
AUTHORIZATION = "Basic " + base64.b64encode(b"AC123:secret").decode()
INVALID_TO = "The 'To' number is not a valid phone number."


@pytest.fixture
def app_config(app_config):
    return {**app_config, "SMS_RETRY_DELAYS": "0,0,0"}


class ProviderHandler(BaseHTTPRequestHandler):
    """Answers like Twilio's Messages API, and refuses what Twilio would refuse."""

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        form = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True, strict_parsing=True)
        self.server.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                     "form": form})
        if self.path != MESSAGES_PATH:
            self.answer(404, {"message": "The requested resource was not found"})
        elif self.headers.get("Authorization") != AUTHORIZATION:
            self.answer(401, {"message": "Authenticate"})
        elif self.headers.get("Content-Type") != "application/x-www-form-urlencoded" \
                or sorted(form) != ["Body", "From", "To"] or any(len(v) != 1 for v in form.values()):
            self.answer(400, {"message": "Malformed request"})
        else:
            status, payload = self.server.reply
            self.answer(status, payload)

    def answer(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


@contextmanager
def sms_provider(reply):
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), ProviderHandler)
    server.requests, server.reply = [], reply
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def provider_url(server) -> str:
    return f"http://AC123:secret@127.0.0.1:{server.server_port}/2010-04-01?from=%2B15550001111"


def queue(user, body="Spring sale: 20% off today only. Reply STOP to opt out.", to="+15557654321"):
    message = sms.queue_sms(account_id=user.account_id, to_number=to, body=body)
    db.session.commit()
    return message.id


def test_a_worker_delivers_through_the_provider(app, user, run_jobs):
    body = "Hi Ada! Prices & plans: https://shop.example/pricing?a=1+2 — €5 off 👍"
    with sms_provider((201, {"sid": "SM0123456789abcdef0123456789abcdef", "status": "queued"})) as server:
        app.config["SMS_URL"] = provider_url(server)
        sms_id = queue(user, body=body)
        run_jobs()
    message = db.session.get(SmsMessage, sms_id)
    assert (message.status, message.transport, message.attempts, message.error) == ("sent", "http", 1, "")
    assert message.provider_id == "SM0123456789abcdef0123456789abcdef"
    assert message.delivered_at is not None
    [request] = server.requests
    assert (request["method"], request["path"]) == ("POST", MESSAGES_PATH)
    assert request["headers"]["Authorization"] == AUTHORIZATION
    assert request["form"] == {"To": ["+15557654321"], "From": ["+15550001111"], "Body": [body]}


def test_a_refused_message_fails_after_bounded_retries(app, user, run_jobs):
    with sms_provider((400, {"code": 21211, "message": INVALID_TO, "status": 400})) as server:
        app.config["SMS_URL"] = provider_url(server)
        sms_id = queue(user, to="+1555")
        run_jobs()
    message = db.session.get(SmsMessage, sms_id)
    assert message.status == "failed"
    assert message.attempts == 1 + len(app.config["SMS_RETRY_DELAYS"]) == 4
    assert "400" in message.error and INVALID_TO in message.error
    assert (message.provider_id, message.delivered_at) == ("", None)
    assert len(server.requests) == 4
    assert all(request["form"]["To"] == ["+1555"] for request in server.requests)


def test_wrong_credentials_are_reported(app, user, run_jobs):
    with sms_provider((201, {"sid": "SM1"})) as server:
        app.config["SMS_URL"] = provider_url(server).replace(":secret@", ":wrong@")
        sms_id = queue(user)
        run_jobs()
    message = db.session.get(SmsMessage, sms_id)
    assert message.status == "failed" and "HTTP 401: Authenticate" in message.error


def test_without_sms_url_the_message_lands_in_the_outbox(app, user, run_jobs):
    assert app.config["SMS_URL"] == ""
    sms_id = queue(user)
    run_jobs()
    message = db.session.get(SmsMessage, sms_id)
    assert (message.status, message.transport, message.provider_id, message.attempts) == ("outbox", "outbox",
                                                                                          "", 1)
    assert message.delivered_at is not None


def test_a_delivered_message_is_not_sent_again(app, user, run_jobs):
    with sms_provider((201, {"sid": "SM1"})) as server:
        app.config["SMS_URL"] = provider_url(server)
        sms_id = queue(user)
        run_jobs()
        assert sms.deliver_sms(sms_id, final_attempt=True).status == "sent"
    assert len(server.requests) == 1
    assert sms.deliver_sms(sms_id + 1000, final_attempt=True) is None


def test_a_message_whose_outcome_could_not_be_recorded_is_not_sent_again(app, user):
    with sms_provider((201, {"sid": "SM0123456789abcdef0123456789abcdef"})) as server:
        app.config["SMS_URL"] = provider_url(server)
        sms_id = queue(user)
        with database_refusing_update("sms_messages", "sent"), pytest.raises(DBAPIError):
            sms.deliver_sms(sms_id, final_attempt=False)
        db.session.rollback()
        retried = sms.deliver_sms(sms_id, final_attempt=False)  # RQ's retry, the database back
    assert len(server.requests) == 1
    assert (retried.status, retried.provider_id) == ("sent", "SM0123456789abcdef0123456789abcdef")


def test_sms_url_is_parsed():
    transport = sms.HttpSmsTransport.from_url(
        "https://AC9%3Ax:to%40ken@api.twilio.com/2010-04-01/?from=+15551234567")
    assert transport.messages_url == "https://api.twilio.com/2010-04-01/Accounts/AC9:x/Messages.json"
    assert (transport.account_sid, transport.auth_token, transport.from_number) == ("AC9:x", "to@ken",
                                                                                    "+15551234567")
    assert sms.HttpSmsTransport.from_url("http://a:b@127.0.0.1:8080?from=%2B1").base_url == "http://127.0.0.1:8080"


@pytest.mark.parametrize("url", [
    "smtp://a:b@api.twilio.com?from=%2B1",
    "https://api.twilio.com/2010-04-01?from=%2B1",
    "https://a@api.twilio.com/2010-04-01?from=%2B1",
    "https://a:b@api.twilio.com/2010-04-01",
])
def test_other_sms_urls_are_refused(url):
    with pytest.raises(ValueError, match="SMS_URL"):
        sms.HttpSmsTransport.from_url(url)


def test_short_links_are_made_and_resolved(app, user):
    link = sms.make_short_link(account_id=user.account_id, url="https://shop.example/pricing?cid=abc")
    db.session.commit()
    assert re.fullmatch(r"[A-Za-z0-9]{8}", link.code)
    found = sms.resolve_short_link(link.code)
    assert (found.id, found.account_id, found.url) == (link.id, user.account_id,
                                                       "https://shop.example/pricing?cid=abc")
    assert sms.resolve_short_link("nope1234") is None
    assert sms.resolve_short_link(link.code.swapcase()) is None


def test_short_link_codes_are_unique(app, user):
    codes = {sms.make_short_link(account_id=user.account_id, url=f"https://shop.example/{n}").code
             for n in range(1000)}
    db.session.commit()
    assert len(codes) == 1000
    assert all(re.fullmatch(r"[A-Za-z0-9]{8}", code) for code in codes)


def test_a_colliding_code_is_drawn_again(app, user, monkeypatch):
    taken = sms.make_short_link(account_id=user.account_id, url="https://shop.example/a").code
    draws = iter([taken, taken, "Fresh123"])
    monkeypatch.setattr(sms, "_new_code", lambda: next(draws))
    assert sms.make_short_link(account_id=user.account_id, url="https://shop.example/b").code == "Fresh123"
    db.session.commit()
