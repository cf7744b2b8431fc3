"""A key of account B gets 404 for every object of account A, over every route of the REST API
and every method, and changes nothing; the same request with A's key finds the object. The routes
come from the app's URL map: a route added later is covered the day it is added."""

import pytest

from tests.api.conftest import Api, key_for
from tests.conftest import make_user
from tests.integration.test_isolation import ROUTES, account_objects, database_rows, fill, queued_jobs

# A body for every route that takes one: what someone using B's key would send about A's objects.
TAKE_OVER = {
    "email": "mallory@other.example",
    "first_name": "Mallory",
    "name": "Taken over",
    "contact_id": None,
    "tags": ["Stolen"],
}

API_ROUTES = [
    pytest.param(rule, method, id=f"{method} {rule.rule}")
    for rule in ROUTES
    if rule.endpoint.startswith("api.") and rule.arguments
    for method in sorted(rule.methods & {"GET", "POST", "PUT", "PATCH", "DELETE"})
]


def body_for(rule, method: str, objects: dict):
    if method not in ("POST", "PATCH"):
        return None
    if rule.endpoint == "api.enrol":
        return {"contact_id": objects["contact_id"]}
    if rule.endpoint == "api.add_tag":
        return {"name": "Taken over"}
    if rule.endpoint == "api.change_webhook":
        return {"description": "Taken over", "url": "https://mallory.example/hooks"}
    if rule.endpoint == "api.send_again":
        return None
    return {"first_name": "Mallory"}


def test_every_api_route_with_an_object_is_covered():
    assert len(API_ROUTES) >= 15
    names = {name for rule in ROUTES if rule.endpoint.startswith("api.") for name in rule.arguments}
    assert {"contact_id", "list_id", "tag_id", "segment_id", "automation_id", "campaign_id", "webhook_id",
            "delivery_id"} <= names


@pytest.mark.parametrize("rule, method", API_ROUTES)
def test_a_key_of_another_account_gets_404_and_changes_nothing(client, user, site, contact, rule, method):
    from app.automations import engine, service
    from app.extensions import db

    objects = account_objects(user, site, contact)
    automation = service.get_automation(user.account_id, objects["automation_id"])
    assert engine.activate(automation) == []
    assert engine.enter(automation, contact.id) is not None  # (on its path: DELETE …/enrolments finds it)
    db.session.commit()
    owner = Api(client, key_for(user.account_id))
    intruder = Api(client, key_for(make_user("intruder@other.example", account_name="Other").account_id))
    intruder.get("/fields")  # (its first use is recorded on the key: before the rows are compared)
    url = fill(rule, objects).removeprefix("/api/v1")
    rows, jobs = database_rows(), queued_jobs()

    response = intruder.client.open(
        f"/api/v1{url}", method=method, headers=intruder.headers(), json=body_for(rule, method, objects)
    )

    assert response.status_code == 404, f"{method} {url} answered {response.status_code}: {response.json}"
    assert response.mimetype == "application/problem+json"
    assert "Taken over" not in response.get_data(as_text=True)
    assert database_rows() == rows, f"{method} {url} changed the other account's data"
    assert queued_jobs() == jobs, f"{method} {url} queued work"
    mine = owner.client.open(
        f"/api/v1{url}", method=method, headers=owner.headers(), json=body_for(rule, method, objects)
    )
    assert mine.status_code != 404, f"{method} {url} is not the owner's either: {mine.json}"
