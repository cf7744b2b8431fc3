"""Log lines: JSON for collectors (with the request id they were made under), text for terminals."""
import io
import json
import logging
import re

import pytest
from flask import Flask

from app.config import ConfigError, Settings
from app.logs import ContextFilter, JsonFormatter, TextFormatter, request_id_from


def log_line(formatter: logging.Formatter, emit) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(ContextFilter())
    logger = logging.getLogger("footfall.test")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    return stream.getvalue()


def test_a_json_line_carries_the_request_it_was_made_in():
    app = Flask(__name__)
    with app.test_request_context("/contacts/7", method="POST", headers={"X-Request-ID": "req-123"}):
        line = log_line(JsonFormatter(), lambda logger: logger.warning("saved %s contacts", 3))
    assert line.endswith("\n") and line.count("\n") == 1
    entry = json.loads(line)
    assert entry.pop("time").endswith("Z")
    assert entry == {"level": "WARNING", "logger": "footfall.test", "message": "saved 3 contacts",
                     "request_id": "req-123", "method": "POST", "path": "/contacts/7"}


def test_a_json_line_keeps_the_exception_in_one_field():
    def fail(logger):
        try:
            raise ValueError("bad row")
        except ValueError:
            logger.exception("import failed")

    entry = json.loads(log_line(JsonFormatter(), fail))
    assert entry["message"] == "import failed"
    assert entry["exc"].startswith("Traceback") and "ValueError: bad row" in entry["exc"]
    assert "request_id" not in entry  # made outside any request


def test_a_text_line_names_the_request():
    app = Flask(__name__)
    with app.test_request_context("/", headers={"X-Request-ID": "req-9"}):
        line = log_line(TextFormatter(), lambda logger: logger.info("hello"))
    assert line.rstrip().endswith("INFO footfall.test request_id=req-9: hello")


@pytest.mark.parametrize("header", [None, "", "x" * 65, "two words", "é"])
def test_unusable_request_ids_are_replaced(header):
    new = request_id_from(header)
    assert len(new) == 32 and new != request_id_from(header)


@pytest.mark.parametrize("env, log_format, expected", [
    ("production", "", "json"), ("development", "", "text"), ("production", "text", "text"),
    ("development", "json", "json"),
])
def test_log_format_defaults_to_json_in_production(env, log_format, expected):
    settings = Settings.from_environ({"FOOTFALL_ENV": env, "LOG_FORMAT": log_format})
    assert settings.flask_config()["LOG_FORMAT"] == expected


def test_an_unknown_log_format_is_refused():
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        Settings.from_environ({"LOG_FORMAT": "xml"}).check()


# LOG_LEVEL: what reaches the terminal -----------------------------------------------------------

@pytest.fixture
def restored_logging():
    """Logging as it was before the test: the root's handlers and level, and the loggers it sets."""
    from app.logs import AUDIT_LOGGERS

    root = logging.getLogger()
    names = ("rq.worker", "rq.job", "worker", *AUDIT_LOGGERS)
    handlers, level, levels = root.handlers[:], root.level, {name: logging.getLogger(name).level
                                                             for name in names}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, saved in levels.items():
        logging.getLogger(name).setLevel(saved)


def printed(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_at_the_default_level_rq_info_lines_are_not_printed_but_warnings_are(restored_logging):
    from app.logs import configure_logging

    stream = io.StringIO()
    configure_logging(json=False, level=Settings.from_environ({}).log_level, stream=stream)
    rq_log = logging.getLogger("rq.worker")
    rq_log.setLevel(logging.INFO)  # as RQ sets it when a worker is given logging_level="INFO"
    rq_log.info("Worker w1: default: Job OK (job-1)")
    logging.getLogger("werkzeug").info('127.0.0.1 - - "POST /collect HTTP/1.1" 204 -')
    rq_log.warning("Worker w1: cold shut down")
    (line,) = printed(stream)
    assert line.endswith("WARNING rq.worker: Worker w1: cold shut down")


def test_the_privacy_audit_line_is_printed_at_the_default_level(restored_logging):
    from app.logs import configure_logging

    stream = io.StringIO()
    configure_logging(json=False, level="WARNING", stream=stream)  # the default
    logging.getLogger("app.privacy").info("contact #4 of account #1 erased by user #2")
    logging.getLogger("app.contacts").info("an ordinary INFO line")
    (line,) = printed(stream)
    assert line.endswith("INFO app.privacy: contact #4 of account #1 erased by user #2")


def test_log_level_info_brings_the_info_lines_back(restored_logging, capsys):
    from app import create_app

    create_app({"LOG_LEVEL": "Info", "DATABASE_URL": "sqlite://"})  # configures logging to stderr
    logging.getLogger("rq.worker").info("Worker w1: default: Job OK (job-1)")
    logging.getLogger("rq.worker").debug("Worker w1: result: 3")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].endswith("INFO rq.worker: Worker w1: default: Job OK (job-1)")


