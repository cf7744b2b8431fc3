"""SMTP connections are kept between deliveries, and one the server dropped is opened again."""
import socket

import pytest
from sqlalchemy.exc import DBAPIError

from app.messaging import mail
from app.messaging.mail import SmtpTransport, _open_connections
from app.extensions import db
from tests.support import database_refusing_update, smtp_server


def queue(user, subject):
    email = mail.queue_email(account_id=user.account_id, kind="test", to_address="dev@agency.example",
                             subject=subject, text_body="t", html_body="<p>h</p>")
    db.session.commit()
    return email


def test_a_kept_connection_is_reused_and_reopened_when_dropped(app, user):
    with smtp_server() as (controller, handler):
        app.config["MAIL_URL"] = f"smtp://127.0.0.1:{controller.port}"
        key = SmtpTransport.from_url(app.config["MAIL_URL"])._key
        mail.deliver(queue(user, "one").id, final_attempt=True)
        kept = _open_connections[key]
        mail.deliver(queue(user, "two").id, final_attempt=True)
        assert _open_connections[key] is kept  # no new connection for the second message
        kept.sock.shutdown(socket.SHUT_RDWR)  # the server (or the network) drops it between jobs
        third = mail.deliver(queue(user, "three").id, final_attempt=True)
        assert third.status == "sent" and _open_connections[key] is not kept
        assert [message["Subject"] for _, message in handler.messages] == ["one", "two", "three"]


def test_a_delivery_whose_outcome_could_not_be_recorded_is_not_sent_again(app, user):
    with smtp_server() as (controller, handler):
        app.config["MAIL_URL"] = f"smtp://127.0.0.1:{controller.port}"
        email_id = queue(user, "once").id
        with database_refusing_update("emails", "sent"), pytest.raises(DBAPIError):
            mail.deliver(email_id, final_attempt=False)
        assert len(handler.messages) == 1  # the server has it; the database does not say so

        retried = mail.deliver(email_id, final_attempt=False)  # RQ's retry, the database back
        assert retried.status == "sent" and retried.delivered_at is not None
        assert [message["Subject"] for _, message in handler.messages] == ["once"]


def test_a_new_email_with_a_deleted_ones_id_is_sent(app, user):
    with smtp_server() as (controller, handler):
        app.config["MAIL_URL"] = f"smtp://127.0.0.1:{controller.port}"
        first = queue(user, "first")
        mail.deliver(first.id, final_attempt=True)
        reused_id = first.id
        db.session.delete(first)  # erased with its contact; SQLite gives the next row its id
        db.session.commit()
        second = mail.queue_email(account_id=user.account_id, kind="test", to_address="dev@agency.example",
                                  subject="second", text_body="t", html_body="<p>h</p>")
        second.id = reused_id
        db.session.commit()
        assert mail.deliver(reused_id, final_attempt=True).status == "sent"
        assert [message["Subject"] for _, message in handler.messages] == ["first", "second"]
