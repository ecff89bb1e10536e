# The few targets a newcomer needs. `make demo` and `make test` are the README's two commands.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint install bench example clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/featurestore quickstart

lint: $(STAMP)
	$(BIN)/ruff check featurestore tests benchmarks examples migrations
	$(BIN)/ruff format --check featurestore tests benchmarks examples migrations
	$(BIN)/mypy featurestore
	$(BIN)/lint-imports

test: lint
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/offline_pit.py
	$(BIN)/python benchmarks/online_serving.py

example: $(STAMP)
	$(BIN)/python examples/$(NAME)/run.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis quickstart
