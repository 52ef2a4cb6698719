# The commands of the README: `make demo`, `make test` and `make test-fast`. They set everything up
# first and are idempotent: a second run reuses the venv and the recipe skips finished stages.
SHELL := /bin/bash
PYTHON ?= python3
VENV := $(CURDIR)/venv
PY := $(VENV)/bin/python
TORCH_VERSION ?= 2.13.0
DEB_PACKAGES := espeak-ng sox flac libsndfile1

.PHONY: all setup system-deps venv demo test test-fast clean

all: setup

setup: system-deps venv

# Debian packages the recipe calls (espeak-ng for the demo corpora, sox for resampling pipes).
system-deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  sudo=""; [ "$$(id -u)" -ne 0 ] && sudo=sudo; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: setup.py pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first, pinned: a plain `torch` requirement would pull a multi-GB CUDA build
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q torch==$(TORCH_VERSION)
	# every extra: the recipe trains, exports and tests (a bare `pip install accent` only scores ONNX models)
	$(PY) -m pip install -q -e '.[train,export,test,ssl,ge2e]'
	touch $@

demo: setup
	cd egs/aesrc && ./run.sh

# on TEST_WORKERS pytest-xdist workers, a test file each at a time (its module fixtures built once;
# the Slurm tests, one file, on one worker): the recipe tests wait on their jobs' processes
TEST_WORKERS ?= 2
PYTEST := $(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

test: setup
	$(PYTEST) tests

# without the tests marked slow (recipe runs, paper configs, DDP, Slurm/SGE, export): a few minutes
test-fast: setup
	$(PYTEST) -m "not slow" tests

clean:
	rm -rf $(VENV) *.egg-info
