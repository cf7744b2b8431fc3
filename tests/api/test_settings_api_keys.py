"""Settings → API: a key is created with a name and a scope, shown once, listed by its prefix with
its last use, and revoked at once."""
from sqlalchemy import select

from app.extensions import db
from app.models.api import ApiKey


def test_a_key_is_shown_once_listed_used_and_revoked(auth, user):
    client = auth.client
    page = client.get("/settings/api")
    assert page.status_code == 200 and b"No keys yet" in page.data

    created = client.post("/settings/api", data={"name": "Shop", "scope": "write"})
    assert created.status_code == 201
    assert created.headers["Cache-Control"] == "no-store"
    html = created.get_data(as_text=True)
    secret = html.split('id="new-key-secret" type="text" readonly value="')[1].split('"')[0]
    assert secret.startswith("ff_") and len(secret) > 40
    key = db.session.scalar(select(ApiKey))
    assert key.key_hash != secret and secret not in key.key_hash  # stored hashed

    listed = client.get("/settings/api").get_data(as_text=True)
    assert secret not in listed  # never shown again
    assert f"{key.prefix}…" in listed and "Read and write" in listed and "Never" in listed

    assert client.get("/api/v1/contacts", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    assert "Never" not in client.get("/settings/api").get_data(as_text=True)  # its last use

    revoked = client.post(f"/settings/api/{key.id}/revoke", follow_redirects=True)
    assert "Revoked the key Shop" in revoked.get_data(as_text=True)
    assert client.get("/api/v1/contacts", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_a_key_needs_a_name_and_a_scope(auth):
    nameless = auth.client.post("/settings/api", data={"name": "  ", "scope": "write"})
    assert nameless.status_code == 422 and "Name the key" in nameless.get_data(as_text=True)
    odd_scope = auth.client.post("/settings/api", data={"name": "Shop", "scope": "admin"})
    assert odd_scope.status_code == 422 and "Choose read" in odd_scope.get_data(as_text=True)
    assert db.session.scalar(select(ApiKey)) is None
