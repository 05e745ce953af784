# One command to run the server, one to test it; both set themselves up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test lint typecheck bench bench-checkpoint clean system-deps langgraph.json

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Stamps re-run the install whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

## run: set up and start the server (offline model and SQLite memory unless configured)
run: $(VENV)/.installed
	$(BIN)/python -m app

## system-deps: the tests need a real redis-server; install it from Debian's packages if absent
system-deps:
	@bash scripts/system-deps.sh

PACKAGES := app graphs model_client redis_saver studio

## test: set up, lint, type-check and run the whole test suite
test: $(VENV)/.installed-dev system-deps
	$(BIN)/ruff check $(PACKAGES) tests bench
	$(BIN)/ruff format --check $(PACKAGES) tests bench
	$(BIN)/mypy $(PACKAGES)
	$(BIN)/pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check $(PACKAGES) tests bench
	$(BIN)/ruff format --check $(PACKAGES) tests bench

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy $(PACKAGES)

## langgraph.json: write the Studio config from the graph registry (a test checks it agrees)
langgraph.json: $(VENV)/.installed
	$(BIN)/python -m studio

## bench: streaming benchmark, ours against langgraph dev and in-process floors (~9 min);
##        BASELINE=REF also runs ours from that commit beside it (make bench BASELINE=main~3)
bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench.stream $(if $(BASELINE),--baseline $(BASELINE))

## bench-checkpoint: per-turn saver time and Redis memory, ours against the alternatives
bench-checkpoint: $(VENV)/.installed-dev
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench.checkpoint

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache *.egg-info
