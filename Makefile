# The DFDG warehouse. `make demo` sets everything up and runs the monthly load on the synthetic
# sample; `make test` runs the tests; `make ui` opens Dagster on the same data root.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
DATA   ?= $(CURDIR)/data
export DFDG_DATA_ROOT := $(DATA)
export DAGSTER_HOME := $(DATA)/dagster_home

.PHONY: setup demo sample load ui test test-slow test-all lint format bench clean

$(BIN)/dfdg: pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "needs $(PYTHON) (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,dev]'
	@touch $@

setup: $(BIN)/dfdg

sample: setup
	@if [ -d "$(DATA)/inbox" ] && [ -n "$$(ls -A $(DATA)/inbox 2>/dev/null)" ]; then \
		echo "inbox already holds deliveries: $(DATA)/inbox"; \
	else \
		$(BIN)/dfdg generate; \
	fi

load: setup
	$(BIN)/dfdg load

demo: sample load
	@$(BIN)/dfdg status
ui: setup
	$(BIN)/dfdg ui

# the default suite (fast feedback) on one worker per core, each test file kept on one worker
# (its module fixtures are built once); the heavier end-to-end tests are marked `slow` and run
# one at a time (they start servers and browsers with their own time limits)
TEST_WORKERS ?= auto
test: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not slow" -n $(TEST_WORKERS) --dist loadfile

test-slow: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider -m slow

test-all: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: setup
	$(BIN)/ruff check dfdg_assets dfdg_assets_tests
	$(BIN)/ruff format --check dfdg_assets dfdg_assets_tests
	$(BIN)/mypy dfdg_assets

format: setup
	$(BIN)/ruff format dfdg_assets dfdg_assets_tests
	$(BIN)/ruff check --fix dfdg_assets dfdg_assets_tests

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache

bench: setup
	$(BIN)/dfdg bench --borgere 1000000 --gentag 2 --workdir $(CURDIR)/bench-out
