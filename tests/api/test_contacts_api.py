"""The REST API's contacts: create, upsert, read, change, page through and erase, over HTTP."""

from sqlalchemy import func, select

from app.contacts import fields
from app.extensions import db
from app.models import Contact, PageView
from tests.api.conftest import Api, key_for
from tests.conftest import make_contact


def test_a_contact_is_created_read_changed_and_erased(api, user):
    fields.create_field(user.account_id, "Plan", "choice", choices=["Free", "Pro"])
    db.session.commit()
    created = api.post(
        "/contacts",
        {
            "email": "Ada@Customer.example",
            "first_name": "Ada",
            "fields": {"plan": "pro", "company": "Analytical"},
            "tags": ["vip"],
        },
    )
    assert created.status_code == 201, created.json
    body = created.json
    assert body["email"] == "Ada@customer.example"
    assert body["fields"] == {"company": "Analytical", "plan": "Pro"}
    assert [tag["name"] for tag in body["tags"]] == ["vip"]
    assert created.headers["Location"] == f"/api/v1/contacts/{body['id']}"

    read = api.get(f"/contacts/{body['id']}")
    assert read.status_code == 200 and read.json == body

    changed = api.patch(
        f"/contacts/{body['id']}",
        {"last_name": "Lovelace", "email_status": "unsubscribed", "fields": {"plan": None}},
    )
    assert changed.status_code == 200, changed.json
    assert changed.json["last_name"] == "Lovelace" and changed.json["first_name"] == "Ada"
    assert changed.json["email_status"] == "unsubscribed"
    assert changed.json["fields"] == {"company": "Analytical"}

    assert api.delete(f"/contacts/{body['id']}").status_code == 204
    assert api.get(f"/contacts/{body['id']}").status_code == 404
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 0


def test_upsert_adds_then_changes_the_contact_with_that_email(api, user):
    first = api.post("/contacts/upsert", {"email": "grace@customer.example", "first_name": "Grace"})
    assert first.status_code == 201
    again = api.post("/contacts/upsert", {"email": "GRACE@customer.example", "last_name": "Hopper"})
    assert again.status_code == 200
    assert again.json["id"] == first.json["id"]
    assert (again.json["first_name"], again.json["last_name"]) == ("Grace", "Hopper")


def test_a_taken_email_is_a_409_and_a_bad_value_names_its_field(api, user):
    make_contact(user.account_id, "ada@customer.example")
    taken = api.post("/contacts", {"email": "ada@customer.example"})
    assert taken.status_code == 409
    assert taken.mimetype == "application/problem+json"
    assert taken.json["field"] == "email"

    bad_email = api.post("/contacts", {"email": "not an email"})
    assert bad_email.status_code == 422 and bad_email.json["field"] == "email"

    unknown_field = api.post("/contacts", {"email": "new@customer.example", "fields": {"shoe_size": 9}})
    assert unknown_field.status_code == 422
    assert unknown_field.json["field"] == "fields.shoe_size"

    misspelt = api.post("/contacts", {"email": "new@customer.example", "frist_name": "Ada"})
    assert misspelt.status_code == 422 and misspelt.json["field"] == "frist_name"

    not_json = api.client.post(
        "/api/v1/contacts", data="{email:", headers=api.headers({"Content-Type": "application/json"})
    )
    assert not_json.status_code == 400 and not_json.mimetype == "application/problem+json"
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 1  # nothing was created


