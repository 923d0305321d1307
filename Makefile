# COE Portal: `make run` to try it, `make test` for the whole suite.
# Set DATABASE_URL / CELERY_BROKER_URL to use PostgreSQL and Redis instead of the embedded defaults.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
HOST ?= 127.0.0.1
PORT ?= 8000
DATA_DIR ?= var

export HOST PORT DATA_DIR

.PHONY: run test lint typecheck pytest pytest-backends compliance migrate demo bench soak fuzz clean help

help:
	@echo "make run    set up .venv, migrate, load demo data, start web + worker + beat"
	@echo "make test   lint, type-check, the whole test suite, then the backend suite on VictoriaMetrics"
	@echo "make fuzz   10 000 hostile payloads per endpoint against gunicorn on PostgreSQL"
	@echo "make compliance  the PromQL compliance suite against Prometheus, failing cases listed"
	@echo "make clean  remove .venv and local data ($(DATA_DIR)/)"

$(VENV)/.runtime-installed: requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "COE Portal needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements-dev.txt $(VENV)/.runtime-installed
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

migrate: $(VENV)/.runtime-installed
	$(MANAGE) migrate --noinput

demo: migrate
	$(MANAGE) demo

# Web's address, for links and the demo traffic (honcho gives the others PORTs of their own).
LOCAL_URL = http://$(if $(filter 0.0.0.0 :: [::],$(HOST)),127.0.0.1,$(HOST)):$(PORT)
run: export DEBUG ?= true
run: export SITE_URL ?= $(LOCAL_URL)
run: export LOADGEN_ENDPOINT ?= $(LOCAL_URL)
run: export PROMETHEUS_MULTIPROC_DIR = $(abspath $(DATA_DIR))/prometheus
run: $(VENV)/.runtime-installed demo
	$(MANAGE) collectstatic --noinput --verbosity 0
	rm -rf "$$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$$PROMETHEUS_MULTIPROC_DIR"
	@echo
	@echo "  COE Portal: http://$(HOST):$(PORT)/   log in as demo / $${DEMO_PASSWORD:-demo}"
	@echo "  (web, Celery worker and beat below; Ctrl-C stops all three)"
	@echo
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/honcho start --procfile Procfile --no-prefix

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy

pytest: $(VENV)/.dev-installed
	$(BIN)/pytest $(PYTEST_ARGS)

# The backend suite (tests marked backend_suite: SLOs, alarms, charts, the explorer and the query
# API) again with the portal on a real VictoriaMetrics (Debian's victoria-metrics), expecting
# the same values as on the embedded store.
pytest-backends: $(VENV)/.dev-installed
	COE_PORTAL_TEST_METRICS_BACKEND=victoriametrics $(BIN)/pytest -m backend_suite $(PYTEST_ARGS)

test: lint typecheck pytest pytest-backends

# The official PromQL compliance suite (tests/metrics/promql_compliance) against Debian's
# prometheus: prints `promql compliance: N/M`, then each failing case with its first difference.
compliance: export PROMQL_COMPLIANCE_FAILURES ?= $(abspath $(DATA_DIR))/promql-compliance-failures
compliance: $(VENV)/.dev-installed
	rm -f "$$PROMQL_COMPLIANCE_FAILURES"
	$(BIN)/pytest -q tests/metrics/promql_compliance $(PYTEST_ARGS); status=$$?; \
	if [ -f "$$PROMQL_COMPLIANCE_FAILURES" ]; then echo; cat "$$PROMQL_COMPLIANCE_FAILURES"; fi; \
	exit $$status

# Intake throughput and bytes per sample against a throwaway PostgreSQL database (see benchmarks/).
bench: $(VENV)/.dev-installed
	$(BIN)/python -m benchmarks.run

# Hostile and well-formed payloads against gunicorn on PostgreSQL (DATABASE_URL's server; a
# database of its own next to it): FUZZ_COUNT per endpoint from FUZZ_SEED, and the corpus.
# Prints a table per endpoint; failing payloads go to FUZZ_FAILURES (var/fuzz-failures).
fuzz: export FUZZ_COUNT ?= 10000
fuzz: export FUZZ_SEED ?= 1
fuzz: $(VENV)/.dev-installed
	$(BIN)/python -m tests.fuzz

# Ten minutes of everything at once while workers are killed (not in `make bench`; SOAK_MINUTES=2).
SOAK_MINUTES ?= 10
soak: $(VENV)/.dev-installed
	$(BIN)/python -m benchmarks.soak --minutes $(SOAK_MINUTES)

clean:
	rm -rf $(VENV) $(DATA_DIR)
