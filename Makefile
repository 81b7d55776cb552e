# Everything a newcomer needs: `make demo` runs the pipeline end to end, `make test` runs the tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint demo airflow stack stack-down bench clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt scripts/install_system_packages.sh
	scripts/install_system_packages.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

test: install
	scripts/ensure_services.sh
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check .

demo: install
	$(BIN)/python scripts/demo.py

airflow: install
	$(BIN)/python scripts/demo.py --airflow

# The distributed deployment: CeleryExecutor on the local Redis, PostgreSQL metadata and catalog, each
# Airflow component in its own process, and a local S3 server (scripts/stack.py).
stack: install
	$(BIN)/python scripts/stack.py up

stack-down:
	$(BIN)/python scripts/stack.py down

bench: install
	$(BIN)/python bench/ocr_speed.py

clean:
	rm -rf $(VENV) .demo .stack .pytest_cache
