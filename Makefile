# agentkeys — `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8080

.DEFAULT_GOAL := help

.PHONY: help install serve test check lint format typecheck imports bench catalog clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install the project with its test tools (idempotent)

serve: install ## Prepare the SQLite database and serve on $(HOST):$(PORT) (development mode)
	AGENTKEYS_MODE=$${AGENTKEYS_MODE:-development} $(BIN)/agentkeys serve --host $(HOST) --port $(PORT)

test: install ## Run the test suite
	$(BIN)/pytest

lint: install ## ruff lint and format check
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

format: install ## Apply ruff's formatting and safe fixes
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

typecheck: install ## mypy --strict
	$(BIN)/mypy

imports: install ## import-linter: the layer contracts of pyproject.toml (ARCHITECTURE.md, "Layers")
	$(BIN)/lint-imports

check: lint typecheck imports test ## Everything CI cares about: lint, types, import contracts, tests

bench: install ## Load the server with wrk (installed if missing) and write BENCHMARKS.md (~10 min)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

catalog: install ## Rebuild sandbox/tariffs/catalog.json from the source data (AGENTKEYS_SOURCE_DATA or ../shared/data)
	$(BIN)/python scripts/build_catalog.py $(CATALOG_ARGS)

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
