# make run | make test | make bench -- each builds its venv on first use: make run a
# runtime-only .venv-run (the product's dependencies), the others .venv with the test extra.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_VENV := .venv-run
CONFIG ?= mappings/demo.yaml

.PHONY: run test bench lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

$(VENV): $(VENV)/.installed

$(RUN_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(RUN_VENV)
	$(RUN_VENV)/bin/pip install --quiet --disable-pip-version-check -e .
	touch $@

run: $(RUN_VENV)/.installed
	$(RUN_VENV)/bin/iccp-gateway run $(CONFIG)

lint: $(VENV)
	$(BIN)/ruff check gateway adapters tests benchmarks
	$(BIN)/ruff format --check gateway adapters tests benchmarks
	$(BIN)/mypy gateway adapters

test: lint
	$(BIN)/pytest -q

bench: $(VENV)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) $(RUN_VENV) .mypy_cache .pytest_cache .ruff_cache
