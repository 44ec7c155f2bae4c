# Two commands matter: `make demo` runs the whole thing, `make test` checks it.
# Both create the virtualenv and install what they need first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint unit integration bench evaluate clean venv

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/wardwatch demo

test: lint
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

# Lint first: a style or type error fails fast, before minutes of tests.
# ruff: lint rules and the formatter (check only; `ruff format .` applies it);
# mypy: strict types on the pure packages (monitor/, alerts/; see pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

integration: $(STAMP)
	$(BIN)/python -m pytest -q tests/integration

bench: $(STAMP)
	$(BIN)/wardwatch bench

evaluate: $(STAMP)
	$(BIN)/wardwatch evaluate

clean:
	rm -rf $(VENV) data build *.egg-info
