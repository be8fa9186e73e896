# The two commands: `make run` and `make test`. Both set themselves up from pyproject.toml.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)  ## set up and start the bot (console when no Slack credentials are configured)
	$(BIN)/chatbot db upgrade
	$(BIN)/chatbot

test: $(STAMP)  ## set up, lint, type-check, and run the whole test suite
	$(BIN)/ruff check chatbot commands tests bench
	$(BIN)/ruff format --check chatbot commands tests bench
	$(BIN)/mypy -p chatbot -p commands
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check chatbot commands tests bench
	$(BIN)/mypy -p chatbot -p commands

format: $(STAMP)
	$(BIN)/ruff format chatbot commands tests bench
	$(BIN)/ruff check --fix chatbot commands tests bench

bench: $(STAMP)  ## benchmarks (not tests): see bench/README.md
	$(BIN)/python bench/intake.py
	$(BIN)/python bench/intake.py --rate 100
	$(BIN)/python bench/broadcast.py
	$(BIN)/python bench/pulse.py
	$(BIN)/python bench/dashboard.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
