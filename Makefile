# Two commands for a newcomer: `make demo` and `make test` (see README.md).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
export KAFKA_LAB_HOME ?= /var/lib/kafka-lab
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: demo deps venv wheel dist changelog lab-up lab-down lab-status lint sanity molecule test test-unit test-contract test-integration test-ansible bench bench-lab bench-quick bench-secure bench-fleet failover-demo test-releases test-secure test-images test-nodes clean

deps:
	bash scripts/install-system-deps.sh

$(VENV)/.installed: requirements-dev.txt requirements.txt lab/pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	mkdir -p .collections/ansible_collections/ambari_kafka
	ln -sfn ../../.. .collections/ansible_collections/ambari_kafka/mirroring
	touch $@

venv: $(VENV)/.installed

# The worker's wheel inside the role, so the collection deploys it with nothing else. Reproducible (fixed zip
# timestamps): the same sources give the same wheel, and a rebuild restarts no worker.
WORKER_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' worker/pyproject.toml)
WHEEL := roles/mirror_worker/files/kafka_mirror-$(WORKER_VERSION)-py3-none-any.whl
$(WHEEL): worker/pyproject.toml $(shell find worker/src -name '*.py') | $(VENV)/.installed
	rm -rf roles/mirror_worker/files/kafka_mirror-*.whl worker/build  # setuptools would pack stale copies from build/
	SOURCE_DATE_EPOCH=315532800 $(PY) -m pip wheel --quiet --no-deps --wheel-dir roles/mirror_worker/files ./worker

wheel: $(WHEEL)

# The release artifact: the collection with the worker's wheel, in $(DIST)/ (ansible-galaxy collection install it).
# Built from the files git tracks (as they are in the working tree) plus the wheel, so that nothing lying in the
# checkout (a vault password file, caches, a fleet's inventory) can ship; build_ignore then drops the rest.
DIST ?= dist
EXPORT := build/collection
dist: $(WHEEL)
	rm -rf $(EXPORT) && mkdir -p $(EXPORT)
	git ls-files -z | tar --null --ignore-failed-read -T - -cf - | tar -xf - -C $(EXPORT)
	cp $(WHEEL) $(EXPORT)/roles/mirror_worker/files/
	$(VENV)/bin/ansible-galaxy collection build --force --output-path $(abspath $(DIST)) $(EXPORT)

# CHANGELOG.md from changelogs/changelog.yaml and changelogs/fragments/ (antsibull-changelog).
changelog: venv
	$(VENV)/bin/antsibull-changelog lint
	ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/.collections $(VENV)/bin/antsibull-changelog generate

lab-up: deps venv
	$(VENV)/bin/kafka-lab up

demo: deps venv wheel
	$(VENV)/bin/kafka-lab up --node
	$(VENV)/bin/ansible-playbook setup-mirroring.yml
	$(PY) scripts/demo.py

lab-down: venv
	$(VENV)/bin/kafka-lab down

lab-status: venv
	$(VENV)/bin/kafka-lab status

# The collection's unit tests (tests/unit, ansible-test's layout) and the worker's, lab's and bench's, beside them.
UNIT_TESTS := tests/unit worker/tests lab/tests bench/tests
test-unit: venv
	$(PY) -m pytest -q $(UNIT_TESTS)

test-contract: venv
	$(PY) -m pytest -q tests/contract

test-integration: deps venv wheel
	$(PY) -m pytest -q -m "integration and not secure and not images and not nodes" tests/integration

# pyflakes over the Python that ansible-test sanity does not see (tests, worker, lab, bench): names that are not
# defined fail it (a helper called without its import failed a lab test only at run time), and so does anything it
# writes to stderr (a file it cannot parse, pyflakes missing or crashing); its other findings, such as pytest
# fixtures imported for their name, do not. Its exit code cannot tell those apart: it is 1 for any finding.
UNDEFINED = undefined name|referenced before assignment
LINT = $(VENV)/bin/ansible-lint \
	&& bash scripts/ansible-test.sh sanity --local --python $$($(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])') \
	&& mkdir -p build && { $(PY) -m pyflakes tests worker lab bench 2> build/pyflakes.err | grep -E '$(UNDEFINED)'; \
		[ $$? = 1 ] && [ ! -s build/pyflakes.err ] || { cat build/pyflakes.err >&2; false; }; }
lint: venv
	$(LINT)

sanity: lint

molecule: deps venv wheel
	$(VENV)/bin/molecule test

# Every ansible-core the collection claims, from meta/runtime.yml's requires_ansible to the development pin
# (requirements-dev.txt), each in .venv-ansible/<version> with what the tests need: ansible-test units and sanity, and
# the contract tests that run ansible-core (scripts/test-ansible.sh). ANSIBLE_CHECKS picks among units, sanity, contract.
ANSIBLE_OLDEST := $(shell sed -n 's/^requires_ansible: *">=\([0-9]*\.[0-9]*\).*/\1/p' meta/runtime.yml)
ANSIBLE_NEWEST := $(shell sed -n 's/^ansible-core>=\([0-9]*\.[0-9]*\),.*/\1/p' requirements-dev.txt)
ANSIBLE_VERSIONS ?= $(shell for minor in $$(seq $(lastword $(subst ., ,$(ANSIBLE_OLDEST))) \
	$(lastword $(subst ., ,$(ANSIBLE_NEWEST)))); do printf '2.%s ' $$minor; done)
