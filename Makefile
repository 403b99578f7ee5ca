# shegong: `make run` starts the whole system, `make test` runs the whole suite.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= $(shell command -v python3.11 || command -v python3)

.PHONY: run test unit venv topology seed clean docs bench status deadletters deadletters-show \
        deadletters-replay validate-deploy cluster cluster-stop cluster-chaos

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "Python 3.11 is required")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

# a local RabbitMQ is started if down and given its management plugin when it can be
# (as for make test); deploy/local.py does without the plugin otherwise
run: venv
	bash deploy/dev/ensure-rabbitmq.sh --management-optional
	$(PY) deploy/local.py

test: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	bash deploy/dev/ensure-rabbitmq.sh
	$(PY) -m mypy
	$(PY) -m pytest $(PYTEST_ARGS)

# The tests that need no broker and no store (the domains, casework's and notifications'
# service layers on their stores in memory (tests/fakes/stores.py), the contracts, the
# tools): seconds, for the edit-test loop; `make test` runs them too.
unit: venv
	$(PY) -m pytest -q tests/unit tests/contract $(PYTEST_ARGS)

docs: venv
	$(PY) -m docs.generate
	$(PY) -m services.ops.definitions write

# A three-node RabbitMQ cluster of its own (AMQP 5681-5683, management 15681-15683, data
# in var/cluster/) and make run on it, quorum queues (docs/operations.md). cluster-stop
# stops both; cluster-chaos kills, stops and pauses nodes under load and counts.
cluster: venv
	$(PY) deploy/cluster/run.py

cluster-stop: venv
	$(PY) deploy/cluster/run.py stop

cluster-chaos: venv
	$(PY) -m tests.chaos.cluster

# Operations (docs/operations.md). SERVICE=intake|casework|notifications|reporting narrows.
# They look where this checkout's make run runs (var/run.json: its ports, store and virtual
# host; services/common/runfile.py) for whatever the environment does not set, and at
# the virtual host shegong when neither says.
status: venv
	$(PY) -m services.ops.status

deadletters: venv
	$(PY) -m services.ops.deadletters list $(if $(SERVICE),--service $(SERVICE))

deadletters-show: venv
	$(PY) -m services.ops.deadletters show --id "$(ID)" $(if $(SERVICE),--service $(SERVICE))

# ID=<event id> replays one, ALL=1 every one; TO_EXCHANGE=1 to the original exchange
deadletters-replay: venv
	$(PY) -m services.ops.deadletters replay $(if $(ALL),--all,--id "$(ID)") \
	  $(if $(SERVICE),--service $(SERVICE)) $(if $(TO_EXCHANGE),--to-exchange)

# docker-compose.yml, the RabbitMQ definitions and deploy/k8s against their schemas
validate-deploy: venv
	$(PY) -m pytest -q tests/contract/test_deployment_files.py tests/contract/test_ops_deploy.py

# var/ (the embedded store, logs, credentials) and make run's queues on its virtual host
clean:
	-test -x $(PY) && $(PY) -m services.ops.vhost clear
	rm -rf var test-artifacts

# The end-to-end benchmark (docs/performance.md); BENCH_PHASE_S=300 for the sustained run.
bench: venv
	bash deploy/dev/ensure-rabbitmq.sh
	$(PY) -m benchmarks.run
