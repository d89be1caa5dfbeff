# trident.gitops — every command a developer or CI needs. `make test` is what CI runs.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
export TRIDENT_CACHE ?= $(HOME)/.cache/trident-gitops
REQ_HASH := $(shell cat requirements.txt tests/requirements.txt | sha256sum | cut -c1-12)
VENV := $(TRIDENT_CACHE)/venv-$(REQ_HASH)
TOOLS_BIN := $(TRIDENT_CACHE)/bin
# One collections root per checkout, so several work trees can be tested side by side.
COLLECTIONS := $(TRIDENT_CACHE)/collections/$(shell echo $(CURDIR) | sha256sum | cut -c1-12)
export PATH := $(VENV)/bin:$(TOOLS_BIN):$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export TF_CLI_CONFIG_FILE := $(TRIDENT_CACHE)/terraformrc
PYTEST := $(VENV)/bin/pytest

.PHONY: help env venv tools collection prereqs sanity lint unit integration molecule test demo bench clean-cache fuzz-kube fuzz-sops

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

$(VENV)/.complete: requirements.txt tests/requirements.txt
	mkdir -p $(TRIDENT_CACHE)
	@# flock: several checkouts may bootstrap the same virtualenv at once.
	flock $(TRIDENT_CACHE)/.venv.lock bash -euc 'test -f $@ && exit 0; \
	  echo "[make] creating virtualenv $(VENV)"; rm -rf $(VENV); $(PYTHON) -m venv $(VENV); \
	  $(VENV)/bin/pip install --quiet --upgrade pip; $(VENV)/bin/pip install --quiet -r tests/requirements.txt; \
	  touch $@'

venv: $(VENV)/.complete ## create the pinned virtualenv (cached outside the repo)

# TOOLS_SELECTION=--core leaves out the deferred tools (Vault, Gitea), which testbed.tool() installs when a test
# first needs them (make test builds them in the background meanwhile).
TOOLS_SELECTION ?=

tools: ## build or reuse the pinned real tools (kube-apiserver, etcd, kubectl, sops, age, tofu, terraform, provider)
	$(PYTHON) tools/toolchain.py install $(TOOLS_SELECTION)

collection: ## make this checkout importable as trident.gitops
	mkdir -p $(COLLECTIONS)/ansible_collections/trident
	ln -sfn $(CURDIR) $(COLLECTIONS)/ansible_collections/trident/gitops

prereqs: ## check that every target installs what it runs first (make -n with an empty cache)
	$(PYTHON) tools/check_make_prereqs.py

sanity: venv ## ansible-test sanity on a copy laid out as ansible_collections/trident/gitops
	$(VENV)/bin/antsibull-changelog lint
	$(VENV)/bin/python tools/run_sanity.py

lint: venv collection ## ansible-lint, production profile
	@# ansible-lint installs the linted collection into $$ANSIBLE_HOME/collections and puts it first on the
	@# path: one home per checkout, or work trees linted side by side resolve each other's copies.
	ANSIBLE_HOME=$(COLLECTIONS)-lint-home $(VENV)/bin/ansible-lint --profile production

unit: venv tools collection ## unit tests (TESTS=path narrows to files or folders, PYTEST_ARGS="-k name" too)
	$(PYTEST) $(or $(TESTS),tests/unit) $(PYTEST_ARGS)

# Integration tests mostly wait on real services and subprocesses: two workers keep both cores busy.
# loadgroup: tests marked xdist_group("workload_cluster") share one worker, so one fuller cluster starts.
INTEGRATION_WORKERS ?= 2

integration: venv tools collection ## integration tests against the real services (TESTS, PYTEST_ARGS too)
	$(PYTEST) -n $(INTEGRATION_WORKERS) --dist loadgroup --durations=25 $(or $(TESTS),tests/integration) $(PYTEST_ARGS)

molecule: venv tools collection ## Molecule scenarios of the roles
	$(VENV)/bin/python tools/run_molecule.py

