# The two commands of DESIGN §6. Everything is installed into the repository: .venv and node_modules.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: test lint install demo bench clean

install: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

lint: install
	$(BIN)/ruff check .

test: install lint
	$(BIN)/python -m pytest

# The main job end to end on the local platform: protect, alert, approve, fail over, verify.
demo: install
	$(BIN)/python -m localplatform.demo

# Wall times of armsim and devhost (the tests assert behaviour and counts, not speed).
bench: install
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache
