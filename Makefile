# The two commands a newcomer runs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test bench migrate clean tracker system-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

## make run: the app, its worker and an embedded Redis, on SQLite under instance/
run: $(VENV)/.installed
	$(BIN)/python -m app.devserver

## make test: `ruff check .`, then the whole suite (DATABASE_URL / REDIS_URL: PostgreSQL / a Redis server)
test: $(VENV)/.installed-test system-deps
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## make system-deps: what the suite needs beyond Python (Debian's Chromium), installed if missing
system-deps:
	@scripts/system-deps

## make bench: every benchmark under tests/benchmarks/, as `metric value` lines
bench: $(VENV)/.installed-test
	$(BIN)/python -m tests.benchmarks

## make migrate m="add segments": a named migration from the models
migrate: $(VENV)/.installed
	FOOTFALL_ENV=development FLASK_APP=wsgi $(BIN)/flask db migrate -m "$(m)"

clean:
	rm -rf $(VENV) instance

## make tracker: rebuild static/tracker/footfall.min.js and footfall.first-party.min.js from footfall.js (terser, npm)
tracker:
	$(BIN)/python -m app.tracking.snippet build