# A cold `make test` spends a third of its time building tools, and sanity and lint need none: the toolchain
# starts in the background (its own process group, killed if a step fails) beside prereqs, sanity and lint;
# unit and integration wait for the core tools only; the integration tests that start Vault or Gitea wait for
# those (testbed.tool) and run last (tests/integration/conftest.py). Molecule runs once every tool is in.
TOOLCHAIN_LOG := $(TRIDENT_CACHE)/toolchain-background.log
# $(SUBMAKE), not $(MAKE): `make -n` runs every recipe line that names $(MAKE), and this one starts a build.
SUBMAKE = $(MAKE) --no-print-directory

test: ## everything CI runs
	mkdir -p $(TRIDENT_CACHE)
	setsid $(PYTHON) tools/toolchain.py install > $(TOOLCHAIN_LOG) 2>&1 & builder=$$!; \
	  trap 'kill -TERM -- -$$builder 2>/dev/null || true' EXIT; \
	  echo "[make] the tools build in the background (log: $(TOOLCHAIN_LOG))"; \
	  $(SUBMAKE) prereqs sanity lint; \
	  $(SUBMAKE) unit integration TOOLS_SELECTION=--core; \
	  if ! wait $$builder; then cat $(TOOLCHAIN_LOG); echo "[make] the background tool build failed"; exit 1; fi; \
	  grep -E 'built|ready' $(TOOLCHAIN_LOG) || true; \
	  $(SUBMAKE) molecule

demo: venv tools collection ## reconcile examples/gitops-repo against local services (DEMO_ARGS=--keep: keep it to explore)
	PYTHONPATH=tools $(VENV)/bin/python -m testbed.demo $(DEMO_ARGS)

# The differential tests against their oracles with many more generated examples than CI runs, from a
# seed that is printed (FUZZ_SEED=<seed> replays a failure); FUZZ_EXAMPLES overrides each target's count.
FUZZ_SEED ?= $(shell date +%s)

fuzz-kube: FUZZ_EXAMPLES ?= 2000
fuzz-kube: venv tools collection ## kube_diff vs server-side apply dry-runs (FUZZ_EXAMPLES, FUZZ_SEED)
	@echo "[make] fuzz-kube: $(FUZZ_EXAMPLES) examples, seed $(FUZZ_SEED)"
	TRIDENT_FUZZ_KUBE_SEED=$(FUZZ_SEED) TRIDENT_FUZZ_KUBE_EXAMPLES=$(FUZZ_EXAMPLES) \
	  $(PYTEST) -p no:cacheprovider tests/integration/test_kube_diff_differential.py \
	  tests/integration/test_kube_diff_schema_differential.py $(PYTEST_ARGS)

fuzz-sops: FUZZ_EXAMPLES ?= 500
fuzz-sops: venv tools collection ## sops_decrypt vs the sops binaries, per test (FUZZ_EXAMPLES, FUZZ_SEED)
	@echo "[make] fuzz-sops: $(FUZZ_EXAMPLES) examples per test, seed $(FUZZ_SEED)"
	TRIDENT_FUZZ_SOPS_EXAMPLES=$(FUZZ_EXAMPLES) TRIDENT_FUZZ_SOPS_SEED=$(FUZZ_SEED) \
	  $(PYTEST) -n $(INTEGRATION_WORKERS) tests/integration/test_sops_property.py $(PYTEST_ARGS)

bench: venv tools collection ## side-by-side benchmarks against the anchors
	$(VENV)/bin/python -m bench

env: ## print the environment make uses, for `eval "$$(make -s env)"` in a shell
	@echo 'export PATH="$(PATH)" ANSIBLE_COLLECTIONS_PATH="$(COLLECTIONS)" TF_CLI_CONFIG_FILE="$(TF_CLI_CONFIG_FILE)" TRIDENT_CACHE="$(TRIDENT_CACHE)"'

clean-cache: ## remove the virtualenvs and tools cache
	rm -rf $(TRIDENT_CACHE)
