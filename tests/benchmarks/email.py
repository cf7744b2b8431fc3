"""email: campaign emails delivered per second by one real worker over SMTP, over raw smtplib
sending the same number of pre-rendered messages to the same sink (email_vs_smtp_ratio).

A campaign of CAMPAIGN_BODY (a few paragraphs, three links; merge fields in the subject, From name
and body, so every message is personalised) to one list of RECIPIENTS contacts is
sent as the product sends it: send_now() enqueues the start job, and `python -m worker --burst`
runs it and every batch job (render each recipient's message, store it, deliver the batch over
one SMTP connection). The time runs from the worker's start to the sink's counting the last
message. The baseline builds the first stored row's message, then times smtplib's send_message of
it RECIPIENTS times over one connection (every recipient's message has the same size and shape).
The sink is aiosmtpd, accepting and dropping, in its own process so that neither sender shares a
GIL with it.
"""
from __future__ import annotations

import ctypes
import multiprocessing
import smtplib
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import func, select

from app import create_app
from app.config import PROJECT_ROOT
from app.devserver import stop
from app.extensions import db
from app.messaging import mail, sending
from app.models import Campaign, Contact, Email
from tests.benchmarks.harness import (PUBLIC_URL, BenchmarkFailed, Environment, create_campaign, create_list,
                                      create_owner, log)
from tests.support import free_port

# 5,000 runs the whole benchmark in about a minute here (the worker sends ~115 a second).
RECIPIENTS = 5000
WORKER_TIMEOUT = 90


@dataclass
class Sink:
    """An SMTP server that counts the messages it accepts and keeps none."""

    port: int
    _count: ctypes.c_long

    @property
    def count(self) -> int:
        return self._count.value


def _serve_sink(port: int, count, ready, done) -> None:
    """The sink process: an aiosmtpd Controller whose handler only counts."""
    from aiosmtpd.controller import Controller

    class Counting:
        async def handle_DATA(self, server, session, envelope):
            count.value += 1
            return "250 OK"

    controller = Controller(Counting(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    done.wait()
    controller.stop()


@contextmanager
def smtp_sink():
    # fork: the sink needs nothing but this module, and starts at once.
    context = multiprocessing.get_context("fork")
    count = context.RawValue(ctypes.c_long, 0)  # written by the sink's one event loop only
    ready, done = context.Event(), context.Event()
    port = free_port()
    process = context.Process(target=_serve_sink, args=(port, count, ready, done), daemon=True)
    process.start()
    try:
        if not ready.wait(30):
            raise BenchmarkFailed("the SMTP sink did not start within 30s")
        yield Sink(port, count)
    finally:
        done.set()
        process.join(10)
        if process.is_alive():
            process.kill()
            process.join()


def worker_rate(env: Environment, sink: Sink, campaign_id: int) -> float:
    """Send the campaign with one real worker; emails per second from its start to the last one counted."""
    counted_before = sink.count
    started = time.perf_counter()
    # RQ logs two lines a job: like all the benchmark's output, they go to its log file.
    worker = subprocess.Popen(
        [sys.executable, "-m", "worker", "--burst", "--no-scheduler", "--no-events"], cwd=PROJECT_ROOT,
        env=env.child_environ(MAIL_URL=f"smtp://127.0.0.1:{sink.port}", PUBLIC_URL=PUBLIC_URL))
    try:
        first = None  # when the sink had counted the first email
        deadline = started + WORKER_TIMEOUT
        while (counted := sink.count - counted_before) < RECIPIENTS and worker.poll() is None \
                and time.perf_counter() < deadline:
            if counted and first is None:
                first = time.perf_counter()
            time.sleep(0.005)
        last = time.perf_counter()
        returncode = worker.wait(max(1.0, deadline - time.perf_counter()))
    except subprocess.TimeoutExpired:
        returncode = None
    finally:
        stop([worker])
    counted = sink.count - counted_before
    if returncode != 0 or counted != RECIPIENTS:
        outcome = "timed out" if returncode is None else f"exited with {returncode}"
        raise BenchmarkFailed(f"the worker {outcome} after the sink counted {counted} of {RECIPIENTS} "
                              "emails; its output is in the log")
    elapsed, first = last - started, first or started
    log(f"worker: {RECIPIENTS} emails in {elapsed:.2f}s from its start; "
        f"the first after {first - started:.2f}s, "
        f"then {(RECIPIENTS - 1) / max(last - first, 1e-9):.0f}/s")
    return RECIPIENTS / elapsed


def check_stored(campaign_id: int) -> Email:
    """Every recipient's email is stored as sent, and the campaign is finished; the first email."""
    db.session.rollback()  # a fresh transaction, so what the worker committed is seen
    statuses = dict(db.session.execute(select(Email.status, func.count())
                                       .where(Email.campaign_id == campaign_id)
                                       .group_by(Email.status)).all())
    campaign = db.session.get(Campaign, campaign_id)
    if statuses != {"sent": RECIPIENTS} or (campaign.status, campaign.recipients) != ("sent", RECIPIENTS):
        raise BenchmarkFailed(f"emails by status {statuses}; "
                              f"campaign {campaign.status} to {campaign.recipients}")
    email = db.session.scalar(select(Email).where(Email.campaign_id == campaign_id)
                              .order_by(Email.id).limit(1))
    if (email.html_body.count(f'href="{PUBLIC_URL}/c/') != 3
            or f'href="{PUBLIC_URL}/u/' not in email.html_body):
        raise BenchmarkFailed("the stored email does not have its three click links and an unsubscribe link")
    contact = db.session.get(Contact, email.contact_id)
    if (email.subject, email.from_name) != (f"{contact.first_name}, our fall sale", contact.company) \
            or f"Hi {contact.first_name}, everything" not in email.html_body:
        raise BenchmarkFailed("the stored email is not personalised for its recipient")
    return email


def raw_rate(sink: Sink, email: Email, from_name: str) -> float:
    """smtplib's send_message of one stored email, built beforehand, RECIPIENTS times over one connection."""
    message = mail.build_message(email, from_name)
    counted_before = sink.count
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=15) as client:
        for _ in range(RECIPIENTS):
            client.send_message(message)
    elapsed = time.perf_counter() - started
    if sink.count - counted_before != RECIPIENTS:
        raise BenchmarkFailed(f"the sink counted {sink.count - counted_before} of {RECIPIENTS} raw messages")
    log(f"raw smtplib: {RECIPIENTS} messages of {len(message.as_bytes())} bytes in {elapsed:.2f}s")
    return RECIPIENTS / elapsed


def run(env: Environment) -> dict[str, float]:
    with smtp_sink() as sink:  # first: the sink's process forks before this one opens connections
        app = create_app(env.app_config(PUBLIC_URL=PUBLIC_URL, MAIL_URL=f"smtp://127.0.0.1:{sink.port}"))
        with app.app_context():
            prepared = time.perf_counter()
            user = create_owner()
            campaign = create_campaign(user, [create_list(user.account_id, RECIPIENTS)])
            log(f"{RECIPIENTS} contacts and the campaign made in {time.perf_counter() - prepared:.2f}s")
            sending.send_now(campaign, PUBLIC_URL)
            db.session.commit()  # enqueues the start job
            campaign_id, from_name = campaign.id, campaign.from_name
            emails = worker_rate(env, sink, campaign_id)
            raw = raw_rate(sink, check_stored(campaign_id), from_name)
    return {
        "email_sends_per_s": emails,
        "smtp_raw_sends_per_s": raw,
        "email_vs_smtp_ratio": emails / raw,
    }
