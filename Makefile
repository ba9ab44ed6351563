# Sila: the two commands a new user needs are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PACKAGE_DIRS := libs/common simulators services/identity services/tickets services/billing \
                services/loyalty services/notify services/gateway deploy/local .

.PHONY: install run test test-fast check lint format bench docs compose-check clean

install: $(STAMP)

$(STAMP): requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Sila needs Python 3.11 or newer")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	@site=$$($(PY) -c "import sysconfig; print(sysconfig.get_paths()['purelib'])") && \
	  for d in $(PACKAGE_DIRS); do realpath $$d; done > "$$site/sila.pth"
	@touch $(STAMP)

run: install
	@$(PY) -m sila_local

# Temporary files under the checkout: pytest's shared /tmp/pytest-of-<user> is pruned by any
# other run on the machine (an embedded PostgreSQL's data directory vanished mid-test).
test: install
	@mkdir -p var
	@$(PY) -m pytest --basetemp=var/pytest

test-fast: install
	@$(PY) -m pytest tests/unit -q

check: install
	@$(PY) -m ruff check .
	@$(PY) -m ruff format --check .
	@$(PY) -m mypy libs simulators services deploy/local tests benchmarks

format: install
	@$(PY) -m ruff format .
	@$(PY) -m ruff check --fix .

bench: install
	@$(PY) -m benchmarks

docs: install
	@$(PY) -m sila_local.catalogue

compose-check:
	@docker-compose config -q && echo "docker-compose.yml is valid"

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