ANSIBLE_CHECKS ?= units sanity contract
.venv-ansible/%/.installed: requirements.txt tests/unit/requirements.txt lab/pyproject.toml worker/pyproject.toml
	rm -rf .venv-ansible/$*
	python3 -m venv .venv-ansible/$*
	.venv-ansible/$*/bin/python -m pip install -q --upgrade pip
	.venv-ansible/$*/bin/python -m pip install -q 'ansible-core==$*.*' -r tests/unit/requirements.txt \
		-r requirements.txt -e ./lab -e ./worker
	touch $@

test-ansible: $(foreach version,$(ANSIBLE_VERSIONS),.venv-ansible/$(version)/.installed)
	set -e; for version in $(ANSIBLE_VERSIONS); do bash scripts/test-ansible.sh $$version $(ANSIBLE_CHECKS); done

# The whole suite on the development ansible-core (with the short fault suite), and the oldest claimed one's units
# and contract tests (`make test-ansible` runs every claimed version with sanity). Molecule's scenario runs with
# `make molecule`: tests/integration/test_playbook.py converges the same playbook, proves the second run changes and
# restarts nothing, and checks what its verify checks (about 4 minutes saved for the short fault suite). One lab
# serves it all: brought up once, stopped at the end whatever the outcome (a trap; no $(MAKE) on that line, so
# `make -n test` only prints it). What needs no lab runs beside it: lint and sanity while the lab comes up (before
# any lab test writes in the tree: test_artifact does), then the unit and contract tests and ansible-core
# $(ANSIBLE_OLDEST)'s beside the lab's tests, which mostly wait on brokers, Ambari requests and timers. That saves
# about 7 of the 38 minutes the two took one after the other on two cores. Their output is printed once all are done;
# any of them failing fails the target. ansible-core $(ANSIBLE_OLDEST)'s environment is made beside the lab's start,
# before lint (with `make`, not $(MAKE), so that `make -n test` only prints). What runs beside the lab runs at a low
# CPU priority (NICE): the lab's tests restart brokers, and a broker's start on two busy cores is CPU-bound (JIT,
# log loading); the side jobs take the idle time the lab's waits leave. The secured lab has its own target (make
# test-secure: about 5 minutes more).
SIDE_LOG := build/test-without-lab.log
NICE = renice -n 10 -p $$BASHPID > /dev/null
test: deps venv wheel
	mkdir -p $(dir $(SIDE_LOG)) && : > $(SIDE_LOG)
	lint= side=; trap 'exit 130' INT TERM; \
	trap 'for job in $$lint $$side; do pkill -P $$job; kill $$job; done 2>/dev/null; $(VENV)/bin/kafka-lab down' EXIT; \
	{ $(NICE); make --no-print-directory .venv-ansible/$(ANSIBLE_OLDEST)/.installed && $(LINT); } >> $(SIDE_LOG) 2>&1 & \
	lint=$$!; \
	$(VENV)/bin/kafka-lab up --node; up=$$?; \
	wait $$lint; linted=$$?; lint=; \
	{ $(NICE); $(PY) -m pytest -q -p no:cacheprovider -m "not integration and not secure and not images and not nodes" \
			tests worker/tests lab/tests bench/tests \
		&& bash scripts/test-ansible.sh $(ANSIBLE_OLDEST) units contract; } >> $(SIDE_LOG) 2>&1 & side=$$!; \
	[ $$up = 0 ] && $(PY) -m pytest -q --durations=25 -m "integration and not secure and not images and not nodes" \
		tests/integration; labbed=$$?; \
	wait $$side; sided=$$?; side=; \
	echo "=== Without the lab: lint and sanity, unit and contract tests, ansible-core $(ANSIBLE_OLDEST) ($(SIDE_LOG))"; \
	cat $(SIDE_LOG); \
	echo "=== ansible-core $(ANSIBLE_OLDEST)'s environment, lint and sanity: exit $$linted; with the lab: exit $$labbed; unit, contract, $(ANSIBLE_OLDEST): exit $$sided"; \
	[ $$linted = 0 ] && [ $$labbed = 0 ] && [ $$sided = 0 ]

# The mirror_worker role on a second node image (Debian bullseye, Python 3.9, systemd 247) on the default lab, then
# the default image again: about 2.5 minutes (the first run also debootstraps bullseye). Outside make test, which has
# the rolling restart of the short fault suite to fit in 40 minutes.
test-images: deps venv wheel
	trap '$(VENV)/bin/kafka-lab down' EXIT; \
	$(VENV)/bin/kafka-lab up --node && $(PY) -m pytest -q -m images tests/integration/test_node_images.py

