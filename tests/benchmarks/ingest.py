"""ingest: POST /collect requests per second under gunicorn, over a hello-world route of the same
app (targets: ingest_vs_hello_ratio ≥ 0.6, redis_commands_per_beacon ≤ 2), in the standard way and
in first-party mode (ingest_first_party_vs_hello_ratio, redis_commands_per_first_party_beacon ≤ 2:
beacons as a website's proxy forwards them, with its secret, the visitor's address and a returning
visitor's cookie).

Both routes get the same load generator: CLIENTS processes, each with one persistent http.client
connection (reopened when the server closes it) and one request in flight, for RUN_SECONDS.
Runs alternate hello, collect, hello, collect…, short and many, so that other load on the shared
machine falls on both alike; each ratio compares a collect run with the hello run just before
it, and the medians are reported (harness.interleaved_pairs()).
"""
from __future__ import annotations

import http.client
import json
import multiprocessing
import queue
import statistics
import subprocess
import sys
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

from redis import Redis

from app import accounts, create_app
from app.config import PROJECT_ROOT
from app.devserver import stop
from app.extensions import db
from app.tracking import first_party, setup
from tests.benchmarks.harness import (BROWSER, WEBSITE, BenchmarkFailed, Environment, create_site,
                                      interleaved_pairs, log, median_ratio)
from tests.cluster import answers
from tests.support import free_port, wait_until

# Sync workers: measured here, they cost the same server CPU per request as gthread with one
# thread (gthread with two pays for GIL contention), and every request comes from the shared
# accept queue, so both workers stay busy. gthread's keep-alive pins each connection to one
# worker: a run whose few connections all land on one worker halves its throughput.
WORKERS = 2
WORKER_CLASS = "sync"
# One more client than workers keeps both workers fed while a client reads its response.
CLIENTS = 3
RUNS = 5
RUN_SECONDS = 2.0
WARMUP_SECONDS = 1.0
UNLIMITED = 10**9


@dataclass(frozen=True)
class Load:
    requests_per_s: float
    statuses: Counter


def hello_request(tag: str) -> tuple[str, str, bytes | None, dict[str, str]]:
    """The baseline request: every one is alike, so `tag` goes unused."""
    return "GET", "/bench/hello", None, {"User-Agent": BROWSER}


def collect_request(site_key: str, tag: str) -> tuple[str, str, bytes | None, dict[str, str]]:
    """A page-view beacon as the embed code sends it; `tag` makes its event id unique."""
    beacon = {"k": site_key, "u": f"{WEBSITE}/pricing", "t": "Pricing", "r": "", "v": "visitor-0001", "c": "",
              "e": f"bench-{tag}", "ts": int(time.time() * 1000)}
    return "POST", "/collect", json.dumps(beacon).encode(), {"Content-Type": "text/plain;charset=UTF-8",
                                                             "User-Agent": BROWSER}


def first_party_request(site_key: str, secret: str,
                        tag: str) -> tuple[str, str, bytes | None, dict[str, str]]:
    """A beacon of the first-party script as the website's proxy forwards it: no visitor id in
    the body, the cookie set on an earlier page today (so no Set-Cookie), one address per client."""
    beacon = {"k": site_key, "u": f"{WEBSITE}/pricing", "t": "Pricing", "r": "", "v": "", "c": "",
              "e": f"bench-{tag}", "ts": int(time.time() * 1000)}
    client = tag.split("-")[1]  # (tags are "<run>-c<client>-<number>")
    return "POST", "/collect", json.dumps(beacon).encode(), {
        "Content-Type": "text/plain;charset=UTF-8", "User-Agent": BROWSER,
        first_party.PROXY_HEADER: secret, "X-Forwarded-For": f"203.0.113.{int(client[1:]) + 1}",
        "Cookie": f"{first_party.VISITOR_COOKIE}=visitor-{client}.{first_party.today()}"}


def create_first_party_site() -> tuple[str, str]:
    """Another account's site, in first-party mode: (site key, proxy secret). In an app context."""
    user = accounts.register("owner@proxied.example", "correct horse battery", "Proxied shop")
    site = setup.activate(user, WEBSITE, terms_accepted=True)
    setup.set_first_party(site, user, True)
    db.session.commit()
    return site.site_key, site.proxy_secret


def status_of(response: http.client.HTTPResponse) -> int | str:
    """What a load client counts of a response by default: its status."""
    return response.status


