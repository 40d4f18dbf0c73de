# Partner Portal: `make run` serves the site, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
VENDOR := app/static/vendor

.PHONY: run test install lint bench mutate clean

$(BIN)/activate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/activate

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch node_modules/.package-lock.json

$(VENDOR)/htmx.min.js: node_modules/.package-lock.json
	mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/htmx.min.js

install: $(BIN)/activate $(VENDOR)/htmx.min.js

run: install
	mkdir -p instance
	$(FLASK) db upgrade
	$(FLASK) demo seed --if-empty
	$(FLASK) search reindex
	$(FLASK) run --host 127.0.0.1 --port 5000

test: install
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .

bench: install
	bash bench/run.sh

# Mutation testing of the money and security code (tests/README.md); not part of `make test`.
# Scope a run with mutmut's names, e.g. make mutate MUTANTS='app.billing.statement.*'
MUTANTS ?=
mutate: install
	$(BIN)/mutmut run $(MUTANTS) || true
	$(BIN)/python tests/mutation_score.py

clean:
	rm -rf $(VENV) node_modules $(VENDOR) instance/search-index* mutants
