# make run | make test | make bench -- each builds .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= mappings/demo.yaml

.PHONY: run test bench lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

$(VENV): $(VENV)/.installed

run: $(VENV)
	$(BIN)/iccp-gateway run $(CONFIG)

lint: $(VENV)
	$(BIN)/ruff check gateway adapters tests benchmarks
	$(BIN)/ruff format --check gateway adapters tests benchmarks
	$(BIN)/mypy gateway adapters

test: lint
	$(BIN)/pytest -q

bench: $(VENV)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
