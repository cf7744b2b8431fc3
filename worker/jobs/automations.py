"""Jobs that move contacts through automations."""
from app.automations import engine, triggers
from worker import job_context


def advance_run(run_id: int) -> str | None:
    """Execute a run's next steps (each exactly once) until it waits, ends or leaves."""
    with job_context():
        return engine.advance(run_id)


def wake_due_runs() -> list[int]:
    """The periodic sweep: runs whose delay is over (or whose job was lost) move on."""
    with job_context():
        return engine.wake_due_runs()


def start_date_runs() -> list[int]:
    """The periodic job of date triggers: contacts whose birthday (or other date) is today enter."""
    with job_context():
        return triggers.start_date_runs()
