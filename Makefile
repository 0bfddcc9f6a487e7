# Pulse — common tasks. `make help` lists them. Everything runs from a local .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
OUT    ?= out

.PHONY: help setup demo run test lint bench docs kafka clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

setup: $(BIN)/pulse  ## create .venv and install Pulse with its dev tools

$(BIN)/pulse: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: setup  ## embedded broker + topics + worker + simulated shoppers + live view (Ctrl-C stops)
	$(BIN)/pulse demo

run: setup  ## simulate 10,000 shoppers for 120 days and replay them in-process into $(OUT)/
	$(BIN)/pulse simulate --users 10000 --days 120 --seed 7 --out $(OUT)/sim.jsonl.gz
	$(BIN)/pulse replay $(OUT)/sim.jsonl.gz --out $(OUT) --send-expired

test: setup  ## run every test tier (unit, stream, integration) and the doctests
	$(BIN)/python -m pytest -q

lint: setup  ## ruff (lint + format check) and mypy (strict on streams/core and models)
	$(BIN)/ruff check streams models tests
	$(BIN)/ruff format --check streams models tests
	$(BIN)/mypy streams models

bench: setup  ## speed of the in-process core, and of the worker on the embedded broker
	$(BIN)/pulse bench core
	$(BIN)/pulse bench worker

kafka: setup  ## run the tests' Apache Kafka (KRaft, 127.0.0.1; jars via Maven) until Ctrl-C
	$(BIN)/python -m tests.integration.apache_kafka

docs: setup  ## regenerate docs/features.md from the code
	$(BIN)/python -m streams.docs_gen

clean:  ## remove .venv and outputs
	rm -rf $(VENV) $(OUT) *.egg-info
