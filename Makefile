# TrustDesk: `make run` to try it, `make test` to test it. `make help` lists every target.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_URL ?= postgres://postgres@127.0.0.1:5432
REDIS_URL ?= redis://127.0.0.1:6379/15

.DEFAULT_GOAL := help

help: ## list targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@echo "Setting up $(VENV) (first run downloads the dependencies; log in $(VENV)/install.log)…"
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip > $(VENV)/install.log 2>&1 || (cat $(VENV)/install.log; exit 1)
	@$(BIN)/python -m pip install -q -e '.[test]' >> $(VENV)/install.log 2>&1 || (tail -40 $(VENV)/install.log; exit 1)
	@touch $(STAMP)

venv: $(STAMP) ## create .venv and install TrustDesk with test tools

run: $(STAMP) ## migrate, load demo data, serve on http://127.0.0.1:8000 with in-process jobs
	@$(MAKE) -s messages-compile
	@$(BIN)/trustdesk run

test: $(STAMP) ## the whole suite: unit, integration on SQLite and PostgreSQL, jobs on Redis, browser
	@$(MAKE) -s messages-compile
	$(BIN)/pytest tests/unit -q
	TRUSTDESK_TEST_DB=sqlite $(BIN)/pytest tests/integration -q
	TRUSTDESK_TEST_DB=postgres $(BIN)/pytest tests/integration -q
	TRUSTDESK_TEST_DB=sqlite $(BIN)/pytest tests/browser -q

test-unit: $(STAMP) ## unit tests only (no database)
	$(BIN)/pytest tests/unit -q

test-sqlite: $(STAMP) ## integration tests on SQLite
	TRUSTDESK_TEST_DB=sqlite $(BIN)/pytest tests/integration -q

test-postgres: $(STAMP) ## integration tests on PostgreSQL
	TRUSTDESK_TEST_DB=postgres $(BIN)/pytest tests/integration -q

test-browser: $(STAMP) ## browser journeys in Chromium
	TRUSTDESK_TEST_DB=sqlite $(BIN)/pytest tests/browser -q

lint: $(STAMP) ## ruff
	$(BIN)/ruff check trustdesk tests

migrations-check: $(STAMP) ## fail if a table change has no migration
	TRUSTDESK_TEST_DB=sqlite $(BIN)/pytest tests/integration/test_migrations.py -q

messages-extract: $(STAMP) ## extract translatable strings to trustdesk/locale/messages.pot
	$(BIN)/pybabel extract -F babel.cfg -o trustdesk/locale/messages.pot --project TrustDesk .
	@test -f trustdesk/locale/en/LC_MESSAGES/messages.po || $(BIN)/pybabel init -i trustdesk/locale/messages.pot -d trustdesk/locale -l en
	$(BIN)/pybabel update -i trustdesk/locale/messages.pot -d trustdesk/locale

messages-compile: $(STAMP) ## compile .po catalogs to .mo
	@if ls trustdesk/locale/*/LC_MESSAGES/messages.po >/dev/null 2>&1; then $(BIN)/pybabel compile -d trustdesk/locale >/dev/null; fi

bench: $(STAMP) ## run the benchmarks (PostgreSQL)
	$(BIN)/python bench/sweep.py
	$(BIN)/python bench/badge.py

clean: ## remove the venv, local database and uploads
	rm -rf $(VENV) trustdesk.sqlite3* var

.PHONY: help venv run test test-unit test-sqlite test-postgres test-browser lint migrations-check messages-extract messages-compile bench clean
