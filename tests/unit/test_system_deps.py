"""scripts/system-deps, the step `make test` (and so `.ci/run`) runs before the suite: what the
suite needs from the system is there, installed, or named in one line with the command to run."""
import os
import subprocess
import sys

from app.config import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "scripts" / "system-deps"


def run(needed: str, *, as_user: str | None = None) -> subprocess.CompletedProcess:
    command = [str(SCRIPT)]
    if as_user and os.geteuid() == 0:  # as root, become someone else; others already are
        command = ["setpriv", f"--reuid={as_user}", f"--regid={as_user}", "--clear-groups", str(SCRIPT)]
    return subprocess.run(command, env={**os.environ, "SYSTEM_DEPS": needed}, capture_output=True, text=True,
                          timeout=60)


def test_nothing_to_do_when_every_program_is_there():
    result = run(f"{sys.executable} python3")
    assert result.returncode == 0 and result.stdout == "" and result.stderr == ""


def test_without_root_it_stops_at_once_naming_the_command():
    result = run("/nonexistent/chromium chromium fonts-dejavu-core;/nonexistent/nginx nginx-light",
                 as_user="65534")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "The test suite needs chromium fonts-dejavu-core nginx-light (Debian packages); install them with: "
        "sudo apt-get install -y chromium fonts-dejavu-core nginx-light"]


def test_make_test_runs_it_before_pytest():
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    recipe = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "system-deps" in recipe.splitlines()[0]
    assert "scripts/system-deps" in makefile.split("\nsystem-deps:", 1)[1]
