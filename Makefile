# Two commands on a fresh machine (Python 3.11, Java 17, Maven): `make demo`, `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FERRY := $(BIN)/ferry

.PHONY: setup demo test test-fast test-k8s lint typecheck e2e bench bench-mm2 bench-proxy sandbox clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

setup: $(BIN)/.installed

## demo: the compiler on specs/, then one migration walked live on a local sandbox (docs/demo.md)
demo: setup
	$(FERRY) validate
	@echo "--- plan (specs/ vs committed rendered/) ---"
	$(FERRY) plan
	$(FERRY) render
	@echo "--- one migration, live, on a sandbox of its own (Ctrl-C stops it and tears it down) ---"
	$(FERRY) sandbox demo

## test: the whole suite (real Kafka brokers, real MirrorMaker 2, real clients)
test: setup
	$(BIN)/pytest

## test-fast: everything that starts neither Kafka nor a Kubernetes API server
test-fast: setup
	$(BIN)/pytest -m "not kafka and not k8s"

## test-k8s: the Kubernetes tests alone (a real kube-apiserver, etcd and helm, built from their Go modules on
## first use; the chart's proxy command against real Kafka); last line `k8s_apply objects=<n> rejected=0 charts=2 lint=ok`
test-k8s: setup
	$(BIN)/pytest tests/k8s

## lint: ruff (rules in pyproject.toml), then typecheck; fails on any finding
lint: setup
	@rc=0; $(BIN)/ruff check . || rc=1; $(MAKE) --no-print-directory typecheck || rc=1; exit $$rc

# Each test directory has its own top-level `conftest` and mypy holds one module per name in a
# run: the product and benches in one run, then tests/*.py, then each test directory on its own
# (a directory with an __init__.py is the package tests.<dir>).
TEST_DIRS = $(patsubst %/,%,$(sort $(dir $(wildcard tests/*/*.py))))
MYPY_RUNS = "" "$(wildcard tests/*.py)" \
  $(foreach d,$(TEST_DIRS),"$(if $(wildcard $(d)/__init__.py),-p $(subst /,.,$(d)),$(d))")

## typecheck: mypy on ferry/ compiler/ proxy/ sandbox/ bench/, then tests/ a directory per run
typecheck: setup
	@rc=0; for args in $(MYPY_RUNS); do \
	  echo "mypy $${args:-(the files in pyproject.toml)}"; $(BIN)/mypy $$args || rc=1; \
	done; exit $$rc

## e2e: the end-to-end migration alone; its last line is machine-readable
e2e: setup
	$(BIN)/pytest tests/e2e -q -p no:randomly
	@$(BIN)/python -c "import json; r = json.load(open('.ferry/e2e-result.json')); print('e2e_migration lost={lost} fenced_max_dup={fenced_max_dup} unfenced_max_dup={unfenced_max_dup} dup_bound={dup_bound} order_violations_fenced={order_violations_fenced} cutover_s={cutover_s}'.format(**r))"

bench: setup
	$(BIN)/python bench/compile_scale.py

## bench-mm2: MirrorMaker 2 start, record and offset-sync latencies on local clusters
bench-mm2: setup
	$(BIN)/python bench/mm2_latency.py

## bench-proxy: the wire proxy against direct connections (latency, rates, pipe, reload, memory)
bench-proxy: setup
	$(BIN)/python bench/proxy_bench.py

## sandbox: the example org on this machine (stop it with: .venv/bin/ferry sandbox down)
sandbox: setup
	$(FERRY) sandbox up

clean:
	rm -rf $(VENV) .ferry .pytest_cache
