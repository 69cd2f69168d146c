# The two commands of the README contract:
#   make demo   set up .venv if missing, install, run the main job (CPU, a few minutes)
#   make test   set up .venv if missing, install, lint (ruff), run the default test suite
# TORCH_SPEC chooses the torch build, e.g. TORCH_SPEC="torch==2.13.0 --index-url <cuda index>".
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PY := $(VENV)/bin/python
STAMP := $(VENV)/.prismlm-installed

.PHONY: demo test install lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH_SPEC)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/prismlm demo

test: lint
	PRISMLM_TINYSHAKESPEARE=$${PRISMLM_TINYSHAKESPEARE:-$(abspath ../shared/data/tinyshakespeare.txt)} \
		$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
