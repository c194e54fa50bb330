# flaskbench: provision hosts with Ansible and benchmark a Flask app served
# in many ways. The two commands: `make demo` and `make test` (README.md).
# Every target is idempotent and quick when its work is already done.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

# Debian 12's Python (python3-venv comes with `make deps`).
PYTHON ?= /usr/bin/python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
REQUIREMENTS := requirements.txt app/requirements.txt app/requirements-test.txt
# The project's own packages (flaskbench, benchhost, benchreport; benchapp), installed editable.
PROJECTS := pyproject.toml app/pyproject.toml
VENV_STAMP := $(VENV)/.installed
IMAGE ?= localhost/flaskbench-base:bookworm

# Another inventory for site/bench/demo: make site INVENTORY=inventories/mine
INVENTORY ?=
INVENTORY_ARG := $(if $(INVENTORY),-i $(INVENTORY))
BENCH_ARGS ?= -e mode=all -e profile=both
# make demo's second bench: where each gevent mode stops scaling (wrk, n = 10 x c).
SWEEP_ARGS ?= -e mode=gevent -e client=wrk -e c=50,200,1000
# make demo's third: the knee of two gevent modes and two peers at constant rates.
KNEE_ARGS ?= -e mode=uwsgi-gevent,gevent-pywsgi,granian,waitress -e client=rate -e rate=200,400,800 -e duration=5
# make demo-app: a user's app (APP, a directory with its flaskbench-app.yml), deployed and benched:
# the knee of its routes' mix in the modes Flask users pick most, gevent's monitor on.
APP ?= examples/shop
APP_BENCH_ARGS ?= -e mode=uwsgi,gunicorn,uwsgi-gevent,gunicorn-gevent,granian,waitress -e client=rate -e rate=auto -e route=mix -e duration=3 -e monitor=true
MOLECULE_SCENARIOS ?= default cluster

# The venv's tools first (molecule calls ansible-playbook), and each long
# step says how long it took.
export PATH := $(BIN):$(PATH)
export TIMEFORMAT := ==> %0R s
PLAYBOOK := $(BIN)/ansible-playbook

.PHONY: help deps venv image hosts site demo demo-app demo-check bench profile lint pytest molecule test clean distclean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

deps: ## Host packages (podman, runc, debootstrap, nginx, postgresql...) and podman's runtime set-up
	@scripts/install-deps.sh

venv: deps $(VENV_STAMP) ## .venv with the pinned controller, app and test requirements