def _client(port: int, make_request, tag: str, seconds: float, barrier, results, outcome) -> None:
    """One load process: requests back to back on one connection; reports outcome(response) counts
    (statuses, by default) and its rate."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    statuses: Counter = Counter()
    sent = 0
    barrier.wait(timeout=30)
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        method, path, body, headers = make_request(f"{tag}-{sent:07d}")
        try:
            connection.request(method, path, body, headers)
            response = connection.getresponse()
            response.read()
            statuses[outcome(response)] += 1
        except (OSError, http.client.HTTPException) as error:
            statuses[type(error).__name__] += 1
            connection.close()
        sent += 1
    results.put((statuses, sent / elapsed))


def load(port: int, make_request, seconds: float, label: str, outcome=status_of) -> Load:
    """Run the load generator against one route; the barrier starts every client at once."""
    # fork: the clients need nothing but this module's functions, and start at once.
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(CLIENTS)
    results = context.Queue()
    clients = [context.Process(target=_client,
                               args=(port, make_request, f"{label}-c{index}", seconds, barrier, results,
                                     outcome))
               for index in range(CLIENTS)]
    for client in clients:
        client.start()
    try:
        outcomes = [results.get(timeout=seconds + 60) for _ in clients]
    except queue.Empty:
        raise BenchmarkFailed("a load client did not report") from None
    finally:
        for client in clients:
            client.join(5)
            if client.is_alive():
                client.kill()
                client.join()
    return Load(sum(rate for _, rate in outcomes), sum((statuses for statuses, _ in outcomes), Counter()))


def expect(result: Load, status: int, route: str) -> None:
    if set(result.statuses) != {status}:
        raise BenchmarkFailed(f"{route} answered {dict(result.statuses)}, not only {status}")


def redis_commands(redis: Redis) -> int:
    """Commands Redis ran since CONFIG RESETSTAT, less the INFO and CONFIG calls measuring them."""
    return sum(stats["calls"] for name, stats in redis.info("commandstats").items()
               if name.removeprefix("cmdstat_").split("|")[0] not in ("info", "config"))


@contextmanager
def gunicorn(env: Environment, port: int):
    """tests/benchmarks/ingest_app.py under gunicorn on 127.0.0.1:port, rate limits out of the way.
    Its output goes where this process's does: the benchmark's log."""
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", str(WORKERS), "--worker-class", WORKER_CLASS,
         "--bind", f"127.0.0.1:{port}", "--chdir", str(PROJECT_ROOT), "--log-level", "warning",
         "tests.benchmarks.ingest_app:app"],
        env=env.child_environ(INGEST_RATE_PER_ADDRESS=UNLIMITED, INGEST_RATE_PER_SITE=UNLIMITED,
                              REDIRECT_RATE_PER_ADDRESS=UNLIMITED))
    try:
        try:
            wait_until(lambda: server.poll() is not None or answers(port, "/bench/hello"), timeout=30)
        except AssertionError:
            raise BenchmarkFailed("gunicorn did not answer within 30s") from None
        if server.poll() is not None:
            raise BenchmarkFailed(f"gunicorn exited with {server.returncode}")
        yield
    finally:
        stop([server])


def run(env: Environment) -> dict[str, float]:
    app = create_app(env.app_config())
    with app.app_context():
        site_key = create_site()
        proxied_key, secret = create_first_party_site()
    collect = partial(collect_request, site_key)
    proxied = partial(first_party_request, proxied_key, secret)
    redis = Redis.from_url(env.redis_url)
    port = free_port()
    commands_per_beacon = []

    def hello_rate(index: int) -> float:
        hello = load(port, hello_request, RUN_SECONDS, f"hello{index}")
        expect(hello, 200, "/bench/hello")
        return hello.requests_per_s

    commands_per_first_party_beacon = []

    def beacon_rate(index: int, make_request, counted: list, label: str) -> float:
        redis.config_resetstat()
        beacons = load(port, make_request, RUN_SECONDS, f"run{index}")
        commands = redis_commands(redis)
        expect(beacons, 204, "/collect")
        counted.append(commands / beacons.statuses[204])
        log(f"run {index + 1}/{RUNS} ({label}): {counted[-1]:.3f} Redis commands a beacon")
        return beacons.requests_per_s

    collect_rate = partial(beacon_rate, make_request=collect, counted=commands_per_beacon, label="standard")
    first_party_rate = partial(beacon_rate, make_request=proxied, counted=commands_per_first_party_beacon,
                               label="first-party")

    with gunicorn(env, port):
        # Every worker's database and Redis connections and site cache are made before timing.
        expect(load(port, hello_request, WARMUP_SECONDS, "warmup"), 200, "/bench/hello")
        expect(load(port, collect, WARMUP_SECONDS, "warmup"), 204, "/collect")
        expect(load(port, proxied, WARMUP_SECONDS, "warmup"), 204, "/collect (first-party)")
        pairs = interleaved_pairs(hello_rate, collect_rate, RUNS, ("hello/s", "collect/s"))
        first_party_pairs = interleaved_pairs(hello_rate, first_party_rate, RUNS,
                                              ("hello/s", "first-party collect/s"))
    return {
        "ingest_requests_per_s": statistics.median(pair.measured for pair in pairs),
        "ingest_hello_requests_per_s": statistics.median(pair.baseline for pair in pairs),
        "ingest_vs_hello_ratio": median_ratio(pairs),
        "redis_commands_per_beacon": statistics.median(commands_per_beacon),
        "ingest_first_party_vs_hello_ratio": median_ratio(first_party_pairs),
        "redis_commands_per_first_party_beacon": statistics.median(commands_per_first_party_beacon),
    }
