# swiftkit: `make test` sets everything up on a fresh machine (venv, pinned CPU torch, deps) and runs the suite.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# torch is pinned here so that pip takes the CPU wheel instead of a multi-GB CUDA build.
TORCH  ?= torch==2.13.0
RECIPE ?= tiny_demo

.PHONY: install test test-fast lint format plan train demo validate ls bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

test: install
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not slow"

lint: install
	$(VENV)/bin/ruff check swiftkit tests
	$(VENV)/bin/ruff format --check swiftkit tests

format: install
	$(VENV)/bin/ruff format swiftkit tests
	$(VENV)/bin/ruff check --fix swiftkit tests

validate: install
	$(PY) -m swiftkit validate $(RECIPE)

plan: install
	$(PY) -m swiftkit plan $(RECIPE)

train: install
	$(PY) -m swiftkit train $(RECIPE)

demo: install
	$(PY) -m swiftkit demo

ls: install
	$(PY) -m swiftkit ls

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
