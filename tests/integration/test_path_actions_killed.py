"""Each action of a path takes effect exactly once, even when the worker executing it is killed
(SIGKILL) at the worst moments: with the effect written but not committed, and just after the
commit, before the job could finish. The job then runs again, as the sweep or RQ would run it,
on a real worker."""
import json
import os
import signal
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.automations import engine, schema
from app.contacts import fields, lists
from app.extensions import db
from app.models import AutomationRun, AutomationStepRun, Contact, ContactList, Email, Tag, WebhookDelivery
from app.models.types import utcnow
from app.queues import MESSAGES, get_queue
from tests.integration.test_automations_engine import automation, email, end
from tests.integration.test_path_actions import step
from tests.support import webhook_receiver

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# A worker process running the real job, with a SQLAlchemy listener (installed here, not in the
# app) that kills it at `moment` of the transaction that writes the step's record.
KILLED_WORKER = """
import json, os, signal, sys
from sqlalchemy import event
from sqlalchemy.orm import Session
from app import create_app
from app.extensions import db

step_id, moment, run_id = sys.argv[1], sys.argv[2], int(sys.argv[3])
app = create_app(json.loads(os.environ["FOOTFALL_TEST_CONFIG"]))
written = []
with app.app_context():
    @event.listens_for(db.engine, "before_cursor_execute")
    def spot(connection, cursor, statement, parameters, context, executemany):
        inserting = statement.lstrip().upper().startswith("INSERT INTO AUTOMATION_STEP_RUNS")
        if inserting and step_id in repr(parameters):
            written.append(step_id)

    if moment == "before_commit":
        @event.listens_for(Session, "before_commit")
        def die(session):
            if written:
                os.kill(os.getpid(), signal.SIGKILL)
    else:  # once the outermost transaction has committed (a savepoint's end commits nothing yet)
        @event.listens_for(Session, "after_transaction_end")
        def die(session, transaction):
            if written and transaction.parent is None:
                os.kill(os.getpid(), signal.SIGKILL)

    from worker.jobs.automations import advance_run
    advance_run(run_id)
"""


