"""`make run` prints its addresses last: once the web app answers /healthz and the worker serves
the queues, or a clear error when either never does."""
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app import devserver


def process(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code])


@pytest.fixture
def healthz():
    """A server whose /healthz answers 200 (the web app, up)."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def running():
    started = []

    def start(code: str = "import time; time.sleep(30)") -> subprocess.Popen:
        started.append(process(code))
        return started[-1]

    yield start
    devserver.stop(started)


def test_it_returns_once_the_web_app_answers_and_the_worker_is_registered(healthz, running, monkeypatch):
    web, worker = running(), running()
    asked = []
    monkeypatch.setattr(devserver, "_worker_registered",
                        lambda url, pid: asked.append(pid) or len(asked) >= 3)  # registers a little later
    devserver.wait_until_up(healthz, "redis://unused", web, worker, timeout=10)
    assert asked == [worker.pid] * 3


def test_a_web_app_that_never_answers_is_a_clear_error(running, monkeypatch):
    monkeypatch.setattr(devserver, "_worker_registered", lambda url, pid: True)
    port = devserver.free_port()
    with pytest.raises(RuntimeError, match=rf"the web app did not answer http://127.0.0.1:{port}/healthz "
                                           r"within 1s \(see the messages above\)"):
        devserver.wait_until_up(f"http://127.0.0.1:{port}", "redis://unused", running(), running(), timeout=1)


def test_a_process_that_exits_while_starting_is_named(healthz, running, monkeypatch):
    monkeypatch.setattr(devserver, "_worker_registered", lambda url, pid: False)
    worker = running("raise SystemExit(3)")
    worker.wait(10)
    with pytest.raises(RuntimeError, match="the worker exited with status 3 while starting"):
        devserver.wait_until_up(healthz, "redis://unused", running(), worker, timeout=10)


def test_a_worker_registers_once_it_serves_the_queues(redis_url, running):
    """The real check: the pid of an RQ worker registered in Redis."""
    from redis import Redis
    from rq import Worker

    assert not devserver._worker_registered(redis_url, 4242)
    worker = Worker(["default"], connection=Redis.from_url(redis_url))
    worker.register_birth()
    try:
        assert devserver._worker_registered(redis_url, worker.pid)
    finally:
        worker.register_death()
    assert not devserver._worker_registered("redis://127.0.0.1:1/0", worker.pid)  # Redis away: not yet
