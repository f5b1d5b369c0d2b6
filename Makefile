# Developer loop for sailpoint_isc.passwords. Needs only Python 3.11+ and make; everything else
# is installed into .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8089
# ansible-playbook finds this collection through a symlinked ansible_collections tree.
COLLECTIONS := build/collections
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/$(COLLECTIONS)

.PHONY: help venv simulator demo test quick bench clean

help:
	@echo "make demo       run the rotation demo against the local ISC simulator"
	@echo "make test       every check the project has (simulator, units, playbooks, sanity, lint, build)"
	@echo "make quick      the inner loop: lint of what changed, unit and simulator tests, an end-to-end smoke"
	@echo "make simulator  run the ISC simulator in the foreground (PORT=$(PORT), SEED=<seed YAML file>)"
	@echo "make bench      bulk-rotation benchmark against the simulator at the real rate limit"

# The virtualenv and an up-to-date pip, once; each target below installs into it with one pip run.
$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip

$(VENV)/.dev-installed: requirements-dev.txt | $(PY)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@touch $@

# Both files in one pip run, not the developer's set first and then both again: on a clean clone (CI) the second run
# re-resolved every package already installed (issue 21). It makes the developer's set too.
# The edge cores' virtualenvs (tests/e2e/cores.py, standard library only; make test's stream B prints them) are built
# beside it: pip leaves a core idle, and later both cores are busy.
$(VENV)/.test-installed: requirements-dev.txt .ci/requirements.txt | $(PY)
	@$(PYTHON) tests/e2e/cores.py >/dev/null 2>&1 & \
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt -r .ci/requirements.txt; \
	status=$$?; wait; exit $$status
	@touch $(VENV)/.dev-installed $@

$(COLLECTIONS)/ansible_collections/sailpoint_isc/passwords:
	@mkdir -p $(COLLECTIONS)/ansible_collections/sailpoint_isc
	@ln -sfn $(CURDIR) $@

venv: $(VENV)/.dev-installed $(COLLECTIONS)/ansible_collections/sailpoint_isc/passwords

simulator: venv
	$(PY) -m tools.isc_simulator --port $(PORT) $(if $(SEED),--seed $(SEED))

demo: venv
	@PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash tools/demo.sh

test: $(VENV)/.test-installed $(COLLECTIONS)/ansible_collections/sailpoint_isc/passwords
	@PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash tools/test_all.sh

quick: $(VENV)/.test-installed $(COLLECTIONS)/ansible_collections/sailpoint_isc/passwords
	@PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash tools/quick.sh

bench: venv
	@PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) benchmarks/bench.py

clean:
	rm -rf build dist tests/output .pytest_cache
