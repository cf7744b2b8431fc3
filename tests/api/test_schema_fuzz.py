"""Schemathesis drives every operation of /api/v1/openapi.json with generated valid and invalid
input: no answer is a 500, and every answer matches the document (status, content type, headers,
body schema); invalid input is refused and a request without a key too. A few objects with small
ids exist, so that generated ids find some."""
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import positive_data_acceptance

from app import api_keys, create_app
from app.automations import service
from app.contacts import lists
from app.extensions import db
from app.messaging import campaigns
from app.segments import service as segments
from tests.conftest import make_contact

# Read from a throwaway instance (the document does not depend on the data); each test calls its
# own app, through its test client. (schemathesis.pytest.from_fixture needs a pytest before 9.2.)
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", create_app(
    {"DATABASE_URL": "sqlite://", "PUBLIC_URL": "https://footfall.test"}))
# The same secret in every test, so that Schemathesis may keep it: it sends it, and leaves it out
# of the cases that test a missing key.
SECRET = "ff_schemathesis-fuzzing-key-0123456789abcdefghij"


@schema.auth()
class Key:
    def get(self, case, context):
        return SECRET

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


PRICING = {"join": "and", "groups": [{"match": "all", "rules": [
    {"type": "visit", "op": "contains", "value": "/pricing", "count_op": "at_least", "count": "1",
     "window": "last_days", "days": "30", "negate": False}]}]}


@pytest.fixture
def fuzz_account(app, site, user):
    """An account with a few objects of every kind, and a read and write key whose secret is SECRET."""
    for number in range(3):
        contact = make_contact(user.account_id, f"person{number}@customer.example", first_name="Person")
        lists.add_to_list(contact, new_name=f"List {number}")
        lists.add_tag(contact, f"tag {number}")
    segments.save(user.account_id, None, "Pricing", PRICING)
    service.create(user)
    campaigns.create_campaign(user, "email")
    key, _ = api_keys.create_key(user.account_id, "Fuzz", "write")
    key.key_hash = api_keys._hash(SECRET)
    db.session.commit()
    app.config["API_REQUESTS_PER_MINUTE"] = 100_000


@schema.parametrize()
@settings(max_examples=25, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(case, app, fuzz_account):
    # (valid input may still be refused by the domain with a 422, an email's syntax or a phone
    # number the document cannot describe: positive_data_acceptance is left out)
    response = case.call_and_validate(session=app.test_client(), excluded_checks=[positive_data_acceptance])
    ANSWERED.setdefault(case.operation.label, set()).add(response.status_code)


# Statuses each operation answered, by its label: the key was sent, the routes were reached.
ANSWERED: dict[str, set[int]] = {}


def test_the_generated_requests_reached_every_operation():
    """(Runs after the operations' tests, which fill ANSWERED: pytest keeps the file's order.)"""
    assert len(ANSWERED) == len(list(schema.get_all_operations()))
    unreached = {label for label, statuses in ANSWERED.items() if not statuses - {401, 403}}
    assert not unreached
    assert sum(1 for statuses in ANSWERED.values() if statuses & {200, 201, 204}) >= 20