# Two worker nodes (kafka-lab up --nodes 2): a pair scaled out to both and one powered off mid-stream, then a pair
# each way on one topic (active-active) from one setup-mirroring.yml run. About 6 minutes (the first run also copies
# the node's rootfs). The tests leave the lab with one node, the second's worker disabled.
test-nodes: deps venv wheel
	trap '$(VENV)/bin/kafka-lab down' EXIT; \
	$(VENV)/bin/kafka-lab up --nodes 2 && $(PY) -m pytest -q -m nodes tests/integration/test_nodes.py

# The secure lab (kafka-lab up --secure: Ambari over HTTPS, SASL_SSL with SCRAM) in a home of its own,
# $(KAFKA_LAB_HOME)-secure; the default lab is stopped first (one lab runs at a time) and both are left stopped.
# tests/integration/test_secure.py, then molecule's secure scenario (SECURE_MOLECULE= : the tests only).
SECURE_MOLECULE ?= yes
test-secure: deps venv wheel
	$(VENV)/bin/kafka-lab down
	KAFKA_LAB_HOME=$(KAFKA_LAB_HOME)-secure $(PY) -m pytest -q -m secure tests/integration/test_secure.py
	$(if $(SECURE_MOLECULE),KAFKA_LAB_HOME=$(KAFKA_LAB_HOME)-secure $(VENV)/bin/molecule test -s secure)

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

# The throughput cost of SASL_SSL (TLS and SCRAM-SHA-512) for kafka-mirror and MirrorMaker 2 in the same run: the
# secure lab in its own home, the network step with both listeners advertised at IPs, then bench-quick with each tool
# on PLAINTEXT and on SASL_SSL, alternating (bench/results/secure-quick). The default lab is stopped first.
bench-secure: deps venv $(VENV)/.bench-installed
	$(VENV)/bin/kafka-lab down
	trap 'KAFKA_LAB_HOME=$(KAFKA_LAB_HOME)-secure $(VENV)/bin/kafka-lab down' EXIT; \
	export KAFKA_LAB_HOME=$(KAFKA_LAB_HOME)-secure; \
	$(VENV)/bin/kafka-lab up --secure \
		&& $(VENV)/bin/ansible-playbook -i inventory/lab-secure bench/prepare-lab.yml \
		&& PYTHONPATH=bench $(PY) -m mirrorbench --quick --secure --out bench/results/secure-quick

# Every fault scenario for kafka-mirror, MirrorMaker 2 and MirrorMaker 1 on the lab (docs/RELIABILITY.md); the short
# version (SHORT in bench/mirrorfaults/scenarios.py, kafka-mirror only) runs in `make test` as tests/integration/test_faults.py.
# The node-reboot scenario needs the node with kafka-mirror deployed: the whole playbook, as `make demo` runs it.
faults: deps venv wheel
	$(VENV)/bin/kafka-lab up --node
	$(VENV)/bin/ansible-playbook setup-mirroring.yml
	PYTHONPATH=bench $(PY) -m mirrorfaults

# A consumer group failed over mid-stream with failover.yml (kafka-mirror's offset map) and with MirrorMaker 2's
# checkpoints in the same run, sequence-checked, plain and under kill -9 (docs/FAILOVER.md, about 20 minutes). It
# deploys kafka-mirror to the node with this run's topics and groups: `make demo` sets the lab's pair back.
failover-demo: deps venv wheel
	$(VENV)/bin/kafka-lab up --node
	PYTHONPATH=bench $(PY) -m failoverdemo

# The playbook, molecule and every Kafka-facing integration test on the Kafka releases HDInsight ships (4.0: 2.1,
# 5.0: 2.4, 5.1: 3.2, all with ZooKeeper): by default the oldest, 2.1.1. Each release gets a lab of its own, in
# $(KAFKA_LAB_HOME)-<release>; the default lab is stopped first (one lab runs at a time) and left stopped.
KAFKA_RELEASES ?= 2.1.1
RELEASE_TESTS := tests/integration/test_lab_brokers.py tests/integration/test_kafka_topic.py \
	tests/integration/test_playbook.py tests/integration/test_mirror.py tests/integration/test_ambari_modules.py
test-releases: deps venv wheel
	$(VENV)/bin/kafka-lab down
	set -e; for release in $(KAFKA_RELEASES); do \
	  export KAFKA_LAB_HOME=$(KAFKA_LAB_HOME)-$$release; \
	  $(VENV)/bin/kafka-lab up --kafka-version $$release --node; \
	  $(PY) -m pytest -q -m integration $(RELEASE_TESTS) || { $(VENV)/bin/kafka-lab down; exit 1; }; \
	  $(VENV)/bin/molecule test || exit 1; \
	  $(VENV)/bin/kafka-lab destroy; \
	done

bench-fleet: deps venv
	$(PY) bench/fleet_noop.py --clusters 20 --forks 5 20

clean:
	rm -rf $(VENV) .pytest_cache $(DIST) roles/mirror_worker/files/kafka_mirror-*.whl
