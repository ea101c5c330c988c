# Two commands set everything up on a fresh machine:
#   make run    create/reuse .venv, install, run the default experiment
#   make test   create/reuse .venv, install, run the test suite
# GPU users: override the torch requirement, e.g.
#   make run LORARECYCLE_TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128"
PYTHON ?= python3
VENV ?= .venv
LORARECYCLE_TORCH ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.lorarecycle-installed

.PHONY: setup run smoke test test-slow bench clean-runs

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned (CPU build by default); then freeze it so nothing upgrades it
	$(BIN)/python -m pip install --quiet $(LORARECYCLE_TORCH)
	$(BIN)/python -c "import torch; print('torch==' + torch.__version__)" > $(VENV)/torch-constraint.txt
	$(BIN)/python -m pip install --quiet -c $(VENV)/torch-constraint.txt -e ".[dev,ray]"
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/lorarecycle run --preset default $(ARGS)

smoke: $(STAMP)
	$(BIN)/lorarecycle run --preset smoke $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" $(ARGS)

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow $(ARGS)

clean-runs:
	rm -rf runs

bench: $(STAMP)
	$(BIN)/python benchmarks/merge.py $(ARGS)
	$(BIN)/python benchmarks/decode.py
	$(BIN)/python benchmarks/train.py
