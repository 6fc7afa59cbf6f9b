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

# The run venv gets no pip of its own when $(PYTHON)'s pip can install into it (pip >= 22.3,
# `--python`): that saves bootstrapping one, a quarter of a fresh clone's wait.
$(RUN_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv --without-pip $(RUN_VENV)
	@echo "installing the product's dependencies into $(RUN_VENV)"
	@if $(PYTHON) -m pip --python $(RUN_VENV)/bin/python --version >/dev/null 2>&1; then \
	    $(PYTHON) -m pip --python $(RUN_VENV)/bin/python install --quiet -e .; \
	else \
	    $(RUN_VENV)/bin/python -m ensurepip --default-pip >/dev/null && \
	    $(RUN_VENV)/bin/pip install --quiet -e .; \
	fi
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
