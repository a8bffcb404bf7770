# One entry point for people and CI. Every target installs what it needs first, and every step that takes
# more than a few seconds says what it does and how long it usually takes (measured on a 2-core machine).
#   make synth   synthesize every environment with all compliance checks into cdk.out/
#   make test    lint + type-check + the whole test suite
#   make lock    re-lock uv.lock after changing dependencies in pyproject.toml
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv

# jsii prints an end-of-life banner for Node 20 on every start (app.py silences it too, for a direct
# `npx cdk`); the CLI would phone home for notices and telemetry (synth must not depend on a network).
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
# V8's thread pool sized to this machine for every Node process (the CLI, the app's jsii runtime), as app.py
# explains; a --v8-pool-size already in NODE_OPTIONS is kept.
ifeq ($(findstring --v8-pool-size,$(NODE_OPTIONS)),)
export NODE_OPTIONS := $(strip $(NODE_OPTIONS) --v8-pool-size=0)
endif
export CDK_DISABLE_CLI_TELEMETRY := true
export CDK_DISABLE_VERSION_CHECK := true
# uv installs into .venv with the interpreter that created it, and never downloads a Python of its own.
export UV_PYTHON_DOWNLOADS := never
# Python keeps compiled modules in __pycache__ folders (git ignores them), and pytest keeps there the
# modules it rewrites for its assertion messages: the test files and its plugins' packages (hypothesis,
# anyio, xdist, typeguard, ~200 modules). Where PYTHONDONTWRITEBYTECODE is set (this machine), every
# process compiled them again, each worker rewrote them again: `pytest -m "not slow"` took 4.5-7 s longer
# (~11 CPU-seconds) without those files than with them, in alternating runs. These commands let Python
# write them (an empty value turns the setting off).
export PYTHONDONTWRITEBYTECODE :=

# What a failed `make synth` does: keep this run's output in cdk.out.failed/, leave cdk.out/ alone, fail.
synth_failed = { cd "$(CURDIR)"; rm -rf cdk.out.failed; [ ! -d .synth/cdk.out ] || mv .synth/cdk.out cdk.out.failed; \
  rm -rf .synth; echo "make synth failed: cdk.out/ is unchanged (the last good assembly, if any);" \
  "this run's output is in cdk.out.failed/" >&2; exit 1; }

.PHONY: help install lock chromium synth check report test test-quick lint format eval audit-acknowledgments demo review-demo bench check-new-use-case check-retired-use-case deploy-assembly clean

help:
	@echo "make synth   synthesize dev, staging and prod with cdk-nag (all packs), cfn-lint and Bedrock rules"
	@echo "make test    install, lint, type-check and run every test"
	@echo "make lock    re-lock uv.lock after a dependency change in pyproject.toml (needs PyPI)"
	@echo "make report  the compliance review pack of an existing cdk.out (make synth writes it too)"
	@echo "make test-quick  the tests not marked slow (~55 s on 2 cores; no browser, CLI subprocess, whole-flow or real-time hang test): a development loop, not a gate"
	@echo "make lint    ruff + mypy only"
	@echo "make eval    every evaluation suite offline (local Bedrock endpoint, emulator), gated; part of make test"
	@echo "make audit-acknowledgments  every cdk-nag acknowledgment and cfn-lint ignore that acknowledges no finding (~25 s); part of make test"
	@echo "make bench   benchmarks (~22 min): one table in benchmarks/results.md"
	@echo "make demo    start a local Bedrock Runtime endpoint and send a sample request through the orchestrator"
	@echo "make review-demo  the human review path end to end offline: held answer, scoring, reviewer decision, release, audit"
	@echo "make check-new-use-case  run make eval and the test suite on a copy of the repo with every contract copied to a new id (~4 min)"
	@echo "make check-retired-use-case  run make eval and the test suite on a copy of the repo with a shipped use case retired, each in turn (~5 min each; USE_CASE=<id> for one)"
	@echo "make clean   remove cdk.out and caches"

# A fresh .venv gets the uv release that uv.lock pins, checked against the lock's hashes (pip, from the
# standard library's venv). From then on uv is one of the locked packages: `uv sync` keeps it at the
# locked version (upgrading itself when the lock moves) instead of removing it as an extraneous package.
$(UV):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  echo "error: '$(PYTHON)' is not Python 3.11 or newer. Fix: make PYTHON=/path/to/python3.11 ..." >&2; exit 1; }
	@echo "==> creating $(VENV) with the locked uv (~10 s)"
	@$(PYTHON) -m venv $(VENV)
	@$(PYTHON) scripts/locked_uv.py uv.lock > $(VENV)/uv-requirement.txt
	@$(BIN)/python -m pip install --quiet --quiet --disable-pip-version-check \
	  --require-hashes --no-deps --only-binary :all: -r $(VENV)/uv-requirement.txt

