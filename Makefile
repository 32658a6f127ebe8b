# SyncPlanet: the Makefile mirrors CI (.ci/run).
VENV ?= .venv
PY := $(VENV)/bin/python
SPCTL := $(VENV)/bin/spctl
export SPCTL_HOME ?= $(CURDIR)/.data
HOST ?= 127.0.0.1
PORT ?= 8090

.PHONY: help install deps run test fuzz lint bench docs clean

help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

install: $(VENV)/.installed  ## create .venv and install the package with its dev tools

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

deps:  ## install the Debian packages (rsync, openssh, prometheus, chromium) if missing
	./scripts/system-deps.sh

run: deps install  ## run the embedded default (SQLite, local hub, demo volumes); HOST= PORT=
	$(SPCTL) run --demo --host $(HOST) --port $(PORT)

test: deps install  ## run the test suite (real sshd, rsync, PostgreSQL, Prometheus, Chromium)
	$(PY) -m pytest -n 2

fuzz: install  ## a longer Schemathesis run against the API (~5 min per store; see docs/security.md)
	SPCTL_FUZZ_EXAMPLES=$${SPCTL_FUZZ_EXAMPLES:-400} SPCTL_TEST_PG=$${SPCTL_TEST_PG:-postgresql://postgres@127.0.0.1:5432/test} \
		$(PY) -m pytest -m fuzz -n 2 -p no:cacheprovider tests/api/test_fuzz.py

lint: install  ## ruff and mypy --strict
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy reconciler api spctl tests
	$(VENV)/bin/lint-imports

bench: deps install  ## benchmarks against raw rsync / bare queries (prints ratios; not tests)
	$(PY) -m tests.bench

docs: install  ## build the documentation site into site/ (mkdocs build --strict)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

clean:  ## remove the demo data directory
	rm -rf .data
