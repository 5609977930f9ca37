# scoliosis-xray: every command a user or CI needs. `make demo` and `make test` work on a fresh clone.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt
DEMO ?= demo
# The checkout's own package always wins over whatever the venv's editable install points at.
export PYTHONPATH := $(CURDIR)$(if $(PYTHONPATH),:$(PYTHONPATH))

.PHONY: help install install-dev install-lab lock lock-check lab demo demo-cobb bench-cobb-real test test-slow docs docs-check screenshots kernel-metadata readme export notebooks deploy undeploy clean

help:
	@echo "make demo        set up .venv and run the main job on the default synthetic data"
	@echo "make demo-cobb   set up .venv and measure Cobb angles end to end on the same data (landmark model, evaluation, overlays)"
	@echo "make bench-cobb-real DATA=DIR  the real-data benchmark: train by the CLI on an AASCE-layout folder, score a held-out patient-grouped fold (benchmarks/results/cobb_real.json)"
	@echo "make test        set up .venv with dev extras and run every check CI runs"
	@echo "make lock        re-resolve constraints.txt (every package's newest release; commit it only once make test passes)"
	@echo "make test-slow   also run the notebook cells flagged #| slow"
	@echo "make lab         set up .venv, register the scoliosis-xray kernel and start JupyterLab on nbs/ (prints the URL)"
	@echo "make docs        the docs site in _docs/: Quarto (nbdev-docs) when installed, else the offline build"
	@echo "make docs-check  build the offline docs site (_docs_check/) and check every page in Chromium"
	@echo "make screenshots regenerate the JupyterLab and TensorBoard screenshots in nbs/images/ (docs page 50)"
	@echo "make kernel-metadata  name the scoliosis-xray kernel in every notebook (after adding a notebook)"
	@echo "make export      nbdev-export + nbdev-clean + README.md from nbs/index.ipynb"
	@echo "make notebooks   re-execute the notebooks to refresh their saved outputs and figures"
	@echo "make deploy      TensorBoard on AWS Fargate (needs AWS credentials, Docker, AWS CLI, Terraform; see nbs/30_deploy.ipynb)"
	@echo "make undeploy    destroy what make deploy created"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e .
	touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e ".[dev]"
	touch $(VENV)/.installed $@

$(VENV)/.installed-lab: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e ".[lab]"
	touch $(VENV)/.installed $@

# constraints.txt is the lock: every package a `.[dev]` install can pull, at one exact version, written by uv from
# pyproject.toml's extras and constraints.in (the torch pair). Every install above goes through it, so a fresh clone
# gets the versions the last green `make test` ran. `make lock` refreshes it to the newest releases; commit the result
# only after `make test` passed with it (`make lock && make test`), as a commit of its own.
UV_COMPILE = $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --no-header
lock: $(VENV)/.installed-dev
	$(UV_COMPILE) --upgrade pyproject.toml --extra dev -c constraints.in -o constraints.txt.new
	{ echo '# The lock: every package of a `.[dev]` install at one version (uv pip compile; refresh with `make lock`).'; \
	  echo '# Generated from pyproject.toml and constraints.in: edit those, never this file.'; cat constraints.txt.new; } > constraints.txt
	rm -f constraints.txt.new
	$(BIN)/uv pip compile --quiet --no-header --no-annotate --python-version 3.11 --python-platform linux \
	  deploy/tensorboard/requirements.in -c constraints.txt -o deploy/tensorboard/requirements.txt.new
	{ echo '# The TensorBoard image (Python 3.11, Linux) pinned to the project lock: make lock writes this from requirements.in.'; \
	  cat deploy/tensorboard/requirements.txt.new; } > deploy/tensorboard/requirements.txt
	rm -f deploy/tensorboard/requirements.txt.new
	$(BIN)/python tools/check_lock.py --static
	@echo "constraints.txt refreshed: run make test on a fresh clone before committing it"

# the lock is complete: what `.[dev]` resolved to in .venv is all in constraints.txt, at the same versions
lock-check: $(VENV)/.installed-dev
	$(BIN)/python tools/check_lock.py

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev
install-lab: $(VENV)/.installed-lab

# JupyterLab on nbs/ at 127.0.0.1 with a token; registers the kernel every notebook names (scoliosis-xray).
lab: $(if $(wildcard $(VENV)/.installed-dev),$(VENV)/.installed-dev,$(VENV)/.installed-lab)
	$(BIN)/python tools/lab.py

demo: $(VENV)/.installed
	DEMO=$(DEMO) SX=$(BIN)/scoliosis-xray bash tools/demo.sh

demo-cobb: $(VENV)/.installed
	DEMO=$(DEMO) SX=$(BIN)/scoliosis-xray bash tools/demo_cobb.sh

DATA ?=
bench-cobb-real: $(VENV)/.installed
	@test -n "$(DATA)" || { echo "make bench-cobb-real: give the AASCE-layout folder, e.g. make bench-cobb-real DATA=../shared/data/aasce-training" >&2; exit 2; }
	$(BIN)/python benchmarks/bench_cobb_real.py --data "$(DATA)"

test: $(VENV)/.installed-dev
	bash tools/ensure_chromium.sh
	$(BIN)/python tools/test_all.py

test-slow: $(VENV)/.installed-dev
	$(BIN)/python tools/test_all.py --flags slow

docs: $(VENV)/.installed-dev
	@if command -v quarto >/dev/null 2>&1; then $(BIN)/nbdev-docs; else \
	  echo "Quarto is not installed: building the offline docs site instead (same directives, same sidebar)"; \
	  $(BIN)/python tools/docs_site.py --out _docs; fi

docs-check: $(VENV)/.installed-dev
	bash tools/ensure_chromium.sh
	$(BIN)/python tools/docs_check.py

screenshots: $(VENV)/.installed-dev
	bash tools/ensure_chromium.sh
	SX_SCREENSHOTS=nbs/images $(BIN)/python -m pytest tests/test_browser.py -q -p no:cacheprovider -k "jupyterlab or tensorboard"

kernel-metadata: $(VENV)/.installed-dev
	$(BIN)/python tools/set_kernel.py

readme: $(VENV)/.installed-dev
	$(BIN)/python tools/readme.py

export: $(VENV)/.installed-dev
	$(BIN)/nbdev-export && $(BIN)/nbdev-clean && $(BIN)/python tools/readme.py

notebooks: $(VENV)/.installed-dev
	$(BIN)/python tools/run_notebooks.py $(NB)
	$(BIN)/python tools/scrub_outputs.py
	$(BIN)/nbdev-clean

# Real AWS: needs credentials, a Docker engine, the AWS CLI, Terraform >= 1.9 and deploy/terraform/terraform.tfvars
# (copy terraform.tfvars.example). Never run by `make test`, which applies the same Terraform to a local moto server.
deploy: $(VENV)/.installed
	PYTHON=$(BIN)/python bash deploy/deploy.sh

undeploy:
	terraform -chdir=deploy/terraform destroy -var image_tag=none

clean:
	rm -rf $(DEMO) _docs _docs_check _proc _screenshots .pytest_cache
