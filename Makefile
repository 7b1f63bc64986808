# The two set-up commands of the README:
#   make demo   – install the stand-ins, build the embedded default database (SQLite + synthetic data) if absent,
#                 start the simulators and serve the SOAR stand-in console on http://127.0.0.1:8765/ (Ctrl-C stops)
#                 (options: make demo ARGS="--port 9000", ARGS="--reset")
#   make test   – install with test extras, lint, run the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: demo test lint install clean

# The test extra covers everything the standin extra has, so installing it also satisfies `make demo`.
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(BIN)/.standin

$(BIN)/.standin: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[standin]'
	touch $@

install: $(BIN)/.installed

demo: $(BIN)/.standin
	$(BIN)/soar-ext console serve $(ARGS)

lint: $(BIN)/.installed
	$(BIN)/ruff check soar_ext tests benchmarks
	$(BIN)/ruff format --check soar_ext tests benchmarks

test: lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV) soar_ext.db soar_ext.db-wal soar_ext.db-shm soar_ext.db-audit-key .pytest_cache
