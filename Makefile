# driftline: the targets a newcomer can guess. `make demo` and `make test` set up
# everything they need on a fresh machine (Python 3.13 and Node.js 20+ must exist;
# DRIFTLINE_FETCH_PYTHON=1 lets uv fetch Python 3.13 where it does not).
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
UV_VERSION := 0.13.8
export UV_PYTHON_DOWNLOADS := never
# Node.js 20 is past its end of life for jsii; it works, and the banner drowns the output.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export CDK_DISABLE_CLI_TELEMETRY := true

# Python 3.13: $DRIFTLINE_PYTHON313, python3.13 on PATH, pyenv, Homebrew or uv's Pythons;
# otherwise it says how to get one, or with DRIFTLINE_FETCH_PYTHON=1 lets uv fetch it.
PYTHON313 := UV_VERSION=$(UV_VERSION) /bin/sh scripts/python313.sh

.PHONY: help setup demo test unit lint bench deploy destroy synth layer-requirements clean \
	report-picture reliability browser

# The report's browser (tests/report/browser.py): $DRIFTLINE_CHROMIUM, Chromium or Chrome on
# the PATH (or in /Applications), Playwright's Chromium; where there is none, Playwright's
# is installed where it can be, and Debian's chromium package on Debian.
BROWSER := $(VENV)/bin/python -m tests.report.browser
# Chromium on a closed network: no calls home, a fresh profile (see tests/report).
CHROMIUM_FLAGS := --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
	--disable-background-networking --disable-component-update --disable-sync --hide-scrollbars

help:
	@echo "make demo     run the whole scenario on the local cloud"
	@echo "make test     unit, infrastructure and end-to-end tests (starts and stops the local cloud)"
	@echo "make reliability  load, duplicates, faults and hostile input on the local cloud, with figures"
	@echo "make lint     ruff, mypy and the contracts check"
	@echo "make bench    validator vs pandera and a bare read, streaming a 5 GB file, cold start, local cloud, drift verdicts (build/bench.json)"
	@echo "make synth    cdk synth (cdk-nag runs on every synth)"
	@echo "make deploy   cdk deploy to your AWS account (uses your AWS credentials)"
	@echo "make destroy  cdk destroy"

$(VENV)/.synced: pyproject.toml uv.lock
	@[ -x $(VENV)/bin/python ] || { py=$$($(PYTHON313)) && "$$py" -m venv $(VENV); }
	@# uv itself is locked too; a fresh venv only has pip to bring it in the first time.
	[ -x $(VENV)/bin/uv ] || $(VENV)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/python -m uv sync --frozen --quiet --python $(VENV)/bin/python
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

setup: $(VENV)/.synced node_modules/.installed
	$(VENV)/bin/driftline local install

demo: setup
	$(VENV)/bin/driftline demo

test: setup browser
	$(VENV)/bin/pytest

reliability: setup
	$(VENV)/bin/pytest -m reliability tests/reliability

unit: $(VENV)/.synced
	$(VENV)/bin/pytest tests/unit tests/infra

lint: $(VENV)/.synced node_modules/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	@# Every contract module loads and checks, as synth requires (problems go to stderr).
	$(VENV)/bin/driftline contracts check >/dev/null
	@# Every stage's templates through cfn-lint, every state machine through asl-validator.
	$(VENV)/bin/python -m infra.lint_templates

bench: setup
	$(VENV)/bin/python -m benchmarks.validator
	$(VENV)/bin/python -m benchmarks.streaming
	$(VENV)/bin/python -m benchmarks.emf
	$(VENV)/bin/python -m benchmarks.cold_start
	$(VENV)/bin/python -m benchmarks.local_cloud
	$(VENV)/bin/python -m benchmarks.endpoint
	$(VENV)/bin/python -m benchmarks.restart
	$(VENV)/bin/python -m benchmarks.demo
	$(VENV)/bin/python -m benchmarks.drift

synth: $(VENV)/.synced node_modules/.installed
	npx cdk synth --quiet $(CDK_ARGS)

deploy: $(VENV)/.synced node_modules/.installed
	npx cdk deploy --all $(CDK_ARGS)

destroy: $(VENV)/.synced node_modules/.installed
	npx cdk destroy --all $(CDK_ARGS)

browser: $(VENV)/.synced
	@$(BROWSER) >/dev/null

# docs/report.png: a report of real computations (tests/report/sample.py), as Chromium draws it.
report-picture: $(VENV)/.synced
	@mkdir -p build docs
	$(VENV)/bin/python -m tests.report.sample build/report-sample.json
	$(VENV)/bin/driftline report --from-json build/report-sample.json --out build/report-sample.html
	chromium=$$($(BROWSER)) && "$$chromium" $(CHROMIUM_FLAGS) --user-data-dir=$$(mktemp -d) --window-size=1100,2800 \
		--screenshot=docs/report.png file://$(CURDIR)/build/report-sample.html 2>/dev/null
	@ls -l docs/report.png

layer-requirements: $(VENV)/.synced
	$(VENV)/bin/uv pip compile layers/dependencies/requirements.in --quiet --generate-hashes \
		--python-platform x86_64-manylinux_2_28 --python-version 3.13 --no-header \
		--no-emit-package botocore --no-emit-package urllib3 --no-emit-package jmespath \
		--no-emit-package python-dateutil --no-emit-package six \
		-o layers/dependencies/requirements.txt

clean:
	-$(VENV)/bin/driftline local down
	rm -rf .localcloud cdk.out .cache .pytest_cache .mypy_cache .ruff_cache