$(VENV_STAMP): $(REQUIREMENTS) $(PROJECTS) | deps
	@echo "==> .venv from $(REQUIREMENTS), and the project's packages (editable)"
	@[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV)
	time $(VENV)/bin/pip install --quiet --disable-pip-version-check $(addprefix -r ,$(REQUIREMENTS))
	time $(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -e . -e ./app
	@touch $@

image: deps ## Base image of the test hosts, built once with debootstrap
	@FLASKBENCH_IMAGE=$(IMAGE) scripts/build-image.sh

hosts: venv image ## Create (or restart, or recreate) the local test hosts
	time $(PLAYBOOK) playbooks/local_hosts.yml

site: venv ## Deploy everything: ansible-playbook site.yml
	time $(PLAYBOOK) $(INVENTORY_ARG) site.yml

# The knee first: its report (about 2 min) is the first result, before the longer benches.
demo: deps venv image hosts ## Everything: hosts, site.yml, a knee, the bench over all modes, a sweep of the gevent modes
	time $(PLAYBOOK) $(INVENTORY_ARG) site.yml
	@$(MAKE) --no-print-directory bench BENCH_ARGS="$(KNEE_ARGS)"
	@$(MAKE) --no-print-directory bench
	@$(MAKE) --no-print-directory bench BENCH_ARGS="$(SWEEP_ARGS)"

demo-app: deps venv image hosts ## Your own app, shown with APP (examples/shop): deploy it, then its knee in six modes
	time $(PLAYBOOK) $(INVENTORY_ARG) site.yml -e app=$(APP)
	@$(MAKE) --no-print-directory bench BENCH_ARGS="-e app=$(APP) $(APP_BENCH_ARGS)"

demo-check: venv ## Show the app answering in every mode (playbooks/check_modes.yml)
	time $(PLAYBOOK) $(INVENTORY_ARG) playbooks/check_modes.yml

bench: venv ## Run bench.yml (BENCH_ARGS, default: every mode, both profiles)
	time $(PLAYBOOK) $(INVENTORY_ARG) bench.yml $(BENCH_ARGS)
	@if [ -e results/latest ]; then \
	  echo "==> results: $$(readlink -f results/latest)/ (report.md, summary.json, chart.png); report: $$(readlink -f results/latest)/report.html"; \
	fi

# Where a mode's CPU goes, on this machine: one worker under wrk, sampled by py-spy.
PROFILE_MODE ?= gevent-pywsgi
profile: venv ## Profile one worker of PROFILE_MODE under load (flaskbench/profile.py)
	$(BIN)/python -m flaskbench.profile --mode $(PROFILE_MODE)

lint: venv ## ansible-lint (production profile, offline), the packages' import contracts (.importlinter), syntax checks
	time $(BIN)/ansible-lint
	$(BIN)/lint-imports --no-cache
	$(PLAYBOOK) --syntax-check site.yml bench.yml playbooks/drills.yml

# pytest's exit code 5 (no test collected) fails the target like any other.
# Each suite runs on pytest-xdist's workers: most tests wait on servers and
# subprocesses, not on the CPU (app/ 236 s serially, 124 s on 2 workers;
# tests/ 220 s, 150 s on 4). PYTEST_JOBS_APP=0 PYTEST_JOBS=0: each in one process.
PYTEST_JOBS_APP ?= 2
PYTEST_JOBS ?= 4
pytest: venv ## The app's tests (app/), the repository's (tests/) and the example app's (examples/shop/)
	cd app && time $(BIN)/python -m pytest -n $(PYTEST_JOBS_APP)
	@echo "==> pytest tests/"
	time $(BIN)/python -m pytest -n $(PYTEST_JOBS) tests
	@echo "==> pytest examples/shop/ (from its folder, as its authors run it)"
	cd examples/shop && time $(BIN)/python -m pytest

# The scenarios run side by side (their containers and networks differ), each
# into its own log, printed when it ends: whole when it failed, its last lines
# when it passed. The wheelhouse they share is built once first.
# MOLECULE_JOBS=1 runs them one after the other.
MOLECULE_JOBS ?= 2
MOLECULE_LOGS := .cache/molecule

molecule: venv image ## molecule test of each scenario (MOLECULE_SCENARIOS), side by side
	@$(PLAYBOOK) playbooks/wheelhouse.yml > /dev/null
	@mkdir -p $(MOLECULE_LOGS)
	@start=$$(date +%s); pids=""; rc=0; \
	run() { s=$$1; t0=$$(date +%s); \
	  if $(BIN)/molecule test -s $$s > $(MOLECULE_LOGS)/$$s.log 2>&1; then r=0; else r=1; fi; \
	  echo "$$r $$(( $$(date +%s) - t0 ))" > $(MOLECULE_LOGS)/$$s.rc; }; \
	for s in $(MOLECULE_SCENARIOS); do \
	  echo "==> molecule test -s $$s (log: $(MOLECULE_LOGS)/$$s.log)"; \
	  run $$s & pids="$$pids $$!"; \
	  if [ "$(MOLECULE_JOBS)" = 1 ]; then wait $$!; fi; \
	done; \
	wait $$pids; \
	for s in $(MOLECULE_SCENARIOS); do \
	  read r t < $(MOLECULE_LOGS)/$$s.rc; \
	  if [ "$$r" = 0 ]; then \
	    echo "==> molecule -s $$s passed in $$t s; its last lines:"; tail -n 25 $(MOLECULE_LOGS)/$$s.log; \
	  else \
	    echo "==> molecule -s $$s FAILED after $$t s; its log:"; cat $(MOLECULE_LOGS)/$$s.log; rc=1; \
	  fi; \
	done; \
	echo "==> molecule: $$(( $$(date +%s) - start )) s"; exit $$rc

test: deps venv image lint pytest molecule ## Everything CI runs; never touches the demo's hosts

clean: ## Remove what make demo made: the local hosts, their network, the SSH key
	@if [ -x $(PLAYBOOK) ]; then \
	  $(PLAYBOOK) playbooks/local_hosts.yml -e local_hosts_state=absent; \
	elif command -v podman >/dev/null; then \
	  podman ps -aq --filter label=org.flaskbench.local-host | xargs -r podman rm -f; \
	  podman network exists flaskbench && podman network rm flaskbench || true; \
	  rm -rf local/ssh; \
	fi

distclean: clean ## clean, then remove the base image and .venv too
	@if command -v podman >/dev/null && podman image exists $(IMAGE); then \
	  podman rmi $(IMAGE) || echo "$(IMAGE) is still in use (molecule?): kept"; \
	fi
	rm -rf $(VENV)
