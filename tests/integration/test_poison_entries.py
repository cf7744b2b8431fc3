"""One event can never hold up the others: what the database cannot index is capped by bytes, and
an entry that fails on its own is set aside (a dead-letter stream the operator sees in /metrics and
handles with `flask dead-letters`) while the rest of its batch is stored."""
import json

from sqlalchemy import func, select

from app.extensions import db
from app.messaging.clicks import CLICKS, click_record
from app.models import LinkClick, PageView
from app.queues import get_redis
from app.tracking.events import PAGE_VIEWS
from app.tracking.urls import match_forms
from tests.conftest import make_user
from tests.integration.test_ingest import beacon, post
from tests.integration.test_operations import scrape

# 1,500 different-looking CJK characters, 4,500 bytes of UTF-8 that PostgreSQL cannot compress away.
CJK_PATH = "/" + "".join(chr(0x4E00 + (index * 7919) % 20000) for index in range(1500))


def views() -> int:
    return db.session.scalar(select(func.count()).select_from(PageView))


def test_a_page_address_of_1500_cjk_characters_is_stored_with_the_other_views_of_its_batch(app, client, site,
                                                                                            drain):
    other = make_user("other@elsewhere.example", account_name="Elsewhere")
    from app.tracking import setup

    other_site = setup.activate(other, "https://elsewhere.example", terms_accepted=True)
    db.session.commit()
    assert post(client, beacon(site, u="https://www.shop.example/before")).status_code == 204
    long_page = json.dumps(beacon(site, u="https://www.shop.example" + CJK_PATH), ensure_ascii=False)
    assert post(client, None, raw=long_page.encode()).status_code == 204  # UTF-8, as browsers send it
    assert post(client, beacon(other_site, u="https://elsewhere.example/after"),
                address="198.51.100.7").status_code == 204
    assert drain() == 3
    assert views() == 3  # (on PostgreSQL the whole batch failed, forever, before the cap)
    long_view = db.session.scalar(select(PageView).where(PageView.path.startswith(CJK_PATH[:20])))
    assert len(long_view.match_path.encode()) <= 1000 and len(long_view.match_url.encode()) <= 1000
    assert long_view.match_path == CJK_PATH[:334]
    assert get_redis().xlen(PAGE_VIEWS.dead_letters) == 0


def test_url_forms_are_cut_on_a_character_boundary_by_bytes():
    match_url, match_path = match_forms("https://shop.example" + CJK_PATH + "?q=" + "é" * 600)
    assert len(match_path.encode()) <= 1000 and len(match_url.encode()) <= 1000
    match_path.encode().decode()  # whole characters only
    assert match_path == CJK_PATH[:334]  # 1 + 333 × 3 = 1,000 bytes


def poison_page_view(site) -> str:
    """A stream entry no beacon makes (written by hand): its receive time is out of any calendar."""
    record = json.loads(json.dumps({"s": site.id, "a": site.account_id,
                                    "u": "https://www.shop.example/poison",
                                    "t": "", "r": "", "v": "visitor-poison", "c": "", "e": "event-poison",
                                    "ts": None, "rt": 10 ** 18, "ua": "Mozilla/5.0"}))
    return json.dumps(record)


def test_an_entry_that_fails_on_its_own_is_set_aside_and_its_batch_is_stored(app, client, site, drain):
    redis = get_redis()
    for index in range(5):
        assert post(client, beacon(site, u=f"https://www.shop.example/a{index}")).status_code == 204
    PAGE_VIEWS.push(redis, poison_page_view(site))
    for index in range(5):
        assert post(client, beacon(site, u=f"https://www.shop.example/b{index}")).status_code == 204

    assert drain() == 11  # every entry handled: none left pending to fail again
    assert views() == 10
    (set_aside,) = PAGE_VIEWS.set_aside(redis)
    assert "event-poison" in set_aside["record"] and set_aside["error"]
    assert scrape(client)[("footfall_stream_set_aside", ("stream", "page_views"))] == 1

    # The batch after it is stored as usual.
    assert post(client, beacon(site, u="https://www.shop.example/later")).status_code == 204
    assert drain() == 1 and views() == 11


def test_the_operator_sees_replays_and_drops_entries_set_aside(app, client, site, drain):
    redis = get_redis()
    PAGE_VIEWS.push(redis, poison_page_view(site))
    drain()
    runner = app.test_cli_runner()
    shown = runner.invoke(args=["dead-letters", "show"])
    assert shown.exit_code == 0
    assert "page_views: 1 set aside" in shown.output and "event-poison" in shown.output
    assert "clicks: 0 set aside" in shown.output

    replayed = runner.invoke(args=["dead-letters", "replay", "--stream", "page_views"])
    assert "page_views: 1 entries put back in the stream" in replayed.output
    assert redis.xlen(PAGE_VIEWS.dead_letters) == 0
    drain()  # it still fails: set aside again, not lost
    assert redis.xlen(PAGE_VIEWS.dead_letters) == 1

    dropped = runner.invoke(args=["dead-letters", "drop"])
    assert "page_views: 1 entries dropped" in dropped.output
    assert redis.xlen(PAGE_VIEWS.dead_letters) == 0 and views() == 0


