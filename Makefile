# The two commands (see README): `make demo` and `make test`. Both set everything up from nothing first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint typecheck contracts-check bench clean devnet-down

setup: $(STAMP) node_modules/.installed

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	# substrate-interface 1.8.1 declares eth_utils<6, which web3 8 cannot share; its real dependencies are in
	# pyproject.toml and it runs fine on eth-utils 6, so it is installed without its declared pins.
	$(PY) -m pip install --quiet --no-deps 'substrate-interface==1.8.1'
	touch $(STAMP)

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch node_modules/.installed

demo: setup
	$(VENV)/bin/phala-bridge demo

# The README's test command, and what CI runs: lint, type-check, contract artifacts, the whole test suite, on
# TEST_WORKERS pytest-xdist workers (tests/conftest.py: each devnet belongs to one worker). TEST_WORKERS=0 runs serially.
TEST_WORKERS ?= 2
test: setup lint typecheck contracts-check
	$(PY) -m pytest -n $(TEST_WORKERS) --durations=20

contracts-check: setup
	@if [ -f contracts/build.cjs ]; then node contracts/build.cjs --check; fi

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Strict mypy over the code, the tests and the benches (the packages listed in pyproject.toml [tool.mypy]).
typecheck: setup
	$(VENV)/bin/mypy

bench: setup
	$(PY) -m bench

devnet-down:
	-$(VENV)/bin/phala-bridge devnet down

clean: devnet-down
	rm -rf $(VENV) node_modules .devnet
