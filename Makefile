# SMP Clinic: `make run` for a laptop clinic, `make test` for the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
# One stamp per requirements file and its content: `make run` installs only the runtime,
# `make test` the dev file too (which starts with -r requirements.txt).
STAMP := $(VENV)/.installed-$(shell cat requirements.txt | cksum | cut -d' ' -f1)
DEV_STAMP := $(VENV)/.installed-dev-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
# The load generator (locust) lives in a virtualenv of its own: neither the app nor CI needs it.
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed-$(shell cat bench/requirements.txt | cksum | cut -d' ' -f1)

# The first interpreter >= 3.12 found: PYTHON=..., python3.13, python3.12, pyenv's, python3.
define FIND_PYTHON
for c in $${PYTHON:-} python3.13 python3.12 $$(ls -d $$HOME/.pyenv/versions/3.1[3-9]*/bin/python3 $$HOME/.pyenv/versions/3.12*/bin/python3 2>/dev/null) python3; do \
  if command -v "$$c" >/dev/null 2>&1 && "$$c" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then command -v "$$c"; exit 0; fi; \
done; exit 1
endef

# One pytest process per core (at most 4): each has its own test database, cache, browser and
# Celery worker. PYTEST_XDIST= runs the suite in one process.
PYTEST_XDIST ?= -n auto --maxprocesses 4 --dist worksteal

.PHONY: help run test test-dates lint format install install-dev bench bench-load clean

help:
	@echo "make run    - install, migrate, seed the demo clinic, start web + Celery worker/beat"
	@echo "make test   - install, lint (ruff) and run the whole test suite"
	@echo "make test-dates - run the suite once per date in DATES (pytest --clock); fails if any run fails"
	@echo "make bench  - run the benchmarks in bench/ (needs DATABASE_URL and REDIS_URL)"
	@echo "make bench-load - locust load test on gunicorn + PostgreSQL (bench/load.py; installs locust in $(BENCH_VENV))"

$(STAMP): requirements.txt
	@python="$$( $(FIND_PYTHON) )" || { echo "SMP Clinic needs Python 3.12 or newer: install it or set PYTHON=/path/to/python3.12" >&2; exit 1; }; \
	if [ ! -x $(PY) ] || ! $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then \
	  echo "Creating $(VENV) with $$python"; rm -rf $(VENV); "$$python" -m venv $(VENV); fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@rm -f $(VENV)/.installed-[0-9]*; touch $@

$(DEV_STAMP): $(STAMP) requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@rm -f $(VENV)/.installed-dev-*; touch $@

install: $(STAMP)

install-dev: $(DEV_STAMP)

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py runclinic --addr $${ADDR:-127.0.0.1:8000}

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: lint
	$(VENV)/bin/lint-imports
	$(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/pytest $(PYTEST_XDIST) $(PYTEST_ARGS)

# Dates that have broken tests that read the clock: the day after a bug report, the spring and
# autumn clock changes, a year end. DATES="2027-03-28T23:30 ..." adds a London time of day.
DATES ?= 2026-11-24 2027-03-28 2027-10-31 2027-12-31

test-dates: install-dev
	@failed=""; for d in $(DATES); do \
	  echo "== pytest --clock=$$d"; \
	  $(VENV)/bin/pytest --clock=$$d $(PYTEST_XDIST) $(PYTEST_ARGS) || failed="$$failed $$d"; \
	done; \
	if [ -n "$$failed" ]; then echo "test-dates: the suite failed on:$$failed" >&2; exit 1; fi; \
	echo "test-dates: the suite passed on every date: $(DATES)"

bench: install-dev
	$(PY) bench/availability.py
	$(PY) bench/reminders.py
	$(PY) bench/public_pages.py
	$(PY) bench/photos.py
	$(PY) bench/booking.py
	$(PY) bench/admin.py

$(BENCH_STAMP): bench/requirements.txt
	@python="$$( $(FIND_PYTHON) )" || { echo "bench-load needs Python 3.12 or newer: set PYTHON=/path/to/python3.12" >&2; exit 1; }; \
	if [ ! -x $(BENCH_VENV)/bin/python ]; then echo "Creating $(BENCH_VENV) with $$python"; "$$python" -m venv $(BENCH_VENV); fi
	$(BENCH_VENV)/bin/python -m pip install --quiet -r bench/requirements.txt
	@rm -f $(BENCH_VENV)/.installed-*; touch $@

bench-load: install $(BENCH_STAMP)
	$(PY) bench/load.py --locust $(BENCH_VENV)/bin/locust $(LOAD_ARGS)

clean:
	rm -rf $(VENV) $(BENCH_VENV) var
