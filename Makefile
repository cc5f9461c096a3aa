# Two commands for a newcomer: `make demo` and `make test` (see README.md).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
export KAFKA_LAB_HOME ?= /var/lib/kafka-lab
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: demo deps venv lab-up lab-down lab-status lint sanity molecule test test-unit test-contract test-integration bench bench-lab bench-quick bench-fleet clean

deps:
	bash scripts/install-system-deps.sh

$(VENV)/.installed: requirements-dev.txt lab/pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	mkdir -p .collections/ansible_collections/ambari_kafka
	ln -sfn ../../.. .collections/ansible_collections/ambari_kafka/mirroring
	touch $@

venv: $(VENV)/.installed

lab-up: deps venv
	$(VENV)/bin/kafka-lab up

demo: deps venv
	$(VENV)/bin/kafka-lab up --node
	$(VENV)/bin/ansible-playbook playbooks/setup-mirroring.yml
	$(PY) scripts/demo.py

lab-down: venv
	$(VENV)/bin/kafka-lab down

lab-status: venv
	$(VENV)/bin/kafka-lab status

test-unit: venv
	$(PY) -m pytest -q tests/unit

test-contract: venv
	$(PY) -m pytest -q tests/contract

test-integration: deps venv
	$(PY) -m pytest -q -m integration tests/integration

lint: venv
	$(VENV)/bin/ansible-lint
	bash scripts/ansible-test.sh sanity --local --python $$($(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])')

sanity: lint

molecule: deps venv
	$(VENV)/bin/molecule test

test: deps venv lint
	$(PY) -m pytest -q tests
	$(VENV)/bin/molecule test

# Side by side with MirrorMaker 2 and 1 on the lab (bench/RESULTS.md): about an hour; bench-quick: under 5 minutes,
# prints the kafka-mirror / MirrorMaker 2 throughput ratio. Both bring the lab up and apply the article's network step.
$(VENV)/.bench-installed: $(VENV)/.installed requirements-bench.txt
	$(PY) -m pip install -q -r requirements-bench.txt
	touch $@

bench-lab: deps venv $(VENV)/.bench-installed
	$(VENV)/bin/kafka-lab up
	$(VENV)/bin/ansible-playbook bench/prepare-lab.yml

bench: bench-lab
	PYTHONPATH=bench $(PY) -m mirrorbench --rounds 3

bench-quick: bench-lab
	PYTHONPATH=bench $(PY) -m mirrorbench --quick

bench-fleet: deps venv
	$(PY) bench/fleet_noop.py --clusters 20 --forks 5 20

clean:
	rm -rf $(VENV) .pytest_cache