def refuse_connection():
    """A job that fails as a mail server that is down makes it fail."""
    raise ConnectionRefusedError(111, "Connection refused\nsecond line of the message")


def run_failing_job(redis_url: str, log_level: str, retries: int = 0) -> list[str]:
    """Enqueue refuse_connection (retried `retries` times at once) and let a Footfall worker run
    it in burst mode, logging as `python -m worker` does at `log_level`; the lines printed."""
    from redis import Redis
    from rq import Queue, Retry

    from app.logs import configure_logging
    from worker import FootfallWorker

    stream = io.StringIO()
    configure_logging(json=False, level=log_level, stream=stream)
    redis = Redis.from_url(redis_url)
    queue = Queue("test-failing-jobs", connection=redis)
    queue.enqueue(f"{__name__}.refuse_connection", retry=Retry(max=retries) if retries else None)
    try:
        FootfallWorker([queue], connection=redis).work(burst=True, logging_level=log_level)
    finally:
        queue.empty()
    return printed(stream)


def test_a_failed_job_prints_exactly_one_line(restored_logging, redis_url):
    (line,) = run_failing_job(redis_url, "WARNING")  # no traceback, no second line of the message
    assert re.search(rf" ERROR worker job_id=[0-9a-f-]+: job {__name__}.refuse_connection failed "
                     r"\(attempt 1 of 1\): ConnectionRefusedError: \[Errno 111\] Connection refused$", line)


def test_each_attempt_of_a_retried_job_is_one_line_naming_the_attempt(restored_logging, redis_url):
    lines = run_failing_job(redis_url, "WARNING", retries=2)
    assert [line.split(" worker ", 1)[0].split()[-1] for line in lines] == ["WARNING", "WARNING", "ERROR"]
    assert [line.split("failed ", 1)[1].split(":")[0] for line in lines] == [
        "(attempt 1 of 3)", "(attempt 2 of 3)", "(attempt 3 of 3)"]


def test_at_log_level_info_a_failed_job_shows_its_traceback_and_rq_its_lines(restored_logging, redis_url):
    lines = run_failing_job(redis_url, "INFO")
    text = "\n".join(lines)
    assert "failed (attempt 1 of 1): ConnectionRefusedError" in text
    assert "Traceback (most recent call last):" in text and "in refuse_connection" in text
    assert "INFO rq.worker: Worker" in text  # RQ's own lines: started, listening, done
    assert text.count("Traceback") == 1  # RQ's own copy of the traceback is not added


@pytest.mark.parametrize("value, expected", [("debug", "DEBUG"), ("INFO", "INFO"), ("Warning", "WARNING"),
                                             (" error ", "ERROR"), ("", "WARNING")])
def test_log_level_is_read_in_any_case(value, expected):
    settings = Settings.from_environ({"FOOTFALL_ENV": "development", "LOG_LEVEL": value})
    settings.check()
    assert settings.flask_config()["LOG_LEVEL"] == expected


def test_an_unknown_log_level_is_refused_with_the_valid_ones():
    with pytest.raises(ConfigError, match="LOG_LEVEL must be one of debug, info, warning, error") as refused:
        Settings.from_environ({"LOG_LEVEL": "verbose"}).check()
    assert "'verbose'" in str(refused.value)
