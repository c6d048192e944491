# Every target sets up .venv on first use, so a fresh clone needs only `make demo` / `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint clean screenshots

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py
	@echo
	@echo "legato is installed in $(VENV), not on your PATH. Run 'source $(VENV)/bin/activate'"
	@echo "to use 'legato' in this shell, or call $(BIN)/legato directly."

test: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/pytest -n 2 -q

bench: $(STAMP)
	$(BIN)/python benchmarks/overhead.py
	$(BIN)/python benchmarks/workers.py
	$(BIN)/python benchmarks/waits.py
	$(BIN)/python benchmarks/triggers.py
	$(BIN)/python benchmarks/server.py

# Pictures of the web UI for the README (docs/img/), taken by the browser tests.
screenshots: $(STAMP)
	LEGATO_SCREENSHOTS=1 $(BIN)/pytest -q -n 0 tests/ui

lint: $(STAMP)
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/ruff format --check src tests examples benchmarks
	$(BIN)/mypy src/legato tests/typing_check.py
	$(BIN)/mypy --strict src/legato/engine

clean:
	rm -rf $(VENV) .pytest_cache build src/*.egg-info
