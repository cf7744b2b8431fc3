import pytest

from app import api_keys
from app.extensions import db
from tests.conftest import make_user


class Api:
    """A client of the REST API with one key."""

    def __init__(self, client, secret: str):
        self.client, self.secret = client, secret

    def headers(self, extra=None):
        return {"Authorization": f"Bearer {self.secret}", **(extra or {})}

    def get(self, path, **kwargs):
        return self.client.get(f"/api/v1{path}", headers=self.headers(kwargs.pop("headers", None)), **kwargs)

    def post(self, path, json=None, **kwargs):
        return self.client.post(
            f"/api/v1{path}", json=json, headers=self.headers(kwargs.pop("headers", None)), **kwargs
        )

    def patch(self, path, json=None, **kwargs):
        return self.client.patch(
            f"/api/v1{path}", json=json, headers=self.headers(kwargs.pop("headers", None)), **kwargs
        )

    def put(self, path, **kwargs):
        return self.client.put(f"/api/v1{path}", headers=self.headers(kwargs.pop("headers", None)), **kwargs)

    def delete(self, path, **kwargs):
        return self.client.delete(
            f"/api/v1{path}", headers=self.headers(kwargs.pop("headers", None)), **kwargs
        )


def key_for(account_id: int, scope: str = "write", name: str = "Shop") -> str:
    _, secret = api_keys.create_key(account_id, name, scope)
    db.session.commit()
    return secret


@pytest.fixture
def api(client, user):
    """The API with a read and write key of `user`'s account."""
    return Api(client, key_for(user.account_id))


@pytest.fixture
def other_api(app, client):
    """The API with a read and write key of a second, unrelated account."""
    other = make_user("owner@other.example", account_name="Other")
    return Api(client, key_for(other.account_id))
