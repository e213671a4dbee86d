# Switchboard. `make run` serves on the embedded defaults; `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run demo migrate test lint typecheck pytest bench clean services docs

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

migrate: $(STAMP)
	$(BIN)/switchboard migrate

run: migrate
	$(BIN)/switchboard serve

# The whole product on emulated platforms, no tokens: DEMO_ARGS="--fresh" or "--resume".
demo: $(STAMP)
	$(BIN)/switchboard demo $(DEMO_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint typecheck pytest

bench: $(STAMP)
	@echo "Benchmarks: see docs/benchmarks.md for each command"; ls bench/*.py

# The references generated from the registries (a test fails when the committed files differ).
docs: $(STAMP)
	$(BIN)/python -m store.filters.docs > docs/filters.md
	$(BIN)/python -m commands.admin.docs > docs/commands.md
	$(BIN)/python -m config.reference > docs/configuration.md
	$(BIN)/python -m commands.app.api_docs > docs/app-api.md

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
