# Doorstep: `make run` starts the portal on the embedded defaults, `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
PO_FILES := $(wildcard translations/*/LC_MESSAGES/messages.po)
MO_FILES := $(PO_FILES:.po=.mo)

.PHONY: run test lint setup install assets translations migrate clean browsers bench

setup: install assets translations

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $@

assets: static/vendor/htmx.min.js tests/e2e/vendor/axe.min.js

static/vendor/htmx.min.js tests/e2e/vendor/axe.min.js &: package.json package-lock.json scripts/copy-vendor.mjs
	npm ci --no-audit --no-fund --loglevel=error
	npm run --silent build

translations: $(MO_FILES)

translations/%/LC_MESSAGES/messages.mo: translations/%/LC_MESSAGES/messages.po $(VENV)/.installed
	$(BIN)/pybabel compile --statistics -d translations -l $* -f

run: setup
	PORTAL_ENV=$${PORTAL_ENV:-development} $(BIN)/python -m portal.devserver

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/bandit --quiet --configfile pyproject.toml --severity-level medium --recursive portal worker.py wsgi.py

# The browser tests drive Debian's Chromium (Playwright cannot download its own browser here); the label tests read
# PDFs back with poppler's pdftoppm and zbar's zbarimg; the benchmark drives pages with wrk. Installed once, as root
# or through sudo; skipped when every tool is already there, so a repeated `make test` stays fast.
SYSTEM_TOOLS := /usr/bin/chromium /usr/bin/pdftoppm /usr/bin/zbarimg /usr/bin/wrk
browsers:
	@missing=; for tool in $(SYSTEM_TOOLS); do [ -x $$tool ] || missing=1; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" -eq 0 ]; then as_root=; else as_root=sudo; fi; \
	  $$as_root apt-get update && \
	  $$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
	    chromium fonts-dejavu-core poppler-utils zbar-tools wrk; \
	fi

test: setup browsers lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The benchmark suite (not part of `make test`; about 15 minutes): PostgreSQL at BENCH_DATABASE_URL (default the
# local doorstep_bench database, created if missing) or `make bench BENCH_DB=sqlite`; Redis db 6 unless
# BENCH_REDIS_URL. Prints the table and writes bench/results/latest.json. See README, "Performance".
BENCH_DB ?= postgresql
# Lighthouse, for the benchmark's "lighthouse" phase only: its own package.json, so `make test` never installs it.
LIGHTHOUSE := bench/lighthouse/node_modules/lighthouse/cli/index.js
bench: setup browsers $(LIGHTHOUSE)
	$(BIN)/python -m bench.run --db $(BENCH_DB)

$(LIGHTHOUSE): bench/lighthouse/package.json bench/lighthouse/package-lock.json
	npm ci --prefix bench/lighthouse --no-audit --no-fund --loglevel=error
	touch $@

# Refresh the message catalogs after changing user-visible text.
extract: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o translations/messages.pot --no-location --sort-output .
	$(BIN)/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching

clean:
	rm -rf $(VENV) node_modules static/vendor .pytest_cache .mypy_cache .ruff_cache