# --compile-bytecode: every Python process (pytest workers, app.py under cdk synth, cfn-lint workers, the
# CLIs) imports the packages from .pyc from the first run on, instead of compiling them from source (each
# time, where PYTHONDONTWRITEBYTECODE=1 was in force: on this 2-core machine the test suite 196 s -> 157 s,
# for ~25 s once; the export above now lets the first run's processes write what they compile too).
# Exactly the lock, nothing else (an exact sync), and the project itself as an editable install: the
# constructs/ folder is importable as bedrock_constructs from anywhere, and `python app.py` works from here.
$(BIN)/.installed: pyproject.toml uv.lock | $(UV)
	@$(UV) lock --check --offline --quiet 2>/dev/null || { \
	  echo "error: pyproject.toml and uv.lock disagree: a dependency changed without re-locking." >&2; \
	  echo "Fix: make lock   (re-resolves from PyPI and rewrites uv.lock; commit it with pyproject.toml)" >&2; \
	  exit 1; }
	@echo "==> installing Python packages from uv.lock and compiling them to bytecode (~40 s the first time, ~3 s after a change)"
	@$(UV) sync --locked --extra dev --quiet --compile-bytecode
	@touch $@

node_modules/.installed: package.json package-lock.json
	@echo "==> installing the pinned CDK CLI from package-lock.json (~5 s)"
	@npm ci --no-audit --no-fund --loglevel=error >/dev/null
	@touch $@

install: $(BIN)/.installed node_modules/.installed

lock: | $(UV)
	@echo "==> re-locking uv.lock from pyproject.toml (~5 s; needs PyPI)"
	@$(UV) lock
	@echo "uv.lock updated: commit it together with pyproject.toml; 'make install' applies it"

# The new assembly is written to .synth/cdk.out and replaces cdk.out/ only when synth, the compliance gate
# and the review pack all succeed, so a failed run never destroys the last good assembly. A failed run's
# output is kept in cdk.out.failed/ for inspection (validation-report.json, compliance-summary.json).
# The gate and the review pack run from .synth/, so the pack names the assembly `cdk.out`, where it ends up;
# PYTHONPATH points them at this checkout, where `compliance` lives (it is not installed: see pyproject.toml).
# Every check (the cdk-nag packs, cfn-lint and the Bedrock rules) runs once, inside the synth (CDK policy-
# validation plugins); the next two steps only read the gate's result (compliance/gate_result.py).
# '**' selects the stacks inside every Stage: a bare `cdk synth` only validates top-level stacks
# (there are none), so it would report success whatever cdk-nag found.
synth: install
	@rm -rf .synth && mkdir .synth
	@echo "==> synthesizing dev, staging, prod and the delivery pipeline with every check: cdk-nag, cfn-lint, Bedrock rules (~30 s; ~15 s when no template changed)"
	@npx cdk synth '**' --quiet --no-notices -o .synth/cdk.out || $(synth_failed)
	@echo "==> reading the compliance gate's result (~1 s)"
	@cd .synth && PYTHONPATH="$(CURDIR)" ../$(BIN)/python -m compliance.check cdk.out || $(synth_failed)
	@echo "==> writing the review pack from the gate's result (~2 s)"
	@cd .synth && PYTHONPATH="$(CURDIR)" ../$(BIN)/python -m compliance.report cdk.out --out cdk.out/review-pack || $(synth_failed)
	@rm -rf cdk.out.failed; if [ -d cdk.out ]; then mv cdk.out .synth/previous; fi
	@mv .synth/cdk.out cdk.out && rm -rf .synth

# The delivery pipeline's deploy steps: `cdk deploy` of one Stage of the assembly the Build step made (no
# synth), with this file's Node and CLI settings (no telemetry, no version check, no notices).
deploy-assembly: node_modules/.installed
	@[ -n "$(STAGE)" ] || { echo "make deploy-assembly needs STAGE=<Stage of cdk.out>, e.g. STAGE=Staging" >&2; exit 2; }
	@[ -f cdk.out/manifest.json ] || { echo "make deploy-assembly: cdk.out/ has no assembly. Fix: make synth first" >&2; exit 2; }
	npx cdk deploy --app cdk.out '$(STAGE)/*' --require-approval never --no-notices --outputs-file cdk-outputs.json

