# shegong: `make run` starts the whole system, `make test` runs the whole suite.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= $(shell command -v python3.11 || command -v python3)

.PHONY: run test venv topology seed clean docs bench

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "Python 3.11 is required")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

run: venv
	$(PY) deploy/local.py

test: venv
	bash deploy/dev/ensure-rabbitmq.sh
	$(PY) -m pytest $(PYTEST_ARGS)

docs: venv
	$(PY) -m docs.generate

clean:
	rm -rf var test-artifacts

# The end-to-end benchmark (docs/performance.md); BENCH_PHASE_S=300 for the sustained run.
bench: venv
	bash deploy/dev/ensure-rabbitmq.sh
	$(PY) -m benchmarks.run