def killed_while_executing(app_config, run_id: int, step_id: str, moment: str) -> None:
    env = dict(os.environ, FOOTFALL_TEST_CONFIG=json.dumps(app_config))
    finished = subprocess.run([sys.executable, "-c", KILLED_WORKER, step_id, moment, str(run_id)],
                              cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert finished.returncode == -signal.SIGKILL, finished.stderr  # killed there, not finished


def _tag(site, contact):
    hot = lists.add_tag(contact, "hot")
    lists.remove_tag(contact, hot.id)
    db.session.commit()
    on_tag = automation(site, [email("You are hot"), end()], trigger={"type": "tag_added", "tag_id": hot.id})

    def effect():
        started = db.session.scalar(select(func.count()).select_from(AutomationRun)
                                    .where(AutomationRun.automation_id == on_tag.id))
        return [tag.name for tag in db.session.get(Contact, contact.id).tags], started
    return step("tag", action="add", tag="hot"), effect, (["hot"], 1)


def _list(site, contact):
    customers = ContactList(account_id=site.account_id, name="Customers")
    db.session.add(customers)
    db.session.commit()
    on_list = automation(site, [email("Welcome"), end()],
                         trigger={"type": "list_joined", "list_id": customers.id})

    def effect():
        started = db.session.scalar(select(func.count()).select_from(AutomationRun)
                                    .where(AutomationRun.automation_id == on_list.id))
        return [item.name for item in db.session.get(Contact, contact.id).lists], started
    return step("list", action="add", list_id=customers.id), effect, (["Customers"], 1)


def _field(site, contact):
    score = fields.create_field(site.account_id, "Score", "number")
    contact.custom = {"score": 10}
    db.session.commit()
    return (step("field", field=score.key, action="add", value=5),
            lambda: db.session.get(Contact, contact.id).custom, {"score": 15})


def _notify(site, contact):
    def effect():
        return sorted(db.session.scalars(select(Email.to_address).where(Email.kind == "team_notification")))
    return step("notify", to=["sales@shop.example", "boss@shop.example"]), effect, \
        ["boss@shop.example", "sales@shop.example"]


def _webhook(site, contact, receiver):
    def effect():
        return db.session.scalar(select(func.count()).select_from(WebhookDelivery)), len(receiver)
    return step("webhook", url=receiver.url, secret="whsec_test"), effect, (1, 1)


def _untag(site, contact):
    lists.add_tag(contact, "cold")
    db.session.commit()
    return (step("tag", action="remove", tag="cold"),
            lambda: [tag.name for tag in db.session.get(Contact, contact.id).tags], [])


def _unlist(site, contact):
    lists.add_to_list(contact, new_name="Old leads")
    db.session.commit()
    old = db.session.scalar(select(ContactList))
    return (step("list", action="remove", list_id=old.id),
            lambda: [item.name for item in db.session.get(Contact, contact.id).lists], [])


def _field_set(site, contact):
    contact.company = "Before"
    db.session.commit()
    return (step("field", field="company", action="set", value="After"),
            lambda: db.session.get(Contact, contact.id).company, "After")


ACTIONS = {"tag": _tag, "untag": _untag, "list": _list, "unlist": _unlist, "field": _field,
           "field_set": _field_set, "notify": _notify, "webhook": _webhook}


@pytest.mark.parametrize("moment", ["before_commit", "after_commit"])
@pytest.mark.parametrize("kind", ACTIONS)
def test_an_action_takes_effect_once_through_a_killed_worker(app_config, site, contact, run_jobs, kind,
                                                            moment):
    with webhook_receiver() as (url, received):
        received.url = url
        arrange = ACTIONS[kind]
        arranged = arrange(site, contact, received) if kind == "webhook" else arrange(site, contact)
        action, effect, expected = arranged
        item = automation(site, [action, email("After the action"), end()])
        run = engine.enter(item, contact.id, advance_later=False)
        db.session.commit()

        killed_while_executing(app_config, run.id, action["id"], moment)
        db.session.rollback()
        recorded = db.session.scalar(select(func.count()).select_from(AutomationStepRun)
                                     .where(AutomationStepRun.run_id == run.id,
                                            AutomationStepRun.step_id == action["id"]))
        assert recorded == (0 if moment == "before_commit" else 1)  # nothing half done either way

        # The job is tried again (its retry), and the sweep finds the run too.
        get_queue(MESSAGES).enqueue("worker.jobs.automations.advance_run", run.id)
        engine.wake_due_runs(utcnow() + timedelta(minutes=6))
        run_jobs()
        run_jobs()
        db.session.rollback()
        assert effect() == expected
    assert db.session.get(AutomationRun, run.id).status == "completed"
    assert db.session.scalar(select(func.count()).select_from(Email)
                             .where(Email.subject == "After the action")) == 1
    assert db.session.scalar(select(func.count()).select_from(AutomationStepRun)
                             .where(AutomationStepRun.run_id == run.id)) == 3


@pytest.mark.parametrize("moment", ["before_commit", "after_commit"])
def test_a_goal_is_met_once_through_a_killed_worker(app_config, site, contact, run_jobs, moment):
    goal = step("goal", condition={"type": "field", "negate": False, "field": "company", "op": "contains",
                                   "value": "Acme"})
    item = automation(site, [step("delay", amount=1, unit="days"), email("Before the goal"), goal,
                             email("After the goal"), end()])
    run = engine.enter(item, contact.id)
    db.session.commit()
    run_jobs()
    assert db.session.get(AutomationRun, run.id).status == "waiting"
    contact = db.session.get(Contact, contact.id)
    contact.company = "Acme Ltd"  # the goal is met: the next look at the run jumps to it
    db.session.commit()

    killed_while_executing(app_config, run.id, goal["id"], moment)
    db.session.rollback()
    get_queue(MESSAGES).enqueue("worker.jobs.automations.advance_run", run.id)
    run_jobs()
    db.session.rollback()
    subjects = list(db.session.scalars(select(Email.subject).where(Email.kind == "automation")))
    assert subjects == ["After the goal"]  # the email before the goal was skipped, the one after sent once
    assert [entry["outcome"] for entry in engine.journey(item, contact.id)][1] == "goal met"
    assert db.session.get(AutomationRun, run.id).status == "completed"
    assert db.session.scalar(select(Tag.id)) is None  # (nothing else happened)
    assert schema.goals(item.steps) == [goal]
