# One entry point for people and CI. Every target installs what it needs first.
#   make synth   synthesize every environment with all compliance checks into cdk.out/
#   make test    lint + type-check + the whole test suite
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

# jsii prints an end-of-life banner for Node 20 on every start; the CLI would phone home for notices
# and telemetry (there is no network here, and synth must not depend on one).
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_CLI_TELEMETRY := true
export CDK_DISABLE_VERSION_CHECK := true

.PHONY: help install chromium synth check report test lint format demo bench clean

help:
	@echo "make synth   synthesize dev, staging and prod with cdk-nag (all packs), cfn-lint and Bedrock rules"
	@echo "make test    install, lint, type-check and run every test"
	@echo "make report  the compliance review pack of an existing cdk.out (make synth writes it too)"
	@echo "make lint    ruff + mypy only"
	@echo "make bench   benchmarks (~5 min): one table in benchmarks/results.md"
	@echo "make demo    start a local Bedrock Runtime endpoint and send a sample request through the orchestrator"
	@echo "make clean   remove cdk.out and caches"

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: $(BIN)/.installed node_modules/.installed

# '**' selects the stacks inside every Stage: a bare `cdk synth` only validates top-level stacks
# (there are none), so it would report success whatever cdk-nag found.
synth: install
	rm -rf cdk.out
	npx cdk synth '**' --quiet --no-notices
	$(BIN)/python -m compliance.check cdk.out
	$(BIN)/python -m compliance.report cdk.out --out cdk.out/review-pack

report: install
	$(BIN)/python -m compliance.report cdk.out --out cdk.out/review-pack $(REPORT_ARGS)

# The review pack's HTML is checked in a real headless browser (Debian's chromium) by the tests.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

check: install
	$(BIN)/python -m compliance.check cdk.out

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy stacks constructs platform_config compliance lambdas benchmarks

format: $(BIN)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	$(BIN)/python -m benchmarks.run

demo: $(BIN)/.installed
	$(BIN)/python scripts/demo.py

test: install chromium lint
	$(BIN)/python -m pytest

clean:
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache benchmarks/.venv-litellm
