# Two entry points, both self-bootstrapping on a machine with only Python 3.10+:
#   make plan   offline plan of the dev stack
#   make test   the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
STACK  ?= dev

.PHONY: plan test install bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

install: $(STAMP)

plan: $(STAMP)
	$(BIN)/modelstack plan $(STACK) --out out/$(STACK) --json out/$(STACK)/plan.json

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/cost.py

clean:
	rm -rf $(VENV) out
