# Two commands on a fresh machine (Python 3.11, Java 17, Maven): `make demo`, `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FERRY := $(BIN)/ferry

.PHONY: setup demo test test-fast bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

setup: $(BIN)/.installed

## demo: validate the example specs, show the plan against the committed rendered/, render, explain
demo: setup
	$(FERRY) validate
	@echo "--- plan (specs/ vs committed rendered/) ---"
	$(FERRY) plan
	$(FERRY) render
	@echo "--- plan of the whole example org (vs an empty tree) ---"
	$(FERRY) plan --out .ferry/empty
	@echo "--- where do these client ids go? ---"
	$(FERRY) explain billing.invoice-mailer.7f9c4
	$(FERRY) explain billing.ledger.0
	$(FERRY) explain some-legacy-client --gateway gw-ads

## test: the whole suite (real Kafka brokers, real MirrorMaker 2, real clients)
test: setup
	$(BIN)/pytest

## test-fast: everything that does not start Kafka
test-fast: setup
	$(BIN)/pytest -m "not kafka"

bench: setup
	$(BIN)/python bench/compile_scale.py

clean:
	rm -rf $(VENV) .ferry .pytest_cache
