# The two set-up commands of the README:
#   make demo   – install, build the embedded default database (SQLite + synthetic data), check it, list the
#                 plugins, and play SOAR's screens on it against the simulators (rolled back)
#   make test   – install with test extras, lint, run the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint install clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed

demo: $(BIN)/.installed
	$(BIN)/soar-ext db init
	$(BIN)/soar-ext doctor
	$(BIN)/soar-ext plugins
	$(BIN)/soar-ext demo

lint: $(BIN)/.installed
	$(BIN)/ruff check soar_ext tests benchmarks
	$(BIN)/ruff format --check soar_ext tests benchmarks

test: lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV) soar_ext.db soar_ext.db-wal soar_ext.db-shm .pytest_cache
