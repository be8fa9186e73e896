# The two commands: `make run` and `make test`. Both set themselves up from the lock files
# (exact versions with their hashes: what was tested), then install the project itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pytest-xdist workers: most tests wait on a server process or a database, so more workers
# than cores pays (`make test TEST_WORKERS=0` runs in one process).
TEST_WORKERS ?= 4

.PHONY: run test lint format bench clean lock

$(STAMP): pyproject.toml requirements.lock requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

# After changing dependencies in pyproject.toml: resolve again and pin with hashes.
LOCK := $(VENV)/bin/uv pip compile pyproject.toml --python-version 3.11 --universal \
	--generate-hashes --custom-compile-command "make lock" --quiet
lock:
	test -x $(VENV)/bin/uv || $(BIN)/pip install --quiet uv
	$(LOCK) -o requirements.lock
	$(LOCK) --extra dev -o requirements-dev.lock

run: $(STAMP)  ## set up and start the bot (console when no Slack credentials are configured)
	$(BIN)/chatbot db upgrade
	$(BIN)/chatbot

test: $(STAMP)  ## set up, lint, type-check, and run the whole test suite
	$(BIN)/ruff check chatbot commands tests bench
	$(BIN)/ruff format --check chatbot commands tests bench
	$(BIN)/mypy -p chatbot -p commands
	$(BIN)/pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

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
	$(BIN)/python bench/teams.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
