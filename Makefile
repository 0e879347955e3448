# The two commands a new user runs: `make generate` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: generate test check lint typecheck unit tools bench mutate clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

## generate: create .venv, install rulesgen, compile thresholds.yaml into output/
generate: $(STAMP)
	$(BIN)/rulesgen generate

## tools: install promtool and amtool (Debian packages) when missing
tools:
	bash scripts/install-tools.sh

## test: the whole suite, as CI runs it
test: $(STAMP) tools lint typecheck unit check

lint: $(STAMP)
	$(BIN)/ruff check rulesgen tests bench
	$(BIN)/ruff format --check rulesgen tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q

## check: fail when output/ is stale
check: $(STAMP)
	$(BIN)/rulesgen check
	$(BIN)/rulesgen lint --strict

## mutate: mutation score of the generated tests against the deployed rules, every environment
## (about an hour on 2 cores, most of it the burn-rate alert's three-day scenarios); not part of
## `test` until it takes minutes and the shipped spec reaches 95%
mutate: $(STAMP) tools
	$(BIN)/rulesgen mutate --min-score 95

## bench: print the benchmark tables (several minutes: one big promtool file is the slow baseline)
bench: $(STAMP) tools
	$(BIN)/python bench/bench_generate.py
	$(BIN)/python bench/bench_verify.py
	$(BIN)/python bench/bench_rule_cost.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
