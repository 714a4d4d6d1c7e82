# Two entry points: `make demo` and `make test`. Both create .venv and install LinePulse first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: install demo test test-unit lint bench

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/linepulse demo $(ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

# the pure core and the processors, no broker, no JDK: well under a minute
test-unit: install
	$(BIN)/pytest tests/unit

bench: install
	$(BIN)/python load/bench.py $(ARGS)
