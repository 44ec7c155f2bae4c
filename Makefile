# Two commands matter: `make demo` runs the whole thing, `make test` checks it.
# Both create the virtualenv and install what they need first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint unit integration bench evaluate clean venv compiled

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,compiled]'
	touch $(STAMP)

venv: compiled

# The per-sample hot path compiled with Cython (monitor/compiled.py): rebuilt for any
# source that changed, a no-op when all are current; without a C compiler, pure Python.
compiled: $(STAMP)
	$(BIN)/python -m monitor.build_compiled build --optional

demo: compiled
	$(BIN)/wardwatch demo

test: lint compiled
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

# Lint first: a style or type error fails fast, before minutes of tests.
# ruff: lint rules and the formatter (check only; `ruff format .` applies it);
# mypy: strict types on the pure packages (monitor/, alerts/; see pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

unit: compiled
	$(BIN)/python -m pytest -q tests/unit

integration: compiled
	$(BIN)/python -m pytest -q tests/integration

bench: compiled
	$(BIN)/wardwatch bench

evaluate: compiled
	$(BIN)/wardwatch evaluate

clean:
	rm -rf $(VENV) data build *.egg-info
