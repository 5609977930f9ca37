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

.PHONY: help install install-dev demo test test-slow docs-check readme export notebooks deploy undeploy clean

help:
	@echo "make demo        set up .venv and run the main job on the default synthetic data"
	@echo "make test        set up .venv with dev extras and run every check CI runs"
	@echo "make test-slow   also run the notebook cells flagged #| slow"
	@echo "make docs-check  render the notebooks' saved outputs to HTML (no Quarto) and check every page"
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

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: $(VENV)/.installed
	DEMO=$(DEMO) SX=$(BIN)/scoliosis-xray bash tools/demo.sh

test: $(VENV)/.installed-dev
	bash tools/ensure_chromium.sh
	$(BIN)/python tools/test_all.py

test-slow: $(VENV)/.installed-dev
	$(BIN)/python tools/test_all.py --flags slow

docs-check: $(VENV)/.installed-dev
	$(BIN)/python tools/docs_check.py

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
	rm -rf $(DEMO) _docs _proc .pytest_cache
