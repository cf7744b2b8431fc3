"""What an operator sees: health and readiness probes, Prometheus metrics shared by every process
(real Redis, real RQ worker, real client), request ids, and the error page's reference."""
from __future__ import annotations

import json
import logging
import tempfile
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from rq import Retry

from app import create_app
from app.devserver import start_embedded_redis, stop
from app.extensions import db
from app.messaging import mail, sms
from app.queues import DEFAULT, PRIORITY, enqueue, get_queue, get_redis
from app.tracking import setup
from app.tracking.events import PAGE_VIEWS
from tests.conftest import base_config, make_user
from tests.support import free_port
from worker import FootfallWorker

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36"
_events = iter(range(10**9))


def beacon(site_key: str, url: str = "https://www.shop.example/pricing") -> str:
    return json.dumps({"k": site_key, "u": url, "t": "Pricing", "r": "", "v": "visitor-0001", "c": "",
                       "e": f"event-{next(_events):08d}", "ts": int(time.time() * 1000)})


def post(client, body: str, *, user_agent: str = BROWSER, address: str = "203.0.113.9"):
    return client.post("/collect", data=body, content_type="text/plain;charset=UTF-8",
                       headers={"User-Agent": user_agent}, environ_base={"REMOTE_ADDR": address})


def scrape(client, **headers) -> dict[tuple, float]:
    """/metrics as Prometheus reads it: {(sample name, labels...): value}."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, *sorted(sample.labels.items()))] = sample.value
    return samples


def dropped(reason: str) -> tuple:
    return ("footfall_beacons_dropped_total", ("reason", reason))


def run_worker(app) -> None:
    """The worker `python -m worker` runs, in burst mode."""
    with app.app_context():
        FootfallWorker(list(PRIORITY), connection=get_redis()).work(burst=True)
    db.session.rollback()


def test_healthz_answers_ok_without_touching_anything(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "ok"


def test_readyz_reports_the_database_and_redis(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json == {"database": "ok", "redis": "ok"}


@pytest.fixture
def redis_down(database_url, site):
    """A second web process, sharing the database, whose Redis does not answer (a closed port)."""
    app = create_app(base_config(database_url, f"redis://127.0.0.1:{free_port()}/0"))
    return app.test_client()


def test_without_redis_readyz_says_which_failed_and_beacons_get_503(redis_down, site):
    readiness = redis_down.get("/readyz")
    assert readiness.status_code == 503
    assert readiness.json == {"database": "ok", "redis": "unavailable"}

    response = post(redis_down, beacon(site.site_key))
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert response.headers["Access-Control-Allow-Origin"] == "*"

    metrics = redis_down.get("/metrics")
    assert metrics.status_code == 503
    assert "Traceback" not in metrics.get_data(as_text=True)


def test_beacons_refused_while_redis_was_down_are_counted_once_it_is_back(database_url, site):
    with tempfile.TemporaryDirectory(prefix="ff-redis-") as directory:  # short: a unix socket path
        socket_url = f"unix://{Path(directory) / 'redis.sock'}"
        client = create_app(base_config(database_url, socket_url)).test_client()
        assert post(client, beacon(site.site_key)).status_code == 503
        assert post(client, beacon(site.site_key)).status_code == 503

        process, url = start_embedded_redis(Path(directory))
        try:
            assert url == socket_url
            assert post(client, beacon(site.site_key)).status_code == 204
            samples = scrape(client)
            assert samples[dropped("unavailable")] == 2
            assert samples[("footfall_beacons_accepted_total",)] == 1
        finally:
            stop([process])


@pytest.fixture
def app_config(app_config):
    # Ten beacons at once from one address, then 429.
    return {**app_config, "INGEST_RATE_PER_ADDRESS": 1}


def test_metrics_count_accepted_and_dropped_beacons_by_reason(client, site):
    other = make_user("other@else.example", account_name="Else")
    disabled = setup.activate(other, "https://www.else.example", terms_accepted=True)
    setup.set_enabled(disabled, other, False)
    db.session.commit()

    assert post(client, beacon(site.site_key), address="198.51.100.1").status_code == 204
    assert post(client, beacon(site.site_key), address="198.51.100.2").status_code == 204
    assert post(client, beacon(disabled.site_key, "https://www.else.example/"),
                address="198.51.100.3").status_code == 204
    assert post(client, beacon(site.site_key, "https://evil.example/"),
                address="198.51.100.4").status_code == 204
    assert post(client, beacon(site.site_key), user_agent="Googlebot/2.1",
                address="198.51.100.5").status_code == 204
    assert post(client, "{not json", address="198.51.100.6").status_code == 400
    assert post(client, "x" * 9 * 1024, address="198.51.100.7").status_code == 413
    assert post(client, beacon("no-such-site"), address="198.51.100.8").status_code == 404
    statuses = [post(client, beacon(site.site_key), address="198.51.100.9").status_code for _ in range(11)]
    assert statuses == [204] * 10 + [429]

    samples = scrape(client)
    assert samples[("footfall_beacons_accepted_total",)] == 12
    assert {reason: samples[dropped(reason)] for reason in (
        "disabled", "foreign_host", "bot", "invalid", "too_large", "unknown_site", "rate_limited",
        "unavailable")} == {
        "disabled": 1, "foreign_host": 1, "bot": 1, "invalid": 1, "too_large": 1, "unknown_site": 1,
        "rate_limited": 1, "unavailable": 0}


def test_each_process_hands_its_counts_to_redis_with_a_beacon_about_once_a_second(app_config, client, site):
    second_process = create_app(app_config).test_client()
    post(second_process, beacon(site.site_key))
    assert scrape(client)[("footfall_beacons_accepted_total",)] == 0  # still in the second process
    time.sleep(1.1)
    post(second_process, beacon(site.site_key))  # its pipeline carries the earlier count
    assert scrape(client)[("footfall_beacons_accepted_total",)] == 1
    assert scrape(second_process)[("footfall_beacons_accepted_total",)] == 2  # a scrape flushes its own


def test_a_beacon_costs_two_redis_commands_whatever_it_counts(client, site):
    post(client, beacon(site.site_key))  # this process's counts: the next flush is a second away
    redis = get_redis()
    redis.config_resetstat()
    for _ in range(5):
        assert post(client, beacon(site.site_key)).status_code == 204
    calls = {name: stats["calls"] for name, stats in redis.info("commandstats").items()
             if name.split("|")[0] not in ("cmdstat_info", "cmdstat_config")}  # Redis 7: config|resetstat
    # Is the site as this process knows it current (HGET), then the page view (XADD): no more.
    assert calls == {"cmdstat_hget": 5, "cmdstat_xadd": 5}


def test_queue_depth_and_lag_show_jobs_waiting(app, client):
    enqueue("worker.jobs.segments.evaluate_segment", 1)  # (a job of the default queue)
    enqueue("worker.jobs.segments.evaluate_segment", 2)
    time.sleep(1.1)
    samples = scrape(client)
    assert samples[("footfall_queue_jobs", ("queue", "default"))] == 2
    assert samples[("footfall_queue_lag_seconds", ("queue", "default"))] >= 1
    assert samples[("footfall_queue_jobs", ("queue", "messages"))] == 0
    assert samples[("footfall_queue_lag_seconds", ("queue", "messages"))] == 0


def fail_loudly():
    raise RuntimeError("this job always fails")


def test_failed_job_runs_are_counted_and_the_failed_registry_shown(app, client):
    get_queue(DEFAULT).enqueue("tests.integration.test_operations.fail_loudly",
                               retry=Retry(max=1, interval=[0]))
    run_worker(app)
    samples = scrape(client)
    assert samples[("footfall_jobs_failed_total", ("queue", "default"))] == 2  # the run and its retry
    assert samples[("footfall_queue_failed_jobs", ("queue", "default"))] == 1
    assert samples[("footfall_queue_jobs", ("queue", "default"))] == 0


def queue_email(user):
    mail.queue_email(account_id=user.account_id, kind="campaign_test", to_address="ada@customer.example",
                     subject="Hello", text_body="Hello", html_body="<p>Hello</p>")
    db.session.commit()


def test_sent_and_failed_messages_are_counted_by_channel(app, client, user):
    queue_email(user)  # to the outbox
    sms.queue_sms(account_id=user.account_id, to_number="+15557654321", body="Hello")
    db.session.commit()
    run_worker(app)

    app.config["MAIL_URL"] = f"smtp://127.0.0.1:{free_port()}"  # nobody listens: every attempt fails
    queue_email(user)  # MAIL_RETRY_DELAYS is 0,0,0: four attempts
    run_worker(app)

    samples = scrape(client)
    assert samples[("footfall_messages_sent_total", ("channel", "email"))] == 1
    assert samples[("footfall_messages_sent_total", ("channel", "sms"))] == 1
    assert samples[("footfall_messages_failed_total", ("channel", "email"))] == 1
    assert samples[("footfall_message_attempts_failed_total", ("channel", "email"))] == 4
    assert samples[("footfall_messages_failed_total", ("channel", "sms"))] == 0
    assert samples[("footfall_jobs_failed_total", ("queue", "messages"))] == 4


def stream_state(client, stream: str = "page_views") -> tuple[float, float]:
    """(entries not yet stored, age in seconds of the oldest of them)"""
    samples = scrape(client)
    return (samples[("footfall_stream_backlog", ("stream", stream))],
            samples[("footfall_stream_lag_seconds", ("stream", stream))])


def test_the_page_view_backlog_shows_until_the_consumer_stores_it(client, site, drain):
    assert stream_state(client) == (0, 0)
    for _ in range(3):
        post(client, beacon(site.site_key))
    time.sleep(1.1)
    backlog, lag = stream_state(client)  # no consumer has started yet
    assert backlog == 3 and lag >= 1

    assert drain() == 3
    assert stream_state(client) == (0, 0)


def test_a_batch_taken_but_not_stored_is_still_backlog(client, site, drain):
    drain()  # the consumer group exists from here on
    for _ in range(4):
        post(client, beacon(site.site_key))
    PAGE_VIEWS.read_batch(get_redis(), "worker-that-dies", count=3, block_ms=None)
    time.sleep(1.1)
    backlog, lag = stream_state(client)  # 3 taken and unacknowledged, 1 never delivered
    assert backlog == 4 and lag >= 1
    assert stream_state(client, "clicks") == (0, 0)


def test_metrics_token_is_required_when_set(app_config, site):
    client = create_app({**app_config, "METRICS_TOKEN": "s3cret-scraper-token"}).test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert ("footfall_beacons_accepted_total",) in scrape(client, Authorization="Bearer s3cret-scraper-token")
    assert client.get("/healthz").status_code == 200  # probes need no token


def production(app_config, **settings):
    return create_app({**app_config, "ENV": "production", "SECRET_KEY": "p" * 48, **settings})


def test_metrics_are_closed_in_production_without_a_token_unless_the_operator_opens_them(app_config, site):
    assert production(app_config).test_client().get("/metrics").status_code == 404
    assert production(app_config).test_client().get("/healthz").status_code == 200
    opened = production(app_config, METRICS_PUBLIC=1).test_client()
    assert ("footfall_beacons_accepted_total",) in scrape(opened)
    with_token = production(app_config, METRICS_TOKEN="s3cret-scraper-token").test_client()
    assert with_token.get("/metrics").status_code == 401
    assert ("footfall_beacons_accepted_total",) in scrape(with_token,
                                                          Authorization="Bearer s3cret-scraper-token")


def test_production_sends_hsts_on_every_response_and_development_does_not(app_config, site):
    client = production(app_config).test_client()
    for response in (client.get("/login"), client.get("/"), client.get("/healthz"),
                     client.post("/collect", data="{}"), client.get(f"/t/{site.site_key}.js"),
                     client.get("/no-such-page")):
        assert response.headers["Strict-Transport-Security"] == "max-age=63072000", response.request.path
    assert "Strict-Transport-Security" not in create_app(app_config).test_client().get("/login").headers


def test_the_served_script_sends_beacons_to_public_url_whatever_host_the_request_names(app_config, site):
    client = production(app_config, PUBLIC_URL="https://track.example.com").test_client()
    script = client.get(f"/t/{site.site_key}.js", base_url="https://evil.example").get_data(as_text=True)
    assert "https://track.example.com/collect" in script and "evil.example" not in script


@pytest.mark.parametrize("incoming, echoed", [
    ("lb-7f3a.91_x", True),
    ("a" * 64, True),
    ("a" * 65, False),
    ("bad id; drop", False),
    ("<script>", False),
    (None, False),
])
def test_each_response_carries_a_request_id(client, incoming, echoed):
    headers = {"X-Request-ID": incoming} if incoming is not None else {}
    first = client.get("/healthz", headers=headers).headers["X-Request-ID"]
    if echoed:
        assert first == incoming
    else:
        second = client.get("/healthz", headers=headers).headers["X-Request-ID"]
        assert len(first) == 32 and int(first, 16) >= 0 and first != second


@pytest.fixture
def failing_app(app_config):
    app = create_app({**app_config, "PROPAGATE_EXCEPTIONS": False})

    @app.get("/boom")
    def boom():
        """Renders nothing: fails, as a bug would."""
        raise RuntimeError("the database melted")

    return app


def test_a_server_error_shows_a_reference_and_logs_it(failing_app, caplog):
    caplog.set_level(logging.ERROR)
    response = failing_app.test_client().get("/boom", headers={"X-Request-ID": "support-ticket-42"})
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Reference: <code>support-ticket-42</code>" in page
    assert "Traceback" not in page and "the database melted" not in page
    assert response.headers["X-Request-ID"] == "support-ticket-42"
    (record,) = [record for record in caplog.records if record.exc_info]
    assert record.request_id == "support-ticket-42"
    assert record.path == "/boom" and record.method == "GET"
    assert "RuntimeError: the database melted" in caplog.text
