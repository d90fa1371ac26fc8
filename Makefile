# Two commands work on a fresh machine (no ROS distro needed):
#   make run    the main job on the embedded default
#   make test   every test (lint, colcon build + colcon test, then the full pytest suite)
# Everything installs into .venv/ from pinned requirements files.

VENV      ?= .venv
PY        := $(VENV)/bin/python
PIP       := $(PY) -m pip install --quiet --disable-pip-version-check
COLCON    := $(VENV)/bin/colcon
COLCON_WS ?= $(CURDIR)/build/colcon
PYTEST_ARGS ?=
RUN_ARGS  ?= --duration 30

.PHONY: run test lint colcon pytest bench clean

$(VENV)/.runtime: requirements.txt setup.py
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) -r requirements.txt
	$(PIP) --no-deps -e .
	touch $@

$(VENV)/.full: $(VENV)/.runtime requirements-train.txt requirements-dev.txt
	$(PIP) -r requirements.txt -r requirements-train.txt -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime
	$(VENV)/bin/dodge-lstm sim $(RUN_ARGS)

test: $(VENV)/.full lint colcon pytest

lint: $(VENV)/.full
	$(VENV)/bin/ruff check .

# Proves the ament_python package builds and that `colcon test` drives pytest on it; the core
# subset keeps this quick, the full suite runs right after.
colcon: $(VENV)/.full
	rm -rf $(COLCON_WS)
	$(COLCON) --log-base $(COLCON_WS)/log build --base-paths . \
	  --build-base $(COLCON_WS)/build --install-base $(COLCON_WS)/install
	$(COLCON) --log-base $(COLCON_WS)/log test --base-paths . \
	  --build-base $(COLCON_WS)/build --install-base $(COLCON_WS)/install \
	  --pytest-args -m "not ros and not tensorflow" -q
	$(COLCON) test-result --test-result-base $(COLCON_WS)/build --verbose

pytest: $(VENV)/.full
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.full
	$(PY) bench/bench_core.py

clean:
	rm -rf build install log .pytest_cache