def test_contacts_are_paged_with_cursors_and_filtered(api, user):
    for number in range(7):
        make_contact(user.account_id, f"person{number}@customer.example")
    seen, cursor = [], None
    while True:
        page = api.get("/contacts", query_string={"limit": 3, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200
        seen += [row["email"] for row in page.json["data"]]
        cursor = page.json["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"person{number}@customer.example" for number in range(7)]
    one = api.get("/contacts", query_string={"email": "PERSON3@customer.example"})
    assert [row["email"] for row in one.json["data"]] == ["person3@customer.example"]
    bad = api.get("/contacts", query_string={"cursor": "garbage!"})
    assert bad.status_code == 400 and bad.json["field"] == "cursor"
    too_many = api.get("/contacts", query_string={"limit": 5000})
    assert too_many.status_code == 422 and too_many.json["field"] == "limit"


def test_keys_are_required_scoped_and_revocable(client, user):
    from app import api_keys

    assert client.get("/api/v1/contacts").status_code == 401
    wrong = client.get("/api/v1/contacts", headers={"Authorization": "Bearer ff_wrong"})
    assert wrong.status_code == 401 and wrong.mimetype == "application/problem+json"

    reader = Api(client, key_for(user.account_id, "read"))
    assert reader.get("/contacts").status_code == 200
    refused = reader.post("/contacts", {"email": "ada@customer.example"})
    assert refused.status_code == 403
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 0

    key = api_keys.account_keys(user.account_id)[0]
    assert key.last_used_at is not None
    api_keys.revoke(key)
    db.session.commit()
    assert reader.get("/contacts").status_code == 401


def test_a_key_past_its_limit_waits_for_the_next_minute(app, client, user):
    app.config["API_REQUESTS_PER_MINUTE"] = 3
    api = Api(client, key_for(user.account_id))
    statuses = [api.get("/contacts").status_code for _ in range(5)]
    assert statuses[:3] == [200, 200, 200]
    limited = api.get("/contacts")
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    other = Api(client, key_for(user.account_id, name="CRM"))  # another key has its own count
    assert other.get("/contacts").status_code == 200


def test_an_idempotency_key_creates_once_and_answers_the_same(api, user):
    headers = {"Idempotency-Key": "order-1001"}
    first = api.post("/contacts", {"email": "ada@customer.example"}, headers=headers)
    second = api.post("/contacts", {"email": "ada@customer.example"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json == first.json
    assert second.headers["Idempotent-Replayed"] == "true"
    reused = api.post("/contacts", {"email": "other@customer.example"}, headers=headers)
    assert reused.status_code == 422 and reused.json["field"] == "Idempotency-Key"
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 1


def test_lists_tags_and_page_views_of_a_contact(api, site, contact):
    created = api.post("/lists", {"name": "Newsletter"})
    assert created.status_code == 201
    list_id = created.json["id"]
    assert api.post("/lists", {"name": "Newsletter"}).status_code == 409
    joined = api.put(f"/contacts/{contact.id}/lists/{list_id}")
    assert [row["name"] for row in joined.json["lists"]] == ["Newsletter"]
    members = api.get(f"/lists/{list_id}/members")
    assert members.json["data"] == [{"contact_id": contact.id, "email": contact.email}]
    assert api.get("/lists").json["data"][0]["member_count"] == 1
    tagged = api.post(f"/contacts/{contact.id}/tags", {"name": "vip"})
    tag_id = tagged.json["tags"][0]["id"]
    assert api.get(f"/tags/{tag_id}/members").json["data"][0]["contact_id"] == contact.id
    untagged = api.delete(f"/contacts/{contact.id}/tags/{tag_id}")
    assert untagged.json["tags"] == []
    left = api.delete(f"/contacts/{contact.id}/lists/{list_id}")
    assert left.json["lists"] == []

    from app.models.types import utcnow

    db.session.add(
        PageView(
            event_id="e" * 20,
            account_id=site.account_id,
            site_id=site.id,
            contact_id=contact.id,
            visitor_id="v" * 10,
            host="www.shop.example",
            url="https://www.shop.example/pricing",
            path="/pricing",
            received_at=utcnow(),
        )
    )
    db.session.commit()
    views = api.get(f"/contacts/{contact.id}/page-views")
    assert [row["url"] for row in views.json["data"]] == ["https://www.shop.example/pricing"]
    everything = api.get("/page-views", query_string={"since": "2000-01-01T00:00:00"})
    assert len(everything.json["data"]) == 1


def test_the_document_and_the_reference_page_are_public(client):
    document = client.get("/api/v1/openapi.json")
    assert document.status_code == 200
    assert document.json["openapi"].startswith("3.1")
    assert "/contacts" in document.json["paths"]
    page = client.get("/api/v1/reference")
    assert page.status_code == 200
    assert b"POST /contacts/upsert" in page.data


def test_unknown_addresses_and_methods_are_problems(api):
    missing = api.get("/nothing-here")
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    wrong_method = api.client.put("/api/v1/contacts", headers=api.headers())
    assert wrong_method.status_code == 405 and "GET" in wrong_method.headers["Allow"]
    assert wrong_method.mimetype == "application/problem+json"


def test_kept_answers_are_forgotten_after_a_day_by_the_periodic_job(api, user, run_jobs):
    from datetime import timedelta

    from app.models.api import IdempotentRequest
    from app.queues import enqueue

    api.post("/contacts", {"email": "ada@customer.example"}, headers={"Idempotency-Key": "a"})
    api.post("/contacts", {"email": "grace@customer.example"}, headers={"Idempotency-Key": "b"})
    old = db.session.scalar(select(IdempotentRequest).where(IdempotentRequest.key == "a"))
    old.created_at -= timedelta(hours=25)
    db.session.commit()
    enqueue("worker.jobs.api.forget_old_idempotent_answers")
    run_jobs()
    assert db.session.scalars(select(IdempotentRequest.key)).all() == ["b"]
    # Past the day, the key is free again: a new request with it is a new request.
    again = api.post("/contacts", {"email": "alan@customer.example"}, headers={"Idempotency-Key": "a"})
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
