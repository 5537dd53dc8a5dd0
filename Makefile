# Classbridge: `make demo` runs the service with demo data; `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export CLASSBRIDGE_DATA_DIR ?= ./var

.PHONY: demo test lint typecheck pytest install install-test chromium nginx prometheus bench audit clean

demo: install
	$(BIN)/classbridge db upgrade
	$(BIN)/classbridge demo
	$(BIN)/classbridge serve

test: install-test chromium nginx prometheus lint typecheck pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy

pytest:
	$(BIN)/python -m pytest

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV) || { apt-get update && apt-get install -y python3-venv && $(PYTHON) -m venv $(VENV); }

$(VENV)/.installed: $(VENV)/bin/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

# Debian's Chromium for the browser tests (Playwright's own browser download is never used).
# DejaVu Sans for the report PDF's test of names in other scripts (Chromium pulls it in too).
chromium:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium; }
	@test -f /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf || { apt-get update -qq && apt-get install -y -qq fonts-dejavu-core; }

# Every benchmark in bench/, one after another (20-30 minutes); rewrites the table atop
# docs/performance.md. `$(BIN)/python bench/run_all.py --only NAME` runs one.
bench: install-test chromium
	$(BIN)/python bench/run_all.py

# Debian's nginx, for `nginx -t` on deploy/nginx.conf (tests/unit/test_deploy.py); never started.
nginx:
	@command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || { apt-get update -qq && apt-get install -y -qq nginx; }
	@command -v systemd-analyze >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq systemd; }

# Debian's Prometheus and promtool: tests/integration/test_operator_prometheus.py runs one
# (on a free port of its own) against two instances with deploy/prometheus/'s files.
prometheus:
	@command -v promtool >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus; }

# Known vulnerabilities in the locked dependencies. Needs PyPI's and OSV's vulnerability data,
# which CI's machines cannot reach, so it is not part of `make test`; --strict fails on any
# package it could not look up instead of passing it.
audit: install-test
	$(BIN)/pip-audit --strict --no-deps --disable-pip -r constraints.txt

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
