# Two commands do everything on a fresh machine with python3 and make:
#   make demo   set up .venv and run the main job on the shipped sample
#   make test   set up .venv and run the whole suite (ruff, pytest, nbval)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with notebooks/nbval-sanitize.cfg

.PHONY: setup demo test lint pytest nbval lab bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	rm -f data/engage.duckdb data/engage.duckdb.wal data/engage-messaging.duckdb data/engage-messaging.duckdb.wal
	$(BIN)/engage-lab load data/sample --db data/engage.duckdb
	$(BIN)/engage-lab load data/sample-messaging --db data/engage-messaging.duckdb
	$(BIN)/engage-lab replay data/configs/production-live-chat.json --db data/engage.duckdb
	$(BIN)/engage-lab replay data/configs/production-messaging.json --db data/engage-messaging.duckdb
	$(BIN)/engage-lab compare data/configs/production-live-chat.json \
		data/configs/variant-live-chat-lower-threshold.json --db data/engage.duckdb

test: lint pytest nbval

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

pytest: $(STAMP)
	$(BIN)/pytest

nbval: $(STAMP)
	ENGAGE_LAB_WARM=0 $(BIN)/pytest $(NBVAL) notebooks/

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
