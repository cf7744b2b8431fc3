"""after_commit(): what must happen only once a transaction is in the database."""
import pytest
from sqlalchemy import select

from app.extensions import after_commit, db
from app.models import TrackingSite


def test_a_savepoint_rolled_back_forgets_only_what_was_asked_inside_it(app, site):
    done = []
    after_commit(db.session, done.append, "outer")
    db.session.begin_nested()
    after_commit(db.session, done.append, "inside the savepoint")
    db.session.rollback()  # the savepoint only (a failed insert in engine.enter, say)
    db.session.commit()
    assert done == ["outer"]


def test_a_savepoint_released_runs_nothing_before_the_transaction_commits(app, site, contact):
    """SQLAlchemy announces a savepoint's release as a commit: a job enqueued then would look for
    rows not yet in the database (a second automation entered in the same transaction, say)."""
    done = []
    after_commit(db.session, done.append, "outer")
    with db.session.begin_nested():
        after_commit(db.session, done.append, "inside the savepoint")
    assert done == []
    db.session.commit()
    assert done == ["outer", "inside the savepoint"]


def test_one_failing_callback_does_not_stop_the_others(app, site):
    done = []

    def fail():
        raise RuntimeError("Redis went away")
    after_commit(db.session, fail)
    after_commit(db.session, done.append, "next")
    with pytest.raises(RuntimeError):
        db.session.commit()
    assert done == ["next"]


def test_a_change_in_settings_is_saved_even_when_it_cannot_be_announced(auth, site, monkeypatch):
    from app.tracking import sites

    class Down:
        def pipeline(self, **kwargs):
            raise sites.RedisError("Redis is down")
    monkeypatch.setattr(sites, "get_redis", lambda: Down())
    response = auth.client.post("/settings/tracking/enabled", data={"enabled": "0"},
                                headers={"HX-Request": "true"})
    assert response.status_code == 200
    db.session.rollback()
    assert db.session.scalar(select(TrackingSite.enabled)) is False