def test_a_click_that_fails_on_its_own_is_set_aside_and_the_other_clicks_are_stored(app, site):
    redis = get_redis()
    good = [click_record(account_id=site.account_id, campaign_id=None, contact_id=None, channel="email",
                         url=f"https://www.shop.example/{index}") for index in range(4)]
    poison = click_record(account_id=site.account_id, campaign_id=None, contact_id=10 ** 30, channel="email",
                          url="https://www.shop.example/poison")
    for record in good[:2] + [poison] + good[2:]:
        CLICKS.push(redis, record)
    assert CLICKS.drain(redis) == 5
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(LinkClick)) == 4
    (set_aside,) = CLICKS.set_aside(redis)
    assert "/poison" in set_aside["record"]



WORST = "*a*a*a*a*a*!"


def test_a_wildcard_rule_built_to_backtrack_holds_up_no_page_view(site, contact, run_jobs, drain, client):
    """An automation trigger, an auto-stop rule and a segment "matching *a*a*a*a*a*!", and one
    identified view of / + 1,000 × a: a regular expression kept the consumer busy for minutes and
    every account's views waited (this test hung); the views are stored and no rule matches."""
    from app.models import AutomationRun, segment_members
    from app.segments import membership, service as segments
    from app.tracking.cid import make_cid
    from tests.integration.test_automations_engine import automation, email, end

    rule = {"type": "page_view", "op": "matches", "value": WORST, "count": 1, "days": None}
    automation(site, [email(), end()], trigger=rule, exit_rules=[{"type": "page_view", "op": "matches",
                                                                  "value": WORST}])
    segment = segments.save(site.account_id, None, "Backtrackers",
                            {"join": "and", "groups": [{"match": "all", "rules": [
        {"type": "visit", "op": "matches", "value": WORST, "count_op": "at_least", "count": "1",
         "window": "last_days", "days": "30", "negate": False}]}]})
    db.session.commit()
    cid = make_cid(site.account_id, contact.id)
    assert post(client, beacon(site, u="https://www.shop.example/" + "a" * 1000, c=cid)).status_code == 204
    assert post(client, beacon(site, u="https://www.shop.example/next", c=cid)).status_code == 204
    assert drain() == 2
    run_jobs()
    assert views() == 2
    assert membership.evaluate(segment) is not None
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(segment_members)) == 0
    assert db.session.scalar(select(func.count()).select_from(AutomationRun)) == 0


def test_a_database_that_answers_but_refuses_writes_sets_nothing_aside(app_config, site, client):
    """Locked (SQLite), or read-only after a failover (PostgreSQL): SELECT 1 works, every INSERT
    fails. That is an outage, not poison: the batch stays pending, and is stored once writes work."""
    import sqlite3

    import pytest
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from app import create_app
    from app.tracking import events

    redis = get_redis()
    for index in range(3):
        assert post(client, beacon(site, u=f"https://www.shop.example/{index}")).status_code == 204
    postgresql = db.engine.dialect.name == "postgresql"
    if postgresql:
        db.session.execute(text("CREATE FUNCTION read_only() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION "
                                "'cannot execute INSERT in a read-only transaction' USING ERRCODE = '25006'; "
                                "END $$ LANGUAGE plpgsql"))
        db.session.execute(text("CREATE TRIGGER read_only BEFORE INSERT ON page_views FOR EACH ROW "
                                "EXECUTE FUNCTION read_only()"))
        db.session.commit()
        holder = None
    else:
        holder = sqlite3.connect(db.engine.url.database)
        holder.execute("BEGIN IMMEDIATE")  # another writer holds the database
    consumer = create_app({**app_config, "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"timeout": 0.2}}}
                          if not postgresql else app_config)
    try:
        with consumer.app_context(), pytest.raises(DBAPIError):  # locked, or read-only
            events.drain(get_redis())
        assert redis.xlen(PAGE_VIEWS.dead_letters) == 0
        assert redis.xpending(PAGE_VIEWS.name, "store")["pending"] == 3
    finally:
        if postgresql:
            db.session.rollback()
            db.session.execute(text("DROP TRIGGER read_only ON page_views"))
            db.session.execute(text("DROP FUNCTION read_only()"))
            db.session.commit()
        else:
            holder.rollback()
            holder.close()
    with consumer.app_context():
        consumer.config["EVENTS_CLAIM_IDLE_MS"] = 0  # (the pending entries are taken over at once)
        assert events.drain(get_redis()) == 3
    assert views() == 3 and redis.xlen(PAGE_VIEWS.dead_letters) == 0