report: install
	@echo "==> writing the review pack of cdk.out (~2 s; ~10 s with --against)"
	@$(BIN)/python -m compliance.report cdk.out --out cdk.out/review-pack $(REPORT_ARGS)

# The review pack's HTML is checked in a real headless browser (Debian's chromium) by the tests.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "==> installing Debian's chromium for the browser tests (a minute or two, once)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

check: install
	@echo "==> reading the compliance gate's result of cdk.out (~1 s)"
	@$(BIN)/python -m compliance.check cdk.out

lint: $(BIN)/.installed
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@echo "==> type-checking with mypy (~15 s without .mypy_cache, ~1 s with it)"
	@$(BIN)/python scripts/mypy_links.py
	@$(BIN)/mypy stacks platform_config platform_spec compliance evaluation human_review delivery lambdas benchmarks scripts \
	  .mypy_path/bedrock_constructs .mypy_path/bedrock_platform_devtools

format: $(BIN)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	@echo "==> benchmarks (~22 min; progress on stderr, the table on stdout and in benchmarks/results.md)"
	@$(BIN)/python -m benchmarks.run

demo: $(BIN)/.installed
	$(BIN)/python scripts/demo.py

# The review path offline (~10 s): the orchestrator and the review functions in-process on moto and the
# local Bedrock endpoint; the same command a staging readiness gate runs with --target staging.
review-demo: $(BIN)/.installed
	$(BIN)/python -m human_review exercise --target offline

# Every golden and adversarial suite of every use case, offline: the real orchestrator handler in-process
# against the local Bedrock endpoint with the deterministic emulator; fails on any quality gate.
eval: $(BIN)/.installed
	@echo "==> evaluating every use case offline (~30 s): golden and adversarial suites, quality gates"
	@$(BIN)/python -m evaluation run

# Every acknowledgment and cfn-lint ignore that acknowledges no finding, with the line that made it: the app
# synthesized once more in memory with acknowledgments recorded instead of applied
# (compliance/acknowledgments.py says why a normal synth cannot tell).
audit-acknowledgments: install
	@echo "==> auditing every acknowledgment and cfn-lint ignore against an unacknowledged synth (~25 s)"
	@$(BIN)/python -m compliance.acknowledgments

# The test suite leaves the cores idle part of the time (real-time hang tests, a worker waiting on the
# other's cfn-lint): lint (ruff, mypy), eval and the acknowledgment audit run beside it, their output kept in
# .test-logs/ and printed whole once the suite ends. make test fails if any of them fails.
test: install chromium
	@rm -rf .test-logs && mkdir .test-logs
	@echo "==> ruff, mypy, the offline evaluation and the acknowledgment audit in the background (output below when the suite ends)"
	@{ $(MAKE) --no-print-directory lint > .test-logs/lint.log 2>&1; echo $$? > .test-logs/lint.rc; } & \
	 { $(MAKE) --no-print-directory eval > .test-logs/eval.log 2>&1; echo $$? > .test-logs/eval.rc; } & \
	 { $(MAKE) --no-print-directory audit-acknowledgments > .test-logs/audit-acknowledgments.log 2>&1; \
	   echo $$? > .test-logs/audit-acknowledgments.rc; } & \
	 echo "==> running the test suite on every core (~3.5-4.5 min on 2 cores beside lint and eval; benchmarks/results.md, item 9)"; \
	 $(BIN)/python -m pytest; rc=$$?; wait; \
	 for step in lint eval audit-acknowledgments; do \
	   echo "==> make $$step (exit $$(cat .test-logs/$$step.rc)):"; cat .test-logs/$$step.log; \
	   [ "$$(cat .test-logs/$$step.rc)" = 0 ] || rc=1; \
	 done; \
	 [ $$rc = 0 ] || { echo "make test failed: see the suite's summary and the logs above" >&2; exit 1; }

# The development loop: every test but the ~80 marked slow (pyproject.toml says what slow means), with the
# shared synth and its gate. It proves less than make test, which CI runs; no lint, no eval.
test-quick: install
	@echo "==> running the tests not marked slow on every core (~55 s on 2 cores; make test runs them all)"
	@$(BIN)/python -m pytest -m "not slow"

check-new-use-case: install chromium
	$(BIN)/python scripts/check_new_use_case.py

# USE_CASE=<id> retires that one only (default: every contract, each in its own copy).
check-retired-use-case: install chromium
	$(BIN)/python scripts/check_retired_use_case.py $(if $(USE_CASE),--use-case $(USE_CASE))

clean:
	rm -rf cdk.out cdk.out.failed .synth .test-logs .pytest_cache .mypy_cache .ruff_cache benchmarks/.venv-litellm eval-results gate-results
