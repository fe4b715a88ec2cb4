# The two commands of DESIGN §6, and the deployment package. Everything is installed into the
# repository: .venv, .venv-tools (checkov, apart from the app's pins), .wheelhouse, node_modules.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
TOOLS := .venv-tools

.PHONY: test lint install tools wheelhouse package demo bench soak clean chromium

install: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-cli.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# checkov has many dependencies of its own: its own venv, pinned in requirements-tools.txt.
tools: $(TOOLS)/.installed

$(TOOLS)/.installed: requirements-tools.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --upgrade pip
	$(TOOLS)/bin/python -m pip install --quiet -r requirements-tools.txt
	touch $@

# Wheels of requirements.txt, so the package test's fresh venv installs without the index.
wheelhouse: .wheelhouse/.built

.wheelhouse/.built: requirements.txt $(VENV)/.installed
	rm -rf .wheelhouse
	$(BIN)/python -m pip wheel --quiet -r requirements.txt -w .wheelhouse
	touch $@

# What the Function App receives: dist/vmdr/ and dist/vmdr.zip, by .funcignore.
package: install
	$(BIN)/python -m localplatform.package --out dist/vmdr

# Debian's chromium for the browser test of the HTML run report (tests/browser.py); only when
# missing. Without it that test is skipped, and says so.
chromium:
	command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium)

lint: install
	$(BIN)/ruff check .

test: install tools wheelhouse chromium lint
	$(BIN)/python -m pytest -n 4 --maxschedchunk 1 --durations=20

# Many seeded schedules of the model-based concurrency test (tests/e2e/model.py): prints how many
# schedules ran and how many invariant checks held. SCHEDULES=N (default 40).
SCHEDULES ?= 40
soak: install
	VMDR_SOAK_SCHEDULES=$(SCHEDULES) $(BIN)/python -m pytest -s -q tests/e2e/test_model.py -k soak

# The main job end to end on the local platform: protect, alert, approve, fail over, verify.
demo: install
	$(BIN)/python -m localplatform.demo

# Benchmarks against their bounds (bench/README.md); tests assert behaviour and counts, never speed.
bench: install
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.draft

clean:
	rm -rf $(VENV) $(TOOLS) .wheelhouse dist node_modules .pytest_cache .ruff_cache
