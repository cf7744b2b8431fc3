"""Which part may import which (docs/architecture.md, "Layout"): the worker depends on the app,
never the reverse; the domain knows nothing of pages or forms; the models know only the models;
the beacon endpoint loads none of the marketer's pages."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEB_ONLY = ("app.web", "flask_wtf", "wtforms", "flask_htmx")
# Modules that wire the app together: create_app, the commands, `make run`, the Flask extensions.
WIRING = {"app", "app.cli", "app.devserver", "app.extensions"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> set[str]:
    """Every module a file imports, at its top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return found


MODULES = {module_name(path): imports(path) for folder in ("app", "worker")
           for path in (ROOT / folder).rglob("*.py")}


def within(name: str, parts: tuple[str, ...]) -> bool:
    return any(name == part or name.startswith(part + ".") for part in parts)


def offenders(modules, forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    return {name: sorted(imported for imported in MODULES[name] if within(imported, forbidden))
            for name in modules if any(within(imported, forbidden) for imported in MODULES[name])}


def test_the_modules_were_found():
    assert ({"app", "app.web.auth", "app.tracking.ingest", "app.models.accounts", "worker.consumer"}
            <= set(MODULES))


def test_the_app_never_imports_the_worker():
    assert offenders([name for name in MODULES if within(name, ("app",))], ("worker",)) == {}


def test_the_domain_knows_nothing_of_pages_or_forms():
    domain = [name for name in MODULES if within(name, ("app",)) and not within(name, ("app.web",))
              and name not in WIRING]
    assert offenders(domain, WEB_ONLY) == {}


def test_the_models_import_only_the_models_and_the_extensions():
    models = [name for name in MODULES if within(name, ("app.models",))]
    others = tuple(sorted({imported for name in models for imported in MODULES[name]
                           if within(imported, ("app",))
                           and not within(imported, ("app.models", "app.extensions"))}))
    assert others == ()


@pytest.mark.parametrize("hot_path", ["app.ingest", "app.tracking.ingest", "app.tracking.sites",
                                      "app.tracking.first_party"])
def test_the_beacon_endpoint_loads_none_of_the_marketers_pages(hot_path):
    assert offenders([hot_path], ("app.web", "app.messaging", "app.automations", "app.segments")) == {}


def test_every_job_the_app_names_is_declared_once_and_exists_in_the_worker():
    """Callers name a job only (app/queues.py JOBS says its queue, retries and time limit): a name
    the catalogue lacks would fail as it is enqueued, one the worker lacks as it runs."""
    import importlib
    import re

    from app.queues import JOBS, PRIORITY
    from worker.schedule import PERIODIC_JOBS

    named = set()
    for folder in ("app", "worker"):
        for path in (ROOT / folder).rglob("*.py"):
            named |= set(re.findall(r'"(worker\.jobs\.[a-z_]+\.[a-z_]+)"', path.read_text()))
    named |= {job for job, _ in PERIODIC_JOBS}
    # (Batch jobs are named by channel: send_email_batch, send_sms_batch.)
    named |= {f"worker.jobs.messages.send_{channel}_batch" for channel in ("email", "sms")}
    assert named - set(JOBS) == set()
    for job, spec in JOBS.items():
        module, _, function = job.rpartition(".")
        assert callable(getattr(importlib.import_module(module), function, None)), job
        assert spec.queue in PRIORITY, job
