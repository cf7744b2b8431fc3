"""Faults in a production-like deployment (gunicorn with 2 workers, 2 `python -m worker`
processes, Redis with its append-only file on, a real SMTP server): while beacons keep arriving,
a worker is killed with SIGKILL, Redis restarts, and the database goes away for 10 seconds.
Afterwards every beacon the server accepted is stored exactly once, every queued email is sent
exactly once, and waiting automation runs go on to their next step."""
from __future__ import annotations

import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.messaging import campaigns, sending
from app.models import AutomationRun, Campaign, ContactList, Email, PageView
from app.tracking.cid import make_cid
from tests.cluster import BeaconSender, DatabaseOutage, Deployment, RedisServer, background
from tests.conftest import base_config, make_contact
from tests.integration.test_automations_engine import automation, email, end
from tests.support import smtp_server, wait_until

WEBSITE = "https://www.shop.example"
CUSTOMERS = 20
VISITORS = 5


@pytest.fixture
def aof_redis(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def app_config(database_url, aof_redis):
    return base_config(database_url, aof_redis.url)


def customers(site) -> list:
    customer_list = ContactList(account_id=site.account_id, name="Customers")
    db.session.add(customer_list)
    people = [make_contact(site.account_id, f"customer{n:02d}@customer.example", first_name=f"C{n}")
              for n in range(CUSTOMERS)]
    for person in people:
        person.lists.append(customer_list)
    db.session.commit()
    return customer_list, people


def campaign(user, customer_list, subject: str):
    item = campaigns.create_campaign(user, "email")
    campaigns.update_campaign(item, name=subject, subject=subject, from_name="Shop",
                              body=f'<p>Hello. <a href="{WEBSITE}/sale">See the sale</a></p>',
                              list_ids=[customer_list.id])
    db.session.commit()
    return item


def send(item) -> None:
    sending.send_now(item, "https://footfall.test")
    db.session.commit()


def stored_event_ids() -> list[str]:
    db.session.rollback()
    return list(db.session.scalars(select(PageView.event_id).where(PageView.event_id.like("fault-%"))))


def keep_sending(sender: BeaconSender, stop) -> None:
    while not stop.is_set():
        sender.send()
        time.sleep(0.002)
    sender.close()


def test_accepted_events_queued_messages_and_waiting_automations_survive_faults(app, user, site, database_url,
                                                                                aof_redis, tmp_path):
    customer_list, people = customers(site)
    automation(site, [{"id": "wait", "kind": "delay", "amount": 1, "unit": "minutes"},
                      email(subject="Questions?"), end()])
    before_redis_restart = campaign(user, customer_list, "Before the Redis restart")
    during_outage = campaign(user, customer_list, "During the database outage")

    with smtp_server() as (controller, handler), DatabaseOutage(database_url) as database:
        environ = {"DATABASE_URL": database.database_url, "REDIS_URL": aof_redis.url,
                   "SECRET_KEY": app.config["SECRET_KEY"], "PUBLIC_URL": "https://footfall.test",
                   "MAIL_URL": f"smtp://127.0.0.1:{controller.port}", "MAIL_RETRY_DELAYS": "1,2,4,8,16,32",
                   "EVENTS_CLAIM_IDLE_MS": "1000", "PROXY_COUNT": "1", "INGEST_RATE_PER_SITE": "1000000",
                   # A batch job lost as Redis went away is resumed this long after it started.
                   "MESSAGE_JOB_TIMEOUT": "20"}
        with Deployment(environ, web_workers=2, workers=2, log_directory=tmp_path) as deployment:
            anonymous = BeaconSender(deployment.port, site.site_key, WEBSITE, "fault-anon")
            identified = BeaconSender(deployment.port, site.site_key, WEBSITE, "fault-known")
            with background(keep_sending, anonymous):
                # Five contacts arrive from an email and view /pricing: their runs wait a minute.
                for person in people[:VISITORS]:
                    identified.send("/pricing", cid=make_cid(site.account_id, person.id))
                assert len(identified.accepted) == VISITORS, identified.statuses
                wait_until(lambda: waiting_runs() == VISITORS, timeout=30)

                time.sleep(1)
                deployment.kill_worker(0)
                time.sleep(2)
                deployment.start_worker(0)

                send(before_redis_restart)
                aof_redis.restart(down_seconds=1)

                time.sleep(2)
                send(during_outage)
                accepted_before = len(anonymous.accepted)
                database.take_down(10)
                # Known sites come from each web process's cache: beacons are accepted meanwhile.
                assert len(anonymous.accepted) - accepted_before > 100, anonymous.statuses
                time.sleep(2)

            accepted = anonymous.accepted + identified.accepted
            print("beacon outcomes:", anonymous.statuses)
            assert len(anonymous.accepted) > 500, anonymous.statuses

            def progress() -> dict:
                db.session.rollback()
                return {"accepted": len(accepted), "stored": len(set(stored_event_ids()) & set(accepted)),
                        "emails received": len(handler.messages), "runs completed": completed_runs(),
                        "emails": dict(db.session.execute(select(Email.status, func.count())
                                                          .group_by(Email.status)).all()),
                        "campaigns": dict(db.session.execute(select(Campaign.name, Campaign.status)).all()),
                        "logs": str(tmp_path)}

            def everything_done() -> bool:
                now = progress()
                return (now["stored"] == now["accepted"]
                        and now["emails received"] >= 2 * CUSTOMERS + VISITORS
                        and now["runs completed"] == VISITORS)
            try:
                wait_until(everything_done, timeout=150, interval=1)
            except AssertionError:
                raise AssertionError(f"not everything arrived: {progress()}") from None
            time.sleep(3)  # a duplicate would arrive now

    stored = stored_event_ids()
    assert set(accepted) <= set(stored), f"{len(set(accepted) - set(stored))} accepted events were lost"
    assert len(stored) == len(set(stored))
    received = Counter((recipients[0], message["Subject"]) for recipients, message in handler.messages)
    for person in people:
        assert received[(person.email, "Before the Redis restart")] == 1
        assert received[(person.email, "During the database outage")] == 1
    for person in people[:VISITORS]:
        assert received[(person.email, "Questions?")] == 1
    assert sum(received.values()) == 2 * CUSTOMERS + VISITORS
    db.session.rollback()
    statuses = dict(db.session.execute(select(Email.status, func.count()).group_by(Email.status)).all())
    assert statuses == {"sent": 2 * CUSTOMERS + VISITORS}


def waiting_runs() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(AutomationRun)
                             .where(AutomationRun.status == "waiting"))


def completed_runs() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(AutomationRun)
                             .where(AutomationRun.status == "completed"))
