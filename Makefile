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

# the whole benchmark set, each writing its JSON beside load/RESULTS.md (about 60 minutes, the
# soak 30 of them: SOAK_MINUTES=5 for a quick look); nothing else should run on the machine
SOAK_MINUTES ?= 30
bench: install
	$(BIN)/python load/bench.py --seconds 60 --peers --json load/bench-60s.json $(ARGS)
	$(BIN)/python load/bench.py --seconds 60 --peers --processes 2 --json load/bench-60s-2proc.json
	$(BIN)/python load/bench_oee.py --events 100000 --json load/bench-oee.json
	$(BIN)/python load/bench_oee.py --events 100000 --processes 2 --json load/bench-oee-2proc.json
	$(BIN)/python load/bench_sink.py --rows 200000 --json load/bench-sink.json
	$(BIN)/python load/bench_anomaly.py --observations 100000 --json load/bench-anomaly.json
	$(BIN)/python load/bench_vibration.py --json load/bench-vibration.json
	$(BIN)/python load/soak.py --minutes $(SOAK_MINUTES) --json load/soak.json
