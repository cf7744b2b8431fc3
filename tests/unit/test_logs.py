"""Log lines: JSON for collectors (with the request id they were made under), text for terminals."""
import io
import json
import logging

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
